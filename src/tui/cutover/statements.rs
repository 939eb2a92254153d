//! The exact T-SQL the cutover dialog shows before anything changes the source: the traffic stop
//! cutover runs ([`StopTraffic::sql`]), the tail-log backup cutover takes, the one the operator
//! takes, and the statement that brings a source left RESTORING back online.

use crate::source::quote::{quote_ident, quote_literal};
use crate::source::tail::{StopTraffic, TAIL_LOG_BACKUP, server_path_join};

/// The statement cutover runs to stop traffic.
pub fn stop_traffic(how: StopTraffic, database: &str) -> String {
    how.sql(database)
}

/// The tail-log backup into `folder` (the database's backup folder): cutover's own statement
/// ([`TAIL_LOG_BACKUP`], run with parameters) with the values in place; `file` names the new file.
pub fn tail_log_backup(database: &str, folder: &str, file: &str) -> String {
    TAIL_LOG_BACKUP
        .replace("@P1", &quote_ident(database))
        .replace("@P2", &quote_literal(&server_path_join(folder, file)))
}

/// The tail-log backup of `db` into its backup folder as the server sees it, the file named as
/// cutover names it now (`Sales_TAIL_20260301_140205.trn`, never an existing file's name).
pub fn tail_log_backup_now(db: &crate::model::DatabaseSnapshot) -> String {
    let file = crate::source::tail::tail_file_name(
        &db.state.name,
        time::OffsetDateTime::now_utc(),
        std::path::Path::new(&db.folder),
    );
    tail_log_backup(&db.state.name, server_folder(db), &file)
}

/// The database's backup folder as the source SQL Server sees it (the local folder when the
/// configuration names no other).
pub fn server_folder(db: &crate::model::DatabaseSnapshot) -> &str {
    if db.server_folder.is_empty() {
        &db.folder
    } else {
        &db.server_folder
    }
}

/// Brings a source database left RESTORING by a tail-log backup WITH NORECOVERY back online.
pub fn recovery(database: &str) -> String {
    format!("RESTORE DATABASE {} WITH RECOVERY", quote_ident(database))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_names_and_paths() {
        assert_eq!(
            recovery("we]ird 'name"),
            "RESTORE DATABASE [we]]ird 'name] WITH RECOVERY"
        );
        assert_eq!(
            tail_log_backup("O'Neil", r"D:\Backups\O'Neil", "x.trn"),
            r"BACKUP LOG [O'Neil] TO DISK = N'D:\Backups\O''Neil\x.trn' WITH NORECOVERY, CHECKSUM, INIT"
        );
        assert_eq!(
            stop_traffic(StopTraffic::ReadOnly, "Sales"),
            "ALTER DATABASE [Sales] SET READ_ONLY WITH ROLLBACK IMMEDIATE"
        );
    }
}
