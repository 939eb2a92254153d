//! Compressed backups (`MSSQLBAK` container) written by the writer: several sets appended in one
//! file are read set by set and reported as `APPENDED_BACKUP_SETS` by `cutover inspect` and `cutover
//! check` (issue 12, defect 11: they were called corrupt), and what the reader costs does not grow
//! with the size of the file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::fs::File;
use std::path::Path;
use std::process::Command;

use cutover::backup::read_backup_from;
use cutover::backup::source::FileWindow;
use cutover::backup::writer::{MediaSpec, Payload, SetSpec, write_compressed_backup};

fn media(seed: &str) -> MediaSpec {
    MediaSpec {
        media_set_guid: common::guid(seed),
        family_count: 1,
        family_sequence: 1,
        media_date: Some(common::CHAIN_START),
    }
}

fn cutover(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .output()
        .expect("run cutover");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads `path` through a counting window: (sets read, bytes read from the file, reads).
fn read_counted(path: &Path) -> (usize, u64, u64) {
    let file = File::open(path).expect("open");
    let len = file.metadata().expect("metadata").len();
    let mut window = FileWindow::new(file, len);
    let sets =
        read_backup_from(&mut window, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (sets.len(), window.bytes_read(), window.reads())
}

#[test]
fn inspect_and_check_report_appended_compressed_sets_not_corruption() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let chain = common::chain_specs("Sales", 3, true);
    // The full alone, then three logs appended in one compressed file (BACKUP LOG ... WITH NOINIT,
    // COMPRESSION), the first large enough that the later sets are beyond the first records.
    write_compressed_backup(&dir.join("Sales_FULL.bak"), &media("full"), &chain[0..1])
        .expect("write full");
    let mut logs: Vec<SetSpec> = chain[2..5].to_vec();
    logs[0].data_bytes = 2 << 20;
    let appended = dir.join("Sales_LOGS.trn");
    write_compressed_backup(&appended, &media("logs"), &logs).expect("write logs");
    let appended = appended.to_string_lossy().into_owned();

    let (code, out, err) = cutover(&["inspect", "--json", &appended]);
    assert_eq!(code, 0, "inspect failed: {out}{err}");
    assert!(
        !format!("{out}{err}").contains("corrupt"),
        "inspect: {out}{err}"
    );
    let sets: serde_json::Value = serde_json::from_str(&out).expect("inspect --json");
    let sets = sets.as_array().expect("an array");
    assert_eq!(sets.len(), 3, "{out}");
    for (i, (set, spec)) in sets.iter().zip(&logs).enumerate() {
        assert_eq!(set["Position"], i as u64 + 1);
        assert_eq!(set["BackupType"], "LOG", "{set}");
        assert_eq!(
            set["FirstLSN"],
            serde_json::to_value(spec.first_lsn).expect("lsn")
        );
        assert_eq!(
            set["LastLSN"],
            serde_json::to_value(spec.last_lsn).expect("lsn")
        );
        assert_eq!(set["Compressed"], true, "{set}");
    }

    let (code, out, err) = cutover(&["inspect", &appended]);
    assert_eq!(code, 0, "inspect failed: {out}{err}");
    assert!(!format!("{out}{err}").contains("corrupt"), "{out}{err}");
    assert!(out.contains("3 backup set(s)"), "{out}");

    let dir_arg = dir.to_string_lossy().into_owned();
    let (code, out, err) = cutover(&["check", &dir_arg]);
    let all = format!("{out}{err}");
    assert!(!all.contains("corrupt"), "check: {all}");
    assert!(all.contains("APPENDED_BACKUP_SETS"), "check: {all}");
    assert!(all.contains("Sales_LOGS.trn"), "check: {all}");
    // APPENDED_BACKUP_SETS is an error (LRS restores one set per file): exit 1, as for a plain file.
    assert_eq!(code, 1, "check: {all}");

    let (_, out, _) = cutover(&["check", "--json", &dir_arg]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("check --json");
    let text = v.to_string();
    assert!(text.contains("APPENDED_BACKUP_SETS"), "{text}");
    assert!(!text.contains("\"corrupt\""), "{text}");
}

/// A single-set compressed file is read from its first records and a tail window: the same bytes for
/// a 10 MiB and a 1 GiB backup (sparse files: the data pages are a hole).
#[test]
fn reading_a_compressed_backup_costs_the_same_for_10_mib_and_1_gib() {
    use std::os::unix::fs::MetadataExt;

    let tmp = tempfile::tempdir().expect("tmp");
    let mut costs = Vec::new();
    for (name, bytes) in [("small", 10u64 << 20), ("large", 1u64 << 30)] {
        let mut spec = common::base_spec("Big", cutover::backup::BackupType::Full);
        spec.data_bytes = bytes;
        spec.payload = Payload::Sparse;
        spec.start = Some(common::CHAIN_START);
        spec.finish = Some(common::CHAIN_START + time::Duration::minutes(20));
        let path = tmp.path().join(format!("{name}.bak"));
        write_compressed_backup(&path, &media(name), std::slice::from_ref(&spec)).expect("write");
        let meta = std::fs::metadata(&path).expect("metadata");
        assert!(meta.len() > bytes, "{name}: {} bytes", meta.len());
        assert!(meta.blocks() * 512 < 4 << 20, "{name}: not sparse");
        let (sets, read, reads) = read_counted(&path);
        assert_eq!(sets, 1);
        eprintln!(
            "{name}: {} byte file, {read} bytes read in {reads} reads",
            meta.len()
        );
        costs.push((read, reads));
    }
    assert_eq!(costs[0], costs[1], "bytes and reads for 10 MiB vs 1 GiB");
    assert!(costs[0].0 < 1 << 20, "{} bytes read", costs[0].0);
}

/// A file of appended sets is walked record by record: 4 bytes per record header, and only the records
/// holding descriptor blocks are decoded. With incompressible data (records that do not shrink), four
/// times the data adds only record headers to what is read, and the reader reads a small part of the
/// file.
#[test]
fn appended_compressed_sets_cost_record_headers_not_data() {
    let tmp = tempfile::tempdir().expect("tmp");
    let chain = common::chain_specs("Grow", 2, false);
    let mut costs = Vec::new();
    for (name, bytes) in [("small", 2u64 << 20), ("large", 8u64 << 20)] {
        let mut sets: Vec<SetSpec> = chain[0..3].to_vec();
        sets[0].data_bytes = bytes;
        sets[0].payload = Payload::Noise;
        // The last set larger than the tail window the reader searches, so both files end alike.
        sets[2].data_bytes = 128 << 10;
        sets[2].payload = Payload::Noise;
        let path = tmp.path().join(format!("{name}.bak"));
        write_compressed_backup(&path, &media(name), &sets).expect("write");
        let len = std::fs::metadata(&path).expect("metadata").len();
        assert!(len > bytes, "{name}: noise compressed to {len} bytes");
        let (n, read, reads) = read_counted(&path);
        assert_eq!(n, 3);
        eprintln!("{name}: {len} byte file, {read} bytes read in {reads} reads");
        costs.push((len, read, reads));
    }
    let ((small_len, small_read, small_reads), (large_len, large_read, large_reads)) =
        (costs[0], costs[1]);
    // 6 MiB more data: a few hundred more records (each at most 64 KiB of output), each costing one
    // 4-byte header read when indexed and one when walked.
    let more_records = (large_len - small_len).div_ceil(32 << 10) + 2;
    assert!(
        large_reads - small_reads <= 2 * more_records,
        "reads {small_reads} -> {large_reads} for {more_records} more records"
    );
    // (plus a little: the record after the data, decoded in both, compresses to a few bytes more or
    // less)
    assert!(
        large_read - small_read <= 2 * more_records * 4 + 4096,
        "bytes read {small_read} -> {large_read} for {more_records} more records"
    );
    assert!(
        large_read < large_len / 20,
        "{large_read} bytes read of a {large_len} byte file"
    );
}
