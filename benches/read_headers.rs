//! Header-reading throughput: writes 10,000 backup files with the project's writer (a mix of sizes up
//! to 1 GiB, large ones sparse, one in 7 compressed), then reads every header, cold-ish and warm, and prints files/s and the
//! peak memory. Run with `cargo bench --bench read_headers`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::path::Path;
use std::time::Instant;

use cutover::backup::writer::{MediaSpec, Payload, SetSpec, write_backup, write_compressed_backup};
use cutover::backup::{BackupType, Lsn};
use cutover::catalog::{self, ScanOptions};

const FILES: usize = 10_000;

fn spec(i: usize, size: u64) -> SetSpec {
    let t = match i % 10 {
        0 => BackupType::Full,
        1 => BackupType::Diff,
        _ => BackupType::Log,
    };
    let base = i as u32 * 100;
    SetSpec {
        database_name: format!("db{}", i % 100),
        server_name: "BENCH\\SQL2019".into(),
        backup_type: t,
        first_lsn: Lsn::new(40, base, 1),
        last_lsn: Lsn::new(40, base + 100, 1),
        checkpoint_lsn: Lsn::new(40, base, 1),
        database_backup_lsn: Lsn::ZERO,
        differential_base_lsn: Lsn::ZERO,
        differential_base_guid: String::new(),
        checksums: true,
        copy_only: false,
        version: (15, 0, 2000),
        database_version: 904,
        compatibility_level: 150,
        created: None,
        start: None,
        finish: None,
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        family_guid: String::new(),
        data_bytes: size,
        payload: Payload::Sparse,
        tde_thumbprint: None,
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn write_estate(dir: &Path) -> u64 {
    let mut total = 0u64;
    for i in 0..FILES {
        // Sizes: mostly small logs, some MBs, one in 500 a 1 GiB sparse full.
        let size = match i % 500 {
            0 => 1 << 30,
            n if n % 10 == 0 => (n as u64 + 1) << 20,
            n => (n as u64 % 64 + 1) * 8192,
        };
        let media = MediaSpec {
            media_set_guid: String::new(),
            family_count: 1,
            family_sequence: 1,
            media_date: None,
        };
        let path = dir.join(format!("db{}/file_{i:05}.bak", i % 100));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create bench folder");
        }
        // One file in 7 as SQL Server writes WITH COMPRESSION (XPRESS records).
        if i % 7 == 3 {
            write_compressed_backup(&path, &media, &[spec(i, size)])
        } else {
            write_backup(&path, &media, &[spec(i, size)])
        }
        .expect("write bench file");
        total += size;
    }
    total
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let logical = write_estate(dir.path());
    println!(
        "wrote {FILES} files ({} logical, sparse) in {:.1} s",
        humansize::format_size(logical, humansize::BINARY),
        t.elapsed().as_secs_f64()
    );
    let rss_before = peak_rss_kib();
    for (label, threads) in [("1 thread", 1), ("parallel", 0)] {
        for run in ["first", "warm"] {
            let t = Instant::now();
            let scan = catalog::scan_folder(
                dir.path(),
                &ScanOptions {
                    threads,
                    ..Default::default()
                },
            )
            .expect("scan");
            let secs = t.elapsed().as_secs_f64();
            let ok = scan.files.iter().filter(|f| f.sets.is_ok()).count();
            assert_eq!(ok, FILES, "every written file must read back");
            println!(
                "read headers, {label:<8} {run:<5}: {FILES} files in {:.3} s = {:.0} files/s",
                secs,
                FILES as f64 / secs
            );
        }
    }
    let t = Instant::now();
    let scan = catalog::scan_folder(dir.path(), &ScanOptions::default()).expect("scan");
    let report = catalog::check(&scan);
    println!(
        "check (scan + plan of {} databases): {:.3} s",
        report.databases.len(),
        t.elapsed().as_secs_f64()
    );
    println!(
        "peak RSS: {} KiB before scanning, {} KiB after (flat with file size: 20 files are 1 GiB)",
        rss_before,
        peak_rss_kib()
    );
}
