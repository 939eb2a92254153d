//! One database's migration as DBAs know it from DMS: Preflight -> UploadingFullBackup -> Restoring ->
//! CatchingUp -> ReadyForCutover -> CuttingOver -> Completing -> Completed, or Failed / Blocked /
//! Canceled. [`DatabaseState::apply`] moves it on events (files, uploads, LRS status, operator
//! commands) and returns the actions the runner must perform; it refuses what the rules forbid.

use serde::{Deserialize, Serialize};

pub use crate::model::database::{
    BackupFile, DatabaseState, FileStatus, IgnoredFile, Phase, TailState,
};

use super::guard::{Refusal, may_complete};
use crate::backup::BackupType;
use crate::catalog::plan::SkipReason;

/// A file the restore plan leaves out, with why in the operator's words.
pub fn ignored_file(name: &str, backup_type: BackupType, reason: SkipReason) -> IgnoredFile {
    IgnoredFile {
        name: name.to_string(),
        backup_type,
        reason: ignored_because(reason).to_string(),
    }
}

/// Why the restore plan leaves a backup out, as the file list says it.
pub fn ignored_because(reason: SkipReason) -> &'static str {
    match reason {
        SkipReason::OlderFull => "an older full backup: the newest full is restored",
        SkipReason::OlderDifferential => {
            "an older differential: the newest differential of the same full is restored"
        }
        SkipReason::DifferentialOfAnotherBase => {
            "a differential of another full backup than the one restored"
        }
        SkipReason::CoveredByRestoredBackups => {
            "its log is already in the full or differential backup that is restored"
        }
        SkipReason::AfterGap => {
            "after a gap in the log chain: restorable only once the missing log backup is in the folder"
        }
        SkipReason::MissingStripes => "a stripe of its backup set is missing from the folder",
        SkipReason::Duplicate => "the same backup set as another file in the folder",
        SkipReason::UnsupportedType => {
            "a file, filegroup or partial backup, which the Log Replay Service does not restore"
        }
        SkipReason::NoFullBackup => "there is no full backup to restore it on",
    }
}

/// A file's status as LRS reports it (restoreDetails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LrsFileStatus {
    Queued,
    Restoring,
    Restored,
    Skipped,
    Unrestorable,
}

/// One restoreDetails reading, reduced to what the state machine needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LrsStatus {
    pub files: Vec<(String, LrsFileStatus)>,
    pub last_restored_file: Option<String>,
    pub currently_restoring: Option<String>,
    pub block_reason: Option<String>,
    /// LRS says the restore is completed (after complete was called).
    pub completed: bool,
    /// LRS says the restore failed.
    pub failed: Option<String>,
}

/// Operator commands (from the TUI, headless flags or scripts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    BeginCutover,
    /// A tail-log backup is in the folder (taken by cutover through the source, or detected).
    TailTaken {
        file: String,
    },
    /// The operator asserts no more backups will come.
    ConfirmNoMoreBackups,
    Complete,
    AbandonCutover,
    Cancel,
    Retry,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A new backup file of the plan is in the folder.
    FileArrived(BackupFile),
    UploadStarted {
        file: String,
    },
    /// Bytes of the file in the container so far.
    UploadProgress {
        file: String,
        done: u64,
    },
    Uploaded {
        file: String,
    },
    /// The upload failed for good (refused, unreadable, a URL that never answered): the database
    /// is Failed, the others go on.
    UploadFailed {
        file: String,
        error: String,
    },
    /// The upload failed in a way that may pass: the file is uploaded again after a wait.
    UploadRetrying {
        file: String,
    },
    /// LRS accepted the start request.
    LrsStarted,
    Lrs(LrsStatus),
    Command(Command),
    /// Calling LRS complete failed.
    CompleteFailed {
        error: String,
    },
    /// The managed instance has no restore of the database any more (LRS cancelled it after 30
    /// days, or it was dropped): Failed, and a retry starts the restore again.
    RestoreGone {
        reason: String,
    },
}

/// What the runner must do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    StartLrs,
    /// Call LRS complete with this lastBackupName (the engine's own record).
    CompleteLrs {
        last_backup_name: String,
    },
    CancelLrs,
}

/// DMS's states as a pure state machine over [`DatabaseState`]: the data is the model's
/// (`model::database`), the rules are the engine's.
pub trait StateMachine {
    /// Moves the state on an event. Refused commands leave the state unchanged.
    fn apply(&mut self, event: Event) -> Result<Vec<Action>, Refusal>;
}

impl StateMachine for DatabaseState {
    fn apply(&mut self, event: Event) -> Result<Vec<Action>, Refusal> {
        if self.phase.is_final() {
            return match event {
                Event::Command(_) => Err(Refusal::WrongPhase(self.phase)),
                _ => Ok(Vec::new()),
            };
        }
        let mut actions = Vec::new();
        match event {
            Event::FileArrived(f) => {
                if self.files.iter().all(|x| x.name != f.name) {
                    let at = self.files.partition_point(|x| x.last_lsn <= f.last_lsn);
                    self.files.insert(at, f);
                }
            }
            Event::UploadStarted { file } => {
                if let Some(f) = self.file_mut(&file)
                    && matches!(f.status, FileStatus::Arrived | FileStatus::Retrying)
                {
                    f.status = FileStatus::Uploading;
                }
            }
            Event::UploadProgress { file, done } => {
                if let Some(f) = self.file_mut(&file) {
                    f.uploaded_bytes = done.min(f.size);
                }
            }
            Event::Uploaded { file } => {
                if let Some(f) = self.file_mut(&file) {
                    f.uploaded_bytes = f.size;
                    if matches!(
                        f.status,
                        FileStatus::Arrived | FileStatus::Retrying | FileStatus::Uploading
                    ) {
                        f.status = FileStatus::Uploaded;
                    }
                }
                if !self.lrs_started
                    && self.phase != Phase::Failed
                    && self.files.iter().any(|f| {
                        f.backup_type == BackupType::Full && f.status == FileStatus::Uploaded
                    })
                {
                    actions.push(Action::StartLrs);
                }
            }
            Event::UploadFailed { file, error } => {
                self.phase = Phase::Failed;
                self.error = Some(format!("upload of {file} failed: {error}"));
            }
            Event::UploadRetrying { file } => {
                if let Some(f) = self.file_mut(&file)
                    && matches!(f.status, FileStatus::Arrived | FileStatus::Uploading)
                {
                    f.status = FileStatus::Retrying;
                    f.uploaded_bytes = 0;
                }
            }
            Event::LrsStarted => self.lrs_started = true,
            Event::Lrs(s) => self.on_lrs(s),
            Event::Command(c) => return self.command(c),
            Event::CompleteFailed { error } => {
                self.phase = Phase::CuttingOver;
                self.completed_with = None;
                self.error = Some(format!("completing the restore failed: {error}"));
            }
            Event::RestoreGone { reason } => {
                self.phase = Phase::Failed;
                self.error = Some(reason);
                self.restore_gone = true;
            }
        }
        self.phase = self.derived_phase();
        Ok(actions)
    }
}

/// The steps [`StateMachine::apply`] is made of.
trait Steps {
    fn restart_restore(&mut self);
    fn file_mut(&mut self, name: &str) -> Option<&mut BackupFile>;
    fn on_lrs(&mut self, s: LrsStatus);
    fn command(&mut self, c: Command) -> Result<Vec<Action>, Refusal>;
    fn derived_phase(&self) -> Phase;
}

impl Steps for DatabaseState {
    /// Forgets what the vanished restore had done: LRS starts again (from the full backup in the
    /// container) and every file is restored anew; what is in the container is not uploaded again.
    fn restart_restore(&mut self) {
        self.restore_gone = false;
        self.lrs_started = false;
        self.lrs_started_unix = None;
        self.block_reason = None;
        self.last_restored_file = None;
        self.currently_restoring = None;
        self.completed_with = None;
        for f in self.files.iter_mut() {
            if matches!(
                f.status,
                FileStatus::Restoring
                    | FileStatus::Restored
                    | FileStatus::Skipped
                    | FileStatus::Unrestorable
            ) {
                f.status = if f.uploaded_bytes >= f.size {
                    FileStatus::Uploaded
                } else {
                    FileStatus::Arrived
                };
            }
        }
    }

    fn file_mut(&mut self, name: &str) -> Option<&mut BackupFile> {
        self.files.iter_mut().find(|f| f.name == name)
    }

    fn on_lrs(&mut self, s: LrsStatus) {
        // One lookup table per reading: a database can hold thousands of files.
        let index: std::collections::HashMap<&str, usize> = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.as_str(), i))
            .collect();
        let found: Vec<(usize, LrsFileStatus)> = s
            .files
            .iter()
            .filter_map(|(name, st)| index.get(name.as_str()).map(|i| (*i, *st)))
            .collect();
        for (i, st) in found {
            let f = &mut self.files[i];
            {
                f.status = match st {
                    LrsFileStatus::Queued => {
                        if f.status >= FileStatus::Uploaded {
                            FileStatus::Uploaded
                        } else {
                            f.status
                        }
                    }
                    LrsFileStatus::Restoring => FileStatus::Restoring,
                    LrsFileStatus::Restored => FileStatus::Restored,
                    LrsFileStatus::Skipped => FileStatus::Skipped,
                    LrsFileStatus::Unrestorable => FileStatus::Unrestorable,
                };
            }
        }
        self.last_restored_file = s.last_restored_file;
        self.currently_restoring = s.currently_restoring;
        self.block_reason = s.block_reason;
        if let Some(e) = s.failed {
            self.phase = Phase::Failed;
            self.error = Some(e);
        }
        if s.completed && self.phase == Phase::Completing {
            self.phase = Phase::Completed;
        }
    }

    fn command(&mut self, c: Command) -> Result<Vec<Action>, Refusal> {
        let mut actions = Vec::new();
        match c {
            Command::BeginCutover => {
                if !matches!(self.phase, Phase::ReadyForCutover | Phase::CatchingUp) {
                    return Err(Refusal::WrongPhase(self.phase));
                }
                if !self.full_restored() {
                    return Err(Refusal::FullNotRestored);
                }
                self.phase = Phase::CuttingOver;
                if !self.tail_kept_by_source() {
                    self.tail = TailState::Undecided;
                }
            }
            Command::TailTaken { file } => {
                if self.phase != Phase::CuttingOver {
                    return Err(Refusal::WrongPhase(self.phase));
                }
                let newest = self.newest().map(|f| f.name.clone());
                if newest.as_deref() != Some(file.as_str()) {
                    return Err(Refusal::TailNotNewest { tail: file, newest });
                }
                self.tail = TailState::Taken { file };
            }
            Command::ConfirmNoMoreBackups => {
                if self.phase != Phase::CuttingOver {
                    return Err(Refusal::WrongPhase(self.phase));
                }
                self.tail = TailState::NoMoreBackups;
            }
            Command::Complete => {
                let name = may_complete(self)?;
                self.phase = Phase::Completing;
                self.completed_with = Some(name.clone());
                actions.push(Action::CompleteLrs {
                    last_backup_name: name,
                });
                return Ok(actions);
            }
            Command::AbandonCutover => {
                if !matches!(self.phase, Phase::CuttingOver) {
                    return Err(Refusal::WrongPhase(self.phase));
                }
                // A tail taken WITH NORECOVERY stays the tail: the source, RESTORING, writes no more
                // log, and a second cutover completes with it.
                if !self.tail_kept_by_source() {
                    self.tail = TailState::Undecided;
                }
                self.phase = Phase::CatchingUp;
            }
            Command::Cancel => {
                if self.phase == Phase::Completing {
                    return Err(Refusal::WrongPhase(self.phase));
                }
                self.phase = Phase::Canceled;
                if self.lrs_started {
                    actions.push(Action::CancelLrs);
                }
                return Ok(actions);
            }
            Command::Retry => {
                if self.phase != Phase::Failed {
                    return Err(Refusal::WrongPhase(self.phase));
                }
                self.error = None;
                self.phase = Phase::Preflight;
                for f in self.files.iter_mut() {
                    if matches!(f.status, FileStatus::Uploading) {
                        f.status = FileStatus::Arrived;
                    }
                }
                if self.restore_gone {
                    self.restart_restore();
                }
            }
        }
        self.phase = self.derived_phase();
        Ok(actions)
    }

    /// The phase that follows from the facts, for the phases that are derived rather than chosen.
    fn derived_phase(&self) -> Phase {
        match self.phase {
            Phase::Failed
            | Phase::Canceled
            | Phase::Completed
            | Phase::Completing
            | Phase::CuttingOver => return self.phase,
            _ => {}
        }
        if self.block_reason.is_some()
            || self
                .files
                .iter()
                .any(|f| f.status == FileStatus::Unrestorable)
        {
            return Phase::Blocked;
        }
        if self.files.is_empty() {
            return Phase::Preflight;
        }
        if !self.lrs_started {
            return Phase::UploadingFullBackup;
        }
        if !self.full_restored() {
            return Phase::Restoring;
        }
        if self.pending().is_empty() {
            Phase::ReadyForCutover
        } else {
            Phase::CatchingUp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::Lsn;
    use crate::model::SourceAccess;

    fn file(name: &str, t: BackupType, first: u32, last: u32) -> BackupFile {
        BackupFile {
            name: name.into(),
            backup_type: t,
            first_lsn: Lsn::new(40, first, 1),
            last_lsn: Lsn::new(40, last, 1),
            size: 10,
            status: FileStatus::Uploaded,
            uploaded_bytes: 10,
            backup_start: None,
        }
    }

    fn restored_all(db: &mut DatabaseState) {
        let files: Vec<(String, LrsFileStatus)> = db
            .files
            .iter()
            .map(|f| (f.name.clone(), LrsFileStatus::Restored))
            .collect();
        let last = db.files.last().map(|f| f.name.clone());
        db.apply(Event::Lrs(LrsStatus {
            files,
            last_restored_file: last,
            currently_restoring: None,
            block_reason: None,
            completed: false,
            failed: None,
        }))
        .expect("lrs");
    }

    /// Cut over up to a restored tail taken WITH NORECOVERY (the source RESTORING).
    fn tail_restored() -> DatabaseState {
        let mut db = DatabaseState::new("Sales");
        db.apply(Event::FileArrived(file("full.bak", BackupType::Full, 1, 5)))
            .expect("full");
        db.apply(Event::FileArrived(file("log1.trn", BackupType::Log, 1, 9)))
            .expect("log");
        db.apply(Event::LrsStarted).expect("start");
        restored_all(&mut db);
        assert_eq!(db.phase, Phase::ReadyForCutover);
        db.apply(Event::Command(Command::BeginCutover))
            .expect("begin");
        db.apply(Event::FileArrived(file("tail.trn", BackupType::Log, 9, 12)))
            .expect("tail");
        db.source_access = Some(SourceAccess::Restoring);
        db.apply(Event::Command(Command::TailTaken {
            file: "tail.trn".into(),
        }))
        .expect("tail taken");
        restored_all(&mut db);
        db
    }

    #[test]
    fn a_tail_taken_with_norecovery_stays_the_tail_across_abandon_and_a_second_cutover() {
        let mut db = tail_restored();
        db.apply(Event::Command(Command::AbandonCutover))
            .expect("abandon");
        assert_eq!(db.phase, Phase::ReadyForCutover);
        assert_eq!(
            db.tail,
            TailState::Taken {
                file: "tail.trn".into()
            }
        );
        db.apply(Event::Command(Command::BeginCutover))
            .expect("begin again");
        assert!(db.tail_kept_by_source());
        let a = db
            .apply(Event::Command(Command::Complete))
            .expect("the guard allows completing with the restored tail");
        assert_eq!(
            a,
            vec![Action::CompleteLrs {
                last_backup_name: "tail.trn".into()
            }]
        );
    }

    #[test]
    fn without_a_restoring_source_an_abandon_forgets_the_tail() {
        let mut db = tail_restored();
        db.source_access = Some(SourceAccess::ReadOnly);
        db.apply(Event::Command(Command::AbandonCutover))
            .expect("abandon");
        assert_eq!(db.tail, TailState::Undecided);
        // And a newer log than the tail (the source was brought back and wrote more): not kept.
        let mut db = tail_restored();
        db.apply(Event::Command(Command::AbandonCutover))
            .expect("abandon");
        db.apply(Event::FileArrived(file(
            "log2.trn",
            BackupType::Log,
            12,
            15,
        )))
        .expect("log2");
        db.apply(Event::Command(Command::BeginCutover))
            .expect("begin");
        assert_eq!(db.tail, TailState::Undecided);
    }

    #[test]
    fn ignored_files_say_why_in_words() {
        let f = ignored_file("old.bak", BackupType::Full, SkipReason::OlderFull);
        assert!(f.reason.contains("newest full"), "{}", f.reason);
        assert_eq!(IgnoredFile::STATUS, "Ignored");
        let old: DatabaseState = serde_json::from_str(
            r#"{"name":"a","phase":"CatchingUp","files":[],"lrs_started":true,
                "block_reason":null,"last_restored_file":null,"currently_restoring":null,
                "tail":"Undecided","error":null,"completed_with":null}"#,
        )
        .expect("a state file written before these fields still reads");
        assert!(old.ignored.is_empty() && old.source_access.is_none());
    }

    #[test]
    fn an_upload_that_may_pass_is_retrying_and_only_a_failure_for_good_fails_the_database() {
        let mut full = file("full.bak", BackupType::Full, 1, 5);
        full.status = FileStatus::Arrived;
        full.uploaded_bytes = 0;
        let name = || "full.bak".to_string();
        let mut db = DatabaseState::new("Sales");
        db.apply(Event::FileArrived(full.clone())).expect("arrived");
        db.apply(Event::UploadStarted { file: name() })
            .expect("started");
        db.apply(Event::UploadProgress {
            file: name(),
            done: 4,
        })
        .expect("progress");
        db.apply(Event::UploadRetrying { file: name() })
            .expect("retrying");
        assert_eq!(db.files[0].status, FileStatus::Retrying);
        assert_eq!(db.files[0].uploaded_bytes, 0, "sent again from the start");
        assert_eq!(db.phase, Phase::UploadingFullBackup);
        assert_eq!(db.error, None);
        db.apply(Event::UploadStarted { file: name() })
            .expect("started again");
        assert_eq!(db.files[0].status, FileStatus::Uploading);
        let actions = db
            .apply(Event::Uploaded { file: name() })
            .expect("uploaded");
        assert_eq!(db.files[0].status, FileStatus::Uploaded);
        assert_eq!(actions, vec![Action::StartLrs]);

        let mut db = DatabaseState::new("HR");
        db.apply(Event::FileArrived(full)).expect("arrived");
        db.apply(Event::UploadStarted { file: name() })
            .expect("started");
        db.apply(Event::UploadFailed {
            file: name(),
            error: "access denied".into(),
        })
        .expect("failed");
        assert_eq!(db.phase, Phase::Failed);
        assert!(db.error.as_deref().is_some_and(|e| e.contains("full.bak")));
        db.apply(Event::Command(Command::Retry)).expect("retry");
        assert_eq!(db.phase, Phase::UploadingFullBackup);
        assert_eq!(db.files[0].status, FileStatus::Arrived, "uploaded again");
    }
}
