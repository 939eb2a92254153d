//! The engine end to end: `cutover demo --headless` migrates every database with its tail-log backup,
//! a real sample chain is restored as the catalog planned it, `cutover run` survives kill -9 at random
//! points (nothing committed is uploaded again, same final state), and bad configurations are refused
//! with the key named.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use cutover::engine::{EventLine, MigrationSnapshot, Phase};
use cutover::model::Severity;
use serde_json::Value;

/// The activity's index and every database's file, as one text.
fn state_text(index: &std::path::Path) -> String {
    let mut text = std::fs::read_to_string(index).unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir(cutover::engine::persist::databases_dir(index)) {
        // A writer's temporary file (`.tmp`, left by a kill) is not the state.
        for e in rd.flatten().filter(is_state_file) {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    text
}

/// A database's state file, not an atomic write's temporary file (`<file>.<pid>-<n>.tmp`).
fn is_state_file(e: &std::fs::DirEntry) -> bool {
    e.path().extension().is_some_and(|x| x == "json")
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.env_remove("RUST_LOG").stdin(Stdio::null());
    c
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn summary(out: &[u8]) -> Value {
    let text = String::from_utf8_lossy(out);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("the last stdout line is the summary ({e}): {last}"))
}

/// LastLSN of the one backup set in `path`, as a decimal string.
fn last_lsn(path: &Path) -> String {
    let sets = cutover::backup::read_backup_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    sets[0].last_lsn.to_string()
}

#[test]
fn demo_headless_cuts_over_every_database_at_its_tail() {
    let data = tempfile::tempdir().expect("tmp");
    let state = tempfile::tempdir().expect("tmp");
    let out = bin()
        .args([
            "demo",
            "--headless",
            "--fast",
            "--cutover",
            "when-ready",
            "--tail",
            "take",
            "--json",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--state-dir")
        .arg(state.path())
        .output()
        .expect("run demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "demo failed: {stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let s = summary(&out.stdout);
    let dbs = s["databases"].as_array().expect("databases");
    assert_eq!(dbs.len(), 4, "{s}");
    for d in dbs {
        let name = d["name"].as_str().expect("name");
        assert_eq!(d["status"], "Completed", "{d}");
        let last = d["last_restored_file"].as_str().expect("last file");
        assert!(
            last.contains("_TAIL_"),
            "{name}: the last restored file is the tail: {last}"
        );
        // The tail the source wrote (found in the source's backup folder) ends where the target ends.
        let folder = data
            .path()
            .join("backups")
            .join(cutover::sandbox::instance::database_folder(name));
        let tail = std::fs::read_dir(&folder)
            .expect("backup folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_name().is_some_and(|f| f.to_string_lossy() == last))
            .unwrap_or_else(|| panic!("{last} not in {}", folder.display()));
        assert_eq!(
            d["last_restored_lsn"].as_str(),
            Some(last_lsn(&tail).as_str()),
            "{name}"
        );
        assert!(
            d["files_restored"].as_u64().unwrap_or(0) >= 4,
            "full + 2 logs + tail at least: {d}"
        );
        assert!(d["bytes_uploaded"].as_u64().unwrap_or(0) > 0);
        // Traffic was stopped (read-only, the demo's default) and the database completed: the
        // downtime between the two is measured, and the summary speaks the dashboard's words.
        let downtime = d["downtime_seconds"].as_f64().unwrap_or(-1.0);
        assert!(downtime > 0.0, "{name}: downtime_seconds {d}");
        assert_eq!(d["label"], "COMPLETED", "{d}");
        assert_eq!(d["target_name"], name, "{d}");
    }
    // Events were JSON lines, and the state file holds no secret.
    let events = lines(&out.stdout);
    assert!(events.iter().any(|v| v["event"] == "log"));
    // Each event carries its wall-clock time.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        - 600;
    assert!(
        events
            .iter()
            .filter(|v| v["event"] == "log")
            .all(|v| v["unix"].as_i64().is_some_and(|t| t > started)),
        "events without a wall-clock time"
    );
    // Every database's completion says its downtime; transitions use the dashboard's labels.
    for d in dbs {
        let name = d["name"].as_str().unwrap_or_default();
        let said = events.iter().any(|e| {
            e["database"] == name
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&format!("{name} completed: downtime ")))
        });
        assert!(said, "{name}: no downtime event");
    }
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("READY -> CUTOVER")),
        "{messages:?}"
    );
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("ReadyForCutover") || m.contains("CatchingUp")),
        "internal phase names in events: {messages:?}"
    );
    let state_text = state_text(&state.path().join("demo.json"));
    assert!(
        state_text.contains("\"Completed\""),
        "the databases' own files were read"
    );
    // What must survive a restart: when the downtime began and ended, and the source's state
    // (RESTORING after the tail WITH NORECOVERY).
    assert!(
        state_text.contains("\"downtime_started_unix_ms\":1"),
        "{state_text}"
    );
    assert!(
        state_text.contains("\"completed_unix_ms\":1"),
        "{state_text}"
    );
    assert!(
        state_text.contains("\"source_access\":\"restoring\""),
        "{state_text}"
    );
    assert!(
        !state_text.contains("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"),
        "no account key"
    );
    assert!(!state_text.contains("sig="), "no SAS");
    assert!(!state_text.contains("Sbx-"), "no SQL password");
}

#[test]
fn demo_from_a_real_folder_restores_what_the_catalog_planned() {
    let Some(samples) = common::samples_dir() else {
        return;
    };
    let dir = samples.join("restoretimeclean2016");
    let scan = cutover::catalog::scan_folder(&dir, &Default::default()).expect("scan");
    let report = cutover::catalog::check(&scan);
    let plan = &report.databases[0];
    let out = bin()
        .args(["demo", "--headless", "--fast", "--json", "--backups"])
        .arg(&dir)
        .output()
        .expect("run demo");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out.stdout);
    let d = &s["databases"][0];
    assert_eq!(d["name"].as_str(), Some(plan.name.as_str()));
    assert_eq!(d["status"], "Completed");
    assert_eq!(
        d["files_restored"].as_u64(),
        Some(plan.plan.len() as u64),
        "{d}"
    );
    let last = plan.plan.last().expect("plan");
    assert_eq!(d["last_restored_file"].as_str(), Some(last.file.as_str()));
    assert_eq!(
        d["last_restored_lsn"].as_str(),
        Some(last.last_lsn.to_string().as_str())
    );
    // The user's folder is untouched: nothing written there.
    let after = cutover::catalog::scan_folder(&dir, &Default::default()).expect("scan");
    assert_eq!(after.files.len(), scan.files.len());
}

/// A `cutover sandbox` process (it outlives the killed `cutover run`s).
struct SandboxProc {
    child: Child,
    info: Value,
}

impl SandboxProc {
    fn start() -> SandboxProc {
        SandboxProc::start_with(&[])
    }
    /// `cutover sandbox --restore-mbps 4` with `extra` arguments.
    fn start_with(extra: &[&str]) -> SandboxProc {
        let mut child = bin()
            .args(["sandbox", "--restore-mbps", "4"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sandbox");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sandbox line");
        let info: Value = serde_json::from_str(&line).expect("sandbox JSON");
        SandboxProc { child, info }
    }
    fn s(&self, k: &str) -> String {
        self.info[k].as_str().unwrap_or_default().to_string()
    }
    /// Committed blobs and their ETags, from the Blob service's own listing.
    fn etags(&self) -> BTreeMap<String, String> {
        let url = format!(
            "{}/{}?restype=container&comp=list&{}",
            self.s("blob_endpoint"),
            self.s("container"),
            self.s("container_sas")
        );
        let body = http_get(&url);
        let mut out = BTreeMap::new();
        let mut rest = body.as_str();
        while let Some(i) = rest.find("<Name>") {
            rest = &rest[i + 6..];
            let name = rest[..rest.find("</Name>").unwrap_or(0)].to_string();
            let Some(j) = rest.find("<Etag>") else { break };
            let tail = &rest[j + 6..];
            let etag = tail[..tail.find("</Etag>").unwrap_or(0)].to_string();
            out.insert(name, etag);
        }
        out
    }
}

impl Drop for SandboxProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET through reqwest on a small runtime of its own.
fn http_get(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .header("x-ms-version", "2023-11-03")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("list blobs");
        r.text().await.expect("body")
    })
}

fn write_config(sb: &SandboxProc, dir: &Path) -> PathBuf {
    let cfg = format!(
        r#"
[source]
server = "{sql}"
user = "{user}"
password_env = "SBX_PW"
plaintext = true
[backups]
folder = "{backups}"
[[backups.database]]
name = "Sales"
folder = "{backups}/Sales"
[[backups.database]]
name = "Inventory"
folder = "{backups}/Inventory"
[target]
subscription = "{sub}"
resource_group = "{rg}"
managed_instance = "{mi}"
arm_endpoint = "{arm}"
[storage]
container = "{blob}/{container}"
account_key_env = "SBX_KEY"
[migration]
activity = "kill-test"
databases = ["Sales", "Inventory"]
cutover = "when-ready"
tail = "take"
stop_traffic = "read-only"
max_mbps = 6
scan_seconds = 0.3
poll_seconds = 0.3
state_dir = "{state}"
"#,
        sql = sb.s("sql_server"),
        user = sb.s("sql_user"),
        backups = sb.s("backup_dir"),
        sub = sb.s("subscription_id"),
        rg = sb.s("resource_group"),
        mi = sb.s("managed_instance"),
        arm = sb.s("arm_endpoint"),
        blob = sb.s("blob_endpoint"),
        container = sb.s("container"),
        state = dir.join("state").display(),
    );
    let p = dir.join("cutover.toml");
    std::fs::write(&p, cfg).expect("write config");
    p
}

/// Runs to the end, or kills it after `limit` (its output so far is returned either way).
fn output_within(mut cmd: Command, limit: Duration) -> std::process::Output {
    let mut child = cmd.spawn().expect("spawn");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("output")
}

/// Runs `cmd` until its stdout so far satisfies `done` (or it exits, or `limit` passes: a busy
/// machine gets the whole limit), then kills it; returns the stdout read.
fn stdout_until(mut cmd: Command, limit: Duration, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    use std::io::Read;
    let mut child = cmd.spawn().expect("spawn");
    let mut out = child.stdout.take().expect("piped stdout");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none()
        && Instant::now() < deadline
        && !done(&seen.lock().expect("lock"))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    seen.lock().map(|g| g.clone()).unwrap_or_default()
}

fn run_cmd(sb: &SandboxProc, config: &Path) -> Command {
    let mut c = bin();
    c.args(["run", "--json", "--config"])
        .arg(config)
        .env("SBX_PW", sb.s("sql_password"))
        .env("SBX_KEY", sb.s("account_key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn kill_9_at_random_points_then_resume() {
    let sb = SandboxProc::start();
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(&sb, dir.path());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    eprintln!("kill points seed {seed}");
    let mut rng = seed;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut committed: BTreeMap<String, String> = BTreeMap::new();
    for round in 0..6 {
        let mut child = run_cmd(&sb, &config).spawn().expect("run");
        let wait = Duration::from_millis(150 + next() % 1200);
        std::thread::sleep(wait);
        eprintln!("round {round}: kill -9 after {wait:?}");
        let finished = child.try_wait().expect("try_wait").is_some();
        let _ = child.kill(); // SIGKILL: no chance to clean up
        let _ = child.wait();
        for (name, etag) in sb.etags() {
            let prev = committed
                .entry(name.clone())
                .or_insert_with(|| etag.clone());
            assert_eq!(
                prev, &etag,
                "round {round}: {name} was uploaded again after it was committed"
            );
        }
        if finished {
            break;
        }
    }
    let started = Instant::now();
    let out = output_within(run_cmd(&sb, &config), Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(0),
        "the resumed run completes (seed {seed}, {:?}): {}\n{}\nstate file: {}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        state_text(&dir.path().join("state/kill-test.json"))
    );
    let s = summary(&out.stdout);
    for d in s["databases"].as_array().expect("databases") {
        assert_eq!(d["status"], "Completed", "seed {seed}: {d}");
        let last = d["last_restored_file"].as_str().expect("last");
        assert!(last.contains("_TAIL_"), "{d}");
        let name = d["name"].as_str().expect("name");
        let tail = PathBuf::from(sb.s("backup_dir")).join(name).join(last);
        assert_eq!(
            d["last_restored_lsn"].as_str(),
            Some(last_lsn(&tail).as_str()),
            "seed {seed}"
        );
        // Exactly one tail-log backup was taken, whatever the kills.
        let tails = std::fs::read_dir(tail.parent().expect("folder"))
            .expect("folder")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().contains("_TAIL_"))
            })
            .count();
        assert_eq!(tails, 1, "seed {seed}: {name}");
    }
    for (name, etag) in sb.etags() {
        if let Some(prev) = committed.get(&name) {
            assert_eq!(
                prev, &etag,
                "seed {seed}: {name} was uploaded again after it was committed"
            );
        }
    }
}

/// A restore the managed instance no longer has (LRS cancels one 30 days after it started; this
/// sandbox after 3 s) fails the database with the reason and what to do, in the events and in the
/// state file, instead of warning about the status forever.
#[test]
fn a_restore_the_instance_cancelled_fails_the_database_with_the_reason() {
    let sb = SandboxProc::start_with(&["--lrs-job-limit-seconds", "3"]);
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(&sb, dir.path());
    let mut cmd = run_cmd(&sb, &config);
    cmd.args(["--cutover", "never"]);
    let out = output_within(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let events = lines(&out.stdout);
    let failures: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["level"] == "error"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("has no restore of"))
        })
        .collect();
    let failed = failures
        .first()
        .unwrap_or_else(|| panic!("no failure event:\n{stdout}"));
    // The run stops at the first failure: those databases are the ones to retry.
    let failed_dbs: Vec<String> = failures
        .iter()
        .filter_map(|e| e["database"].as_str().map(String::from))
        .collect();
    let m = failed["message"].as_str().unwrap_or_default();
    // The engine's own clock says the restore started seconds ago: not the 30-day limit.
    assert!(m.contains("not yet 30 days ago"), "{m}");
    assert!(m.contains("new full backup"), "{m}");
    let state = state_text(&dir.path().join("state/kill-test.json"));
    assert!(state.contains("has no restore of"), "{state}");
    assert!(state.contains("\"Failed\""), "{state}");

    // --retry-failed starts the restore again from what is in the container (nothing is uploaded
    // again); this sandbox cancels it again 3 s later.
    let etags = sb.etags();
    let mut cmd = run_cmd(&sb, &config);
    cmd.args(["--cutover", "never", "--retry-failed"]);
    let out = output_within(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let events = lines(&out.stdout);
    for db in &failed_dbs {
        let said = |text: &str| {
            events.iter().any(|e| {
                e["database"] == db.as_str()
                    && e["message"].as_str().is_some_and(|m| m.contains(text))
            })
        };
        assert!(said("retrying (--retry-failed)"), "{db}:\n{stdout}");
        assert!(said("starting the restore again"), "{db}:\n{stdout}");
        assert!(
            said("Log Replay Service restore started"),
            "{db}:\n{stdout}"
        );
        assert!(!said("uploaded "), "{db} uploaded again:\n{stdout}");
    }
    assert_eq!(sb.etags(), etags, "no blob was written again");
}

/// The moment LRS accepted the start is kept in the state file; re-attached 26 days later (the file
/// edited to say so), the run warns that the restore is cancelled in 4 days unless cut over.
#[test]
fn a_restore_near_the_30_day_limit_is_warned_about_after_a_restart() {
    let sb = SandboxProc::start();
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(&sb, dir.path());
    let index = dir.path().join("state/kill-test.json");
    let mut cmd = run_cmd(&sb, &config);
    cmd.args(["--cutover", "never"]);
    let mut child = cmd.spawn().expect("run");
    let deadline = Instant::now() + Duration::from_secs(60);
    while state_text(&index).matches("\"lrs_started_unix\":1").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "LRS did not start: {}",
            state_text(&index)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .expect("clock");
    for e in std::fs::read_dir(cutover::engine::persist::databases_dir(&index))
        .expect("state folder")
        .flatten()
        .filter(is_state_file)
    {
        let text = std::fs::read_to_string(e.path()).expect("read");
        let mut v: Value = serde_json::from_str(&text).expect("state json");
        assert!(v["state"]["lrs_started_unix"].as_i64().is_some(), "{text}");
        v["state"]["lrs_started_unix"] = Value::from(now - 26 * 86_400);
        std::fs::write(e.path(), v.to_string()).expect("write");
    }
    let mut cmd = run_cmd(&sb, &config);
    cmd.args(["--cutover", "never"]);
    let warning = |e: &Value, db: &str| {
        e["database"] == db
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("30 days after it started"))
    };
    // Until both are warned (seconds; up to a minute on a busy machine).
    let out = stdout_until(cmd, Duration::from_secs(60), |o| {
        let ls = lines(o);
        ["Sales", "Inventory"]
            .iter()
            .all(|db| ls.iter().any(|e| warning(e, db)))
    });
    let stdout = String::from_utf8_lossy(&out);
    for db in ["Sales", "Inventory"] {
        let warned = lines(&out).into_iter().find(|e| warning(e, db));
        let w = warned.unwrap_or_else(|| panic!("{db} not warned:\n{stdout}"));
        assert_eq!(w["level"], "warning", "{w}");
        let m = w["message"].as_str().unwrap_or_default();
        assert!(
            m.contains("4 d 0 h from now") || m.contains("3 d 23 h from now"),
            "{m}"
        );
        assert!(m.contains("cut over before then"), "{m}");
    }
}

#[test]
fn bad_configurations_name_the_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        ("[migration]\nactivty = \"x\"\n", "activty"),
        (
            "[migration]\ncutover = \"now\"\n[storage]\ncontainer = \"http://127.0.0.1:1/devstoreaccount1/c\"\n",
            "activity",
        ),
        (
            "[migration]\nactivity = \"a\"\ncutover = \"now\"\n",
            "[migration] cutover",
        ),
        ("[migration]\nactivity = \"a\"\ntail = \"take\"\n", "source"),
        (
            "[migration]\nactivity = \"a\"\ndatabases = [\"x\"]\n[backups]\nfolder = \"/nonexistent/b\"\n",
            "/nonexistent/b",
        ),
    ];
    for (text, expect) in cases {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).expect("write");
        let out = bin()
            .args(["run", "--config"])
            .arg(&p)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(expect), "{text}: expected {expect:?} in {err}");
    }
}

/// The configuration of [`write_config`] with every storage request going through `proxy` (the
/// sandbox's managed instance still reads the container directly).
fn write_config_via(sb: &SandboxProc, dir: &Path, proxy: &support::proxy::FaultProxy) -> PathBuf {
    let p = write_config(sb, dir);
    let text = std::fs::read_to_string(&p).expect("read config");
    let via = format!("http://127.0.0.1:{}/devstoreaccount1", proxy.port());
    std::fs::write(&p, text.replace(&sb.s("blob_endpoint"), &via)).expect("write config");
    p
}

/// A proxy in front of the sandbox's Blob service that injects no fault by itself.
fn quiet_proxy(sb: &SandboxProc) -> support::proxy::FaultProxy {
    support::proxy::FaultProxy::start(
        support::endpoint_addr(&sb.s("blob_endpoint")),
        1,
        0,
        u64::MAX,
    )
}

/// Runs the engine in this process, as `cutover run --json` does, with uploads through `proxy` and
/// the managed instance reading the sandbox's container itself; `during` runs beside it. Returns the
/// exit code and the last snapshot.
fn run_via_proxy(
    sb: &SandboxProc,
    dir: &Path,
    proxy: &support::proxy::FaultProxy,
    during: impl FnOnce() + Send,
) -> (i32, MigrationSnapshot) {
    let config = write_config_via(sb, dir, proxy);
    let file = cutover::config::ConfigFile::load(&config).expect("config");
    let mut secrets = cutover::setup::ProvidedSecrets::default();
    for (var, key) in [("SBX_PW", "sql_password"), ("SBX_KEY", "account_key")] {
        secrets.by_env.insert(var.into(), Secret::new(sb.s(key)));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    std::thread::scope(|scope| {
        scope.spawn(during);
        rt.block_on(async {
            let (mut cfg, _) =
                cutover::setup::engine_config_with(&file, &Default::default(), &secrets)
                    .expect("engine config");
            cfg.container_url = format!("{}/{}", sb.s("blob_endpoint"), sb.s("container"));
            let mut h = cutover::engine::runner::start(cfg).expect("engine");
            let code = tokio::time::timeout(
                Duration::from_secs(120),
                cutover::cli::headless::run(&mut h, true, cutover::cli::headless::KEPT),
            )
            .await
            .expect("the run ended within 2 minutes");
            (code, h.snapshots.borrow().clone())
        })
    })
}

/// Index of the first event of `db` whose message contains `text` (any case).
fn event_index(events: &[EventLine], db: &str, text: &str) -> Option<usize> {
    let text = text.to_lowercase();
    events
        .iter()
        .position(|e| e.database.as_deref() == Some(db) && e.message.to_lowercase().contains(&text))
}

fn event_text(events: &[EventLine]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {} {}\n",
                e.database.as_deref().unwrap_or("-"),
                e.level,
                e.message
            )
        })
        .collect()
}

/// The full backup is touched while the proxy holds the answer to its first block: the engine says
/// it changed, uploads it again once it is stable, and every database completes (none ever fails).
#[test]
fn a_file_changed_during_its_upload_is_uploaded_again_and_nothing_stops() {
    let sb = SandboxProc::start();
    let proxy =
        quiet_proxy(&sb).also_on_first("PUT", "/Sales/Sales_FULL_", support::proxy::Fault::Delay);
    let dir = tempfile::tempdir().expect("tmp");
    let full = std::fs::read_dir(PathBuf::from(sb.s("backup_dir")).join("Sales"))
        .expect("Sales folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().contains("_FULL_"))
        .expect("the full backup of Sales");
    let touch = || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while proxy.injected().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::File::options()
            .append(true)
            .open(&full)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .expect("touch the full backup");
    };
    let (code, snap) = run_via_proxy(&sb, dir.path(), &proxy, touch);
    let events = &snap.events;
    let text = event_text(events);
    assert_eq!(code, 0, "{text}");
    let file = full
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let changed = event_index(events, "Sales", "changed while it was uploaded")
        .unwrap_or_else(|| panic!("no event says the file changed:\n{text}"));
    assert_eq!(events[changed].level, Severity::Warning, "{text}");
    let uploaded = event_index(events, "Sales", &format!("uploaded {file}"))
        .unwrap_or_else(|| panic!("{file} was not uploaded:\n{text}"));
    assert!(
        uploaded > changed,
        "uploaded again after the change:\n{text}"
    );
    assert!(
        !events.iter().any(|e| e.level == Severity::Error),
        "nothing failed:\n{text}"
    );
    for d in &snap.databases {
        assert_eq!(d.state.phase, Phase::Completed, "{text}");
    }
}

/// Every storage request for Inventory's folder is refused (403): Inventory fails with the reason,
/// Sales goes on to complete after that, and the exit code says a database failed.
#[test]
fn a_database_that_fails_for_good_stops_alone_and_the_exit_code_says_so() {
    let sb = SandboxProc::start();
    let proxy = quiet_proxy(&sb).refusing(&format!("/{}/Inventory/", sb.s("container")));
    let dir = tempfile::tempdir().expect("tmp");
    let (code, snap) = run_via_proxy(&sb, dir.path(), &proxy, || {});
    let events = &snap.events;
    let text = event_text(events);
    assert_eq!(code, 1, "{text}");
    let failed = event_index(events, "Inventory", "access denied")
        .unwrap_or_else(|| panic!("no failure of Inventory:\n{text}"));
    assert_eq!(events[failed].level, Severity::Error, "{text}");
    assert!(
        events[failed].message.contains("the other databases go on"),
        "{text}"
    );
    let completed = event_index(events, "Sales", "-> Completed")
        .unwrap_or_else(|| panic!("Sales did not complete:\n{text}"));
    assert!(
        completed > failed,
        "Sales went on after Inventory failed:\n{text}"
    );
    let phase = |name: &str| {
        snap.databases
            .iter()
            .find(|d| d.state.name == name)
            .map(|d| d.state.phase)
    };
    assert_eq!(phase("Sales"), Some(Phase::Completed), "{text}");
    assert_eq!(phase("Inventory"), Some(Phase::Failed), "{text}");
}

/// The newest snapshot once `done` holds for it (the engine publishes on every change), or a panic
/// naming `what` with the events so far.
async fn wait_for(
    h: &mut cutover::engine::runner::EngineHandle,
    what: &str,
    limit: Duration,
    done: impl Fn(&cutover::engine::MigrationSnapshot) -> bool,
) -> cutover::engine::MigrationSnapshot {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let s = h.snapshots.borrow_and_update().clone();
        if done(&s) {
            return s;
        }
        let events: Vec<String> = s
            .events
            .iter()
            .map(|e| format!("{}: {}", e.level, e.message))
            .collect();
        if tokio::time::timeout_at(deadline, h.snapshots.changed())
            .await
            .is_err()
        {
            panic!(
                "timed out waiting for {what}; events:\n{}",
                events.join("\n")
            );
        }
    }
}

fn db<'a>(
    s: &'a cutover::engine::MigrationSnapshot,
    name: &str,
) -> &'a cutover::engine::DatabaseSnapshot {
    s.databases
        .iter()
        .find(|d| d.state.name == name)
        .expect("database in the snapshot")
}

/// Defect 3: abandoned after a tail-log backup WITH NORECOVERY, a second cutover neither stops
/// traffic (the RESTORING source refuses ALTER DATABASE, error 5052) nor takes a second tail: the
/// engine knows the source is RESTORING, says the tail is taken and restored, and completes with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandon_after_a_norecovery_tail_then_cut_over_again_with_that_tail() {
    use cutover::engine::{EngineCommand, Phase, SourceAccess, TailMode, TailState};
    use cutover::source::tail::StopTraffic;
    let state = tempfile::tempdir().expect("tmp");
    let opts = cutover::demo::DemoOptions {
        fast: true,
        backups: None,
        cutover_when_ready: false,
        tail: TailMode::Take,
        stop_traffic: Some(StopTraffic::ReadOnly),
        activity: "abandon".into(),
        state_dir: state.path().to_path_buf(),
        data_dir: None,
    };
    let sandbox = cutover::demo::start_sandbox(&opts).await.expect("sandbox");
    let hr = "HR".to_string();
    // Inventory keeps catching up (the backup job writes its logs) while HR is cut over: the engine
    // goes on publishing after HR completed.
    let selected = [hr.clone(), "Inventory".to_string()];
    let mut demo = cutover::demo::start_engine(&opts, sandbox, Some(&selected)).expect("engine");
    let sql = demo.sandbox.sql.clone();
    let folder = sql.database_dir(&hr);
    let h = &mut demo.engine;
    let minute = Duration::from_secs(60);
    let send = |h: &cutover::engine::runner::EngineHandle, c: EngineCommand| {
        h.commands.send(c).expect("engine running");
    };

    wait_for(h, "HR ready", minute, |s| {
        db(s, "HR").state.phase == Phase::ReadyForCutover
    })
    .await;
    send(
        h,
        EngineCommand::BeginCutover {
            database: hr.clone(),
            stop_traffic: Some(StopTraffic::ReadOnly),
        },
    );
    let s = wait_for(h, "traffic stopped", minute, |s| {
        db(s, "HR").source_access == Some(SourceAccess::ReadOnly)
    })
    .await;
    assert!(db(&s, "HR").downtime_started_unix.is_some());
    send(
        h,
        EngineCommand::TakeTail {
            database: hr.clone(),
        },
    );
    let s = wait_for(h, "the tail restored", minute, |s| {
        let d = db(s, "HR");
        matches!(&d.state.tail, TailState::Taken { file }
            if d.state.last_restored_file.as_deref() == Some(file.as_str()))
    })
    .await;
    let d = db(&s, "HR");
    assert_eq!(d.source_access, Some(SourceAccess::Restoring));
    assert_eq!(sql.database_state("HR").as_deref(), Some("RESTORING"));
    assert_eq!(d.cutover_waiting_for.as_deref(), Some("completion"));
    let tail = d.state.tail.clone();

    send(
        h,
        EngineCommand::AbandonCutover {
            database: hr.clone(),
        },
    );
    let s = wait_for(h, "abandoned", minute, |s| {
        db(s, "HR").state.phase != Phase::CuttingOver
    })
    .await;
    let d = db(&s, "HR");
    assert_eq!(
        d.source_access,
        Some(SourceAccess::Restoring),
        "still RESTORING"
    );
    assert_eq!(d.state.tail, tail, "the tail stays the tail");
    assert!(
        d.downtime_secs.is_some(),
        "the source is still down: the downtime goes on"
    );
    let events_before = s.events.len();

    send(
        h,
        EngineCommand::BeginCutover {
            database: hr.clone(),
            stop_traffic: Some(StopTraffic::ReadOnly),
        },
    );
    let s = wait_for(h, "cutting over again", minute, |s| {
        db(s, "HR").state.phase == Phase::CuttingOver
    })
    .await;
    send(
        h,
        EngineCommand::TakeTail {
            database: hr.clone(),
        },
    );
    let s2 = wait_for(
        h,
        "the tail reported as taken",
        Duration::from_secs(10),
        |s| {
            s.events
                .iter()
                .filter(|e| e.message.contains("is already taken"))
                .count()
                >= 2
        },
    )
    .await;
    let d = db(&s2, "HR");
    assert_eq!(d.state.tail, tail);
    assert_eq!(
        d.cutover_refusal, None,
        "the guard allows completing: {d:?}"
    );
    assert_eq!(d.cutover_waiting_for.as_deref(), Some("completion"));
    let new_events: Vec<&str> = s2.events[events_before.min(s2.events.len())..]
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        new_events
            .iter()
            .any(|m| m.contains("already taken") && m.contains("already restored")),
        "{new_events:?}"
    );
    assert!(
        !new_events.iter().any(|m| m.contains("5052")
            || m.contains("source:")
            || m.contains("tail-log backup taken")),
        "no stop traffic, no second tail: {new_events:?}"
    );
    drop(s);
    let tails = std::fs::read_dir(&folder)
        .expect("folder")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("_TAIL_"))
        .count();
    assert_eq!(tails, 1, "one tail-log backup");

    send(
        h,
        EngineCommand::Complete {
            database: hr.clone(),
        },
    );
    let s = wait_for(h, "completed", minute, |s| {
        db(s, "HR").state.phase == Phase::Completed
    })
    .await;
    let d = db(&s, "HR");
    let downtime = d.downtime_secs.expect("downtime");
    assert!(downtime > 0.0);
    assert!(d.completed_unix.is_some());
    assert!(
        d.data_lag_utc_known,
        "the source answered its offset from UTC"
    );
    assert_eq!(d.cutover_waiting_for, None);
    let lag = d.data_lag_secs.expect("lag");
    // Frozen at completion: snapshots published seconds later (Inventory moving on) say the same.
    let generation = s.generation;
    let later = wait_for(h, "later snapshots", minute, |s| {
        s.generation >= generation + 3
            && s.events
                .last()
                .is_some_and(|e| e.unix_secs > d.completed_unix.unwrap_or(0) + 1)
    })
    .await;
    let _ = h.commands.send(EngineCommand::Shutdown);
    let hr_later = db(&later, "HR");
    assert_eq!(hr_later.downtime_secs, Some(downtime), "downtime frozen");
    assert_eq!(
        hr_later.data_lag_secs,
        Some(lag),
        "lag frozen at completion"
    );
}

/// Defect 4: a source server at UTC-5 writes its backups' start times in its local time; cutover asks
/// the server its offset from UTC, so the data lag of a backup taken just now is seconds, not 5 hours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_servers_offset_from_utc_turns_backup_times_into_utc() {
    use azure_core::credentials::Secret;
    use cutover::sandbox::instance::{DatabaseSpec, InstanceOptions, LoginSpec, SqlInstance};
    use cutover::source::{Encryption, SourceAuth, SourceClient, SourceOptions};
    let dir = tempfile::tempdir().expect("tmp");
    let sql = std::sync::Arc::new(
        SqlInstance::in_time_zone(
            InstanceOptions {
                backup_dir: dir.path().to_path_buf(),
                server_name: "EAST".into(),
                logins: vec![LoginSpec {
                    user: "sa".into(),
                    password: "Tz-test-1!".into(),
                    sysadmin: true,
                }],
                databases: vec![DatabaseSpec::new("Sales")],
            },
            -300,
        )
        .expect("instance"),
    );
    let server = cutover::sandbox::tds::server::TdsServer::bind(sql.clone())
        .await
        .expect("bind");
    let addr = server.local_addr();
    let serving = tokio::spawn(server.serve());
    let mut o = SourceOptions::new(
        format!("127.0.0.1,{}", addr.port())
            .parse()
            .expect("address"),
        SourceAuth::SqlLogin {
            user: "sa".into(),
            password: Secret::new("Tz-test-1!".to_string()),
        },
        Encryption::Plaintext,
    );
    o.connect_timeout = Duration::from_secs(5);
    let mut c = SourceClient::connect(&o).await.expect("connect");
    assert_eq!(c.utc_offset_minutes().await.expect("offset"), -300);
    c.close().await;

    // The newest backup's header says local time; read with the offset, it started moments ago.
    let newest = std::fs::read_dir(sql.database_dir("Sales"))
        .expect("folder")
        .flatten()
        .map(|e| e.path())
        .max()
        .expect("a backup");
    let set = &cutover::backup::read_backup_file(&newest).expect("header")[0];
    let start = set
        .backup_start_date
        .expect("BackupStartDate")
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .expect("format");
    let now_ms = cutover::engine::downtime::now_unix_ms();
    let lag = cutover::engine::liveness::data_lag_secs(&start, Some(-300), now_ms).expect("lag");
    assert!(lag < 120.0, "lag in UTC: {lag} s");
    let as_utc = cutover::engine::liveness::data_lag_secs(&start, None, now_ms).expect("lag");
    assert!(
        as_utc > 4.0 * 3600.0,
        "read as UTC it looks 5 h old: {as_utc} s"
    );
    serving.abort();
}

fn demo_options(activity: &str, state: &Path) -> cutover::demo::DemoOptions {
    cutover::demo::DemoOptions {
        fast: true,
        backups: None,
        cutover_when_ready: false,
        tail: cutover::engine::TailMode::Take,
        stop_traffic: None,
        activity: activity.into(),
        state_dir: state.to_path_buf(),
        data_dir: None,
    }
}

/// Defect 5 (engine side): once nothing is uploaded the rate decays to 0 by itself, with no other
/// change to publish (scans and polls a minute apart, no backup job); paused shows no rate and no ETA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_rate_decays_to_zero_and_a_pause_shows_none() {
    use cutover::engine::EngineCommand;
    let state = tempfile::tempdir().expect("tmp");
    let opts = demo_options("decay", state.path());
    let sandbox = cutover::demo::start_sandbox(&opts).await.expect("sandbox");
    let sales = ["Sales".to_string()];
    let mut cfg = cutover::demo::engine_config(&opts, &sandbox, Some(&sales)).expect("config");
    cfg.scan_interval = Duration::from_secs(60);
    cfg.lrs_poll = Duration::from_secs(60);
    let mut h = cutover::engine::runner::start(cfg).expect("engine");
    let s = wait_for(&mut h, "uploaded", Duration::from_secs(60), |s| {
        let d = db(s, "Sales");
        d.bytes_total > 0 && d.bytes_uploaded == d.bytes_total && d.upload_bytes_per_sec > 0.0
    })
    .await;
    assert!(s.started_unix > 1_700_000_000, "wall clock of the start");
    h.commands.send(EngineCommand::PauseUploads).expect("pause");
    let s = wait_for(&mut h, "paused", Duration::from_secs(5), |s| s.paused).await;
    let d = db(&s, "Sales");
    assert_eq!(d.upload_bytes_per_sec, 0.0, "paused: no rate");
    assert_eq!(s.total_upload_bytes_per_sec, 0.0);
    assert_eq!(d.upload_eta_secs, None, "paused: no ETA");
    h.commands
        .send(EngineCommand::ResumeUploads)
        .expect("resume");
    wait_for(&mut h, "resumed", Duration::from_secs(5), |s| !s.paused).await;
    let s = wait_for(&mut h, "the rate decayed", Duration::from_secs(15), |s| {
        s.total_upload_bytes_per_sec == 0.0
    })
    .await;
    assert_eq!(db(&s, "Sales").upload_eta_secs, None);
    let _ = h.commands.send(EngineCommand::Shutdown);
}

/// Liveness: while restore-status reads fail in a row the snapshot says so (which database, since
/// when), next to the time of the last answered read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_restore_status_reads_make_the_migration_stale() {
    use cutover::engine::EngineCommand;
    let state = tempfile::tempdir().expect("tmp");
    let opts = demo_options("stale", state.path());
    // This sandbox cancels a restore 2 s after it started: its status reads answer 404 from then on.
    let sandbox = cutover::sandbox::Sandbox::start(cutover::sandbox::SandboxOptions {
        restore_mbps: 400.0,
        databases: Some(cutover::demo::demo_databases(true)),
        lrs_job_limit: Duration::from_secs(2),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let hr = ["HR".to_string()];
    let mut cfg = cutover::demo::engine_config(&opts, &sandbox, Some(&hr)).expect("config");
    cfg.lrs_poll = Duration::from_millis(300);
    let mut h = cutover::engine::runner::start(cfg).expect("engine");
    let answered = wait_for(&mut h, "an answered read", Duration::from_secs(60), |s| {
        s.last_poll_unix.is_some()
    })
    .await;
    assert_eq!(answered.stale, None);
    let s = wait_for(&mut h, "stale", Duration::from_secs(60), |s| {
        s.stale.is_some()
    })
    .await;
    let stale = s.stale.clone().unwrap_or_default();
    assert!(stale.contains("HR"), "{stale}");
    assert!(
        stale.contains("not read since") && stale.contains("UTC"),
        "{stale}"
    );
    assert!(
        s.last_poll_unix >= answered.last_poll_unix,
        "the last answer is kept"
    );
    let _ = h.commands.send(EngineCommand::Shutdown);
}

/// DMS's "Ignored": a file in the folder the restore plan leaves out is in the database's state with
/// why (here a second copy of the full backup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_the_plan_leaves_out_are_ignored_with_the_reason() {
    use cutover::engine::EngineCommand;
    let state = tempfile::tempdir().expect("tmp");
    let opts = demo_options("ignored", state.path());
    let sandbox = cutover::demo::start_sandbox(&opts).await.expect("sandbox");
    let folder = sandbox.sql.database_dir("HR");
    let full = std::fs::read_dir(&folder)
        .expect("folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            cutover::backup::read_backup_file(p)
                .is_ok_and(|s| s[0].backup_type == cutover::backup::BackupType::Full)
        })
        .min()
        .expect("HR's full backup");
    std::fs::copy(&full, folder.join("HR_FULL_copy.bak")).expect("copy");
    let hr = ["HR".to_string()];
    let cfg = cutover::demo::engine_config(&opts, &sandbox, Some(&hr)).expect("config");
    let mut h = cutover::engine::runner::start(cfg).expect("engine");
    let s = wait_for(&mut h, "an ignored file", Duration::from_secs(60), |s| {
        !db(s, "HR").state.ignored.is_empty()
    })
    .await;
    let ignored = &db(&s, "HR").state.ignored;
    assert_eq!(ignored.len(), 1, "{ignored:?}");
    assert!(
        ignored[0]
            .reason
            .contains("same backup set as another file"),
        "{ignored:?}"
    );
    assert_eq!(cutover::engine::state::IgnoredFile::STATUS, "Ignored");
    let _ = h.commands.send(EngineCommand::Shutdown);
}
