//! The cutover guard, in the engine and not only in the UI: LRS complete is called only when the full
//! backup is restored, nothing blocks, no backup is pending, the tail is settled, and the last restored
//! file is the newest backup of the plan. The lastBackupName sent is the engine's own record.

use serde::Serialize;

use super::state::{DatabaseState, FileStatus, Phase, TailState};
use crate::model::{ChecklistItem, CutoverChecklist};

/// Why completion (or a cutover step) is refused, in words the cutover dialog shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum Refusal {
    #[error("not possible while the database is {0:?}")]
    WrongPhase(Phase),
    #[error("the full backup is not restored yet")]
    FullNotRestored,
    #[error("the restore is blocked: {0}")]
    Blocked(String),
    #[error("{} backup(s) not restored yet: {}", .0.len(), .0.join(", "))]
    Pending(Vec<String>),
    #[error("{0} cannot be restored: fix or replace it first")]
    Unrestorable(String),
    #[error(
        "take the tail-log backup (or confirm that no more backups will come) before completing"
    )]
    TailUndecided,
    #[error("the tail-log backup {tail} is not the newest backup of the plan ({})", .newest.as_deref().unwrap_or("none"))]
    TailNotNewest {
        tail: String,
        newest: Option<String>,
    },
    #[error("the last restored file is {}, but the newest backup is {newest}", .last_restored.as_deref().unwrap_or("none"))]
    NotNewest {
        last_restored: Option<String>,
        newest: String,
    },
    #[error("nothing is restored yet")]
    NothingRestored,
}

/// The lastBackupName to complete with, or why not now.
pub fn may_complete(db: &DatabaseState) -> Result<String, Refusal> {
    if db.phase != Phase::CuttingOver {
        return Err(Refusal::WrongPhase(db.phase));
    }
    if !db.full_restored() {
        return Err(Refusal::FullNotRestored);
    }
    if let Some(r) = &db.block_reason {
        return Err(Refusal::Blocked(r.clone()));
    }
    if let Some(f) = db
        .files
        .iter()
        .find(|f| f.status == FileStatus::Unrestorable)
    {
        return Err(Refusal::Unrestorable(f.name.clone()));
    }
    let pending: Vec<String> = db.pending().iter().map(|f| f.name.clone()).collect();
    if !pending.is_empty() {
        return Err(Refusal::Pending(pending));
    }
    let newest = db.newest().ok_or(Refusal::NothingRestored)?;
    match &db.tail {
        TailState::Undecided => return Err(Refusal::TailUndecided),
        TailState::Taken { file } if file != &newest.name => {
            return Err(Refusal::TailNotNewest {
                tail: file.clone(),
                newest: Some(newest.name.clone()),
            });
        }
        _ => {}
    }
    // LRS's own word must agree with the engine's record.
    if db.last_restored_file.as_deref() != Some(newest.name.as_str()) {
        return Err(Refusal::NotNewest {
            last_restored: db.last_restored_file.clone(),
            newest: newest.name.clone(),
        });
    }
    Ok(newest.name.clone())
}

/// What blocks the restore: LRS's block reason, else the first file LRS cannot restore.
fn blocked(db: &DatabaseState) -> Option<String> {
    db.block_reason.clone().or_else(|| {
        db.files
            .iter()
            .find(|f| f.status == FileStatus::Unrestorable)
            .map(|f| format!("{} cannot be restored", f.name))
    })
}

/// The checklist the cutover dialog renders: the conditions [`may_complete`] refuses on, each done
/// or not, in the operator's words (the preconditions, then the backups pending restore).
pub fn checklist(db: &DatabaseState) -> CutoverChecklist {
    let full = db.full_restored();
    let blocked = blocked(db);
    let newest = db.newest().map(|f| f.name.clone());
    let last = db.last_restored_file.clone();
    let same = newest.is_some() && newest == last;
    let last_text = if same {
        format!(
            "Last restored file is the newest backup: {}",
            last.as_deref().unwrap_or("none")
        )
    } else {
        format!(
            "Last restored {}, newest backup {}",
            last.as_deref().unwrap_or("none"),
            newest.as_deref().unwrap_or("none")
        )
    };
    let pending = db.pending();
    let n = pending.len();
    let detail = (n > 0).then(|| {
        let names: Vec<&str> = pending.iter().take(4).map(|f| f.name.as_str()).collect();
        let more = if n > 4 {
            format!(" and {} more", n - 4)
        } else {
            String::new()
        };
        format!(" ({}{more})", names.join(", "))
    });
    CutoverChecklist {
        preconditions: vec![
            ChecklistItem::new(full, "Full backup restored"),
            ChecklistItem::new(
                blocked.is_none(),
                match &blocked {
                    None => "Nothing blocks the restore".to_string(),
                    Some(b) => format!("Restore blocked: {b}"),
                },
            ),
            ChecklistItem::new(same, last_text),
        ],
        pending: ChecklistItem {
            done: n == 0 && full,
            text: format!("3 Log backups pending restore: {n}"),
            detail,
        },
        pending_count: n,
        begin_refusal: begin_refusal(db),
    }
}

/// Why the cutover dialog does not offer Begin now: the state machine's own refusals (the phase,
/// the full backup), and a blocked restore (beginning would stop traffic for nothing).
pub fn begin_refusal(db: &DatabaseState) -> Option<String> {
    if !matches!(db.phase, Phase::ReadyForCutover | Phase::CatchingUp) {
        return Some(format!(
            "cutover can begin once the database is catching up or ready (now {})",
            db.phase.label()
        ));
    }
    if !db.full_restored() {
        return Some("the full backup is not restored yet".to_string());
    }
    if let Some(r) = &db.block_reason {
        return Some(format!("the restore is blocked: {r}"));
    }
    None
}

/// The cutover steps in flight for a database (the runner's view), for [`waiting_for`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepsInFlight {
    /// Stop traffic (`ALTER DATABASE ... SET READ_ONLY / RESTRICTED_USER`) is running.
    pub stopping_traffic: bool,
    /// The tail-log backup is being taken through the source connection.
    pub taking_tail: bool,
    /// The tail was taken by the operator (or before a restart): cutover looks for it in the folder.
    pub tail_awaited_in_folder: bool,
}

/// While cutting over: what completion waits for now, in the operator's words ("tail-log backup",
/// "upload of the tail-log backup", "restore of 2 remaining files", "completion"). None otherwise.
pub fn waiting_for(db: &DatabaseState, steps: StepsInFlight) -> Option<String> {
    match db.phase {
        Phase::Completing => return Some("completion".into()),
        Phase::CuttingOver => {}
        _ => return None,
    }
    if steps.stopping_traffic {
        return Some("stop traffic on the source".into());
    }
    if db.tail == TailState::Undecided {
        return Some(if steps.tail_awaited_in_folder && !steps.taking_tail {
            "tail-log backup to land in the backup folder".into()
        } else {
            "tail-log backup".into()
        });
    }
    if let TailState::Taken { file } = &db.tail
        && db
            .files
            .iter()
            .any(|f| &f.name == file && f.status < FileStatus::Uploaded)
    {
        return Some("upload of the tail-log backup".into());
    }
    if let Some(r) = &db.block_reason {
        return Some(format!("the restore, which is blocked: {r}"));
    }
    let pending = db.pending();
    let not_uploaded = pending
        .iter()
        .filter(|f| f.status < FileStatus::Uploaded)
        .count();
    if not_uploaded > 0 {
        return Some(format!("upload of {}", files("", not_uploaded)));
    }
    if !pending.is_empty() {
        return Some(format!("restore of {}", files("remaining ", pending.len())));
    }
    Some("completion".into())
}

/// `1 file`, `2 remaining files`.
fn files(adjective: &str, n: usize) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {adjective}file{s}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{BackupType, Lsn};
    use crate::engine::state::BackupFile;

    fn file(name: &str, t: BackupType, last: u32, status: FileStatus) -> BackupFile {
        BackupFile {
            name: name.into(),
            backup_type: t,
            first_lsn: Lsn::new(40, 1, 1),
            last_lsn: Lsn::new(40, last, 1),
            size: 10,
            status,
            uploaded_bytes: 0,
            backup_start: None,
        }
    }

    fn cutting_over(files: Vec<BackupFile>, tail: TailState) -> DatabaseState {
        let mut db = DatabaseState::new("Sales");
        db.files = files;
        db.phase = Phase::CuttingOver;
        db.tail = tail;
        db
    }

    #[test]
    fn the_checklist_ticks_what_completion_needs() {
        let full = file("full.bak", BackupType::Full, 5, FileStatus::Restored);
        let log = file("log.trn", BackupType::Log, 7, FileStatus::Unrestorable);
        let mut db = cutting_over(vec![full, log], TailState::Undecided);
        db.last_restored_file = Some("full.bak".into());
        let c = checklist(&db);
        let done: Vec<bool> = c.preconditions.iter().map(|i| i.done).collect();
        assert_eq!(done, [true, false, false]);
        assert_eq!(
            c.preconditions[1].text,
            "Restore blocked: log.trn cannot be restored"
        );
        assert_eq!(
            c.preconditions[2].text,
            "Last restored full.bak, newest backup log.trn"
        );
        assert_eq!(c.pending_count, 1);
        assert!(!c.pending.done);
        assert_eq!(c.pending.detail.as_deref(), Some(" (log.trn)"));
        assert!(may_complete(&db).is_err());

        db.files[1].status = FileStatus::Restored;
        db.last_restored_file = Some("log.trn".into());
        let c = checklist(&db);
        assert!(c.preconditions.iter().all(|i| i.done) && c.pending.done);
        assert_eq!(
            c.preconditions[2].text,
            "Last restored file is the newest backup: log.trn"
        );
        assert_eq!(c.pending.text, "3 Log backups pending restore: 0");
        assert_eq!(
            c.begin_refusal.as_deref(),
            Some("cutover can begin once the database is catching up or ready (now CUTOVER)")
        );
        db.phase = Phase::CatchingUp;
        db.block_reason = Some("BrokenRestorePlan".into());
        assert_eq!(
            checklist(&db).begin_refusal.as_deref(),
            Some("the restore is blocked: BrokenRestorePlan")
        );
        db.block_reason = None;
        assert_eq!(checklist(&db).begin_refusal, None);
    }

    #[test]
    fn what_a_cutover_waits_for_follows_its_steps() {
        let none = StepsInFlight::default();
        let full = file("full.bak", BackupType::Full, 5, FileStatus::Restored);
        let mut db = cutting_over(vec![full.clone()], TailState::Undecided);
        let stopping = StepsInFlight {
            stopping_traffic: true,
            ..none
        };
        assert_eq!(
            waiting_for(&db, stopping).as_deref(),
            Some("stop traffic on the source")
        );
        assert_eq!(waiting_for(&db, none).as_deref(), Some("tail-log backup"));
        let awaited = StepsInFlight {
            tail_awaited_in_folder: true,
            ..none
        };
        assert_eq!(
            waiting_for(&db, awaited).as_deref(),
            Some("tail-log backup to land in the backup folder")
        );

        let taken = TailState::Taken {
            file: "tail.trn".into(),
        };
        let log = file("log.trn", BackupType::Log, 7, FileStatus::Uploaded);
        let tail = file("tail.trn", BackupType::Log, 9, FileStatus::Uploading);
        db = cutting_over(vec![full.clone(), log.clone(), tail.clone()], taken.clone());
        assert_eq!(
            waiting_for(&db, none).as_deref(),
            Some("upload of the tail-log backup")
        );
        db.files[2].status = FileStatus::Uploaded;
        assert_eq!(
            waiting_for(&db, none).as_deref(),
            Some("restore of 2 remaining files")
        );
        db.files[1].status = FileStatus::Restored;
        assert_eq!(
            waiting_for(&db, none).as_deref(),
            Some("restore of 1 remaining file")
        );
        db.files[2].status = FileStatus::Restored;
        assert_eq!(waiting_for(&db, none).as_deref(), Some("completion"));
        db.phase = Phase::Completing;
        assert_eq!(waiting_for(&db, none).as_deref(), Some("completion"));
        db.phase = Phase::Completed;
        assert_eq!(waiting_for(&db, none), None);
        db.phase = Phase::CatchingUp;
        assert_eq!(waiting_for(&db, none), None, "not cutting over");
    }
}
