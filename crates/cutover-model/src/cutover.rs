//! What the cutover dialog shows that the engine decides: the guard's checklist (the preconditions
//! and the pending restores, each done or not, in the operator's words) and the exact T-SQL a step
//! runs on the source. Both are filled by the engine for each snapshot; the dialog renders them.

use serde::{Deserialize, Serialize};

use super::command::StopTraffic;

/// One line of the checklist: done or not, what it says, and a detail shown dimmed after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub done: bool,
    pub text: String,
    #[serde(default)]
    pub detail: Option<String>,
}

impl ChecklistItem {
    pub fn new(done: bool, text: impl Into<String>) -> Self {
        ChecklistItem {
            done,
            text: text.into(),
            detail: None,
        }
    }
}

/// The cutover guard's checklist of one database (`engine::guard::checklist`), the same conditions
/// completion is refused on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoverChecklist {
    /// Full backup restored; nothing blocks the restore; the last restored file is the newest.
    pub preconditions: Vec<ChecklistItem>,
    /// Log backups pending restore (done when none is and the full backup is restored).
    pub pending: ChecklistItem,
    /// How many backups are not restored yet.
    pub pending_count: usize,
    /// Why the cutover cannot begin now (wrong phase, full backup not restored, restore blocked);
    /// None when Begin is offered.
    #[serde(default)]
    pub begin_refusal: Option<String>,
}

/// The statements cutover runs (or asks the operator to run) on the source for one database,
/// names quoted and values in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoverStatements {
    /// `ALTER DATABASE ... SET READ_ONLY WITH ROLLBACK IMMEDIATE` and its undo (`READ_WRITE`).
    pub stop_read_only: String,
    pub undo_read_only: String,
    /// `ALTER DATABASE ... SET RESTRICTED_USER WITH ROLLBACK IMMEDIATE` and its undo (`MULTI_USER`).
    pub stop_restricted_user: String,
    pub undo_restricted_user: String,
    /// The tail-log backup `BACKUP LOG ... WITH NORECOVERY, CHECKSUM, INIT` into the database's
    /// backup folder as the server sees it, the file named as the engine names it at the snapshot.
    pub tail_log_backup: String,
    /// `RESTORE DATABASE ... WITH RECOVERY`: brings a source left RESTORING back online.
    pub recovery: String,
}

impl CutoverStatements {
    /// The statement that stops traffic `how`.
    pub fn stop(&self, how: StopTraffic) -> &str {
        match how {
            StopTraffic::ReadOnly => &self.stop_read_only,
            StopTraffic::RestrictedUser => &self.stop_restricted_user,
        }
    }

    /// The statement that undoes stopping traffic `how`.
    pub fn undo(&self, how: StopTraffic) -> &str {
        match how {
            StopTraffic::ReadOnly => &self.undo_read_only,
            StopTraffic::RestrictedUser => &self.undo_restricted_user,
        }
    }
}
