//! What the engine publishes and accepts lives in [`crate::model`] (the UIs' side of the engine);
//! re-exported here so `engine::snapshot::...` keeps naming it. What the engine fills in for the
//! cutover dialog from the source's rules is built here: the exact statements.

use std::path::Path;

pub use crate::model::{
    CutoverStatements, DatabaseSnapshot, EngineCommand, EventLine, MigrationSnapshot, SourceAccess,
    TailMode,
};
use crate::source::tail::{
    StopTraffic, StopTrafficSql, recovery_sql, tail_file_name, tail_log_backup_sql,
};

/// The statements the cutover dialog shows for `database`: stopping traffic and its undo, the
/// tail-log backup into `server_folder` (the backup folder as the server sees it; `local_folder`
/// when empty) with the file named as cutover names it at `tail_at` (never an existing file's name
/// in `local_folder`; empty when `tail_at` is None), and the recovery of a source left RESTORING.
pub fn cutover_statements(
    database: &str,
    local_folder: &Path,
    server_folder: &str,
    tail_at: Option<time::OffsetDateTime>,
) -> CutoverStatements {
    let local = local_folder.to_string_lossy();
    let server_folder = if server_folder.is_empty() {
        local.as_ref()
    } else {
        server_folder
    };
    CutoverStatements {
        stop_read_only: StopTraffic::ReadOnly.sql(database),
        undo_read_only: StopTraffic::ReadOnly.undo_sql(database),
        stop_restricted_user: StopTraffic::RestrictedUser.sql(database),
        undo_restricted_user: StopTraffic::RestrictedUser.undo_sql(database),
        tail_log_backup: tail_at
            .map(|now| {
                let file = tail_file_name(database, now, local_folder);
                tail_log_backup_sql(database, server_folder, &file)
            })
            .unwrap_or_default(),
        recovery: recovery_sql(database),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_statement_names_the_file_in_the_servers_folder() {
        let now = time::macros::datetime!(2026-03-01 14:02:05 UTC);
        let s = cutover_statements(
            "Sales",
            Path::new("/nonexistent/Sales"),
            r"D:\Backups\Sales",
            Some(now),
        );
        assert_eq!(
            s.tail_log_backup,
            r"BACKUP LOG [Sales] TO DISK = N'D:\Backups\Sales\Sales_TAIL_20260301_140205.trn' WITH NORECOVERY, CHECKSUM, INIT"
        );
        assert_eq!(
            s.stop(StopTraffic::RestrictedUser),
            "ALTER DATABASE [Sales] SET RESTRICTED_USER WITH ROLLBACK IMMEDIATE"
        );
        assert_eq!(
            s.undo(StopTraffic::ReadOnly),
            "ALTER DATABASE [Sales] SET READ_WRITE WITH ROLLBACK IMMEDIATE"
        );
        assert_eq!(s.recovery, "RESTORE DATABASE [Sales] WITH RECOVERY");
        let local = cutover_statements("Sales", Path::new("/nonexistent/Sales"), "", Some(now));
        assert!(
            cutover_statements("Sales", Path::new("/x"), "", None)
                .tail_log_backup
                .is_empty()
        );
        assert!(
            local
                .tail_log_backup
                .contains("N'/nonexistent/Sales/Sales_TAIL_20260301_140205.trn'")
        );
    }
}
