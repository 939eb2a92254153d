//! The re-attach preflight on the source: the source database's state read against what the
//! activity's state says of it. A database the activity cut over is RESTORING on the source after
//! its tail-log backup WITH NORECOVERY: expected, not a reason to "bring it ONLINE". A source
//! database left READ_ONLY or RESTRICTED_USER (by a cutover that stopped before its end, or by hand)
//! is said, with the exact statement that gives it back to its users.

use crate::source::tail::StopTrafficSql;
use std::collections::HashMap;
use std::path::Path;

use super::persist;
use super::state::{DatabaseState, Phase};
use crate::catalog::{Code, Finding, Severity};
use crate::source::crosscheck;
use crate::source::queries::SourceDatabase;
use crate::source::tail::StopTraffic;

/// The databases' states of the activity whose state file is `state_file` (none when it has no
/// state yet, or it cannot be read: the engine says why when it starts).
pub fn saved_states(state_file: &Path) -> HashMap<String, DatabaseState> {
    persist::load(state_file)
        .ok()
        .flatten()
        .map(|a| {
            a.databases
                .into_iter()
                .map(|d| (d.state.name.clone(), d.state))
                .collect()
        })
        .unwrap_or_default()
}

/// A cutover went past its tail-log backup: the source is restoring on purpose.
fn cut_over(s: &DatabaseState) -> bool {
    matches!(
        s.phase,
        Phase::Completed | Phase::Completing | Phase::CuttingOver
    ) && !matches!(s.tail, super::state::TailState::Undecided)
}

/// The source cross-check's findings for `db`, corrected by the activity's state of it (`saved`).
pub fn database_findings(db: &SourceDatabase, saved: Option<&DatabaseState>) -> Vec<Finding> {
    let mut out = crosscheck::database_findings(db);
    let restoring = db.state.eq_ignore_ascii_case("RESTORING");
    if let Some(s) = saved.filter(|s| restoring && cut_over(s)) {
        out.retain(|f| f.code != Code::DatabaseNotOnline);
        out.push(Finding::new(
            Code::DatabaseNotOnline,
            Severity::Info,
            None,
            format!(
                "{} is RESTORING on the source after its tail-log backup (WITH NORECOVERY), as expected: this activity has it {}",
                db.name,
                s.phase.label()
            ),
            format!(
                "nothing to do; only to use the source again (going back), run RESTORE DATABASE {} WITH RECOVERY on it",
                crate::source::quote::quote_ident(&db.name)
            ),
        ));
        return out;
    }
    let stopped = if db.is_read_only {
        Some(StopTraffic::ReadOnly)
    } else if db.user_access.eq_ignore_ascii_case("RESTRICTED_USER") {
        Some(StopTraffic::RestrictedUser)
    } else {
        None
    };
    if let Some(how) = stopped {
        let mode = if how == StopTraffic::ReadOnly {
            "READ_ONLY"
        } else {
            "RESTRICTED_USER"
        };
        let done = saved.is_some_and(|s| s.phase == Phase::Completed);
        let why = match saved {
            Some(s) if done => format!("this activity has it {}", s.phase.label()),
            Some(s) => format!(
                "this activity has it {}: a cutover that stopped before its end may have left it so; its users cannot write",
                s.phase.label()
            ),
            None => "its users cannot write".to_string(),
        };
        let fix = if done {
            format!(
                "leave it so if the applications now use the managed instance; to give the source back to its users run: {}",
                how.undo_sql(&db.name)
            )
        } else {
            format!(
                "to give it back to its users run: {} (the cutover stops traffic again when it begins)",
                how.undo_sql(&db.name)
            )
        };
        out.push(Finding::new(
            Code::SourceTrafficStopped,
            if done {
                Severity::Info
            } else {
                Severity::Warning
            },
            None,
            format!("{} is {mode} on the source: {why}", db.name),
            fix,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::TailState;

    fn source(state: &str, read_only: bool, access: &str) -> SourceDatabase {
        SourceDatabase {
            name: "we]ird".into(),
            database_id: 5,
            state: state.into(),
            recovery_model: "FULL".into(),
            compatibility_level: 150,
            is_read_only: read_only,
            user_access: access.into(),
            is_encrypted: false,
            size_bytes: 0,
            filestream_files: 0,
            memory_optimized_filegroups: 0,
            last_full_backup: None,
            last_log_backup: None,
        }
    }

    fn saved(phase: Phase) -> DatabaseState {
        let mut s = DatabaseState::new("we]ird");
        s.phase = phase;
        if phase == Phase::Completed {
            s.tail = TailState::Taken {
                file: "we_ird_TAIL.trn".into(),
            };
        }
        s
    }

    #[test]
    fn a_completed_database_restoring_on_the_source_is_not_asked_to_go_online() {
        let db = source("RESTORING", false, "MULTI_USER");
        let before = crosscheck::database_findings(&db);
        assert!(before.iter().any(|f| f.fix.contains("bring it ONLINE")));
        let f = database_findings(&db, Some(&saved(Phase::Completed)));
        assert!(
            f.iter().all(|f| !f.fix.contains("bring it ONLINE")),
            "{f:?}"
        );
        assert!(f.iter().all(|f| f.severity == Severity::Info), "{f:?}");
        assert!(f[0].message.contains("as expected"), "{f:?}");
        assert!(f[0].message.contains("COMPLETED"), "{f:?}");
        assert!(
            f[0].fix
                .contains("RESTORE DATABASE [we]]ird] WITH RECOVERY")
        );
        // Without the activity's word for it, a restoring source is still a warning.
        let f = database_findings(&db, None);
        assert!(f.iter().any(|f| f.fix.contains("bring it ONLINE")));
    }

    #[test]
    fn a_source_left_read_only_or_restricted_by_a_crashed_cutover_is_said_with_the_undo() {
        let f = database_findings(
            &source("ONLINE", true, "MULTI_USER"),
            Some(&saved(Phase::CuttingOver)),
        );
        let t = f
            .iter()
            .find(|f| f.code == Code::SourceTrafficStopped)
            .expect("said");
        assert_eq!(t.severity, Severity::Warning);
        assert!(t.message.contains("READ_ONLY"), "{t:?}");
        assert!(t.message.contains("CUTOVER"), "{t:?}");
        assert!(
            t.fix
                .contains("ALTER DATABASE [we]]ird] SET READ_WRITE WITH ROLLBACK IMMEDIATE"),
            "{t:?}"
        );
        let f = database_findings(&source("ONLINE", false, "RESTRICTED_USER"), None);
        let t = f
            .iter()
            .find(|f| f.code == Code::SourceTrafficStopped)
            .expect("said");
        assert!(
            t.fix.contains("SET MULTI_USER WITH ROLLBACK IMMEDIATE"),
            "{t:?}"
        );
        // An untouched source says nothing of it.
        let f = database_findings(&source("ONLINE", false, "MULTI_USER"), None);
        assert!(f.iter().all(|f| f.code != Code::SourceTrafficStopped));
    }
}
