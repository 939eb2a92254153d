//! `cutover demo` in a real terminal (tmux): from the first wizard screen through the cutover of one
//! database to Completed, asserting what the screen shows at each step, then quit with the terminal
//! restored. Needs tmux (installed by .ci/run): fails under CI=true without it, skips elsewhere.

mod common;

use common::tmux::Tmux;

#[test]
fn demo_in_a_real_terminal_from_wizard_to_completed() {
    let state = tempfile::tempdir().expect("tmp");
    // The demo draws on the terminal; only its stderr goes to a file.
    let cmd = format!(
        "{} demo --fast --state-dir {} 2>{}; sleep 60",
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
    t.wait_for("target tested", &["sandbox managed instance"]);
    t.keys(&["Enter"]);
    // 3 Databases: discovered from the source.
    t.wait_for(
        "databases screen",
        &["Databases", "Sales", "Inventory", "we]ird 'nam", "FULL"],
    );
    t.keys(&["a"]);
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
    // The dashboard: every database reaches READY (all backups restored).
    let s = t.wait_for("dashboard", &["Databases (4)", "Backup chain", "Events"]);
    assert!(s.contains("Sales"), "{s}");
    t.wait_for("ready", &["READY", "All backups restored"]);
    // Cutover of Sales (selected first): preconditions, stop traffic, tail, confirm by name.
    t.keys(&["c"]);
    t.wait_for(
        "cutover dialog",
        &["Cutover: Sales", "Full backup restored", "Stop traffic"],
    );
    t.keys(&["s", "Enter"]);
    t.wait_for("cutting over", &["Traffic stopped", "take it now"]);
    t.keys(&["t"]);
    t.wait_for(
        "tail restored",
        &[
            "_TAIL_",
            "pending restore: 0",
            "Type Sales to confirm",
            "disabled",
        ],
    );
    t.text("Sales");
    t.wait_for("name typed", &["> Sales"]);
    t.keys(&["Enter"]);
    t.wait_for(
        "completed",
        &[
            "Cutover completed",
            "Point the applications at",
            "Database=Sales",
        ],
    );
    t.keys(&["Escape"]);
    t.wait_for("dashboard again", &["COMPLETED"]);
    // Help overlay, then quit with confirmation; the terminal comes back.
    t.keys(&["?"]);
    t.wait_for("help", &["cutover"]);
    t.keys(&["Escape", "q"]);
    t.wait_for(
        "quit confirmation",
        &["Quit cutover?", "The migration state is kept"],
    );
    t.keys(&["y"]);
    let s = t.wait_for(
        "terminal restored",
        &["Sales", "Completed", "the migration state is kept"],
    );
    assert!(!s.contains("Databases (4)"), "the TUI left the screen: {s}");
}
