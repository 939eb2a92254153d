//! `cutover check`: restore plans of the real sample folders, and every finding produced from real or
//! written files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cutover::backup::writer::{MediaSpec, write_backup};
use cutover::backup::{BackupType, Lsn};
use cutover::catalog::{self, CheckReport, Code, ScanOptions, Severity};

fn check_dir(dir: &Path) -> CheckReport {
    let scan = catalog::scan_folder(dir, &ScanOptions::default()).expect("scan");
    catalog::check(&scan)
}

fn plan_files(r: &CheckReport, db: &str) -> Vec<String> {
    let d = r
        .database(db)
        .unwrap_or_else(|| panic!("database {db} missing"));
    d.plan
        .iter()
        .map(|s| s.file.rsplit('/').next().unwrap_or(&s.file).to_string())
        .collect()
}

fn all_codes(r: &CheckReport) -> Vec<Code> {
    r.findings
        .iter()
        .chain(r.databases.iter().flat_map(|d| d.findings.iter()))
        .map(|f| f.code)
        .collect()
}

/// Every plan must be a restorable sequence: a full, optionally a diff of it, logs that link.
fn assert_chain_links(r: &CheckReport) {
    for d in &r.databases {
        let mut prev: Option<(BackupType, Lsn, Lsn)> = None;
        for s in &d.plan {
            if let Some((pt, _, plast)) = prev {
                match s.backup_type {
                    BackupType::Log => assert!(
                        s.first_lsn <= plast && (plast < s.last_lsn || s.first_lsn == s.last_lsn),
                        "{}: {} does not link to the previous LastLSN {plast}",
                        d.name,
                        s.file
                    ),
                    BackupType::Diff => {
                        assert_eq!(pt, BackupType::Full, "{}: diff after {pt}", d.name)
                    }
                    BackupType::Full => panic!("{}: second full in plan", d.name),
                    _ => panic!("unexpected type"),
                }
            } else {
                assert_eq!(
                    s.backup_type,
                    BackupType::Full,
                    "{}: plan starts with a full",
                    d.name
                );
            }
            prev = Some((s.backup_type, s.first_lsn, s.last_lsn));
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn sample_folders_give_the_plan_a_dba_would_restore() {
    let Some(s) = common::samples_dir() else {
        return;
    };
    let r = check_dir(&s.join("restoretimeclean2016"));
    assert_eq!(
        plan_files(&r, "RestoreTimeClean"),
        [
            "RestoreTimeClean.bak",
            "RestoreTimeClean2.bak",
            "RestoreTimeClean2_1.trn",
            "RestoreTimeClean2_2.trn",
            "RestoreTimeClean2_3.trn"
        ]
    );
    assert!(!r.has_errors());
    assert_chain_links(&r);

    let r = check_dir(&s.join("sql2008-backups/StopAt"));
    assert_eq!(
        plan_files(&r, "StopAt"),
        [
            "StopAt.bak",
            "StopAt_1.trn",
            "StopAt_2.trn",
            "StopAt_21.trn",
            "StopAt_23.trn"
        ]
    );

    let r = check_dir(&s.join("DoubleDiffing"));
    assert_eq!(
        plan_files(&r, "doublediff"),
        ["difftest-full.bak", "difftest-diff2.bak"]
    );

    let r = check_dir(&s.join("OlaMsFilter"));
    assert_eq!(
        plan_files(&r, "OlaMsFilterTest"),
        [
            "test_FULL_20160629_141320.bak",
            "test_LOG_20160629_141330.trn"
        ]
    );

    // Striped: every step carries both stripe files.
    let r = check_dir(&s.join("sql2008-backups/RestoreTimeStripe"));
    let d = r.database("RestoreTimeStripe").expect("stripe db");
    assert_eq!(d.plan.len(), 4);
    assert!(
        d.plan
            .iter()
            .all(|p| p.stripes.len() == 2 && p.family_count == 2)
    );
    assert!(!r.has_errors());

    // Ola Hallengren layout with several databases: per database plans, db1 has no full.
    let r = check_dir(&s.join("sql2008-backups"));
    assert_chain_links(&r);
    assert_eq!(r.databases.len(), 11);
    let db1 = r.database("db1").expect("db1");
    assert!(db1.plan.is_empty());
    assert_eq!(db1.findings[0].code, Code::NoFullBackup);
    assert_eq!(plan_files(&r, "dbareports").len(), 3);
    // WITH CHECKSUM samples have no checksum finding; the others do.
    assert!(
        !r.database("dbareports")
            .expect("db")
            .findings
            .iter()
            .any(|f| f.code == Code::NoChecksum)
    );
    assert!(
        r.database("StopAt")
            .expect("db")
            .findings
            .iter()
            .any(|f| f.code == Code::NoChecksum)
    );
    // The folder name contains "backups": reported as info.
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == Code::NameRefusedByLrs && f.severity == Severity::Info)
    );

    let r = check_dir(&s.join("compressed"));
    assert_eq!(
        plan_files(&r, "SharePoint_Config"),
        ["SharePoint_Config_compressed.bak"]
    );
}

#[test]
fn removing_a_real_log_gives_a_gap_naming_both_files() {
    let Some(s) = common::samples_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    copy_dir(&s.join("restoretimeclean2016"), tmp.path());
    std::fs::remove_file(tmp.path().join("RestoreTimeClean2_2.trn")).expect("rm");
    let r = check_dir(tmp.path());
    let d = r.database("RestoreTimeClean").expect("db");
    let gap = d
        .findings
        .iter()
        .find(|f| f.code == Code::LogChainGap)
        .expect("gap finding");
    assert_eq!(gap.severity, Severity::Error);
    assert!(
        gap.message.contains("RestoreTimeClean2_1.trn"),
        "{}",
        gap.message
    );
    assert!(
        gap.message.contains("RestoreTimeClean2_3.trn"),
        "{}",
        gap.message
    );
    assert!(gap.message.contains("39000000060800001"), "{}", gap.message);
    assert!(gap.message.contains("39000000062500001"), "{}", gap.message);
    assert_eq!(
        plan_files(&r, "RestoreTimeClean")
            .last()
            .map(String::as_str),
        Some("RestoreTimeClean2_1.trn")
    );
}

#[test]
fn written_chain_plans_full_diff_and_every_log() {
    let tmp = tempfile::tempdir().expect("tmp");
    let paths = common::write_chain(tmp.path(), "Sales", 5, true);
    let r = check_dir(tmp.path());
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(plan_files(&r, "Sales"), names);
    assert!(r.database("Sales").expect("db").findings.is_empty());
}

#[test]
fn written_chain_findings() {
    // Gap: remove one log.
    let tmp = tempfile::tempdir().expect("tmp");
    let paths = common::write_chain(tmp.path(), "Sales", 4, true);
    std::fs::remove_file(&paths[3]).expect("rm");
    let r = check_dir(tmp.path());
    let gap = r
        .database("Sales")
        .expect("db")
        .findings
        .iter()
        .find(|f| f.code == Code::LogChainGap)
        .cloned()
        .expect("gap");
    assert!(
        gap.message.contains("Sales_LOG_001.trn") && gap.message.contains("Sales_LOG_003.trn"),
        "{}",
        gap.message
    );

    // No full; the diff's base is then missing too.
    let tmp = tempfile::tempdir().expect("tmp");
    let paths = common::write_chain(tmp.path(), "Sales", 2, true);
    std::fs::remove_file(&paths[0]).expect("rm");
    let r = check_dir(tmp.path());
    assert!(all_codes(&r).contains(&Code::NoFullBackup));
    assert!(r.has_errors());

    // Without checksum; several databases in one folder.
    let tmp = tempfile::tempdir().expect("tmp");
    common::write_chain(tmp.path(), "Sales", 1, false);
    common::write_chain(tmp.path(), "Orders", 1, true);
    let r = check_dir(tmp.path());
    let codes = all_codes(&r);
    assert!(codes.contains(&Code::NoChecksum));
    assert!(codes.contains(&Code::MultipleDatabasesInFolder));
    assert!(
        !r.database("Orders")
            .expect("db")
            .findings
            .iter()
            .any(|f| f.code == Code::NoChecksum)
    );
}

fn media(guid: &str, count: u16, seq: u16) -> MediaSpec {
    MediaSpec {
        media_set_guid: guid.to_string(),
        family_count: count,
        family_sequence: seq,
        media_date: None,
    }
}

#[test]
fn stripes_appended_copy_only_and_diff_base() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let specs = common::chain_specs("Stock", 2, true);
    let g = common::guid("stripes");
    // A 2-stripe full with only stripe 1 present.
    write_backup(
        &dir.join("Stock_FULL_1.bak"),
        &media(&g, 2, 1),
        &specs[0..1],
    )
    .expect("write");
    let r = check_dir(dir);
    let f = r
        .database("Stock")
        .expect("db")
        .findings
        .iter()
        .find(|f| f.code == Code::StripeMissing)
        .cloned()
        .expect("stripe");
    assert_eq!(f.severity, Severity::Error);
    // Stripe 2 arrives: the set is complete and planned with both files.
    write_backup(
        &dir.join("Stock_FULL_2.bak"),
        &media(&g, 2, 2),
        &specs[0..1],
    )
    .expect("write");
    let r = check_dir(dir);
    let d = r.database("Stock").expect("db");
    assert_eq!(d.plan[0].stripes.len(), 2);
    assert!(!d.findings.iter().any(|f| f.code == Code::StripeMissing));

    // Appended sets: two logs in one file (WITH NOINIT).
    write_backup(
        &dir.join("Stock_LOGS.trn"),
        &media(&common::guid("app"), 1, 1),
        &specs[2..4],
    )
    .expect("write");
    let r = check_dir(dir);
    let d = r.database("Stock").expect("db");
    let app = d
        .findings
        .iter()
        .find(|f| f.code == Code::AppendedBackupSets)
        .expect("appended");
    assert_eq!(app.file.as_deref(), Some("Stock_LOGS.trn"));
    assert_eq!(d.plan.len(), 3, "full + two logs from positions 1 and 2");
    assert_eq!(d.plan[2].position, 2);

    // Copy-only full and a differential whose base is not here.
    let tmp = tempfile::tempdir().expect("tmp");
    let mut specs = common::chain_specs("Stock", 0, true);
    specs[0].copy_only = true;
    specs[1].database_backup_lsn = Lsn::new(common::CHAIN_VLF, 99, 1);
    for (i, s) in specs.iter().enumerate() {
        write_backup(
            &tmp.path().join(format!("s{i}.bak")),
            &media(&common::guid(&i.to_string()), 1, 1),
            std::slice::from_ref(s),
        )
        .expect("write");
    }
    let r = check_dir(tmp.path());
    let codes = all_codes(&r);
    assert!(codes.contains(&Code::CopyOnly), "{codes:?}");
    assert!(codes.contains(&Code::DiffBaseMissing), "{codes:?}");
    // The copy-only flag is read back from the file.
    let sets = cutover::backup::read_backup_file(&tmp.path().join("s0.bak")).expect("read");
    assert!(sets[0].is_copy_only);
}

#[test]
fn files_that_are_not_backups_unreadable_or_still_being_written() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let paths = common::write_chain(dir, "Hr", 1, true);
    std::fs::write(dir.join("notes.txt"), "not a backup").expect("write");
    let full = std::fs::read(&paths[0]).expect("read");
    std::fs::write(dir.join("cut.bak"), &full[..full.len() / 2]).expect("write");
    let r = check_dir(dir);
    let nb = r
        .findings
        .iter()
        .find(|f| f.code == Code::NotABackup)
        .expect("not a backup");
    assert_eq!(nb.file.as_deref(), Some("notes.txt"));
    let un = r
        .findings
        .iter()
        .find(|f| f.code == Code::UnreadableFile)
        .expect("unreadable");
    assert_eq!(un.file.as_deref(), Some("cut.bak"));
    assert!(un.message.contains("truncated"), "{}", un.message);
    assert!(r.has_errors());

    // A file growing while the folder is scanned (settle wait catches it).
    let tmp = tempfile::tempdir().expect("tmp");
    let growing = tmp.path().join("growing.bak");
    std::fs::write(&growing, &full[..4096]).expect("write");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let growing = growing.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&growing)
                .expect("open");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(&[0u8; 512]).expect("append");
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let scan = catalog::scan_folder(
        tmp.path(),
        &ScanOptions {
            settle: Duration::from_millis(200),
            threads: 1,
        },
    )
    .expect("scan");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().expect("writer thread");
    let r = catalog::check(&scan);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == Code::FileStillBeingWritten)
        .expect("still being written");
    assert_eq!(f.file.as_deref(), Some("growing.bak"));
    assert!(
        !all_codes(&r).contains(&Code::UnreadableFile),
        "a growing file is not reported as corrupt"
    );
}

#[test]
fn names_lrs_refuses() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("SQLBackups");
    std::fs::create_dir_all(&dir).expect("mkdir");
    common::write_chain(&dir, "PayrollBackup", 1, true);
    let r = check_dir(tmp.path());
    let d = r.database("PayrollBackup").expect("db");
    assert_eq!(d.folder, "Payrollbak");
    assert!(
        d.findings
            .iter()
            .any(|f| f.code == Code::NameRefusedByLrs && f.severity == Severity::Warning)
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == Code::NameRefusedByLrs && f.message.contains("SQLBackups"))
    );
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

#[test]
fn check_command_exit_codes_json_and_80_columns() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().to_string_lossy().into_owned();
    common::write_chain(tmp.path(), "Sales", 2, true);
    let (code, out, _) = cutover(&["check", "--json", &dir]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let db = &v["databases"][0];
    assert_eq!(db["name"], "Sales");
    let step = &db["plan"][0];
    assert_eq!(step["type"], "FULL");
    assert_eq!(step["first_lsn"], "40000000010000001");
    assert!(
        step["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("Sales_FULL.bak"))
    );
    assert!(step["last_lsn"].is_string());
    assert!(v["findings"].is_array());

    let (code, out, _) = cutover(&["check", &dir]);
    assert_eq!(code, 0);
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "line over 80 columns: {line:?}");
    }
    assert!(out.contains("Sales_LOG_002.trn"));

    std::fs::remove_file(tmp.path().join("Sales_FULL.bak")).expect("rm");
    let (code, out, _) = cutover(&["check", "--json", &dir]);
    assert_eq!(code, 1, "an error finding exits 1");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["databases"][0]["findings"][0]["code"], "NO_FULL_BACKUP");
    assert_eq!(v["databases"][0]["findings"][0]["severity"], "error");

    let (code, _, err) = cutover(&["check", "/nonexistent/backups"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/backups") && err.contains("does not exist"),
        "{err}"
    );
    let file = tmp.path().join("Sales_DIFF.bak");
    let (code, _, err) = cutover(&["check", &file.to_string_lossy()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a folder"), "{err}");
}

#[test]
fn inspect_command_errors_name_the_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("junk.bak");
    std::fs::write(&bad, b"hello").expect("write");
    let (code, _, err) = cutover(&["inspect", &bad.to_string_lossy()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("junk.bak") && err.contains("not a SQL Server backup"),
        "{err}"
    );
    let paths = common::write_chain(tmp.path(), "Sales", 1, true);
    let (code, out, _) = cutover(&["inspect", "--json", &paths[1].to_string_lossy()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let set = &v[0];
    for key in [
        "File",
        "DatabaseName",
        "ServerName",
        "BackupType",
        "Position",
        "FirstLSN",
        "LastLSN",
        "CheckpointLSN",
        "DatabaseBackupLSN",
        "DifferentialBaseLSN",
        "HasBackupChecksums",
        "IsCopyOnly",
        "Compressed",
        "SoftwareVersion",
        "DatabaseVersion",
        "CompatibilityLevel",
        "BackupStartDate",
        "BackupFinishDate",
        "BackupSize",
        "Collation",
        "FamilyGUID",
        "FamilyCount",
        "FamilySequenceNumber",
    ] {
        assert!(set.get(key).is_some(), "key {key} missing");
    }
    assert_eq!(set["BackupType"], "DIFF");
    assert_eq!(set["BackupStartDate"], "2024-03-01T01:30:00");
    let (code, out, _) = cutover(&["inspect", &paths[0].to_string_lossy()]);
    assert_eq!(code, 0);
    assert!(out.lines().all(|l| l.chars().count() <= 80));
}
