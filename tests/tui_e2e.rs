//! `cutover demo` in a real terminal (tmux): from the first wizard screen through the cutover of
//! every database to Completed, asserting what the screen shows at each step; the dashboard stays
//! on the "All 4 completed" view, and quitting prints the summary on the restored terminal. Needs tmux (installed by .ci/run): fails under CI=true without it, skips elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use common::tmux::Tmux;

#[test]
fn demo_in_a_real_terminal_from_wizard_to_completed() {
    let state = tempfile::tempdir().expect("tmp");
    // The demo draws on the terminal; only its stderr goes to a file.
    let cmd = format!(
        "{} demo --fast --state-dir {} 2>{}; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_cutover"),
        state.path().display(),
        state.path().join("stderr.txt").display()
    );
    let Some(t) = Tmux::start("e2e", &cmd) else {
        return;
    };

    // 1 Source: pre-filled with the sandbox; test the connection.
    t.wait_for(
        "source screen",
        &["1 Source", "Server", "127.0.0.1", "Password", "*****"],
    );
    t.keys(&["C-t"]);
    t.wait_for("source tested", &["Connected: SANDBOX", "4 databases"]);
    t.keys(&["Enter"]);
    // 2 Target: the sandbox.
    t.wait_for("target screen", &["Target", "Sandbox"]);
    t.keys(&["C-t"]);
    t.wait_for("target tested", &["Connected: sandbox-mi"]);
    t.keys(&["Enter"]);
    // 3 Databases: discovered from the source.
    t.wait_for(
        "databases screen",
        &["Databases", "Sales", "Inventory", "we]ird 'nam", "FULL"],
    );
    // The demo preselects its databases.
    t.wait_for("all selected", &["4 of 4 selected"]);
    t.keys(&["Enter"]);
    // 4 Settings.
    t.wait_for(
        "settings screen",
        &[
            "Migration settings",
            "Backup folder",
            "Storage container URL",
        ],
    );
    t.keys(&["Enter"]);
    // 5 Summary: Inventory's backups have no CHECKSUM: a warning to acknowledge before Run.
    t.wait_for(
        "summary",
        &[
            "Summary",
            "NO_CHECKSUM",
            "Inventory",
            "Acknowledge the warnings",
        ],
    );
    t.keys(&["Down", "Space"]);
    t.wait_for("acknowledged", &["[x]"]);
    t.keys(&["Enter"]);
    // The dashboard: every database reaches READY (all backups restored); the header clock and
    // the LRS poll age prove it is alive.
    let s = t.wait_for(
        "dashboard",
        &["Databases (4)", "Backup chain", "Events", "UTC", "polled"],
    );
    assert!(s.contains("Sales"), "{s}");
    t.wait_for("ready", &["READY", "All backups restored"]);
    // Cut over every database, in list order; the last one ends the migration.
    let names = ["Sales", "Inventory", "HR", "we]ird 'name"];
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            t.keys(&["Escape"]);
            t.wait_for("dashboard again", &["COMPLETED"]);
            t.keys(&["j"]);
        }
        cut_over(&t, name);
    }
    // The last database completed: the engine stops, the dashboard stays on the completed view.
    t.keys(&["Escape"]);
    t.wait_for(
        "all completed",
        &["All 4 completed", "downtime", "Database=Sales", "q quit"],
    );
    std::thread::sleep(std::time::Duration::from_secs(10));
    let s = t.wait_for(
        "still on the completed view 10 s later",
        &["All 4 completed", "Database=Inventory"],
    );
    assert!(!s.contains("EXIT="), "the TUI exited by itself: {s}");
    // Quit: the summary is printed on the terminal once the alternate screen is left.
    t.keys(&["q"]);
    t.wait_for(
        "quit confirmation",
        &["Quit cutover?", "Every database is finished"],
    );
    t.keys(&["y"]);
    let s = t.wait_for("terminal restored", &["EXIT=0"]);
    assert!(!s.contains("Databases (4)"), "the TUI left the screen: {s}");
    for name in names {
        let line = s
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no summary line for {name}:\n{s}"));
        assert!(
            line.contains("COMPLETED") && line.contains("downtime"),
            "{line}"
        );
    }
    assert!(
        s.contains("Database=Sales"),
        "connection string in the summary: {s}"
    );
    // The demo's logins: the three its databases need created on the instance (two SQL logins,
    // the Windows login mapped to its Entra principal), and no user the migration orphaned.
    assert!(s.contains("logins: 3 created"), "{s}");
    assert!(!s.contains("ORPHANED_USER"), "{s}");
}

/// Cuts over the selected database `name`: the dialog, traffic stopped (READ_ONLY, the demo's
/// configured choice) only after `y` on the shown statement, the tail-log backup likewise, the
/// name typed, Complete, until the dialog says it completed.
fn cut_over(t: &Tmux, name: &str) {
    t.keys(&["c"]);
    t.wait_for(
        "cutover dialog",
        &[
            &format!("Cutover: {name}"),
            "Full backup restored",
            "Stop traffic",
            "SET READ_ONLY",
        ],
    );
    t.keys(&["Enter"]);
    t.wait_for("statement shown", &["y run it and begin the cutover"]);
    t.keys(&["y"]);
    t.wait_for(
        "cutting over",
        &["Traffic stopped", "take it now", "Downtime"],
    );
    t.keys(&["t"]);
    t.wait_for("tail statement", &["BACKUP LOG", "NORECOVERY"]);
    t.keys(&["y"]);
    t.wait_for(
        "tail restored",
        &[
            "_TAIL_",
            "pending restore: 0",
            &format!("Type {name} to confirm"),
            "disabled",
        ],
    );
    t.text(name);
    t.wait_for("name typed", &[&format!("> {name}")]);
    t.keys(&["Enter"]);
    t.wait_for(
        "completed",
        &["Cutover completed", "Point the applications at", "Downtime"],
    );
}
