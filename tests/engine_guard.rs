//! The engine's per-database state machine and cutover guard: a whole walk from arrival to Completed,
//! every refusal the cutover dialog explains, and a property test: no sequence of events and commands
//! makes the engine call LRS complete while a backup of the plan is unrestored, or with a name other
//! than the newest backup.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use cutover::backup::{BackupType, Lsn};
use cutover::engine::StateMachine;
use cutover::engine::{
    Action, BackupFile, Command, DatabaseState, Event, FileStatus, LrsFileStatus, LrsStatus, Phase,
    Refusal,
};
use proptest::prelude::*;

fn file(name: &str, t: BackupType, first: u32, last: u32) -> BackupFile {
    BackupFile {
        name: name.into(),
        backup_type: t,
        first_lsn: Lsn::new(40, first, 1),
        last_lsn: Lsn::new(40, last, 1),
        size: 1000,
        status: FileStatus::Arrived,
        uploaded_bytes: 0,
        backup_start: None,
    }
}

fn chain() -> Vec<BackupFile> {
    vec![
        file("full.bak", BackupType::Full, 100, 120),
        file("log1.trn", BackupType::Log, 100, 200),
        file("log2.trn", BackupType::Log, 200, 300),
        file("tail.trn", BackupType::Log, 300, 400),
    ]
}

fn lrs(restored: &[&str], last: Option<&str>) -> Event {
    Event::Lrs(LrsStatus {
        files: restored
            .iter()
            .map(|f| (f.to_string(), LrsFileStatus::Restored))
            .collect(),
        last_restored_file: last.map(String::from),
        currently_restoring: None,
        block_reason: None,
        completed: false,
        failed: None,
    })
}

fn cmd(db: &mut DatabaseState, c: Command) -> Result<Vec<Action>, Refusal> {
    db.apply(Event::Command(c))
}

#[test]
fn a_whole_migration_walks_the_dms_states() {
    let mut db = DatabaseState::new("Sales");
    assert_eq!(db.phase, Phase::Preflight);
    let files = chain();
    for f in &files[..3] {
        db.apply(Event::FileArrived(f.clone())).unwrap();
    }
    assert_eq!(db.phase, Phase::UploadingFullBackup);
    db.apply(Event::UploadStarted {
        file: "full.bak".into(),
    })
    .unwrap();
    assert_eq!(db.files[0].status, FileStatus::Uploading);
    let a = db
        .apply(Event::Uploaded {
            file: "full.bak".into(),
        })
        .unwrap();
    assert_eq!(
        a,
        vec![Action::StartLrs],
        "LRS starts once the full is uploaded"
    );
    db.apply(Event::LrsStarted).unwrap();
    assert_eq!(db.phase, Phase::Restoring);
    assert_eq!(
        cmd(&mut db, Command::BeginCutover),
        Err(Refusal::WrongPhase(Phase::Restoring))
    );
    db.apply(Event::Uploaded {
        file: "log1.trn".into(),
    })
    .unwrap();
    db.apply(Event::Uploaded {
        file: "log2.trn".into(),
    })
    .unwrap();
    db.apply(lrs(&["full.bak"], Some("full.bak"))).unwrap();
    assert_eq!(db.phase, Phase::CatchingUp);
    db.apply(lrs(&["full.bak", "log1.trn", "log2.trn"], Some("log2.trn")))
        .unwrap();
    assert_eq!(db.phase, Phase::ReadyForCutover);

    cmd(&mut db, Command::BeginCutover).unwrap();
    assert_eq!(db.phase, Phase::CuttingOver);
    assert_eq!(cmd(&mut db, Command::Complete), Err(Refusal::TailUndecided));
    // The tail lands: pending again until it is restored.
    db.apply(Event::FileArrived(files[3].clone())).unwrap();
    cmd(
        &mut db,
        Command::TailTaken {
            file: "tail.trn".into(),
        },
    )
    .unwrap();
    assert!(
        matches!(cmd(&mut db, Command::Complete), Err(Refusal::Pending(p)) if p == vec!["tail.trn".to_string()])
    );
    db.apply(Event::Uploaded {
        file: "tail.trn".into(),
    })
    .unwrap();
    // LRS lags: it says all restored but names an older last file.
    db.apply(lrs(
        &["full.bak", "log1.trn", "log2.trn", "tail.trn"],
        Some("log2.trn"),
    ))
    .unwrap();
    assert!(matches!(
        cmd(&mut db, Command::Complete),
        Err(Refusal::NotNewest { .. })
    ));
    db.apply(lrs(&["tail.trn"], Some("tail.trn"))).unwrap();
    let a = cmd(&mut db, Command::Complete).unwrap();
    assert_eq!(
        a,
        vec![Action::CompleteLrs {
            last_backup_name: "tail.trn".into()
        }]
    );
    assert_eq!(db.phase, Phase::Completing);
    let mut done = lrs(&[], Some("tail.trn"));
    if let Event::Lrs(s) = &mut done {
        s.completed = true;
    }
    db.apply(done).unwrap();
    assert_eq!(db.phase, Phase::Completed);
    assert_eq!(
        cmd(&mut db, Command::Cancel),
        Err(Refusal::WrongPhase(Phase::Completed))
    );
}

#[test]
fn refusals_explain_themselves() {
    let mut db = DatabaseState::new("Sales");
    for f in chain().into_iter().take(2) {
        db.apply(Event::FileArrived(f)).unwrap();
    }
    db.apply(Event::Uploaded {
        file: "full.bak".into(),
    })
    .unwrap();
    db.apply(Event::LrsStarted).unwrap();
    db.apply(Event::Uploaded {
        file: "log1.trn".into(),
    })
    .unwrap();
    db.apply(lrs(&["full.bak", "log1.trn"], Some("log1.trn")))
        .unwrap();
    cmd(&mut db, Command::BeginCutover).unwrap();
    // A tail that is not the newest file is refused.
    let e = cmd(
        &mut db,
        Command::TailTaken {
            file: "full.bak".into(),
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("not the newest"), "{e}");
    // A block reason blocks completion.
    db.apply(Event::Lrs(LrsStatus {
        files: vec![],
        last_restored_file: Some("log1.trn".into()),
        currently_restoring: None,
        block_reason: Some("BrokenRestorePlanGapInLogBackups".into()),
        completed: false,
        failed: None,
    }))
    .unwrap();
    cmd(&mut db, Command::ConfirmNoMoreBackups).unwrap();
    let e = cmd(&mut db, Command::Complete).unwrap_err();
    assert!(
        e.to_string().contains("BrokenRestorePlanGapInLogBackups"),
        "{e}"
    );
    db.apply(lrs(&[], Some("log1.trn"))).unwrap();
    assert!(
        cmd(&mut db, Command::Complete).is_ok(),
        "operator asserted no more backups"
    );
    // Abandon is only possible while cutting over.
    assert!(cmd(&mut db, Command::AbandonCutover).is_err());
}

/// A restore the instance no longer has fails the database; a retry forgets what that restore had
/// done (files uploaded, nothing restored, LRS not started) so the runner starts it again, and
/// nothing can be completed until LRS restores everything anew.
#[test]
fn a_vanished_restore_fails_and_a_retry_restores_everything_again() {
    let mut db = DatabaseState::new("Sales");
    let files = chain();
    for f in &files[..3] {
        db.apply(Event::FileArrived(f.clone())).unwrap();
        db.apply(Event::Uploaded {
            file: f.name.clone(),
        })
        .unwrap();
    }
    db.apply(Event::LrsStarted).unwrap();
    db.lrs_started_unix = Some(1_764_000_000);
    db.apply(lrs(&["full.bak", "log1.trn", "log2.trn"], Some("log2.trn")))
        .unwrap();
    assert_eq!(db.phase, Phase::ReadyForCutover);
    db.apply(Event::RestoreGone {
        reason: "no restore of Sales any more".into(),
    })
    .unwrap();
    assert_eq!(db.phase, Phase::Failed);
    assert!(db.restore_gone);
    assert_eq!(db.error.as_deref(), Some("no restore of Sales any more"));
    assert_eq!(
        cmd(&mut db, Command::BeginCutover),
        Err(Refusal::WrongPhase(Phase::Failed))
    );

    cmd(&mut db, Command::Retry).unwrap();
    assert!(!db.restore_gone && !db.lrs_started);
    assert_eq!(db.lrs_started_unix, None);
    assert_eq!(db.last_restored_file, None);
    assert_eq!(db.error, None);
    assert!(
        db.files.iter().all(|f| f.status == FileStatus::Uploaded),
        "{:?}",
        db.files
    );
    assert_ne!(db.phase, Phase::Failed);
    assert!(!db.full_restored());
    assert!(cmd(&mut db, Command::BeginCutover).is_err());

    // A retry after any other failure keeps what LRS restored.
    let mut other = DatabaseState::new("HR");
    for f in &files[..1] {
        other.apply(Event::FileArrived(f.clone())).unwrap();
        other
            .apply(Event::Uploaded {
                file: f.name.clone(),
            })
            .unwrap();
    }
    other.apply(Event::LrsStarted).unwrap();
    other.apply(lrs(&["full.bak"], Some("full.bak"))).unwrap();
    other
        .apply(Event::UploadFailed {
            file: "log1.trn".into(),
            error: "x".into(),
        })
        .unwrap();
    cmd(&mut other, Command::Retry).unwrap();
    assert!(other.lrs_started && other.full_restored());
}

#[derive(Debug, Clone)]
enum Step {
    Arrive(usize),
    Upload(usize),
    LrsReport(Vec<(usize, u8)>, Option<usize>, bool),
    Cmd(u8, usize),
    CompleteFailed,
    RestoreGone,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..4).prop_map(Step::Arrive),
        (0usize..4).prop_map(Step::Upload),
        (
            proptest::collection::vec((0usize..4, 0u8..5), 0..4),
            proptest::option::of(0usize..4),
            any::<bool>()
        )
            .prop_map(|(f, l, b)| Step::LrsReport(f, l, b)),
        (0u8..7, 0usize..4).prop_map(|(c, f)| Step::Cmd(c, f)),
        Just(Step::CompleteFailed),
        Just(Step::RestoreGone),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn complete_is_never_called_with_a_backup_unrestored(steps in proptest::collection::vec(step(), 1..60)) {
        let files = chain();
        let mut db = DatabaseState::new("Sales");
        for s in steps {
            let ev = match s {
                Step::Arrive(i) => Event::FileArrived(files[i].clone()),
                Step::Upload(i) => Event::Uploaded { file: files[i].name.clone() },
                Step::LrsReport(fs, last, blocked) => Event::Lrs(LrsStatus {
                    files: fs.iter().map(|(i, st)| (files[*i].name.clone(), match st {
                        0 => LrsFileStatus::Queued,
                        1 => LrsFileStatus::Restoring,
                        2 => LrsFileStatus::Restored,
                        3 => LrsFileStatus::Skipped,
                        _ => LrsFileStatus::Unrestorable,
                    })).collect(),
                    last_restored_file: last.map(|i| files[i].name.clone()),
                    currently_restoring: None,
                    block_reason: blocked.then(|| "blocked".to_string()),
                    completed: false,
                    failed: None,
                }),
                Step::Cmd(c, i) => Event::Command(match c {
                    0 => Command::BeginCutover,
                    1 => Command::TailTaken { file: files[i].name.clone() },
                    2 => Command::ConfirmNoMoreBackups,
                    3 | 4 => Command::Complete,
                    5 => Command::AbandonCutover,
                    _ => Command::Retry,
                }),
                Step::CompleteFailed => Event::CompleteFailed { error: "x".into() },
                Step::RestoreGone => Event::RestoreGone { reason: "gone".into() },
            };
            if let Ok(actions) = db.apply(ev) {
                for a in actions {
                    if let Action::CompleteLrs { last_backup_name } = a {
                        // Every file the engine knows of is restored (or skipped by LRS)...
                        for f in &db.files {
                            prop_assert!(
                                matches!(f.status, FileStatus::Restored | FileStatus::Skipped),
                                "{} is {:?} at completion", f.name, f.status
                            );
                        }
                        prop_assert!(db.full_restored());
                        prop_assert!(db.block_reason.is_none());
                        // ...and the name is the newest backup, which LRS says it restored last.
                        let newest = db.newest().map(|f| f.name.clone());
                        prop_assert_eq!(Some(last_backup_name.clone()), newest);
                        prop_assert_eq!(db.last_restored_file.clone(), Some(last_backup_name));
                    }
                }
            }
        }
    }
}
