//! The other activities of a state folder, looked at before an activity starts: the same activity
//! is re-attached and said so ("existing activity X: Sales COMPLETED, HR CATCHING UP"); another
//! activity migrating into the same container or to the same target databases is refused (a second
//! copy of a migration would upload everything again and fight over the restores).

use std::path::Path;

use super::persist::{self, ActivityAbout, ActivitySummary};
use super::runner::EngineConfig;

/// Where `cfg` migrates to, as the index records it.
pub fn about(cfg: &EngineConfig) -> ActivityAbout {
    ActivityAbout {
        container: Some(cfg.container_url.clone()),
        target: Some(cfg.lrs.identity()),
        target_databases: cfg
            .databases
            .iter()
            .map(|d| d.target_name.clone())
            .collect(),
    }
}

/// `Sales COMPLETED, HR CATCHING UP` (the dashboard's words).
fn phases(a: &ActivitySummary) -> String {
    if a.databases.is_empty() {
        return "no database started yet".into();
    }
    a.databases
        .iter()
        .map(|d| format!("{} {}", d.state.name, d.state.phase.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Looks at the activities in the state folder of `state_file`. `Ok(Some(notice))`: this activity
/// exists and is re-attached; `Err(reason)`: another activity migrates into the same container or
/// to the same target databases.
pub fn check(
    state_file: &Path,
    activity: &str,
    about: &ActivityAbout,
) -> Result<Option<String>, String> {
    let dir = state_file.parent().unwrap_or(Path::new("."));
    let mut notice = None;
    for a in persist::activities(dir) {
        if a.path == state_file || a.activity == activity {
            notice = Some(format!(
                "existing activity {}: {}; re-attaching (state in {})",
                a.activity,
                phases(&a),
                a.path.display()
            ));
            continue;
        }
        let same_container = about.container.is_some() && a.about.container == about.container;
        let same_instance = a.about.target.is_none() || a.about.target == about.target;
        let shared: Vec<&str> = about
            .target_databases
            .iter()
            .filter(|t| same_instance && a.about.target_databases.contains(t))
            .map(String::as_str)
            .collect();
        if !same_container && shared.is_empty() {
            continue;
        }
        let what = if shared.is_empty() {
            format!(
                "the same container {}",
                about.container.as_deref().unwrap_or_default()
            )
        } else {
            format!("the same target database(s) {}", shared.join(", "))
        };
        return Err(format!(
            "existing activity {}: {} ({}) already migrates to {what}; cutover does not start a second copy of a migration. To go on with it, run it again under its own name (--activity {} or [migration] activity); to start a separate migration, use another container and other target names",
            a.activity,
            phases(&a),
            a.path.display(),
            a.activity
        ));
    }
    Ok(notice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::persist::PersistedDatabase;
    use crate::engine::{DatabaseState, Phase};

    fn about(container: &str, targets: &[&str]) -> ActivityAbout {
        ActivityAbout {
            container: Some(container.into()),
            target: Some("mi".into()),
            target_databases: targets.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn write(dir: &Path, activity: &str, a: &ActivityAbout, dbs: &[(&str, Phase)]) {
        let p = persist::state_path(dir, activity);
        let names: Vec<&str> = dbs.iter().map(|d| d.0).collect();
        persist::save_index(&p, activity, &names, a).unwrap();
        for (name, phase) in dbs {
            let mut state = DatabaseState::new(name);
            state.phase = *phase;
            let db = PersistedDatabase {
                state,
                blobs: vec![],
                traffic_stopped: None,
                files_at_cutover: None,
                tail_wait: false,
                restore: None,
            };
            persist::save_database(&p, &db).unwrap();
        }
    }

    #[test]
    fn the_same_activity_is_re_attached_and_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let a = about("http://s/c", &["Sales", "HR"]);
        write(
            dir.path(),
            "prod",
            &a,
            &[("Sales", Phase::Completed), ("HR", Phase::CatchingUp)],
        );
        let notice = check(&persist::state_path(dir.path(), "prod"), "prod", &a)
            .unwrap()
            .unwrap();
        assert!(
            notice.starts_with("existing activity prod: Sales COMPLETED, HR CATCHING UP"),
            "{notice}"
        );
        assert_eq!(
            check(
                &persist::state_path(dir.path(), "new"),
                "new",
                &about("http://s/d", &["X"])
            )
            .unwrap(),
            None,
            "an unrelated activity beside it is fine"
        );
    }

    #[test]
    fn another_activity_on_the_same_container_or_targets_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = about("http://s/c", &["Sales", "HR"]);
        write(
            dir.path(),
            "wizard",
            &a,
            &[("Sales", Phase::Completed), ("HR", Phase::CatchingUp)],
        );
        let p = persist::state_path(dir.path(), "config-run");
        let e = check(&p, "config-run", &about("http://s/c", &["Other"])).unwrap_err();
        assert!(
            e.contains("existing activity wizard: Sales COMPLETED"),
            "{e}"
        );
        assert!(e.contains("the same container http://s/c"), "{e}");
        assert!(e.contains("--activity wizard"), "{e}");
        let e = check(&p, "config-run", &about("http://s/other", &["HR"])).unwrap_err();
        assert!(e.contains("the same target database(s) HR"), "{e}");
        // The same names on another managed instance do not collide.
        let mut elsewhere = about("http://s/other", &["HR"]);
        elsewhere.target = Some("other-mi".into());
        assert_eq!(check(&p, "config-run", &elsewhere).unwrap(), None);
    }
}
