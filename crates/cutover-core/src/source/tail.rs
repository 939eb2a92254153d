//! Cutover actions on the source, each optional and confirmed by the caller: stop traffic
//! (READ_ONLY or RESTRICTED_USER WITH ROLLBACK IMMEDIATE, undone with READ_WRITE / MULTI_USER), and the
//! tail-log backup (`BACKUP LOG ... WITH NORECOVERY, CHECKSUM, INIT`) into the backup folder, then
//! finding the new file in the folder as cutover sees it (through a [`BackupFolder`]: the `*_in`
//! functions; the others look in a local folder).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::client::SourceClient;
use super::error::SourceError;
use super::options::SourceOptions;
use super::quote::{quote_ident, quote_literal};
use crate::backup::{BackupSet, BackupType};
use crate::backup_folder::{BackupFolder, LocalFolder, read_headers};

pub use crate::model::StopTraffic;

/// The statements of a traffic stop (the choice is the model's [`StopTraffic`]; the SQL is the
/// source's).
pub trait StopTrafficSql {
    /// The statement that stops traffic.
    fn sql(self, database: &str) -> String;
    /// The statement that undoes it (if the operator abandons the cutover before the tail is taken).
    fn undo_sql(self, database: &str) -> String;
}

impl StopTrafficSql for StopTraffic {
    fn sql(self, database: &str) -> String {
        let option = match self {
            StopTraffic::ReadOnly => "READ_ONLY",
            StopTraffic::RestrictedUser => "RESTRICTED_USER",
        };
        format!(
            "ALTER DATABASE {} SET {option} WITH ROLLBACK IMMEDIATE",
            quote_ident(database)
        )
    }

    fn undo_sql(self, database: &str) -> String {
        let option = match self {
            StopTraffic::ReadOnly => "READ_WRITE",
            StopTraffic::RestrictedUser => "MULTI_USER",
        };
        format!(
            "ALTER DATABASE {} SET {option} WITH ROLLBACK IMMEDIATE",
            quote_ident(database)
        )
    }
}

/// The statement for the tail-log backup: database and path are parameters (BACKUP accepts variables
/// for both), so no name needs quoting.
pub const TAIL_LOG_BACKUP: &str = "BACKUP LOG @P1 TO DISK = @P2 WITH NORECOVERY, CHECKSUM, INIT";

/// [`TAIL_LOG_BACKUP`] with the values in place (what the cutover dialog shows before it runs, or
/// what the operator runs): `file` in `server_folder` (the backup folder as the server sees it).
pub fn tail_log_backup_sql(database: &str, server_folder: &str, file: &str) -> String {
    TAIL_LOG_BACKUP
        .replace("@P1", &quote_ident(database))
        .replace(
            "@P2",
            &quote_literal(&server_path_join(server_folder, file)),
        )
}

/// Brings a source database left RESTORING by a tail-log backup WITH NORECOVERY back online.
pub fn recovery_sql(database: &str) -> String {
    format!("RESTORE DATABASE {} WITH RECOVERY", quote_ident(database))
}

/// Where the tail-log backup goes.
#[derive(Debug, Clone)]
pub struct TailRequest {
    pub database: String,
    /// The backup folder as the SQL Server sees it (e.g. `\\fs01\backups\Sales` or `D:\Backups\Sales`).
    pub server_folder: String,
    /// The same folder as cutover sees it (where the new file is looked for).
    pub local_folder: PathBuf,
    /// How long to wait for the file to appear locally after BACKUP returned (SMB caching).
    pub appear_timeout: Duration,
}

/// A tail-log backup that was taken and found.
#[derive(Debug, Clone, Serialize)]
pub struct TailBackup {
    pub server_path: String,
    pub local_path: PathBuf,
    pub file_name: String,
    pub set: BackupSet,
}

/// A file name for the tail that never clashes with an existing file (BACKUP ... INIT would overwrite).
pub fn tail_file_name(database: &str, now: time::OffsetDateTime, local_folder: &Path) -> String {
    tail_file_name_in(&LocalFolder, database, now, local_folder)
}

/// [`tail_file_name`], looking for existing files through `folder`.
pub fn tail_file_name_in(
    folder: &dyn BackupFolder,
    database: &str,
    now: time::OffsetDateTime,
    local_folder: &Path,
) -> String {
    let safe: String = database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = format!(
        "{:04}{:02}{:02}_{:02}{:02}{:02}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut name = format!("{safe}_TAIL_{stamp}.trn");
    let mut n = 1;
    while folder.exists(&local_folder.join(&name)) {
        n += 1;
        name = format!("{safe}_TAIL_{stamp}_{n}.trn");
    }
    name
}

/// Joins a folder and a file name with the server's separator (`\` for Windows paths).
pub fn server_path_join(folder: &str, file: &str) -> String {
    let windows = folder.contains('\\') || folder.as_bytes().get(1) == Some(&b':');
    let sep = if windows { '\\' } else { '/' };
    let trimmed = folder.trim_end_matches(['\\', '/']);
    format!("{trimmed}{sep}{file}")
}

impl SourceClient {
    /// Stops traffic to `database` (rolls back open transactions of other sessions).
    pub async fn stop_traffic(
        &mut self,
        database: &str,
        how: StopTraffic,
    ) -> Result<(), SourceError> {
        self.execute(&how.sql(database), &[]).await
    }

    /// Undoes [`SourceClient::stop_traffic`].
    pub async fn undo_stop_traffic(
        &mut self,
        database: &str,
        how: StopTraffic,
    ) -> Result<(), SourceError> {
        self.execute(&how.undo_sql(database), &[]).await
    }
}

/// Takes the tail-log backup on a connection of its own (with the long BACKUP timeout), then waits for
/// the file to appear in the local folder and reads its header: it must be a log backup of `database`.
/// The database is left RESTORING on the source (WITH NORECOVERY): no more changes can be made there.
pub async fn take_tail_log_backup(
    opts: &SourceOptions,
    req: &TailRequest,
) -> Result<TailBackup, SourceError> {
    take_tail_log_backup_in(&LocalFolder, opts, req).await
}

/// [`take_tail_log_backup`], finding and reading the new file through `folder`.
pub async fn take_tail_log_backup_in(
    folder: &dyn BackupFolder,
    opts: &SourceOptions,
    req: &TailRequest,
) -> Result<TailBackup, SourceError> {
    if !folder.stat(&req.local_folder).is_ok_and(|s| s.is_dir) {
        return Err(SourceError::Other(format!(
            "the backup folder {} is not a folder cutover can read: the tail-log backup could not be found there",
            req.local_folder.display()
        )));
    }
    let file_name = tail_file_name_in(
        folder,
        &req.database,
        time::OffsetDateTime::now_utc(),
        &req.local_folder,
    );
    let server_path = server_path_join(&req.server_folder, &file_name);
    let mut client = SourceClient::connect_with_timeout(opts, opts.backup_timeout).await?;
    let r = client
        .execute(
            TAIL_LOG_BACKUP,
            &[&req.database.as_str(), &server_path.as_str()],
        )
        .await;
    client.close().await;
    r?;
    let local_path = req.local_folder.join(&file_name);
    let deadline = tokio::time::Instant::now() + req.appear_timeout;
    loop {
        if folder.stat(&local_path).is_ok_and(|s| s.is_file) {
            match read_headers(folder, &local_path) {
                Ok(sets) => {
                    let set = sets.into_iter().next().ok_or_else(|| {
                        SourceError::Other(format!("{} holds no backup set", local_path.display()))
                    })?;
                    if set.backup_type != BackupType::Log || set.database_name != req.database {
                        return Err(SourceError::Other(format!(
                            "{} is a {} backup of {:?}, not the tail-log backup of {:?}",
                            local_path.display(),
                            set.backup_type,
                            set.database_name,
                            req.database
                        )));
                    }
                    return Ok(TailBackup {
                        server_path,
                        local_path,
                        file_name,
                        set,
                    });
                }
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(SourceError::Other(format!(
                        "the tail-log backup {} cannot be read: {e}",
                        local_path.display()
                    )));
                }
                Err(_) => {}
            }
        } else if tokio::time::Instant::now() >= deadline {
            return Err(SourceError::Other(format!(
                "SQL Server wrote the tail-log backup to {server_path}, but {} did not appear within {} s: \
                 check that the server's backup path and cutover's backup folder are the same place",
                local_path.display(),
                req.appear_timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_names_and_paths() {
        assert_eq!(
            recovery_sql("we]ird 'name"),
            "RESTORE DATABASE [we]]ird 'name] WITH RECOVERY"
        );
        assert_eq!(
            tail_log_backup_sql("O'Neil", r"D:\Backups\O'Neil", "x.trn"),
            r"BACKUP LOG [O'Neil] TO DISK = N'D:\Backups\O''Neil\x.trn' WITH NORECOVERY, CHECKSUM, INIT"
        );
        assert_eq!(
            StopTraffic::ReadOnly.sql("Sales"),
            "ALTER DATABASE [Sales] SET READ_ONLY WITH ROLLBACK IMMEDIATE"
        );
    }

    #[test]
    fn statements_quote_the_name() {
        assert_eq!(
            StopTraffic::ReadOnly.sql("we]ird 'name"),
            "ALTER DATABASE [we]]ird 'name] SET READ_ONLY WITH ROLLBACK IMMEDIATE"
        );
        assert_eq!(
            StopTraffic::RestrictedUser.undo_sql("a"),
            "ALTER DATABASE [a] SET MULTI_USER WITH ROLLBACK IMMEDIATE"
        );
    }

    #[test]
    fn server_paths_use_the_servers_separator() {
        assert_eq!(
            server_path_join(r"\\fs01\backups\Sales\", "x.trn"),
            r"\\fs01\backups\Sales\x.trn"
        );
        assert_eq!(server_path_join("D:", "x.trn"), r"D:\x.trn");
        assert_eq!(
            server_path_join("/var/opt/mssql/backup/", "x.trn"),
            "/var/opt/mssql/backup/x.trn"
        );
    }

    #[test]
    fn tail_names_are_safe_and_new() {
        let dir = tempfile::tempdir().unwrap();
        let now = time::macros::datetime!(2026-12-02 03:04:05 UTC);
        let a = tail_file_name("we]ird 'name", now, dir.path());
        assert_eq!(a, "we_ird__name_TAIL_20261202_030405.trn");
        std::fs::write(dir.path().join(&a), b"x").unwrap();
        let b = tail_file_name("we]ird 'name", now, dir.path());
        assert_eq!(b, "we_ird__name_TAIL_20261202_030405_2.trn");
    }
}
