//! The cutover guard, in the engine and not only in the UI: LRS complete is called only when the full
//! backup is restored, nothing blocks, no backup is pending, the tail is settled, and the last restored
//! file is the newest backup of the plan. The lastBackupName sent is the engine's own record.

use serde::Serialize;

use super::state::{DatabaseState, FileStatus, Phase, TailState};

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
