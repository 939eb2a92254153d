//! One activity, one owner, its own restore: a second process of the same activity is refused with
//! the holder's pid; a new activity never takes up a restore another activity started (refused
//! before anything is uploaded, with what exists and what to do); the state folder keeps what it
//! needs private.

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
    assert!(e.contains("already has a Log Replay Service restore"), "{e}");
    assert!(e.contains("named 'HR'"), "{e}");
    assert!(e.contains("activity 'b' did not start"), "{e}");
    assert!(e.contains("cutover lrs cancel --name HR"), "{e}");
    assert!(!d.state.lrs_started, "not re-attached to a's restore");
    assert_eq!(d.bytes_uploaded, 0, "refused before any upload");
    assert!(
        s.events.iter().all(|e| !e.message.contains("restore started")),
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
    assert!(id["storage_uri"].as_str().is_some_and(|u| u.ends_with("/HR")), "{id}");
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
        .next()
        .expect("a database's file");
    std::fs::read_to_string(file.path()).expect("read")
}
