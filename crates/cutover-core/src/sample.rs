//! Deterministic, hand-built snapshots (no clock, no randomness) for the snapshot tests, the render
//! benchmark and demonstrations: one database in every phase, or many databases with long chains.
//! (Was `tui::sample`: it fills the guard's checklist and the statements as the engine does, so it
//! lives beside the engine, not in the TUI.)

use std::path::Path;

use crate::engine::guard::checklist;
use crate::engine::snapshot::cutover_statements;
use crate::model::{
    BackupFile, BackupType, Code, DatabaseSnapshot, DatabaseState, EventLine, FileStatus, Finding,
    Lsn, MigrationSnapshot, Phase, Severity, TailState,
};

const MIB: u64 = 1024 * 1024;

/// A database's chain: one full backup then `logs` log backups, each starting where the previous ends.
pub fn chain(db: &str, logs: usize) -> Vec<BackupFile> {
    let mut files = Vec::with_capacity(logs + 1);
    files.push(BackupFile {
        name: format!("{db}_FULL_20260301_010000.bak"),
        backup_type: BackupType::Full,
        first_lsn: Lsn::new(39, 488, 71),
        last_lsn: Lsn::new(39, 518, 1),
        size: 2048 * MIB,
        status: FileStatus::Arrived,
        uploaded_bytes: 0,
        backup_start: Some("2026-03-01T01:00:00".to_string()),
    });
    let mut prev = Lsn::new(39, 518, 1);
    for i in 0..logs {
        let last = Lsn::new(40 + i as u32, 16 + (i as u32 % 7) * 8, 1);
        files.push(BackupFile {
            name: format!(
                "{db}_LOG_20260301_{:02}{:02}00.trn",
                1 + (i / 60) % 24,
                i % 60
            ),
            backup_type: BackupType::Log,
            first_lsn: prev,
            last_lsn: last,
            size: (4 + (i as u64 % 5) * 3) * MIB,
            status: FileStatus::Arrived,
            uploaded_bytes: 0,
            backup_start: None,
        });
        prev = last;
    }
    files
}

fn set_status(files: &mut [BackupFile], upto: usize, status: FileStatus) {
    for f in files.iter_mut().take(upto) {
        f.status = status;
        if status >= FileStatus::Uploaded {
            f.uploaded_bytes = f.size;
        }
    }
}

/// One database in `phase`, with a chain of `logs` log backups whose statuses fit the phase.
pub fn database(name: &str, phase: Phase, logs: usize) -> DatabaseSnapshot {
    let mut files = if phase == Phase::Preflight {
        Vec::new()
    } else {
        chain(name, logs)
    };
    let n = files.len();
    let mut st = DatabaseState::new(name);
    st.phase = phase;
    st.lrs_started = !matches!(phase, Phase::Preflight | Phase::UploadingFullBackup);
    let mut findings = Vec::new();
    let mut refusal = Some("not possible while the database is CatchingUp".to_string());
    match phase {
        Phase::Preflight | Phase::Canceled => {}
        Phase::UploadingFullBackup => {
            if let Some(f) = files.first_mut() {
                f.status = FileStatus::Uploading;
                f.uploaded_bytes = f.size * 2 / 5;
            }
        }
        Phase::Restoring => {
            set_status(&mut files, n, FileStatus::Uploaded);
            files[0].status = FileStatus::Restoring;
            st.currently_restoring = Some(files[0].name.clone());
        }
        Phase::CatchingUp | Phase::Failed => {
            set_status(&mut files, n, FileStatus::Uploaded);
            let restored = n.saturating_sub(2);
            set_status(&mut files, restored, FileStatus::Restored);
            if restored < n {
                files[restored].status = FileStatus::Restoring;
                st.currently_restoring = Some(files[restored].name.clone());
            }
            if n > 0 {
                files[n - 1].status = FileStatus::Uploading;
                files[n - 1].uploaded_bytes = files[n - 1].size / 2;
            }
            st.last_restored_file = restored.checked_sub(1).map(|i| files[i].name.clone());
            if phase == Phase::Failed {
                st.error = Some(format!(
                    "upload of {} failed: 403 AuthorizationPermissionMismatch (the SAS lacks write permission)",
                    files[n - 1].name
                ));
            }
        }
        Phase::ReadyForCutover | Phase::CuttingOver | Phase::Completing | Phase::Completed => {
            set_status(&mut files, n, FileStatus::Restored);
            st.last_restored_file = files.last().map(|f| f.name.clone());
            st.currently_restoring = st.last_restored_file.clone();
            match phase {
                Phase::ReadyForCutover => {
                    refusal = Some("not possible while the database is ReadyForCutover".to_string())
                }
                Phase::CuttingOver => {
                    refusal = Some("take the tail-log backup (or confirm that no more backups will come) before completing".to_string())
                }
                _ => {
                    refusal = Some(format!("not possible while the database is {phase:?}"));
                    st.completed_with = st.last_restored_file.clone();
                    st.tail = TailState::Taken {
                        file: st.last_restored_file.clone().unwrap_or_default(),
                    };
                }
            }
        }
        Phase::Blocked => {
            set_status(&mut files, n, FileStatus::Uploaded);
            let good = n / 2;
            set_status(&mut files, good, FileStatus::Restored);
            st.last_restored_file = good.checked_sub(1).map(|i| files[i].name.clone());
            if good < n {
                // A missing log backup before files[good], and LRS refuses it.
                files[good].first_lsn = Lsn::new(39 + good as u32, 1, 1);
                files[good].status = FileStatus::Unrestorable;
                st.block_reason = Some(format!(
                    "BrokenRestorePlan: the log chain breaks before {}",
                    files[good].name
                ));
                findings.push(Finding::new(
                    Code::LogChainGap,
                    Severity::Error,
                    Some(files[good].name.clone()),
                    format!("the log chain breaks before {}: a log backup is missing", files[good].name),
                    "copy the missing log backup into the backup folder (msdb's backupmediafamily names where it was written)",
                ));
            }
        }
    }
    if phase == Phase::Completed {
        refusal = Some("not possible while the database is Completed".to_string());
    }
    if name.ends_with('2') {
        findings.push(Finding::new(
            Code::NoChecksum,
            Severity::Warning,
            None,
            "backups taken without CHECKSUM: corruption would only be found at restore",
            "add WITH CHECKSUM to the backup jobs (Ola Hallengren: @CheckSum = 'Y')",
        ));
    }
    let bytes_total: u64 = files.iter().map(|f| f.size).sum();
    let bytes_uploaded: u64 = files.iter().map(|f| f.uploaded_bytes).sum();
    let pending = files
        .iter()
        .filter(|f| {
            f.backup_type == BackupType::Log
                && !matches!(f.status, FileStatus::Restored | FileStatus::Skipped)
        })
        .count();
    let last_applied_lsn = st
        .last_restored_file
        .as_deref()
        .and_then(|n| files.iter().find(|f| f.name == n))
        .map(|f| f.last_lsn.to_string());
    let uploading = bytes_uploaded < bytes_total && phase != Phase::Canceled;
    st.files = files;
    let folder = format!("/backups/{name}");
    let server_folder = format!(r"\\fs01\backups\{name}");
    // The tail-log backup named at the samples' clock (see [`NOW`]).
    let tail_at = time::OffsetDateTime::from_unix_timestamp(NOW).ok();
    DatabaseSnapshot {
        checklist: checklist(&st),
        statements: cutover_statements(name, Path::new(&folder), &server_folder, tail_at),
        on_target: None,
        target_name: name.to_string(),
        folder,
        server_folder,
        bytes_total,
        bytes_uploaded,
        upload_bytes_per_sec: if uploading { 48.5 * MIB as f64 } else { 0.0 },
        upload_history: (0..60u64)
            .map(|i| {
                if uploading {
                    (20 + (i * 7) % 40) * MIB
                } else {
                    0
                }
            })
            .collect(),
        upload_eta_secs: if uploading { Some(200.0) } else { None },
        last_applied_lsn,
        data_lag_secs: st.last_restored_file.as_ref().map(|_| 300.0),
        pending_log_backups: pending,
        findings,
        cutover_refusal: refusal,
        traffic_stopped: None,
        elapsed_secs: 3725.0,
        data_lag_utc_known: true,
        downtime_started_unix: match phase {
            Phase::CuttingOver | Phase::Completing => Some(NOW - 42),
            Phase::Completed => Some(NOW - 300),
            _ => None,
        },
        downtime_secs: match phase {
            Phase::CuttingOver | Phase::Completing => Some(41.0),
            Phase::Completed => Some(57.0),
            _ => None,
        },
        cutover_waiting_for: match phase {
            Phase::CuttingOver => Some("the tail-log backup".to_string()),
            Phase::Completing => Some("completion".to_string()),
            _ => None,
        },
        completed_unix: (phase == Phase::Completed).then_some(NOW - 243),
        source_access: None,
        state: st,
    }
}

/// The samples' wall clock: the migration started at [`STARTED`] and has run 3,725 s.
pub const STARTED: i64 = 1_772_323_200;
pub const NOW: i64 = STARTED + 3725;

/// A migration of the given databases, with a few events.
pub fn migration(databases: Vec<DatabaseSnapshot>) -> MigrationSnapshot {
    let events = vec![
        event(
            1,
            None,
            Severity::Info,
            "scanned /backups: 3 databases, 42 backup files",
        ),
        event(
            12,
            Some("db1"),
            Severity::Info,
            "db1_FULL_20260301_010000.bak uploaded (2.00 GiB in 41s)",
        ),
        event(
            60,
            Some("db2"),
            Severity::Warning,
            "backups taken without CHECKSUM",
        ),
        event(
            300,
            Some("db3"),
            Severity::Error,
            "LRS: BrokenRestorePlan, the log chain breaks",
        ),
        event(
            3600,
            Some("db1"),
            Severity::Info,
            "db1_LOG_20260301_010400.trn restored",
        ),
    ];
    MigrationSnapshot {
        activity: "contoso-2026-03".to_string(),
        source: "sql01.contoso.local".to_string(),
        target: "mi-contoso.abc123.database.windows.net".to_string(),
        elapsed_secs: 3725.0,
        total_upload_bytes_per_sec: databases.iter().map(|d| d.upload_bytes_per_sec).sum(),
        paused: false,
        databases,
        events,
        generation: 1,
        started_unix: STARTED,
        last_poll_unix: Some(NOW - 4),
        stale: None,
        target_connection: None,
        logins: Vec::new(),
        logins_note: None,
    }
}

/// A Logins panel's rows, one of each status.
pub fn logins() -> Vec<crate::model::LoginRow> {
    use crate::model::{LoginRow, LoginStatus};
    let row =
        |login: &str, kind: &str, target: &str, used_by: &[&str], status: LoginStatus| LoginRow {
            login: login.into(),
            kind: kind.into(),
            target: target.into(),
            used_by: used_by.iter().map(|s| s.to_string()).collect(),
            status,
        };
    vec![
        row("app_sales", "SQL login", "app_sales", &["db1.app_sales", "db2.app_sales"], LoginStatus::Created),
        row("we]ird 'login", "SQL login", "we]ird 'login", &["db2.we]ird 'user"], LoginStatus::Exists),
        row("retired", "SQL login", "retired", &[], LoginStatus::Pending),
        row("CONTOSO\\app", "Windows login", "app@contoso.com", &["db1.app"], LoginStatus::Created),
        row(
            "CONTOSO\\DBAs",
            "Windows group",
            "CONTOSO\\DBAs",
            &[],
            LoginStatus::Skipped {
                reason: "no Entra mapping: add [[logins.map]] windows = \"CONTOSO\\\\DBAs\" entra = \"...\"".into(),
            },
        ),
        row(
            "reporting",
            "SQL login",
            "reporting",
            &["db1.reporting"],
            LoginStatus::Failed {
                reason: "the login [reporting] exists on the target with SID 0x01 but has SID 0x02 on the source".into(),
            },
        ),
    ]
}

pub fn event(at_secs: u64, database: Option<&str>, level: Severity, message: &str) -> EventLine {
    EventLine {
        at_secs,
        unix_secs: STARTED + at_secs as i64,
        database: database.map(str::to_string),
        level,
        message: message.to_string(),
    }
}

/// Every phase once: databases `db1`.. named after their phase's position.
pub const PHASES: [Phase; 11] = [
    Phase::Preflight,
    Phase::UploadingFullBackup,
    Phase::Restoring,
    Phase::CatchingUp,
    Phase::ReadyForCutover,
    Phase::CuttingOver,
    Phase::Completing,
    Phase::Completed,
    Phase::Failed,
    Phase::Blocked,
    Phase::Canceled,
];

/// `count` databases with `files` files each, cycling through the phases (the benchmark's load).
pub fn large(count: usize, files: usize) -> MigrationSnapshot {
    let dbs = (0..count)
        .map(|i| {
            database(
                &format!("db{:03}", i + 1),
                PHASES[i % PHASES.len()],
                files.saturating_sub(1),
            )
        })
        .collect();
    let mut m = migration(dbs);
    m.events = (0..500u64)
        .map(|i| event(i * 7, Some("db001"), Severity::Info, "log backup restored"))
        .collect();
    m
}

/// A source server's databases for the wizard: one clean, one in SIMPLE recovery, one with TDE.
pub fn source_databases() -> Vec<crate::model::SourceDatabase> {
    let db = |name: &str, id: i32, recovery: &str, encrypted: bool, size: u64| {
        crate::model::SourceDatabase {
            name: name.to_string(),
            database_id: id,
            state: "ONLINE".to_string(),
            recovery_model: recovery.to_string(),
            compatibility_level: 150,
            is_read_only: false,
            user_access: "MULTI_USER".to_string(),
            is_encrypted: encrypted,
            size_bytes: size,
            filestream_files: 0,
            memory_optimized_filegroups: 0,
            last_full_backup: Some("2026-03-01 01:00:00".to_string()),
            last_log_backup: if recovery == "SIMPLE" {
                None
            } else {
                Some("2026-03-01 02:15:00".to_string())
            },
        }
    };
    vec![
        db("sales", 5, "FULL", false, 52 * 1024 * MIB),
        db("hr", 6, "SIMPLE", false, 3 * 1024 * MIB),
        db("legacy", 7, "FULL", true, 700 * MIB),
        db("reporting", 8, "BULK_LOGGED", false, 12 * 1024 * MIB),
    ]
}
