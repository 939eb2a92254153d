//! The backup writer: what it writes reads back field for field (property test over random sets), its
//! files have the block structure of real SQL Server backups, a 1 GiB sparse backup costs no disk and
//! reads fast, and the shared synthetic chain (`common::write_chain`) links up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cutover::backup::writer::{MediaSpec, Payload, SetSpec, write_backup, write_compressed_backup};
use cutover::backup::{BackupSet, BackupType, Lsn, read_backup_file};
use proptest::prelude::*;
use time::{Date, Month, PrimitiveDateTime, Time};

// ---------------------------------------------------------------------------------------------------
// Round trip

/// The header the reader must report for `spec` written as set `position` of a file with `media`.
fn expected(path: &Path, media: &MediaSpec, spec: &SetSpec, position: u16) -> BackupSet {
    let is_diff = matches!(
        spec.backup_type,
        BackupType::Diff | BackupType::FileDiff | BackupType::PartialDiff
    );
    BackupSet {
        file: path.to_path_buf(),
        database_name: spec.database_name.clone(),
        server_name: spec.server_name.clone(),
        backup_type: spec.backup_type,
        position,
        first_lsn: spec.first_lsn,
        last_lsn: spec.last_lsn,
        checkpoint_lsn: spec.checkpoint_lsn,
        database_backup_lsn: spec.database_backup_lsn,
        differential_base_lsn: is_diff.then_some(spec.differential_base_lsn),
        differential_base_guid: is_diff.then(|| spec.differential_base_guid.clone()),
        has_backup_checksums: spec.checksums,
        is_copy_only: spec.copy_only,
        compressed: false,
        software_version: format!("{}.{}.{}", spec.version.0, spec.version.1, spec.version.2),
        database_version: spec.database_version,
        compatibility_level: spec.compatibility_level,
        database_creation_date: spec.created,
        backup_start_date: spec.start,
        backup_finish_date: spec.finish,
        backup_size: spec.backup_size(),
        collation: spec.collation.clone(),
        family_guid: spec.family_guid.clone(),
        media_set_guid: media.media_set_guid.clone(),
        family_count: media.family_count,
        family_sequence_number: media.family_sequence,
        flags: spec.flags(),
        tde_thumbprint: None,
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("we]ird 'name".to_string()),
        Just("Ünïcødé_数据库_🚀 [x]".to_string()),
        Just("n".repeat(128)),
        "[A-Za-z0-9_]{1,128}",
        // Any printable Unicode, astral planes included (UTF-16 surrogate pairs).
        "\\PC{1,64}",
    ]
}

fn server() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("WIN-JNMR8KM0U3B\\SQL2008R2SP2".to_string()),
        "[A-Z0-9-]{1,15}(\\\\[A-Z0-9_]{1,16})?",
        "\\PC{1,40}",
    ]
}

fn guid() -> impl Strategy<Value = String> {
    "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
}

fn lsn() -> impl Strategy<Value = Lsn> {
    prop_oneof![
        Just(Lsn::ZERO),
        Just(Lsn::new(u32::MAX, u32::MAX, u16::MAX)),
        any::<(u32, u32, u16)>().prop_map(|(v, b, s)| Lsn::new(v, b, s)),
    ]
}

/// Second-resolution local times, as MTF stores them (SQL Server's datetime range).
fn date() -> impl Strategy<Value = PrimitiveDateTime> {
    (
        1753i32..=9999,
        1u8..=12,
        1u8..=31,
        0u8..24,
        0u8..60,
        0u8..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| {
            let month = Month::try_from(mo).expect("month 1..=12");
            let day = d.min(time::util::days_in_month(month, y));
            PrimitiveDateTime::new(
                Date::from_calendar_date(y, month, day).expect("valid date"),
                Time::from_hms(h, mi, s).expect("valid time"),
            )
        })
}

const COLLATIONS: &[&str] = &[
    "SQL_Latin1_General_CP1_CI_AS",
    "SQL_Latin1_General_CP1_CS_AS",
    "SQL_Latin1_General_CP850_BIN",
    "Latin1_General_CI_AS",
    "Latin1_General_CI_AS_KS_WS",
    "Latin1_General_100_CI_AS_KS_WS",
    "Latin1_General_100_CI_AI",
    "Latin1_General_140_CI_AS_UTF8",
    "French_BIN2",
    "Cyrillic_General_CI_AI",
    "Japanese_CS_AS_KS_WS",
    "Chinese_PRC_CI_AS",
];

fn set_spec() -> impl Strategy<Value = SetSpec> {
    (
        (
            name(),
            server(),
            prop_oneof![
                Just(BackupType::Full),
                Just(BackupType::Diff),
                Just(BackupType::Log)
            ],
            [lsn(), lsn(), lsn(), lsn(), lsn()],
            guid(),
            any::<(bool, bool)>(),
        ),
        (
            any::<(u8, u8, u16)>(),
            any::<u16>(),
            any::<u8>(),
            [
                proptest::option::of(date()),
                proptest::option::of(date()),
                proptest::option::of(date()),
            ],
            proptest::sample::select(COLLATIONS),
            guid(),
            0u64..=40_000,
        ),
    )
        .prop_map(
            |(
                (database_name, server_name, backup_type, lsns, diff_guid, (checksums, copy_only)),
                (version, database_version, compatibility_level, dates, collation, family, bytes),
            )| SetSpec {
                database_name,
                server_name,
                backup_type,
                first_lsn: lsns[0],
                last_lsn: lsns[1],
                checkpoint_lsn: lsns[2],
                database_backup_lsn: lsns[3],
                differential_base_lsn: lsns[4],
                differential_base_guid: diff_guid,
                checksums,
                copy_only,
                version,
                database_version,
                compatibility_level,
                created: dates[0],
                start: dates[1],
                finish: dates[2],
                collation: collation.to_string(),
                family_guid: family,
                data_bytes: bytes,
                payload: Payload::Pages,
                tde_thumbprint: None,
            },
        )
}

fn media_spec() -> impl Strategy<Value = MediaSpec> {
    (1u16..=64)
        .prop_flat_map(|count| (guid(), Just(count), 1..=count, proptest::option::of(date())))
        .prop_map(
            |(media_set_guid, family_count, family_sequence, media_date)| MediaSpec {
                media_set_guid,
                family_count,
                family_sequence,
                media_date,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// One to three sets (appended WITH NOINIT after the first) written and read back: every header
    /// field equals what was written, positions count from 1.
    #[test]
    fn written_sets_read_back_field_for_field(
        media in media_spec(),
        sets in proptest::collection::vec(set_spec(), 1..=3),
    ) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("prop.bak");
        write_backup(&path, &media, &sets).expect("write");
        let got = read_backup_file(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want: Vec<BackupSet> = sets
            .iter()
            .enumerate()
            .map(|(i, s)| expected(&path, &media, s, i as u16 + 1))
            .collect();
        prop_assert_eq!(got, want);
    }
}

/// What the reader must report for `spec` in a compressed file: the same, flagged compressed.
fn expected_compressed(path: &Path, media: &MediaSpec, spec: &SetSpec, position: u16) -> BackupSet {
    BackupSet {
        compressed: true,
        ..expected(path, media, spec, position)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The same sets written as a compressed file (XPRESS-Huffman records) read back field for field.
    #[test]
    fn compressed_sets_read_back_field_for_field(
        media in media_spec(),
        sets in proptest::collection::vec(set_spec(), 1..=3),
    ) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("prop_compressed.bak");
        write_compressed_backup(&path, &media, &sets).expect("write");
        let got = read_backup_file(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want: Vec<BackupSet> = sets
            .iter()
            .enumerate()
            .map(|(i, s)| expected_compressed(&path, &media, s, i as u16 + 1))
            .collect();
        prop_assert_eq!(got, want);
    }
}

/// Defect 11 of issue 12: a compressed file holding 2 or 3 appended sets was reported corrupt ("the
/// start and end copies of its header disagree": the first set's start copy was paired with the last
/// set's end copy). Sets large enough that the later ones lie beyond the first records the reader
/// decodes, and small ones that all fit in them: 1, 2 and 3 sets read back field for field.
#[test]
fn compressed_file_with_one_two_and_three_appended_sets_reads_back() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let chain = common::chain_specs("Appended", 2, true);
    let media = MediaSpec {
        media_set_guid: common::guid("compressed-appended"),
        family_count: 1,
        family_sequence: 1,
        media_date: Some(common::CHAIN_START),
    };
    for (label, first_bytes) in [("large", 3 << 20), ("small", 8 << 10)] {
        for n in 1..=3 {
            let mut sets: Vec<SetSpec> = chain[..n].to_vec();
            sets[0].data_bytes = first_bytes;
            let path = tmp.path().join(format!("{label}_{n}.bak"));
            write_compressed_backup(&path, &media, &sets).expect("write");
            let data = std::fs::read(&path).expect("read file");
            assert!(data.starts_with(b"MSSQLBAK"), "{label} {n}: not compressed");
            let len = data.len() as u64;
            assert_eq!(
                len % 512,
                0,
                "{label} {n}: {len} bytes is not whole sectors"
            );
            let got =
                read_backup_file(&path).unwrap_or_else(|e| panic!("{label}, {n} set(s): {e}"));
            let want: Vec<BackupSet> = sets
                .iter()
                .enumerate()
                .map(|(i, s)| expected_compressed(&path, &media, s, i as u16 + 1))
                .collect();
            assert_eq!(got, want, "{label}, {n} set(s)");
            // The plain file of the same sets reads the same, but for the container flag.
            let plain = tmp.path().join(format!("{label}_{n}_plain.bak"));
            write_backup(&plain, &media, &sets).expect("write plain");
            let plain_sets = read_backup_file(&plain).expect("read plain");
            for (c, p) in got.iter().zip(&plain_sets) {
                assert_eq!(
                    BackupSet {
                        file: p.file.clone(),
                        compressed: false,
                        ..c.clone()
                    },
                    *p
                );
            }
            if label == "large" {
                assert!(
                    len < std::fs::metadata(&plain).expect("meta").len() / 4,
                    "{label} {n}: the compressed file ({len} bytes) is not much smaller than the plain one"
                );
            }
        }
    }
    // Appended sets with a sparse hole cannot be walked: refused, not written unreadable.
    let mut sparse: Vec<SetSpec> = chain[..2].to_vec();
    sparse[0].payload = Payload::Sparse;
    let refused = write_compressed_backup(&tmp.path().join("sparse.bak"), &media, &sparse)
        .expect_err("sparse appended sets must be refused");
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
}

// ---------------------------------------------------------------------------------------------------
// Block for block

/// One descriptor block: its type and the ids of its streams, in order.
type Block = (String, Vec<String>);

fn xor16(b: &[u8]) -> u16 {
    b.chunks_exact(2)
        .fold(0, |acc, w| acc ^ u16::from_le_bytes([w[0], w[1]]))
}

/// Walks every descriptor block of a plain (MTF) backup, independently of the crate's reader: checks
/// each header checksum and that the blocks tile the file exactly.
fn block_layout(data: &[u8]) -> Vec<Block> {
    let ascii = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let head = &data[pos..pos + 52];
        assert_eq!(xor16(head), 0, "block header checksum at {pos}");
        let kind = ascii(&head[0..4]);
        if kind == "SFMB" {
            out.push((kind, Vec::new()));
            pos += 512;
            continue;
        }
        let mut s = pos + u16::from_le_bytes([head[8], head[9]]) as usize;
        let mut ids = Vec::new();
        loop {
            let sh = &data[s..s + 22];
            assert_eq!(
                xor16(sh),
                0,
                "stream header checksum at {s} in {kind} at {pos}"
            );
            let mut len = [0u8; 8];
            len.copy_from_slice(&sh[8..16]);
            let id = ascii(&sh[0..4]);
            s = (s + 22 + u64::from_le_bytes(len) as usize + 3) & !3;
            let end = id == "SPAD";
            ids.push(id);
            if end {
                break;
            }
        }
        out.push((kind, ids));
        pos = s;
    }
    assert_eq!(pos, data.len(), "blocks end exactly at the end of the file");
    out
}

/// Runs of identical consecutive blocks collapsed to one, with their lengths.
fn collapse(layout: &[Block]) -> (Vec<Block>, Vec<usize>) {
    let mut blocks: Vec<Block> = Vec::new();
    let mut runs = Vec::new();
    for b in layout {
        if blocks.last() == Some(b) {
            if let Some(n) = runs.last_mut() {
                *n += 1;
            }
        } else {
            blocks.push(b.clone());
            runs.push(1);
        }
    }
    (blocks, runs)
}

/// The layout without empty MSTL blocks (just a padding stream), collapsed.
fn shape(layout: &[Block]) -> (Vec<Block>, Vec<usize>) {
    let kept: Vec<Block> = layout
        .iter()
        .filter(|(kind, ids)| !(kind == "MSTL" && ids.len() == 1 && ids[0] == "SPAD"))
        .cloned()
        .collect();
    collapse(&kept)
}

fn show(blocks: &[Block], runs: &[usize]) -> String {
    blocks
        .iter()
        .zip(runs)
        .map(|((k, ids), n)| {
            let times = if *n > 1 {
                format!(" x{n}")
            } else {
                String::new()
            };
            format!("  {k} [{}]{times}", ids.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes `spec` and compares its block layout with the real sample `sample`. The number of empty
/// MSTL blocks before MSLS differs between real files (0 to 17 in the samples, and large logs have
/// several MSTL data blocks), so runs of identical blocks are collapsed before comparing.
fn assert_same_layout(dir: &Path, sample: &str, spec: SetSpec) {
    let real = block_layout(&common::read_sample(dir, sample));
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("written.bak");
    let media = MediaSpec {
        media_set_guid: common::guid("layout"),
        family_count: 1,
        family_sequence: 1,
        media_date: spec.start,
    };
    write_backup(&path, &media, &[spec]).expect("write");
    let written = block_layout(&std::fs::read(&path).expect("read written file"));
    let (real_blocks, real_runs) = collapse(&real);
    let (written_blocks, written_runs) = collapse(&written);
    assert_eq!(
        written_blocks,
        real_blocks,
        "block layout differs from {sample} (runs collapsed)\nwritten:\n{}\nreal:\n{}",
        show(&written_blocks, &written_runs),
        show(&real_blocks, &real_runs)
    );
}

fn spec(backup_type: BackupType, checksums: bool, data_bytes: u64) -> SetSpec {
    let mut s = common::base_spec("layout", backup_type);
    s.first_lsn = Lsn::new(24, 68, 99);
    s.last_lsn = Lsn::new(24, 109, 1);
    s.checkpoint_lsn = s.first_lsn;
    s.checksums = checksums;
    s.data_bytes = data_bytes;
    s
}

#[test]
fn written_full_has_the_blocks_of_a_real_full() {
    let Some(dir) = common::samples_dir() else {
        return;
    };
    assert_same_layout(
        &dir,
        "restoretimeclean2016/RestoreTimeClean.bak",
        spec(BackupType::Full, false, 2 << 20),
    );
    assert_same_layout(
        &dir,
        "sql2008-backups/db2/FULL/SQL2008_db2_FULL_20170518_041738.bak",
        spec(BackupType::Full, true, 1 << 20),
    );
}

#[test]
fn written_diff_has_the_blocks_of_a_real_diff() {
    let Some(dir) = common::samples_dir() else {
        return;
    };
    assert_same_layout(
        &dir,
        "DoubleDiffing/difftest-diff1.bak",
        spec(BackupType::Diff, false, 256 << 10),
    );
    assert_same_layout(
        &dir,
        "sql2008-backups/db2/DIFF/SQL2008_db2_DIFF_20170518_041819.bak",
        spec(BackupType::Diff, true, 256 << 10),
    );
}

#[test]
fn written_log_has_the_blocks_of_a_real_log() {
    let Some(dir) = common::samples_dir() else {
        return;
    };
    assert_same_layout(
        &dir,
        "restoretimeclean2016/RestoreTimeClean_1.trn",
        spec(BackupType::Log, false, 64 << 10),
    );
    assert_same_layout(
        &dir,
        "sql2008-backups/Cube_Query_History/LOG/SQL2008_Cube_Query_History_LOG_20170518_041831.trn",
        spec(BackupType::Log, true, 128 << 10),
    );
    // An empty log (FirstLSN == LastLSN, no log records) has no log data block at all.
    let mut empty = spec(BackupType::Log, true, 0);
    empty.first_lsn = empty.last_lsn;
    assert_same_layout(
        &dir,
        "sql2008-backups/dbOrphanUsers/LOG/SQL2008_dbOrphanUsers_LOG_20170518_041837.trn",
        empty,
    );
}

/// The layout of every plain sample, collapsed and without its empty MSTL blocks (0 to 17 of them), is
/// one of the shapes the writer produces: a guard that the samples compared above are representative.
#[test]
fn every_plain_sample_has_a_known_shape() {
    let Some(dir) = common::samples_dir() else {
        return;
    };
    let mut shapes: Vec<Vec<Block>> = Vec::new();
    for (t, checksums, bytes) in [
        (BackupType::Full, false, 1 << 20),
        (BackupType::Full, true, 1 << 20),
        (BackupType::Diff, false, 1 << 20),
        (BackupType::Diff, true, 1 << 20),
        (BackupType::Log, false, 1 << 16),
        (BackupType::Log, true, 1 << 16),
        (BackupType::Log, false, 0),
        (BackupType::Log, true, 0),
    ] {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("shape.bak");
        let media = MediaSpec {
            media_set_guid: common::guid("shape"),
            family_count: 1,
            family_sequence: 1,
            media_date: None,
        };
        write_backup(&path, &media, &[spec(t, checksums, bytes)]).expect("write");
        shapes.push(shape(&block_layout(&std::fs::read(&path).expect("read"))).0);
    }
    let mut unknown = Vec::new();
    let mut plain = 0;
    for rel in common::manifest_files(&dir) {
        let data = common::read_sample(&dir, &rel);
        if !data.starts_with(b"TAPE") {
            continue;
        }
        plain += 1;
        let (blocks, runs) = shape(&block_layout(&data));
        if !shapes.contains(&blocks) {
            unknown.push(format!("{rel}:\n{}", show(&blocks, &runs)));
        }
    }
    assert_eq!(plain, 79, "plain (MTF) samples");
    // Known exception: the second stripe of a small striped full carries data pages but no log block
    // (all the log went to the first stripe). The writer has no per-stripe payload split.
    let before = unknown.len();
    unknown.retain(|u| !u.starts_with("sql2008-backups/RestoreTimeStripe/Stripe2/"));
    assert_eq!(before - unknown.len(), 2, "the two second-stripe fulls");
    assert!(
        unknown.is_empty(),
        "{} samples have a block layout the writer never produces:\n{}",
        unknown.len(),
        unknown.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------------
// Sparse

#[test]
fn sparse_one_gib_backup_reads_back_fast_and_uses_no_disk() {
    use std::os::unix::fs::MetadataExt;

    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("big.bak");
    let mut s = spec(BackupType::Full, true, 1 << 30);
    s.payload = Payload::Sparse;
    s.start = Some(common::CHAIN_START);
    s.finish = Some(common::CHAIN_START + time::Duration::minutes(20));
    let media = MediaSpec {
        media_set_guid: common::guid("sparse"),
        family_count: 1,
        family_sequence: 1,
        media_date: s.start,
    };
    let started = Instant::now();
    write_backup(&path, &media, std::slice::from_ref(&s)).expect("write");
    let wrote = started.elapsed();

    let meta = std::fs::metadata(&path).expect("metadata");
    assert!(meta.len() > 1 << 30, "file is {} bytes", meta.len());
    let on_disk = meta.blocks() * 512;
    assert!(
        on_disk < 16 << 20,
        "a sparse 1 GiB backup uses {on_disk} bytes of disk"
    );

    let started = Instant::now();
    let got = read_backup_file(&path).expect("read");
    let read = started.elapsed();
    assert_eq!(got, vec![expected(&path, &media, &s, 1)]);
    assert_eq!(got[0].backup_size, (1 << 30) + 8 * 1024);
    // Generous bounds for a debug build on a busy machine; both take milliseconds.
    assert!(wrote < Duration::from_secs(10), "writing took {wrote:?}");
    assert!(read < Duration::from_secs(2), "reading took {read:?}");
    eprintln!(
        "sparse 1 GiB: {} bytes long, {on_disk} on disk, written in {wrote:?}, read in {read:?}",
        meta.len()
    );
}

// ---------------------------------------------------------------------------------------------------
// The shared synthetic chain

#[test]
fn write_chain_links_up() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for checksums in [false, true] {
        let db = if checksums { "chain_ck" } else { "chain" };
        let files: Vec<PathBuf> = common::write_chain(tmp.path(), db, 4, checksums);
        assert_eq!(files.len(), 6);
        let specs = common::chain_specs(db, 4, checksums);
        let sets: Vec<BackupSet> = files
            .iter()
            .map(|f| {
                let mut s = read_backup_file(f).expect("read");
                assert_eq!(s.len(), 1, "{}", f.display());
                s.remove(0)
            })
            .collect();
        for (set, spec) in sets.iter().zip(&specs) {
            assert_eq!(set.database_name, db);
            assert_eq!(set.backup_type, spec.backup_type);
            assert_eq!(set.first_lsn, spec.first_lsn);
            assert_eq!(set.last_lsn, spec.last_lsn);
            assert_eq!(set.checkpoint_lsn, spec.checkpoint_lsn);
            assert_eq!(set.database_backup_lsn, spec.database_backup_lsn);
            assert_eq!(set.has_backup_checksums, checksums);
            assert_eq!(set.family_count, 1);
        }
        let (full, diff, logs) = (&sets[0], &sets[1], &sets[2..]);
        assert_eq!(full.backup_type, BackupType::Full);
        assert_eq!(diff.backup_type, BackupType::Diff);
        assert_eq!(diff.database_backup_lsn, full.checkpoint_lsn);
        assert_eq!(diff.differential_base_lsn, Some(full.checkpoint_lsn));
        assert!(diff.first_lsn > full.last_lsn);
        assert!(logs[0].first_lsn <= full.last_lsn && full.last_lsn < logs[0].last_lsn);
        assert!(logs[0].first_lsn <= diff.last_lsn && diff.last_lsn < logs[0].last_lsn);
        for pair in logs.windows(2) {
            assert_eq!(pair[1].first_lsn, pair[0].last_lsn);
            assert!(pair[1].last_lsn > pair[1].first_lsn);
            assert!(pair[1].backup_start_date > pair[0].backup_start_date);
        }
        // Distinct media sets, one per file.
        let mut guids: Vec<&str> = sets.iter().map(|s| s.media_set_guid.as_str()).collect();
        guids.sort_unstable();
        guids.dedup();
        assert_eq!(guids.len(), sets.len());
    }
}
