//! One activity, one owner, its own restore: a second process of the same activity is refused with
//! the holder's pid; a new activity never takes up a restore another activity started (refused
//! before anything is uploaded, with what exists and what to do); the state folder keeps what it
//! needs private.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutover::demo::{self, DemoOptions};
use cutover::engine::runner::{self, EngineHandle};
use cutover::engine::{MigrationSnapshot, Phase, TailMode};
use cutover::sandbox::{Sandbox, SandboxOptions};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.env_remove("RUST_LOG").stdin(Stdio::null());
    c
}

fn demo_args(state: &Path, data: &Path) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = ["demo", "--headless", "--fast", "--cutover", "never"]
        .iter()
        .map(Into::into)
        .collect();
    a.extend(["--state-dir".into(), state.into()]);
    a.extend(["--data-dir".into(), data.into()]);
    a
}

#[test]
fn the_same_activity_started_twice_at_once_refuses_the_second_with_the_holder_s_pid() {
    let state = tempfile::tempdir().expect("tmp");
    let (d1, d2) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let mut first = bin()
        .args(demo_args(state.path(), d1.path()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("first demo");
    let pid = first.id();
    let lock = state.path().join("demo.lock");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .contains(&format!("\"pid\":{pid}"))
    {
        if Instant::now() > deadline || first.try_wait().ok().flatten().is_some() {
            let _ = first.kill();
            panic!("the first demo never took the activity's lock");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = bin()
        .args(demo_args(state.path(), d2.path()))
        .output()
        .expect("second demo");
    let still_running = first.try_wait().ok().flatten().is_none();
    let _ = first.kill();
    let _ = first.wait();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("pid {pid} on host")), "{err}");
    assert!(err.contains("already running"), "{err}");
    assert!(err.contains("demo.lock"), "{err}");
    assert!(still_running, "the first owner was not disturbed");
    // The lock dies with its holder (kill -9 included): the activity can be taken up again.
    assert!(cutover::engine::lock::acquire(&state.path().join("demo.json"), "demo").is_ok());
}

fn options(activity: &str, state_dir: &Path) -> DemoOptions {
    DemoOptions {
        fast: true,
        backups: None,
        cutover_when_ready: false,
        tail: TailMode::Wait,
        stop_traffic: None,
        activity: activity.into(),
        state_dir: state_dir.to_path_buf(),
        data_dir: None,
    }
}

/// Waits until `pred` holds for a snapshot of `h` (panics with the last one after `limit`).
async fn wait_for(
    h: &mut EngineHandle,
    limit: Duration,
    what: &str,
    pred: impl Fn(&MigrationSnapshot) -> bool,
) -> MigrationSnapshot {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        while h.event_log.try_recv().is_ok() {}
        let s = h.snapshots.borrow_and_update().clone();
        if pred(&s) {
            return s;
        }
        if tokio::time::timeout_at(deadline, h.snapshots.changed())
            .await
            .is_err()
        {
            panic!("{what}: not within {limit:?}: {:#?}", s.databases);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_activity_is_refused_a_restore_another_activity_started_before_any_upload() {
    let sandbox = Sandbox::start(SandboxOptions {
        restore_mbps: 400.0,
        databases: Some(demo::demo_databases(true)),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let hr = ["HR".to_string()];
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let cfg = demo::engine_config(&options("a", a_dir.path()), &sandbox, Some(&hr)).expect("a");
    let mut a = runner::start(cfg).expect("start a");
    wait_for(&mut a, Duration::from_secs(60), "a starts LRS", |s| {
        s.databases.iter().all(|d| d.state.lrs_started)
    })
    .await;

    let cfg = demo::engine_config(&options("b", b_dir.path()), &sandbox, Some(&hr)).expect("b");
    let mut b = runner::start(cfg).expect("start b");
    let s = wait_for(&mut b, Duration::from_secs(30), "b is refused", |s| {
        s.databases.iter().all(|d| d.state.phase == Phase::Failed)
    })
    .await;
    let d = &s.databases[0];
    let e = d.state.error.as_deref().unwrap_or_default();
    assert!(
        e.contains("already has a Log Replay Service restore"),
        "{e}"
    );
    assert!(e.contains("named 'HR'"), "{e}");
    assert!(e.contains("activity 'b' did not start"), "{e}");
    assert!(e.contains("cutover lrs cancel --name HR"), "{e}");
    assert!(!d.state.lrs_started, "not re-attached to a's restore");
    assert_eq!(d.bytes_uploaded, 0, "refused before any upload");
    assert!(
        s.events
            .iter()
            .all(|e| !e.message.contains("restore started")),
        "{:#?}",
        s.events
    );
    // a's restore goes on as a's.
    let s = a.snapshots.borrow().clone();
    assert!(s.databases.iter().all(|d| d.state.phase != Phase::Failed));
    let _ = a.commands.send(cutover::engine::EngineCommand::Shutdown);
    let _ = b.commands.send(cutover::engine::EngineCommand::Shutdown);
    let _ = (&mut a.task).await;
    let _ = (&mut b.task).await;
    // a recorded the identity of the restore it started; b's state file says why it refused.
    let a_state = database_file(&a_dir.path().join("a.json"));
    let v: serde_json::Value = serde_json::from_str(&a_state).expect("a's state");
    let id = &v["restore"];
    assert_eq!(id["activity"], "a", "{a_state}");
    assert_eq!(id["target"], "HR", "{a_state}");
    assert!(
        id["storage_uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/HR")),
        "{id}"
    );
    assert!(id["creation_date"].is_string(), "{id}");
    assert!(id["operation_id"].is_string(), "{id}");
    assert!(id["accepted_unix"].is_i64(), "{id}");
    let b_state = database_file(&b_dir.path().join("b.json"));
    assert!(b_state.contains("did not start"), "{b_state}");
}

/// The one database file of an activity.
fn database_file(index: &Path) -> String {
    let dir = cutover::engine::persist::databases_dir(index);
    let file = dir
        .read_dir()
        .expect("the databases' folder")
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .expect("a database's file");
    std::fs::read_to_string(file.path()).expect("read")
}

/// A `cutover run` configuration for the in-process sandbox: `HR` only, no source, never cut over.
fn run_config(sb: &Sandbox, dir: &Path, activity: &str, state_dir: &Path) -> std::path::PathBuf {
    let i = &sb.info;
    let hr = sb.sql.database_dir("HR");
    let text = format!(
        r#"
[backups]
folder = "{backups}"
[[backups.database]]
name = "HR"
folder = "{hr}"
[target]
subscription = "{sub}"
resource_group = "{rg}"
managed_instance = "{mi}"
arm_endpoint = "{arm}"
sandbox = true
[storage]
container = "{blob}/{container}"
account_key_env = "SBX_KEY"
[migration]
activity = "{activity}"
databases = ["HR"]
cutover = "never"
tail = "wait"
scan_seconds = 0.2
poll_seconds = 0.2
state_dir = "{state}"
"#,
        backups = i.backup_dir,
        hr = hr.display(),
        sub = i.subscription_id,
        rg = i.resource_group,
        mi = i.managed_instance,
        arm = i.arm_endpoint,
        blob = i.blob_endpoint,
        container = i.container,
        state = state_dir.display(),
    );
    let p = dir.join(format!("{activity}.toml"));
    std::fs::write(&p, text).expect("config");
    p
}

fn run_cmd(config: &Path, key: &str, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args(["run", "--json", "--config"])
        .arg(config)
        .args(extra)
        .env("SBX_KEY", key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `cmd` for at most `limit` (then SIGKILL); stdout and stderr as text, and the exit code.
fn run_for(
    mut cmd: Command,
    limit: Duration,
    until: impl Fn(&Path) -> bool,
    state: &Path,
) -> (Option<i32>, String, String) {
    let mut child = cmd.spawn().expect("spawn");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline || until(state) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lrs_started(state: &Path) -> bool {
    std::fs::read_dir(cutover::engine::persist::databases_dir(state))
        .map(|rd| {
            // Only the state files, not an atomic write's temporary file (`.tmp`).
            rd.flatten().any(|e| {
                e.path().extension().is_some_and(|x| x == "json")
                    && std::fs::read_to_string(e.path())
                        .is_ok_and(|t| t.contains("\"lrs_started\":true"))
            })
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_honours_state_dir_re_attaches_its_activity_and_refuses_a_second_copy() {
    let sandbox = Sandbox::start(SandboxOptions {
        restore_mbps: 400.0,
        databases: Some(demo::demo_databases(true)),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let key = sandbox.info.account_key.clone();
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let config = run_config(&sandbox, dir.path(), "first", &state);
    let index = state.join("first.json");
    let (key2, config2, index2) = (key.clone(), config.clone(), index.clone());
    let out = tokio::task::spawn_blocking(move || {
        // 1. A first run until LRS started (then killed, as a crash would).
        let (_, stdout, stderr) = run_for(
            run_cmd(&config2, &key2, &[]),
            Duration::from_secs(60),
            lrs_started,
            &index2,
        );
        assert!(lrs_started(&index2), "{stdout}\n{stderr}");
        // 2. Another activity on the same container and target: refused, nothing started.
        let second = run_for(
            run_cmd(&config2, &key2, &["--activity", "second"]),
            Duration::from_secs(30),
            |_| false,
            &index2,
        );
        // 3. The same activity again: said so, and re-attached.
        let again = run_for(
            run_cmd(&config2, &key2, &[]),
            Duration::from_secs(4),
            |_| false,
            &index2,
        );
        // 4. --state-dir wins over [migration] state_dir: a new folder is a new state, whose
        //    target check refuses the restore the first run started, before any upload.
        let elsewhere = index2.parent().and_then(Path::parent).map(|p| p.join("elsewhere"));
        let elsewhere = elsewhere.expect("dir");
        let mut flags = vec!["--state-dir"];
        let e = elsewhere.display().to_string();
        flags.push(&e);
        let moved = run_for(
            run_cmd(&config2, &key2, &flags),
            Duration::from_secs(30),
            |_| false,
            &index2,
        );
        // 5. A wrong storage key fails before anything starts, naming what failed.
        let bad_key = run_for(
            run_cmd(&config2, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", &["--activity", "badkey"]),
            Duration::from_secs(30),
            |_| false,
            &index2,
        );
        (second, again, moved, bad_key, elsewhere)
    })
    .await
    .expect("runs");
    let (second, again, moved, bad_key, elsewhere) = out;

    assert_eq!(second.0, Some(2), "{}\n{}", second.1, second.2);
    assert!(
        second.2.contains("existing activity first: HR"),
        "{}",
        second.2
    );
    assert!(
        second
            .2
            .contains("already migrates to the same target database(s) HR"),
        "{}",
        second.2
    );
    assert!(second.2.contains("--activity first"), "{}", second.2);
    assert!(
        !dir.path().join("state/second.json").exists(),
        "no second copy"
    );

    assert!(
        again.1.contains("existing activity first: HR"),
        "{}\n{}",
        again.1,
        again.2
    );
    assert!(again.1.contains("re-attaching"), "{}", again.1);

    assert_eq!(moved.0, Some(1), "{}\n{}", moved.1, moved.2);
    assert!(moved.1.contains("did not start"), "{}", moved.1);
    assert!(
        elsewhere.join("first.json").exists(),
        "state written where --state-dir says"
    );
    let v: Vec<serde_json::Value> = moved
        .1
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !v.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("uploaded "))),
        "nothing uploaded: {}",
        moved.1
    );

    assert_eq!(bad_key.0, Some(2), "{}\n{}", bad_key.1, bad_key.2);
    assert!(bad_key.2.contains("[storage]"), "{}", bad_key.2);
    assert!(!dir.path().join("state/badkey.json").exists());
}

#[test]
fn a_state_folder_that_fails_mid_run_is_reported_on_stderr() {
    let state = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let mut child = bin()
        .args(demo_args(state.path(), data.path()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo");
    let dbs = cutover::engine::persist::databases_dir(&state.path().join("demo.json"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&dbs).map(|r| r.count()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no state written");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The databases' folder becomes unusable (a regular file where it was): every later write of
    // a database's state fails, as on a full or broken disk.
    std::fs::rename(&dbs, state.path().join("kept")).expect("move");
    std::fs::write(&dbs, b"").expect("file");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("error: "), "{err}");
    assert!(err.contains(&dbs.display().to_string()), "{err}");
    assert!(err.contains("previous state is kept"), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
}

#[test]
fn a_state_folder_that_cannot_exist_is_refused_at_once_with_the_folder_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, b"").expect("file");
    let out = bin()
        .args(demo_args(&file.join("state"), &tmp.path().join("data")))
        .output()
        .expect("demo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&file.join("state").display().to_string()),
        "{err}"
    );
    assert!(err.contains("--state-dir"), "{err}");
}

#[test]
fn a_demo_killed_mid_run_and_started_again_with_the_same_folders_completes() {
    let state = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let args = |extra: &[&str]| {
        let mut a = demo_args(state.path(), data.path());
        a.retain(|x| x != "never" && x != "--cutover");
        a.extend(extra.iter().map(Into::into));
        a
    };
    let mut first = bin()
        .args(args(&[
            "--cutover",
            "when-ready",
            "--tail",
            "take",
            "--json",
        ]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo");
    let index = state.path().join("demo.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lrs_started(&index) {
        assert!(
            Instant::now() < deadline,
            "the first demo never started LRS"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = first.kill(); // SIGKILL mid-run
    let _ = first.wait();
    let out = bin()
        .args(args(&[
            "--cutover",
            "when-ready",
            "--tail",
            "take",
            "--json",
        ]))
        .output()
        .expect("demo again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
    assert!(
        stderr.contains("starts again from the beginning"),
        "{stderr}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    let s: serde_json::Value = serde_json::from_str(last).expect("summary");
    let dbs = s["databases"].as_array().expect("databases");
    assert_eq!(dbs.len(), 4, "{s}");
    assert!(dbs.iter().all(|d| d["status"] == "Completed"), "{s}");
    // The killed run's state is kept aside, not mixed into the new one.
    let aside = std::fs::read_dir(state.path())
        .expect("state")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".previous-"))
        .count();
    assert_eq!(aside, 2, "index and databases' folder moved aside");
}
