//! Helpers shared by the integration tests: where the real sample backups are, and a synthetic
//! backup chain written with the project's writer.
//!
//! Each test crate includes this module with `mod common;` and uses only part of it.
#![allow(dead_code)]

pub mod running;
pub mod tmux;

use std::path::{Path, PathBuf};

use cutover::backup::writer::{MediaSpec, Payload, SetSpec, write_backup};
use cutover::backup::{BackupType, Lsn};
use time::PrimitiveDateTime;
use time::macros::datetime;

/// Whether python3 has python-tds (`pytds`), the independent TDS client of the tests that check
/// what a real client sees. When it is missing: panics on CI (`CI=true`), where `.ci/run` installs
/// it; elsewhere prints why, naming `what` would have been checked, and returns `false` (the calling
/// test returns early).
pub fn pytds_or_skip(what: &str) -> bool {
    let why = match std::process::Command::new("python3")
        .args(["-c", "import pytds"])
        .output()
    {
        Ok(o) if o.status.success() => return true,
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        Err(e) => format!("python3: {e}"),
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("python-tds (pytds) is needed for {what} under CI: {why}");
    }
    eprintln!(
        "skipped {what}: python-tds (pytds) is not installed: {why} (pip install python-tds)"
    );
    false
}

/// The folder of real backups, `../shared/samples/appveyor-lab` beside the project.
///
/// When it is missing: panics on CI (`CI=true`), where the samples must be there; elsewhere prints why
/// to stderr and returns `None`, and the calling test returns early (it does not pretend to pass
/// silently: the reason is in the test output with `--nocapture`, and on CI it fails).
pub fn samples_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples/appveyor-lab");
    if dir.join("MANIFEST.json").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "../shared/samples/appveyor-lab not found: CI must run beside shared/ (looked for {})",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not found (the real sample backups live in ../shared beside the project); \
         this test checks nothing without them",
        dir.display()
    );
    None
}

/// The published reference beside the project (`../shared/reference`), when it holds `needs`
/// (paths inside it, e.g. `lrs-examples`): like [`samples_dir`], a panic on CI when it is missing,
/// elsewhere the reason on stderr and `None`.
pub fn reference_dir(needs: &[&str]) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference");
    if needs.iter().all(|n| dir.join(n).exists()) {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "../shared/reference ({}) not found: CI must run beside shared/ (looked in {})",
            needs.join(", "),
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not found in {} (the published examples live beside the project)",
        needs.join(", "),
        dir.display()
    );
    None
}

/// A JSON file, read and parsed (the test fails naming the file otherwise).
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Reads a sample file into memory (they are at most a few MiB).
pub fn read_sample(dir: &Path, relative: &str) -> Vec<u8> {
    let p = dir.join(relative);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Relative paths (with `/`) of every backup file listed in the samples' MANIFEST.json, in its order.
pub fn manifest_files(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).expect("read MANIFEST.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("MANIFEST.json is JSON");
    v.as_array()
        .expect("MANIFEST.json is an array")
        .iter()
        .map(|f| f["file"].as_str().expect("file is a string").to_string())
        .collect()
}

/// A deterministic GUID in SQL Server's printed form, derived from `seed` (the writer's FNV-1a
/// helper, so it is stable across runs and Rust versions).
pub use cutover::backup::writer::guid_from as guid;

/// The VLF sequence number every LSN of a synthetic chain uses.
pub const CHAIN_VLF: u32 = 40;
/// Start date of the synthetic chain's full backup; the diff is 30 min later, log `i` at 1 h + 15 min * i.
pub const CHAIN_START: PrimitiveDateTime = datetime!(2024-03-01 01:00:00);

/// A base `SetSpec` for `db` with the values every synthetic backup shares (SQL Server 2016, no dates,
/// zero LSNs, 64 KiB of pages). Change what a test needs.
pub fn base_spec(db: &str, backup_type: BackupType) -> SetSpec {
    SetSpec {
        database_name: db.to_string(),
        server_name: "SYNTH\\SQL2016".into(),
        backup_type,
        first_lsn: Lsn::ZERO,
        last_lsn: Lsn::ZERO,
        checkpoint_lsn: Lsn::ZERO,
        database_backup_lsn: Lsn::ZERO,
        differential_base_lsn: Lsn::ZERO,
        differential_base_guid: String::new(),
        checksums: false,
        copy_only: false,
        version: (13, 0, 5081),
        database_version: 869,
        compatibility_level: 130,
        created: Some(datetime!(2024-01-15 09:30:00)),
        start: None,
        finish: None,
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        family_guid: guid(&format!("family:{db}")),
        data_bytes: 64 * 1024,
        payload: Payload::Pages,
        tde_thumbprint: None,
    }
}

/// The specs of the chain [`write_chain`] writes, in the same order (full, diff, logs), so a test can
/// compare what it reads or plans with what was written.
///
/// LSNs (all in VLF [`CHAIN_VLF`], shown as (block, slot)):
/// - full: First = Checkpoint = (100, 1), Last = (120, 1), DatabaseBackupLSN = 0;
/// - diff: First = Checkpoint = (130, 1), Last = (140, 1), DatabaseBackupLSN = DifferentialBaseLSN =
///   the full's CheckpointLSN, DifferentialBaseGUID = a fixed GUID derived from `db`;
/// - first log: First = the full's FirstLSN (100, 1), Last = (200, 1): it spans both the full's and
///   the diff's LastLSN, so full + logs and full + diff + logs are both valid restore sequences;
/// - log n (n >= 1, counting from 0): First = log n-1's Last, Last = First + 100 blocks;
/// - every log: CheckpointLSN = DatabaseBackupLSN = the full's CheckpointLSN.
///
/// Dates start at [`CHAIN_START`] (full), finish 1 minute after each start.
pub fn chain_specs(db: &str, n_logs: usize, checksums: bool) -> Vec<SetSpec> {
    let lsn = |block: u32| Lsn::new(CHAIN_VLF, block, 1);
    let at = |minutes: i64| CHAIN_START + time::Duration::minutes(minutes);
    let dated = |mut s: SetSpec, minutes: i64| {
        s.start = Some(at(minutes));
        s.finish = Some(at(minutes + 1));
        s.checksums = checksums;
        s
    };
    let mut out = Vec::with_capacity(n_logs + 2);

    let mut full = base_spec(db, BackupType::Full);
    full.first_lsn = lsn(100);
    full.checkpoint_lsn = lsn(100);
    full.last_lsn = lsn(120);
    let full = dated(full, 0);

    let mut diff = base_spec(db, BackupType::Diff);
    diff.first_lsn = lsn(130);
    diff.checkpoint_lsn = lsn(130);
    diff.last_lsn = lsn(140);
    diff.database_backup_lsn = full.checkpoint_lsn;
    diff.differential_base_lsn = full.checkpoint_lsn;
    diff.differential_base_guid = guid(&format!("diffbase:{db}"));
    diff.data_bytes = 16 * 1024;
    let diff = dated(diff, 30);

    let full_first = full.first_lsn;
    let full_checkpoint = full.checkpoint_lsn;
    out.push(full);
    out.push(diff);

    let mut first = full_first;
    let mut last = lsn(200);
    for i in 0..n_logs {
        let mut log = base_spec(db, BackupType::Log);
        log.first_lsn = first;
        log.last_lsn = last;
        log.checkpoint_lsn = full_checkpoint;
        log.database_backup_lsn = full_checkpoint;
        log.data_bytes = 8 * 1024;
        out.push(dated(log, 60 + 15 * i as i64));
        first = last;
        last = Lsn::new(CHAIN_VLF, last.block + 100, 1);
    }
    out
}

/// Writes a synthetic backup chain for database `db` into `dir` with the project's writer and returns
/// the paths in chain order: `[full, diff, log 1, ..., log n_logs]`.
///
/// ```ignore
/// pub fn write_chain(dir: &Path, db: &str, n_logs: usize, checksums: bool) -> Vec<PathBuf>
/// ```
///
/// - Files: `{db}_FULL.bak`, `{db}_DIFF.bak`, `{db}_LOG_001.trn` ... (one backup set each, media family
///   1 of 1, a distinct MediaSetGUID per file).
/// - LSNs continue: `log[n].FirstLSN == log[n-1].LastLSN`; the diff's DatabaseBackupLSN is the full's
///   CheckpointLSN; the first log spans the full's and the diff's LastLSN. Exact values: see [`chain_specs`].
/// - `checksums` sets HasBackupChecksums (WITH CHECKSUM) on every set.
/// - Panics if a file cannot be written (test helper).
pub fn write_chain(dir: &Path, db: &str, n_logs: usize, checksums: bool) -> Vec<PathBuf> {
    chain_specs(db, n_logs, checksums)
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let name = match i {
                0 => format!("{db}_FULL.bak"),
                1 => format!("{db}_DIFF.bak"),
                n => format!("{db}_LOG_{:03}.trn", n - 1),
            };
            let path = dir.join(name);
            let media = MediaSpec {
                media_set_guid: guid(&format!("media:{db}:{i}")),
                family_count: 1,
                family_sequence: 1,
                media_date: spec.start,
            };
            write_backup(&path, &media, std::slice::from_ref(spec))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            path
        })
        .collect()
}
