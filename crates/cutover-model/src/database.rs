//! One database's migration as data: its phase (DMS's names), the plan's files with their statuses,
//! the tail decision, what LRS last said. The engine's state machine (`engine::state`) moves it;
//! the UIs read it in each [`crate::DatabaseSnapshot`]. Only pure reads live here.

use serde::{Deserialize, Serialize};

use super::snapshot::SourceAccess;
pub use cutover_backup::{BackupType, Lsn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Preflight,
    UploadingFullBackup,
    Restoring,
    CatchingUp,
    ReadyForCutover,
    CuttingOver,
    Completing,
    Completed,
    Failed,
    Blocked,
    Canceled,
}

impl Phase {
    /// No way out of these but retry (Failed) or nothing (Completed, Canceled).
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Completed | Phase::Canceled)
    }

    /// The word DBAs read on the dashboard, in events and in the summary (DMS's names, upper case,
    /// at most 11 characters): READY, CATCHING UP, COMPLETED...
    pub fn label(self) -> &'static str {
        match self {
            Phase::Preflight => "PREFLIGHT",
            Phase::UploadingFullBackup => "UPLOADING",
            Phase::Restoring => "RESTORING",
            Phase::CatchingUp => "CATCHING UP",
            Phase::ReadyForCutover => "READY",
            Phase::CuttingOver => "CUTOVER",
            Phase::Completing => "COMPLETING",
            Phase::Completed => "COMPLETED",
            Phase::Failed => "FAILED",
            Phase::Blocked => "BLOCKED",
            Phase::Canceled => "CANCELED",
        }
    }
}

/// A backup file's progress, DMS's file statuses plus Skipped / Unrestorable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FileStatus {
    Arrived,
    /// An upload attempt failed in a way that may pass (network outage, throttling, the file
    /// changed while it was read): it is uploaded again after a wait; the database goes on.
    Retrying,
    Uploading,
    Uploaded,
    Restoring,
    Restored,
    /// Not needed by the restore plan (older full, covered log...).
    Skipped,
    /// LRS reported it cannot restore it.
    Unrestorable,
}

/// One backup file of the database's plan, in chain order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    /// File name inside the database's blob folder (what LRS reports and lastBackupName names).
    pub name: String,
    pub backup_type: BackupType,
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub size: u64,
    pub status: FileStatus,
    /// Bytes in the container so far.
    #[serde(default)]
    pub uploaded_bytes: u64,
    /// BackupStartDate from the header (server local time, ISO 8601), for data lag.
    #[serde(default)]
    pub backup_start: Option<String>,
}

/// A backup file in the folder that the restore plan leaves out (DMS's file status "Ignored"), and
/// why: UIs list it so the operator sees every file was looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoredFile {
    /// File name in the folder (the first stripe's, for a striped set).
    pub name: String,
    pub backup_type: BackupType,
    /// Why the plan leaves it out, in the operator's words.
    pub reason: String,
}

impl IgnoredFile {
    /// DMS's name for the status of a file the restore does not use.
    pub const STATUS: &'static str = "Ignored";
}

/// What was decided about the tail of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TailState {
    /// Cutover not begun, or begun and no decision yet.
    Undecided,
    /// The tail-log backup was taken (by cutover or the operator) and is this file.
    Taken { file: String },
    /// The operator asserts no more backups will come (a data-loss risk if wrong: shown as such).
    NoMoreBackups,
}

/// The state of one database's migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseState {
    pub name: String,
    pub phase: Phase,
    /// The plan's files in chain order.
    pub files: Vec<BackupFile>,
    pub lrs_started: bool,
    pub block_reason: Option<String>,
    pub last_restored_file: Option<String>,
    pub currently_restoring: Option<String>,
    pub tail: TailState,
    pub error: Option<String>,
    /// The lastBackupName sent to LRS complete.
    pub completed_with: Option<String>,
    /// When LRS accepted the start (Unix seconds, UTC): LRS cancels a restore 30 days after it.
    /// Absent in state files written before it was recorded.
    #[serde(default)]
    pub lrs_started_unix: Option<i64>,
    /// Failed because the instance no longer has the restore: a retry starts it again from the
    /// full backup in the container.
    #[serde(default)]
    pub restore_gone: bool,
    /// When the downtime began (Unix milliseconds, UTC): traffic stopped, or the cutover begun when
    /// traffic was not stopped. Kept across restarts; cleared when an abandon gave the source back.
    #[serde(default)]
    pub downtime_started_unix_ms: Option<i64>,
    /// When the database reached Completed (Unix milliseconds, UTC): the downtime ends there.
    #[serde(default)]
    pub completed_unix_ms: Option<i64>,
    /// What cutover left the source database as (None: cutover changed nothing on it).
    #[serde(default)]
    pub source_access: Option<SourceAccess>,
    /// Backup files in the folder the restore plan leaves out, with why (DMS's "Ignored").
    #[serde(default)]
    pub ignored: Vec<IgnoredFile>,
    /// Its full backup is uploaded but the restore waits for a slot (LRS's limits on restores
    /// running at once): why. Cleared when the restore starts.
    #[serde(default)]
    pub lrs_queued: Option<String>,
}

impl DatabaseState {
    pub fn new(name: &str) -> Self {
        DatabaseState {
            name: name.to_string(),
            phase: Phase::Preflight,
            files: Vec::new(),
            lrs_started: false,
            block_reason: None,
            last_restored_file: None,
            currently_restoring: None,
            tail: TailState::Undecided,
            error: None,
            completed_with: None,
            lrs_started_unix: None,
            restore_gone: false,
            downtime_started_unix_ms: None,
            completed_unix_ms: None,
            source_access: None,
            ignored: Vec::new(),
            lrs_queued: None,
        }
    }

    /// The word the dashboard shows: `QUEUED` while the restore waits for a slot, else the phase's
    /// [`Phase::label`].
    pub fn status_label(&self) -> &'static str {
        if self.lrs_queued.is_some() && !self.lrs_started && !self.phase.is_final() {
            "QUEUED"
        } else {
            self.phase.label()
        }
    }

    /// Files not yet restored (and not skipped): what the cutover dialog lists as pending.
    pub fn pending(&self) -> Vec<&BackupFile> {
        self.files
            .iter()
            .filter(|f| !matches!(f.status, FileStatus::Restored | FileStatus::Skipped))
            .collect()
    }

    /// The newest file of the plan (highest LastLSN).
    pub fn newest(&self) -> Option<&BackupFile> {
        self.files
            .iter()
            .filter(|f| f.status != FileStatus::Skipped)
            .max_by_key(|f| f.last_lsn)
    }

    pub fn full_restored(&self) -> bool {
        self.files
            .iter()
            .any(|f| f.backup_type == BackupType::Full && f.status == FileStatus::Restored)
    }

    /// The source database is RESTORING after the tail-log backup this cutover took WITH NORECOVERY,
    /// and that tail is still the newest backup of the plan: no more log can come, so it remains the
    /// tail across an abandon and a second cutover (no stop traffic, no second tail).
    pub fn tail_kept_by_source(&self) -> bool {
        let TailState::Taken { file } = &self.tail else {
            return false;
        };
        self.source_access == Some(SourceAccess::Restoring)
            && self.newest().is_some_and(|n| &n.name == file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, backup_type: BackupType, last: u32, status: FileStatus) -> BackupFile {
        BackupFile {
            name: name.into(),
            backup_type,
            first_lsn: Lsn::new(40, 1, 1),
            last_lsn: Lsn::new(40, last, 1),
            size: 10,
            status,
            uploaded_bytes: 0,
            backup_start: None,
        }
    }

    #[test]
    fn pending_newest_and_full_restored_read_the_files() {
        let mut db = DatabaseState::new("Sales");
        assert_eq!(db.phase, Phase::Preflight);
        assert!(db.newest().is_none() && !db.full_restored());
        db.files = vec![
            file("full.bak", BackupType::Full, 5, FileStatus::Restored),
            file("old.trn", BackupType::Log, 9, FileStatus::Skipped),
            file("log.trn", BackupType::Log, 7, FileStatus::Uploaded),
        ];
        assert!(db.full_restored());
        let pending: Vec<&str> = db.pending().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(pending, ["log.trn"]);
        assert_eq!(
            db.newest().map(|f| f.name.as_str()),
            Some("log.trn"),
            "a skipped file is never the newest"
        );
        db.tail = TailState::Taken {
            file: "log.trn".into(),
        };
        assert!(!db.tail_kept_by_source());
        db.source_access = Some(SourceAccess::Restoring);
        assert!(db.tail_kept_by_source());
        assert_eq!(Phase::ReadyForCutover.label(), "READY");
        let mut d = DatabaseState::new("Sales");
        assert_eq!(d.status_label(), "PREFLIGHT");
        d.lrs_queued = Some("100 restores already running".into());
        assert_eq!(d.status_label(), "QUEUED");
        d.lrs_started = true;
        assert_eq!(d.status_label(), "PREFLIGHT", "started: the phase again");
        assert!(Phase::Canceled.is_final() && !Phase::Failed.is_final());
    }
}
