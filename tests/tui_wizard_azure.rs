//! `cutover wizard` in a real 80x24 terminal (tmux) against a `cutover sandbox` process: the
//! configuration names only the source, the backup folder and the ARM endpoint; the subscription,
//! the managed instance, the storage account and the container are picked from the sandbox's ARM
//! lists (Ctrl-L), never typed; the storage checks run on Ctrl-T; the instance's SQL endpoint is
//! checked on the Summary; Run reaches the live dashboard, the database completes (automatic
//! cutover) and the Completed view and the summary on exit show the instance's own report. Needs
//! tmux (installed by .ci/run): fails under CI=true without it, skips elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use common::tmux::Tmux;
use serde_json::Value;

/// `cutover sandbox` as a process (killed on drop) and its JSON line.
struct SandboxProcess(Child);

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_wizard_picks_the_target_from_the_sandbox_lists_and_runs() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "tmux is needed under CI"
        );
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["sandbox", "--restore-mbps", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let _sandbox = SandboxProcess(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let s = |k: &str| info[k].as_str().unwrap_or_default().to_string();

    let dir = tempfile::tempdir().unwrap();
    // No subscription, group, instance, container or SQL endpoint: the wizard picks them.
    let cfg = format!(
        r#"[source]
server = "{sql}"
user = "{user}"
password_env = "SBX_PW"
plaintext = true
[backups]
folder = "{backups}"
[[backups.database]]
name = "Sales"
folder = "{backups}/Sales"
[target]
arm_endpoint = "{arm}"
sandbox = true
[storage]
auth = "account-key"
account_key_env = "SBX_KEY"
[migration]
activity = "picked"
databases = ["Sales"]
cutover = "when-ready"
tail = "take"
scan_seconds = 0.5
poll_seconds = 0.5
state_dir = "{state}"
"#,
        sql = s("sql_server"),
        user = s("sql_user"),
        backups = s("backup_dir"),
        arm = s("arm_endpoint"),
        state = dir.path().join("state").display(),
    );
    let cfg_path = dir.path().join("cutover.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    // The secrets reach cutover through its environment (a 0700 script), never its arguments.
    let script = dir.path().join("run.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexport SBX_PW='{}' SBX_KEY='{}' CUTOVER_MI_PASSWORD='{}' NO_COLOR=1\nexec '{}' wizard --config '{}' 2>'{}'\n",
            s("sql_password"),
            s("account_key"),
            s("mi_sql_password"),
            env!("CARGO_BIN_EXE_cutover"),
            cfg_path.display(),
            dir.path().join("stderr.txt").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cmd = format!("{}; echo EXIT=$?; sleep 60", script.display());
    let Some(t) = Tmux::start("wizard-azure", &cmd) else {
        return;
    };

    // 1 Source, from the file.
    t.wait_for("source screen", &["1 Source", "Server"]);
    t.keys(&["Enter"]);
    // 2 Target: nothing typed; Ctrl-L lists the sandbox's subscriptions.
    t.wait_for(
        "target screen",
        &["Credential", "Subscription ID", "Ctrl-L"],
    );
    t.keys(&["C-l"]);
    t.wait_for(
        "subscriptions listed",
        &["Pick the subscription", &s("subscription_id")],
    );
    // Typing filters: the sandbox's own subscription.
    t.text(&s("subscription_id"));
    t.wait_for("filtered", &["1 of 1"]);
    t.keys(&["Enter"]);
    let mi = s("managed_instance");
    let screen = t.wait_for(
        "instances listed",
        &["Pick the managed instance", &format!("{mi}-bc"), "BC"],
    );
    assert!(screen.contains("GP"), "{screen}");
    // The exact name: padded in its column, so the -bc and -stopped instances drop out.
    t.text(&format!("{mi}  "));
    t.wait_for("one instance", &["1 of 1"]);
    t.keys(&["Enter"]);
    let screen = t.wait_for(
        "instance picked",
        &["Picked", &s("resource_group"), "GeneralPurpose"],
    );
    assert!(screen.contains(&mi), "{screen}");
    // The SQL endpoint proposed is the instance's host name; the sandbox's SQL side listens on
    // this machine: replaced (Ctrl-U empties the field), then the user.
    assert!(screen.contains(".database.windows.net,1433"), "{screen}");
    t.keys(&["Up", "C-u"]);
    t.text(&s("mi_sql_server"));
    t.keys(&["Down"]);
    t.text(&s("mi_sql_user"));
    t.keys(&["Enter"]);
    // 3 Databases: Sales selected by the file.
    t.wait_for("databases screen", &["Sales", "1 of"]);
    t.keys(&["Enter"]);
    // 4 Settings: Ctrl-L lists the storage accounts, the instance's region marked.
    t.wait_for(
        "settings screen",
        &["Migration settings", "Storage container URL"],
    );
    t.keys(&["C-l"]);
    let account = s("account_name");
    let screen = t.wait_for(
        "storage accounts listed",
        &["Pick the storage account", &account, "same region"],
    );
    assert!(screen.contains(&format!("* {account}")), "{screen}");
    t.text(&account);
    t.keys(&["Enter"]);
    t.wait_for(
        "containers listed",
        &["Pick the container", &s("container")],
    );
    t.text(&s("container"));
    t.keys(&["Enter"]);
    t.wait_for("container picked", &["Account:", &account]);
    // Ctrl-T: the backup folder and the storage checks (the firewall lets the instance in).
    t.keys(&["C-t"]);
    t.wait_for("storage checked", &["STORAGE_FIREWALL_OPEN"]);
    t.keys(&["Enter"]);
    // 5 Summary: the preflight (the instance's SQL side included), then Run.
    let screen = t.wait_for("summary", &["Summary", "Sales"]);
    if screen.contains("Acknowledge the warnings") {
        t.keys(&["Down", "Space"]);
        t.wait_for("acknowledged", &["[x]"]);
    }
    t.keys(&["Enter"]);
    let screen = t.wait_for("dashboard", &["Databases (1)", "Sales", "Events"]);
    assert!(!screen.contains("EXIT="), "{screen}");
    // The picks went into the run: the engine restores on the picked instance and, cutover being
    // automatic, completes; the Completed view shows the instance's own report, read over the
    // SQL endpoint given on Target.
    let screen = t.wait_for(
        "completed, as the instance reports it",
        &[
            "All 1 completed",
            "on the instance: ONLINE, compatibility level",
        ],
    );
    assert!(screen.contains(&s("mi_sql_server")), "{screen}");
    t.keys(&["q"]);
    t.wait_for("quit confirmation", &["Quit cutover?"]);
    t.keys(&["y"]);
    let screen = t.wait_for("terminal restored", &["EXIT=0"]);
    assert!(
        screen.contains("on the instance: ONLINE, compatibility level"),
        "the summary printed on exit: {screen}"
    );
}
