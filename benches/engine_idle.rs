//! The engine idling on a large estate: 100 database folders of 1,000 backup files each (1 full + 999
//! logs continuing the chain), re-attached from a state file in which everything is already uploaded
//! and restored (phase ReadyForCutover), LRS answered by a mock ARM endpoint on 127.0.0.1. After the
//! first full scan (header reads) settles, it measures over a window the process's CPU time as % of
//! one core, the RSS (sampled every 5 s: flat?), the snapshot generations published (should not move
//! while idle) and the LRS status requests served (one per database per poll interval).
//!
//! `cargo bench --bench engine_idle`. Environment: DBS (100), FILES per database (1000), WINDOW_SECS
//! (60), WARMUP_SECS (fixed warm-up instead of waiting for the CPU to settle), WARMUP_MAX_SECS (900),
//! SCAN_SECS (5) and POLL_SECS (10): the defaults of `cutover run`; AGE_SECS (3600): how long ago the
//! files were written (0: just now, so that for two minutes every file is looked at on every scan,
//! as right after a backup job wrote them).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use cutover::backup::writer::{MediaSpec, Payload, SetSpec, guid_from as guid, write_backup};
use cutover::backup::{BackupType, Lsn};
use cutover::config::{
    self, BackupsSection, ConfigFile, DatabaseOverride, MigrationSection, ProvidedSecrets,
    RunFlags, StorageSection, TargetSection,
};
use cutover::engine::persist::{self, PersistedActivity, PersistedDatabase};
use cutover::engine::runner::DatabaseConfig;
use cutover::engine::{BackupFile, DatabaseState, EngineCommand, FileStatus, Phase, TailState};
use time::macros::{datetime, format_description};

const CHAIN_VLF: u32 = 40;
const MOCK_THREAD: &str = "arm-mock";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn db_name(d: usize) -> String {
    format!("DB{d:03}")
}

/// File `i` of a database: 0 is the full, 1.. the logs.
fn file_name(db: &str, i: usize) -> String {
    if i == 0 {
        format!("{db}_FULL.bak")
    } else {
        format!("{db}_LOG_{i:04}.trn")
    }
}

/// The set of file `i`: the full at (100..120), log 1 from the full's FirstLSN to 200, log n from
/// log n-1's LastLSN, 100 blocks each; 15 minutes apart.
fn spec(db: &str, i: usize) -> SetSpec {
    let lsn = |block: u32| Lsn::new(CHAIN_VLF, block, 1);
    let (backup_type, first, last) = match i {
        0 => (BackupType::Full, lsn(100), lsn(120)),
        1 => (BackupType::Log, lsn(100), lsn(200)),
        n => (
            BackupType::Log,
            lsn(100 * n as u32),
            lsn(100 * (n as u32 + 1)),
        ),
    };
    let start = datetime!(2024-03-01 01:00:00) + time::Duration::minutes(15 * i as i64);
    SetSpec {
        database_name: db.to_string(),
        server_name: "BENCH\\SQL2019".into(),
        backup_type,
        first_lsn: first,
        last_lsn: last,
        checkpoint_lsn: lsn(100),
        database_backup_lsn: if i == 0 { Lsn::ZERO } else { lsn(100) },
        differential_base_lsn: Lsn::ZERO,
        differential_base_guid: String::new(),
        checksums: true,
        copy_only: false,
        version: (15, 0, 2000),
        database_version: 904,
        compatibility_level: 150,
        created: Some(datetime!(2024-01-15 09:30:00)),
        start: Some(start),
        finish: Some(start + time::Duration::minutes(1)),
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        family_guid: guid(&format!("family:{db}")),
        data_bytes: 8 * 1024,
        payload: Payload::Sparse,
        tde_thumbprint: None,
    }
}

/// Sets a file's or folder's modification time `age` in the past (an estate at rest was written
/// long ago; only what changed in the last two minutes is looked at between full walks).
fn age(path: &Path, age: Duration) {
    if age.is_zero() {
        return;
    }
    let t = std::time::SystemTime::now() - age;
    std::fs::File::open(path)
        .and_then(|f| f.set_modified(t))
        .unwrap_or_else(|e| panic!("cannot set the time of {}: {e}", path.display()));
}

/// Writes database `d`'s folder and returns what a steady-state engine would have saved for it.
fn write_database(root: &Path, d: usize, files: usize, aged: Duration) -> PersistedDatabase {
    let db = db_name(d);
    let folder = root.join(&db);
    std::fs::create_dir_all(&folder).expect("create the database folder");
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let mut state_files = Vec::with_capacity(files);
    let mut blobs = Vec::with_capacity(files);
    for i in 0..files {
        let s = spec(&db, i);
        let name = file_name(&db, i);
        let path = folder.join(&name);
        let media = MediaSpec {
            media_set_guid: guid(&format!("media:{db}:{i}")),
            family_count: 1,
            family_sequence: 1,
            media_date: s.start,
        };
        write_backup(&path, &media, std::slice::from_ref(&s))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        age(&path, aged);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        state_files.push(BackupFile {
            name: name.clone(),
            backup_type: s.backup_type,
            first_lsn: s.first_lsn,
            last_lsn: s.last_lsn,
            size,
            status: FileStatus::Restored,
            uploaded_bytes: size,
            backup_start: s.start.and_then(|t| t.format(fmt).ok()),
        });
        // The flat name the layout gives: these names have nothing it rewrites.
        blobs.push((path, format!("{db}/{name}")));
    }
    age(&folder, aged);
    let newest = file_name(&db, files - 1);
    PersistedDatabase {
        state: DatabaseState {
            name: db.clone(),
            phase: Phase::ReadyForCutover,
            files: state_files,
            lrs_started: true,
            block_reason: None,
            last_restored_file: Some(newest),
            currently_restoring: None,
            tail: TailState::Undecided,
            error: None,
            completed_with: None,
            lrs_started_unix: None,
            restore_gone: false,
            ..DatabaseState::new(&db)
        },
        blobs,
        traffic_stopped: None,
        files_at_cutover: None,
        tail_wait: false,
        restore: None,
    }
}

/// Writes every folder (one thread per CPU), in database order.
fn write_estate(root: &Path, dbs: usize, files: usize, aged: Duration) -> Vec<PersistedDatabase> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicUsize::new(0);
    let out: std::sync::Mutex<Vec<Option<PersistedDatabase>>> =
        std::sync::Mutex::new((0..dbs).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.min(dbs) {
            s.spawn(|| {
                loop {
                    let d = next.fetch_add(1, Ordering::Relaxed);
                    if d >= dbs {
                        break;
                    }
                    let p = write_database(root, d, files, aged);
                    out.lock().expect("estate lock")[d] = Some(p);
                }
            });
        }
    });
    out.into_inner()
        .expect("estate lock")
        .into_iter()
        .map(|p| p.expect("every database written"))
        .collect()
}

#[derive(Default)]
struct MockCounts {
    status: AtomicU64,
    other: AtomicU64,
}

/// The ARM endpoint: restoreDetails of every database says its newest log is restored; anything
/// else (a start, a complete) is counted and refused. Runs on its own thread so its CPU time can be
/// told apart from the engine's.
fn start_mock(newest: HashMap<String, String>, counts: Arc<MockCounts>) -> String {
    use axum::extract::State;
    use axum::http::{Method, StatusCode, Uri};
    use axum::response::IntoResponse;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the mock ARM endpoint");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("mock address");
    type Shared = Arc<(HashMap<String, String>, Arc<MockCounts>)>;
    async fn handler(
        State(s): State<Shared>,
        method: Method,
        uri: Uri,
    ) -> axum::response::Response {
        let segs: Vec<&str> = uri.path().split('/').collect();
        let db = segs
            .iter()
            .position(|p| *p == "databases")
            .and_then(|i| segs.get(i + 1).copied());
        let is_status = method == Method::GET
            && segs.len() >= 2
            && segs[segs.len() - 2] == "restoreDetails"
            && segs[segs.len() - 1] == "Default";
        match (is_status, db.and_then(|d| s.0.get(d))) {
            (true, Some(newest)) => {
                s.1.status.fetch_add(1, Ordering::Relaxed);
                axum::Json(serde_json::json!({
                    "id": uri.path(),
                    "name": "Default",
                    "properties": {
                        "status": "Restoring",
                        "lastRestoredFileName": newest,
                        "percentCompleted": 100.0,
                        "unrestorableFiles": [],
                    }
                }))
                .into_response()
            }
            _ => {
                s.1.other.fetch_add(1, Ordering::Relaxed);
                (
                    StatusCode::BAD_REQUEST,
                    axum::Json(serde_json::json!({"error": {"code": "BenchRefused",
                        "message": format!("the benchmark's mock refuses {method} {}", uri.path())}})),
                )
                    .into_response()
            }
        }
    }
    let shared: Shared = Arc::new((newest, counts));
    std::thread::Builder::new()
        .name(MOCK_THREAD.into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("mock runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).expect("mock listener");
                let app = axum::Router::new().fallback(handler).with_state(shared);
                axum::serve(l, app).await.expect("mock ARM endpoint");
            });
        })
        .expect("spawn the mock thread");
    format!("http://{addr}")
}

fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime (ticks) of a /proc stat file.
fn stat_ticks(path: &Path) -> u64 {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command (which may hold spaces) in parentheses: state is field 3, utime 14.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

fn process_ticks() -> u64 {
    stat_ticks(Path::new("/proc/self/stat"))
}

/// CPU ticks of the mock ARM thread.
fn mock_ticks() -> u64 {
    let Ok(rd) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == MOCK_THREAD)
        })
        .map(|e| stat_ticks(&e.path().join("stat")))
        .sum()
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let dbs = env_u64("DBS", 100).max(1) as usize;
    let files = env_u64("FILES", 1000).max(2) as usize;
    let window = Duration::from_secs(env_u64("WINDOW_SECS", 60).max(5));
    let scan_interval = Duration::from_secs(env_u64("SCAN_SECS", 5).max(1));
    let lrs_poll = Duration::from_secs(env_u64("POLL_SECS", 10).max(1));
    let fixed_warmup = std::env::var("WARMUP_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let warmup_max = Duration::from_secs(env_u64("WARMUP_MAX_SECS", 900));
    let aged = Duration::from_secs(env_u64("AGE_SECS", 3600));
    let tck = clk_tck();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "engine_idle: {dbs} databases x {files} files (1 full + {} logs), scan every {}s, LRS poll every {}s, {cpus} CPUs, CLK_TCK {tck}",
        files - 1,
        scan_interval.as_secs(),
        lrs_poll.as_secs()
    );

    let tmp = tempfile::Builder::new()
        .prefix("cutover-engine-idle")
        .tempdir()
        .expect("temp dir");
    let root = tmp.path().join("backups");
    let t = Instant::now();
    let saved = write_estate(&root, dbs, files, aged);
    let bytes: u64 = saved
        .iter()
        .flat_map(|d| d.state.files.iter().map(|f| f.size))
        .sum();
    println!(
        "created {} files ({:.1} MiB apparent) in {:.1}s, dated {}s ago (AGE_SECS)",
        dbs * files,
        bytes as f64 / (1024.0 * 1024.0),
        t.elapsed().as_secs_f64(),
        aged.as_secs()
    );

    let activity = "engine-idle-bench";
    let state_file = persist::state_path(&tmp.path().join("state"), activity);
    let newest: HashMap<String, String> = saved
        .iter()
        .map(|d| {
            (
                d.state.name.clone(),
                d.state.last_restored_file.clone().unwrap_or_default(),
            )
        })
        .collect();
    let databases: Vec<DatabaseConfig> = saved
        .iter()
        .map(|d| DatabaseConfig {
            name: d.state.name.clone(),
            folder: root.join(&d.state.name),
            server_folder: None,
            target_name: d.state.name.clone(),
        })
        .collect();
    let one = saved[0].clone();
    let t = Instant::now();
    persist::save(
        &state_file,
        &PersistedActivity {
            version: persist::VERSION,
            activity: activity.into(),
            databases: saved,
        },
    )
    .expect("write the state file");
    let all_secs = t.elapsed().as_secs_f64();
    let state_bytes = std::fs::metadata(&state_file).map_or(0, |m| m.len())
        + std::fs::read_dir(persist::databases_dir(&state_file)).map_or(0, |rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        });
    // A transition rewrites the database that changed, alone.
    let t = Instant::now();
    persist::save_database(&state_file, &one).expect("write one database's state");
    println!(
        "state: {:.1} MiB written in {all_secs:.2}s; one database's file (a transition) in {:.1} ms ({})",
        state_bytes as f64 / (1024.0 * 1024.0),
        t.elapsed().as_secs_f64() * 1000.0,
        state_file.display()
    );

    let counts = Arc::new(MockCounts::default());
    let arm = start_mock(newest, counts.clone());
    println!("mock ARM endpoint: {arm}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        // Through the configuration path `cutover run` takes (config::engine_config_with), with
        // the mock named as the sandbox (its fixed token). Port 9 (discard) on loopback: nothing
        // listens, so an upload would fail loudly.
        let names: Vec<String> = databases.iter().map(|d| d.name.clone()).collect();
        let file = ConfigFile {
            target: Some(TargetSection {
                subscription: Some("00000000-0000-0000-0000-000000000000".into()),
                resource_group: Some("bench-rg".into()),
                managed_instance: Some("bench-mi".into()),
                arm_endpoint: Some(arm.clone()),
                sandbox: Some(true),
                ..Default::default()
            }),
            storage: Some(StorageSection {
                container: Some("http://127.0.0.1:9/devstoreaccount1/bench".into()),
                auth: Some("account-key".into()),
                account_key_env: Some("CUTOVER_BENCH_ACCOUNT_KEY".into()),
                ..Default::default()
            }),
            backups: Some(BackupsSection {
                database: Some(
                    databases
                        .iter()
                        .map(|d| DatabaseOverride {
                            name: d.name.clone(),
                            folder: Some(d.folder.clone()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            migration: Some(MigrationSection {
                activity: Some(activity.into()),
                databases: Some(names),
                scan_seconds: Some(scan_interval.as_secs_f64()),
                poll_seconds: Some(lrs_poll.as_secs_f64()),
                state_dir: state_file.parent().map(Path::to_path_buf),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut secrets = ProvidedSecrets::default();
        secrets.by_env.insert(
            "CUTOVER_BENCH_ACCOUNT_KEY".into(),
            Secret::new(cutover::sandbox::blob::DEV_KEY.to_string()),
        );
        let (mut cfg, _) = config::engine_config_with(&file, &RunFlags::default(), &secrets)
            .expect("the bench's configuration");
        assert_eq!(cfg.state_file, state_file);
        cfg.source_label = "bench".into();
        cfg.target_label = "bench-mi (mock)".into();
        let cpu_start = process_ticks();
        let started = Instant::now();
        let mut handle = cutover::engine::runner::start(cfg).expect("start the engine");
        let mut warnings: Vec<String> = Vec::new();
        let drain = |h: &mut cutover::engine::runner::EngineHandle, w: &mut Vec<String>| {
            let mut n = 0;
            while let Ok(e) = h.event_log.try_recv() {
                n += 1;
                if e.level != cutover::model::Severity::Info && w.len() < 10 {
                    w.push(format!(
                        "{} {}: {}",
                        e.level,
                        e.database.unwrap_or_default(),
                        e.message
                    ));
                }
            }
            n
        };

        // Warm-up: the first scan reads every header. Settled = a whole scan interval (after at least
        // two) in which the process used less than 25% of a core.
        let warm_how;
        if let Some(s) = fixed_warmup {
            tokio::time::sleep(Duration::from_secs(s)).await;
            warm_how = format!("fixed {s}s (WARMUP_SECS)");
        } else {
            let step = scan_interval;
            let mut prev = process_ticks();
            loop {
                tokio::time::sleep(step).await;
                let now = process_ticks();
                let pct = (now - prev) as f64 / tck / step.as_secs_f64() * 100.0;
                prev = now;
                let el = started.elapsed();
                println!(
                    "  warm-up {:>5.0}s: {:>6.1}% of a core, RSS {:.1} MiB",
                    el.as_secs_f64(),
                    pct,
                    mib(status_kib("VmRSS:"))
                );
                if el >= 2 * scan_interval && pct < 25.0 {
                    warm_how = format!(
                        "until a {}s interval used < 25% of a core: {:.0}s",
                        step.as_secs(),
                        el.as_secs_f64()
                    );
                    break;
                }
                if el >= warmup_max {
                    warm_how = format!(
                        "NOT settled after {:.0}s (WARMUP_MAX_SECS): measuring anyway",
                        el.as_secs_f64()
                    );
                    break;
                }
            }
        }
        let warm_cpu = (process_ticks() - cpu_start) as f64 / tck;
        let warm_events = drain(&mut handle, &mut warnings);
        println!(
            "warm-up: {warm_how}; {warm_cpu:.1} CPU-s used since start, peak RSS so far {:.1} MiB, {warm_events} event lines, {} LRS status requests",
            mib(status_kib("VmHWM:")),
            counts.status.load(Ordering::Relaxed)
        );
        assert!(
            !handle.task.is_finished(),
            "the engine task ended during the warm-up"
        );

        // The window.
        let gen0 = handle.snapshots.borrow().generation;
        let lrs0 = counts.status.load(Ordering::Relaxed);
        let other0 = counts.other.load(Ordering::Relaxed);
        let cpu0 = process_ticks();
        let mock0 = mock_ticks();
        let t0 = Instant::now();
        let mut rss = vec![status_kib("VmRSS:")];
        let mut last = cpu0;
        let sample = Duration::from_secs(5);
        let mut events = 0;
        while t0.elapsed() + Duration::from_millis(1) < window {
            let left = window.saturating_sub(t0.elapsed());
            tokio::time::sleep(sample.min(left)).await;
            let now = process_ticks();
            let r = status_kib("VmRSS:");
            rss.push(r);
            events += drain(&mut handle, &mut warnings);
            println!(
                "  {:>5.1}s: {:>5.1}% of a core, RSS {:.1} MiB, generation {}, LRS requests {}",
                t0.elapsed().as_secs_f64(),
                (now - last) as f64 / tck / sample.as_secs_f64() * 100.0,
                mib(r),
                handle.snapshots.borrow().generation,
                counts.status.load(Ordering::Relaxed) - lrs0
            );
            last = now;
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = (process_ticks() - cpu0) as f64 / tck;
        let mock = (mock_ticks() - mock0) as f64 / tck;
        let gens = handle.snapshots.borrow().generation - gen0;
        let lrs = counts.status.load(Ordering::Relaxed) - lrs0;
        let other = counts.other.load(Ordering::Relaxed) - other0;
        let (min, max) = (
            rss.iter().copied().min().unwrap_or(0),
            rss.iter().copied().max().unwrap_or(0),
        );
        let pct = cpu / secs * 100.0;
        let engine_pct = (cpu - mock) / secs * 100.0;
        println!();
        println!("window: {secs:.1}s");
        println!(
            "  CPU: {cpu:.2} s = {pct:.2}% of a core (process); mock ARM thread {mock:.2} s; engine and the rest {engine_pct:.2}% of a core"
        );
        println!(
            "  RSS: min {:.1} MiB, max {:.1} MiB, max - min {:.1} MiB ({:.1}% of max), {} samples; peak (VmHWM) {:.1} MiB",
            mib(min),
            mib(max),
            mib(max - min),
            if max > 0 { (max - min) as f64 / max as f64 * 100.0 } else { 0.0 },
            rss.len(),
            mib(status_kib("VmHWM:"))
        );
        println!("  snapshot generations published: {gens}");
        println!(
            "  LRS status requests: {lrs} ({:.1} per {}s; expected {dbs} per {}s); other ARM requests: {other}",
            lrs as f64 / secs * lrs_poll.as_secs_f64(),
            lrs_poll.as_secs(),
            lrs_poll.as_secs()
        );
        println!("  event lines: {events}");
        for w in &warnings {
            println!("    {w}");
        }
        println!(
            "target: < 5% of a core: {}",
            if pct < 5.0 { "met" } else { "MISSED" }
        );

        let t = Instant::now();
        let _ = handle.commands.send(EngineCommand::Shutdown);
        match tokio::time::timeout(Duration::from_secs(300), &mut handle.task).await {
            Ok(Ok(Ok(()))) => println!("shutdown: {:.2}s", t.elapsed().as_secs_f64()),
            Ok(Ok(Err(e))) => println!("shutdown: the engine ended with an error: {e}"),
            Ok(Err(e)) => println!("shutdown: the engine task failed: {e}"),
            Err(_) => println!("shutdown: no end after 300s"),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(5));
}
