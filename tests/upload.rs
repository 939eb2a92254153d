//! `cutover upload` against a real Azurite (the Azure Storage emulator): the sample folders in the
//! flat per-database layout, a multi-GiB sparse file, a process killed mid-file and restarted, the
//! emulator stopped and restarted mid-upload, a fault-injecting proxy, and bad input.
//!
//! Every upload is checked by an independent reader (Microsoft's Python SDK,
//! `tests/tools/verify_blobs.py`): it lists the container and downloads each blob, and the test
//! compares names, sizes, the MD5 of the downloaded bytes and the stored Content-MD5 with the local
//! files. Needs Azurite (`.ci/azurite.sh`) and `pip install azure-storage-blob`: without them these
//! tests fail on CI (`CI=true`) and print `SKIPPED: ...` elsewhere. No assertion depends on timing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::proxy::{Fault, FaultProxy};
use support::{Azurite, assert_blobs_match, md5_hex, run, spawn, upload_args};

const MIB: u64 = 1 << 20;

/// `blob name -> (local path, md5)` for files small enough to hash here.
fn expect_small(
    pairs: impl IntoIterator<Item = (String, PathBuf)>,
) -> BTreeMap<String, (PathBuf, String)> {
    pairs
        .into_iter()
        .map(|(b, p)| {
            let m = md5_hex(&p);
            (b, (p, m))
        })
        .collect()
}

/// Blob names the plan of `dir` should produce: `<database>/<file name>` for every stripe of every
/// planned backup, from `cutover check --json` (the catalog's plan; the uploader must follow it).
fn planned_blobs(dir: &Path) -> BTreeMap<String, PathBuf> {
    let out = support::cutover()
        .args(["check", "--json"])
        .arg(dir)
        .output()
        .expect("run cutover check");
    let report: Value = serde_json::from_slice(&out.stdout).expect("check --json output");
    let mut m = BTreeMap::new();
    for db in report["databases"].as_array().expect("databases") {
        let name = db["name"].as_str().expect("name");
        for step in db["plan"].as_array().expect("plan") {
            for stripe in step["stripes"].as_array().expect("stripes") {
                let rel = stripe.as_str().expect("stripe path");
                let file = rel.rsplit('/').next().expect("file name");
                let prev = m.insert(format!("{name}/{file}"), dir.join(rel));
                assert!(prev.is_none(), "two planned files map to {name}/{file}");
            }
        }
    }
    m
}

/// Uploads a copy of a sample folder (plus two files that are not backups), checks the flat layout
/// and every blob, then uploads again: nothing is sent the second time.
fn upload_sample_folder(az: &Azurite, samples: &Path, folder: &str, anchors: &[&str]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join(folder);
    support::copy_tree(&samples.join(folder), &dir);
    std::fs::write(dir.join("README.txt"), "not a backup\n").expect("write");
    let junk = dir.join("junk.bak");
    support::write_random_file(&junk, 300 * 1024, 7);
    support::age_file(&junk, 3600);

    let planned = planned_blobs(&dir);
    assert!(
        planned.len() >= anchors.len(),
        "the plan of {folder} is too small: {planned:?}"
    );
    for a in anchors {
        assert!(
            planned.contains_key(*a),
            "{a} not in the plan of {folder}: {:?}",
            planned.keys()
        );
    }
    for name in planned.keys() {
        assert_eq!(
            name.matches('/').count(),
            1,
            "{name}: not flat <db-folder>/<file>"
        );
        assert!(!name.contains("/FULL/") && !name.contains("/LOG/") && !name.contains("/DIFF/"));
    }
    let expected = expect_small(planned.clone());

    let container = support::container_name(folder);
    let url = az.container_url(&container);
    let first = run(&upload_args(&dir, &url, &["--create-container"]));
    assert_eq!(
        first.code,
        0,
        "first upload of {folder}: {}",
        first.describe()
    );
    let mut uploaded = first.files("uploaded");
    uploaded.dedup();
    assert_eq!(
        uploaded,
        planned.keys().cloned().collect::<Vec<_>>(),
        "uploaded events of {folder}"
    );
    for e in first.events("uploaded") {
        let name = e["file"].as_str().expect("file");
        let local = &planned[name];
        assert_eq!(
            e["bytes"].as_u64(),
            Some(std::fs::metadata(local).expect("size").len()),
            "{name}: bytes in the uploaded event"
        );
        assert_eq!(
            e["resumed_bytes"].as_u64(),
            Some(0),
            "{name}: nothing to resume"
        );
    }
    assert!(first.events("failed").is_empty(), "{}", first.describe());
    let skipped = first.files("skipped");
    for not_backup in ["README.txt", "junk.bak"] {
        assert!(
            skipped.iter().any(|s| s == not_backup),
            "{not_backup} should be reported as skipped: {}",
            first.describe()
        );
    }
    let total: u64 = planned
        .values()
        .map(|p| std::fs::metadata(p).expect("size").len())
        .sum();
    assert_eq!(
        first.sum("files"),
        planned.len() as u64,
        "{}",
        first.describe()
    );
    assert_eq!(first.sum("bytes"), total);
    assert_eq!(first.sum("failed"), 0);

    // The independent reader: exactly the planned blobs, byte-identical.
    let remote = az.blobs(&container, None);
    assert!(
        !remote
            .keys()
            .any(|k| k.ends_with("README.txt") || k.ends_with("junk.bak")),
        "a file that is not a backup was uploaded: {:?}",
        remote.keys()
    );
    assert_blobs_match(&remote, &expected);

    // Second run: everything is already there.
    let second = run(&upload_args(&dir, &url, &[]));
    assert_eq!(
        second.code,
        0,
        "second upload of {folder}: {}",
        second.describe()
    );
    assert!(
        second.events("uploaded").is_empty(),
        "{}",
        second.describe()
    );
    assert!(
        second.events("uploading").is_empty(),
        "{}",
        second.describe()
    );
    let skipped = second.files("skipped");
    for name in planned.keys() {
        assert!(
            skipped.contains(name),
            "{name} should be skipped as already there: {}",
            second.describe()
        );
    }
    assert_eq!(second.sum("files"), 0);
    assert_eq!(second.sum("bytes"), 0);
    assert_eq!(second.sum("failed"), 0);
    assert_eq!(second.sum("skipped"), planned.len() as u64 + 2);
    assert_blobs_match(&az.blobs(&container, None), &expected);
    az.delete_container(&container);
}

#[test]
fn sample_folders_upload_flat_per_database_and_identical() {
    let Some(samples) = common::samples_dir() else {
        return;
    };
    let Some(az) = Azurite::shared() else {
        return;
    };
    upload_sample_folder(
        &az,
        &samples,
        "restoretimeclean2016",
        &[
            "RestoreTimeClean/RestoreTimeClean.bak",
            "RestoreTimeClean/RestoreTimeClean2.bak",
            "RestoreTimeClean/RestoreTimeClean2_1.trn",
            "RestoreTimeClean/RestoreTimeClean2_2.trn",
            "RestoreTimeClean/RestoreTimeClean2_3.trn",
        ],
    );
    upload_sample_folder(
        &az,
        &samples,
        "sql2008-backups",
        &[
            // Ola Hallengren's <db>/FULL|DIFF|LOG flattened into <db>/.
            "Cube_Query_History/SQL2008_Cube_Query_History_FULL_20170518_041737.bak",
            "Cube_Query_History/SQL2008_Cube_Query_History_DIFF_20170518_041826.bak",
            "Cube_Query_History/SQL2008_Cube_Query_History_LOG_20170518_041837.trn",
            // Both stripes of a striped set, from Stripe1/ and Stripe2/, in one folder.
            "RestoreTimeStripe/RestoreTimeStripe2.bak",
            "RestoreTimeStripe/RestoreTimeStripe2a.bak",
            // A file at the root goes to its database's folder.
            "NoExtension/Noextension.bak",
        ],
    );
}

#[test]
fn sparse_2gib_file_uploads_identical() {
    let Some(az) = Azurite::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("nested")).expect("mkdir");
    let path = tmp.path().join("nested/sparse.bin");
    let size: u64 = 2 << 30;
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&path).expect("create");
        f.set_len(size).expect("set_len");
        // Non-zero data at the start, across the 8 MiB block boundary, in the middle and at the very
        // end, so the MD5 is not that of zeros and a misplaced block shows.
        let mut rng = support::Rng::new(2);
        for (off, len) in [
            (0u64, 4096usize),
            (8 * MIB - 1000, 5000),
            (1 << 30, 123_457),
            (size - 4096, 4096),
        ] {
            let mut buf = vec![0u8; len];
            rng.fill(&mut buf);
            f.write_all_at(&buf, off).expect("write");
        }
    }
    support::age_file(&path, 3600);
    let md5 = support::python_md5(&[&path]).remove(0);

    let container = support::container_name("sparse");
    let r = run(&upload_args(
        tmp.path(),
        &az.container_url(&container),
        &["--all-files", "--create-container"],
    ));
    assert_eq!(r.code, 0, "{}", r.describe());
    let up = r.events("uploaded");
    assert_eq!(up.len(), 1, "{}", r.describe());
    assert_eq!(up[0]["file"], "nested/sparse.bin");
    assert_eq!(up[0]["bytes"].as_u64(), Some(size));
    assert_eq!(r.sum("bytes"), size);

    let mut expected = BTreeMap::new();
    expected.insert("nested/sparse.bin".to_string(), (path.clone(), md5));
    assert_blobs_match(&az.blobs(&container, None), &expected);
    az.delete_container(&container);
}

#[test]
fn killed_upload_resumes_from_staged_blocks() {
    let Some(az) = Azurite::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("big.bak");
    let size = 208 * MIB;
    support::write_random_file(&path, size, 3);
    support::age_file(&path, 3600);
    let md5 = support::python_md5(&[&path]).remove(0);
    let container = support::container_name("killed");
    let url = az.container_url(&container);
    let opts = ["--all-files", "--block-size", "4MiB"];

    // First run, slowed down, killed (SIGKILL) once some blocks were acknowledged.
    let mut a = upload_args(tmp.path(), &url, &opts);
    a.extend(["--create-container", "--max-mbps", "200"].map(String::from));
    let mut p = spawn(&a);
    let seen = p
        .wait_for_event(|e| e["event"] == "uploading" && e["done"].as_u64() >= Some(24 * MIB))
        .expect("cutover ended before 24 MiB were staged");
    let staged = seen["done"].as_u64().expect("done");
    assert!(staged < size, "killed too late to test resuming");
    let killed = p.kill();
    assert_eq!(killed.code, -1, "killed by a signal: {}", killed.describe());
    assert!(
        killed.events("uploaded").is_empty(),
        "{}",
        killed.describe()
    );
    assert!(
        az.blobs(&container, None).is_empty(),
        "nothing may be committed by the killed run"
    );

    // Second run: resumes from the uncommitted blocks.
    let r = run(&upload_args(tmp.path(), &url, &opts));
    assert_eq!(r.code, 0, "{}", r.describe());
    let up = r.events("uploaded");
    assert_eq!(up.len(), 1, "{}", r.describe());
    let resumed = up[0]["resumed_bytes"].as_u64().expect("resumed_bytes");
    assert!(
        resumed >= staged,
        "resumed {resumed} bytes, but {staged} were acknowledged before the kill"
    );
    assert!(resumed < size, "everything resumed?");
    assert_eq!(resumed % (4 * MIB), 0, "resumed whole blocks");
    // Progress of the second run starts above the resumed bytes: they were not sent again.
    let first_progress = r.events("uploading")[0]["done"].as_u64().expect("done");
    assert!(first_progress > resumed, "{}", r.describe());
    assert_eq!(r.sum("bytes"), size);

    let mut expected = BTreeMap::new();
    expected.insert("big.bak".to_string(), (path.clone(), md5));
    assert_blobs_match(&az.blobs(&container, None), &expected);
    az.delete_container(&container);
}

#[test]
fn emulator_stopped_and_restarted_mid_upload() {
    let Some(mut az) = Azurite::private() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("full.bak");
    let size = 96 * MIB;
    support::write_random_file(&path, size, 4);
    support::age_file(&path, 3600);
    let small = tmp.path().join("log.trn");
    support::write_random_file(&small, 3 * MIB + 17, 5);
    support::age_file(&small, 3600);
    let container = support::container_name("restart");
    let mut a = upload_args(
        tmp.path(),
        &az.container_url(&container),
        &["--all-files", "--block-size", "4MiB", "--max-mbps", "200"],
    );
    a.push("--create-container".into());
    let mut p = spawn(&a);
    p.wait_for_event(|e| {
        e["event"] == "uploading" && e["file"] == "full.bak" && e["done"].as_u64() >= Some(8 * MIB)
    })
    .expect("cutover ended before 8 MiB were staged");
    az.stop();
    // The client notices the outage (a block fails and is retried) while the emulator is down.
    let retry = p
        .wait_for_event(|e| e["event"] == "retrying")
        .expect("cutover ended without retrying while the emulator was down");
    assert!(retry["reason"].as_str().is_some_and(|r| !r.is_empty()));
    std::thread::sleep(Duration::from_secs(3));
    az.restart();
    let r = p.finish();
    assert_eq!(r.code, 0, "{}", r.describe());
    assert!(r.events("failed").is_empty(), "{}", r.describe());
    assert_eq!(
        r.files("uploaded"),
        vec!["full.bak", "log.trn"],
        "{}",
        r.describe()
    );
    let expected = expect_small([
        ("full.bak".to_string(), path.clone()),
        ("log.trn".to_string(), small.clone()),
    ]);
    assert_blobs_match(&az.blobs(&container, None), &expected);
}

#[test]
fn fault_injecting_proxy_upload_completes_identical() {
    let Some(az) = Azurite::shared() else {
        return;
    };
    let seed: u64 = std::env::var("CUTOVER_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_240_301);
    eprintln!("fault proxy seed {seed} (set CUTOVER_FAULT_SEED to change it)");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for i in 0..6u64 {
        let p = tmp.path().join(format!("db{}/file{i}.bak", i % 2));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        support::write_random_file(&p, 3 * MIB + i * 1111, 100 + i);
        support::age_file(&p, 3600);
        files.push((format!("db{}/file{i}.bak", i % 2), p));
    }
    let expected = expect_small(files);

    // Each fault kind twice, scheduled from the very first request (the preflight listing) on;
    // 6 files of 13 blocks make ~100 requests, more than the schedule needs (12 faults, at most
    // MAX_GAP requests apart). The first Put Block List is committed but its answer is lost.
    let per_kind = 2;
    assert!((Fault::ALL.len() * per_kind) as u64 * support::proxy::MAX_GAP < 100);
    let proxy = FaultProxy::start(az.addr(), seed, per_kind, 0).also_on_first(
        "PUT",
        "comp=blocklist",
        Fault::DropAfterForward,
    );
    let container = support::container_name("proxy");
    let via_proxy = format!(
        "http://127.0.0.1:{}/{}/{container}",
        proxy.port(),
        support::ACCOUNT
    );
    let r = run(&upload_args(
        tmp.path(),
        &via_proxy,
        &[
            "--all-files",
            "--create-container",
            "--block-size",
            "256KiB",
            "--concurrency",
            "3",
        ],
    ));
    let injected = proxy.injected();
    let log: Vec<String> = injected
        .iter()
        .map(|i| format!("#{} {:?} {}", i.request, i.fault, i.request_line))
        .collect();
    eprintln!(
        "{} requests, {} retrying events; injected:\n{}",
        proxy.requests(),
        r.events("retrying").len(),
        log.join("\n")
    );
    assert_eq!(r.code, 0, "{}\ninjected:\n{}", r.describe(), log.join("\n"));
    assert!(
        proxy.problems().is_empty(),
        "proxy problems: {:?}",
        proxy.problems()
    );
    assert_eq!(
        injected.len(),
        proxy.planned(),
        "not every planned fault was injected ({} requests): {log:?}",
        proxy.requests()
    );
    for f in Fault::ALL {
        assert!(
            injected.iter().any(|i| i.fault == f),
            "{f:?} never injected"
        );
    }
    let failing = injected.iter().filter(|i| i.fault.fails_request()).count();
    let retrying = r.events("retrying");
    assert!(
        retrying.len() >= failing,
        "{failing} requests failed but {} retrying events: {}\ninjected:\n{}",
        retrying.len(),
        r.describe(),
        log.join("\n")
    );
    assert!(r.events("failed").is_empty(), "{}", r.describe());
    assert_eq!(r.sum("files"), expected.len() as u64);
    assert_blobs_match(&az.blobs(&container, None), &expected);
    az.delete_container(&container);
}

// ---- bad input: a clear message, a non-zero exit, nothing reported as done ----

/// A folder with one small aged file, for the refusal tests.
fn one_file_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join("a.bak");
    support::write_random_file(&p, 100_000, 9);
    support::age_file(&p, 3600);
    tmp
}

/// Creates an empty container through cutover (an empty folder, --create-container).
fn create_container(az: &Azurite, container: &str) {
    let empty = tempfile::tempdir().expect("tempdir");
    let r = run(&upload_args(
        empty.path(),
        &az.container_url(container),
        &["--all-files", "--create-container"],
    ));
    assert_eq!(r.code, 0, "create the container: {}", r.describe());
    assert!(az.container_exists(container));
}

fn assert_nothing_done(r: &support::Run) {
    assert!(r.events("uploaded").is_empty(), "{}", r.describe());
    if r.summary.is_some() {
        assert_eq!(r.sum("files"), 0, "{}", r.describe());
    }
}

#[test]
fn wrong_account_key_is_refused_without_retrying() {
    let Some(az) = Azurite::shared() else {
        return;
    };
    let container = support::container_name("wrongkey");
    create_container(&az, &container);
    let dir = one_file_dir();
    // A well-formed key that is not the account's.
    let wrong =
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==";
    let out = support::cutover()
        .env(support::KEY_VAR, wrong)
        .args(upload_args(
            dir.path(),
            &az.container_url(&container),
            &["--all-files"],
        ))
        .output()
        .expect("run cutover");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{stdout}");
    let lower = stderr.to_lowercase();
    assert!(lower.contains("access denied"), "{stderr}");
    assert!(
        lower.contains("signature") || lower.contains("account key"),
        "{stderr}"
    );
    assert!(!stdout.contains("\"uploaded\""), "{stdout}");
    assert!(
        !stdout.contains("\"retrying\""),
        "auth errors are not retried: {stdout}"
    );
    assert!(!stderr.contains(wrong), "the key must not be printed");
    assert!(az.blobs(&container, None).is_empty());
    az.delete_container(&container);
}

#[test]
fn expired_sas_is_refused() {
    let Some(az) = Azurite::shared() else {
        return;
    };
    let container = support::container_name("expired");
    create_container(&az, &container);
    let dir = one_file_dir();
    let perms = "rcwl".parse().expect("permissions");
    let start = time::macros::datetime!(2020-01-01 00:00 UTC);
    let token = cutover::storage::sas::service_sas_for_container(
        support::ACCOUNT,
        support::ACCOUNT_KEY,
        &container,
        &perms,
        Some(start),
        start + time::Duration::days(1),
    )
    .expect("sign");
    let out = support::cutover()
        .args([
            "upload",
            "--json",
            "--all-files",
            dir.path().to_str().expect("utf-8"),
            "--container",
            &az.container_url(&container),
            "--sas",
            token.as_query(),
        ])
        .output()
        .expect("run cutover");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.to_lowercase().contains("expired"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"uploaded\""));
    assert!(az.blobs(&container, None).is_empty());
    az.delete_container(&container);
}

#[test]
fn sas_for_the_managed_instance_with_write_permission_is_refused() {
    let now = time::OffsetDateTime::now_utc();
    let sign = |sp: &str| {
        cutover::storage::sas::service_sas_for_container(
            support::ACCOUNT,
            support::ACCOUNT_KEY,
            "migration",
            &sp.parse().expect("permissions"),
            None,
            now + time::Duration::days(30),
        )
        .expect("sign")
        .into_query()
    };
    let check = |token: &str, json: bool| {
        let mut c = support::cutover();
        c.args(["sas", "check"]);
        if json {
            c.arg("--json");
        }
        c.arg(token).output().expect("run cutover sas check")
    };

    for sp in ["rwl", "racwdl"] {
        let token = sign(sp);
        let out = check(&token, false);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "sp={sp}: {stderr}");
        assert!(stderr.contains("Read and List only"), "sp={sp}: {stderr}");
        assert!(stderr.contains("sp=rl"), "says what to generate: {stderr}");
        assert!(
            !stderr.contains(token.rsplit("sig=").next().unwrap_or("-")),
            "signature printed"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("ok"),
            "sp={sp}"
        );

        let out = check(&token, true);
        assert_eq!(out.status.code(), Some(1));
        let v: Value = serde_json::from_slice(&out.stdout).expect("sas check --json");
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["permissions"], sp, "{v}");
        assert!(v["error"].as_str().is_some_and(|e| e.contains('w')), "{v}");
    }

    // What the Managed Instance should get passes, and `sas generate` produces exactly that.
    let out = check(&sign("rl"), false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = support::cutover()
        .args([
            "sas",
            "generate",
            "--container",
            "https://acct.blob.core.windows.net/migration",
            "--account-key-env",
            support::KEY_VAR,
        ])
        .output()
        .expect("run cutover sas generate");
    assert_eq!(
        generated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let token = String::from_utf8_lossy(&generated.stdout)
        .trim()
        .to_string();
    let out = check(&token, true);
    let v: Value = serde_json::from_slice(&out.stdout).expect("sas check --json");
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["permissions"], "rl", "{v}");

    // The upload refuses a read-only SAS (such as the Managed Instance's) before sending anything.
    let dir = one_file_dir();
    let out = support::cutover()
        .args([
            "upload",
            "--all-files",
            dir.path().to_str().expect("utf-8"),
            "--container",
            "http://127.0.0.1:9/devstoreaccount1/migration",
            "--sas",
            &sign("rl"),
        ])
        .output()
        .expect("run cutover");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("write"), "{stderr}");
}

#[test]
fn missing_container_is_not_created_without_the_flag() {
    let Some(az) = Azurite::shared() else {
        return;
    };
    let container = support::container_name("missing");
    let dir = one_file_dir();
    let r = run(&upload_args(
        dir.path(),
        &az.container_url(&container),
        &["--all-files"],
    ));
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(r.stderr.contains("does not exist"), "{}", r.describe());
    assert!(
        r.stderr.contains(&container),
        "names the container: {}",
        r.describe()
    );
    assert_nothing_done(&r);
    assert!(
        !az.container_exists(&container),
        "the container was created"
    );
}

#[test]
fn file_deleted_before_upload_fails_and_names_it() {
    let Some(az) = Azurite::shared() else {
        return;
    };
    let container = support::container_name("vanish");
    let tmp = tempfile::tempdir().expect("tempdir");
    let keep = tmp.path().join("keep.bak");
    support::write_random_file(&keep, 200_000, 10);
    support::age_file(&keep, 3600);
    // Fresh: the upload waits --stable-seconds for it, and it disappears meanwhile.
    let gone = tmp.path().join("vanishing.trn");
    support::write_random_file(&gone, 50_000, 11);
    let mut p = spawn(&upload_args(
        tmp.path(),
        &az.container_url(&container),
        &["--all-files", "--create-container", "--stable-seconds", "3"],
    ));
    p.wait_for_event(|e| e["event"] == "waiting" && e["file"] == "vanishing.trn")
        .expect("cutover did not wait for the fresh file");
    std::fs::remove_file(&gone).expect("delete");
    let r = p.finish();
    assert_eq!(r.code, 1, "{}", r.describe());
    let failed = r.events("failed");
    assert_eq!(failed.len(), 1, "{}", r.describe());
    assert_eq!(failed[0]["file"], "vanishing.trn");
    assert!(
        failed[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("vanishing.trn")),
        "the error names the file: {}",
        r.describe()
    );
    assert_eq!(r.files("uploaded"), vec!["keep.bak"]);
    assert_eq!(r.sum("failed"), 1);
    assert_eq!(r.sum("files"), 1);
    let expected = expect_small([("keep.bak".to_string(), keep.clone())]);
    assert_blobs_match(&az.blobs(&container, None), &expected);
    az.delete_container(&container);
}

#[test]
fn dir_that_is_not_a_folder_is_a_usage_error() {
    // No storage is reached: the folder is checked first (port 9 would refuse anyway).
    let tmp = one_file_dir();
    let file = tmp.path().join("a.bak");
    for (dir, says) in [
        (file.clone(), "not a folder"),
        (tmp.path().join("missing"), "cannot open"),
    ] {
        let out = support::cutover()
            .args(upload_args(
                &dir,
                "http://127.0.0.1:9/devstoreaccount1/c1",
                &[],
            ))
            .output()
            .expect("run cutover");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", dir.display());
        assert!(stderr.contains(says), "{}: {stderr}", dir.display());
        assert!(
            stderr.contains(&*dir.to_string_lossy()),
            "names the path: {stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "nothing reported: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---- an endpoint that never answered: reported in seconds, in the operator's words ----

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

/// Runs `cutover upload` of a one-file folder to `url` and returns (exit code, stderr, seconds).
fn upload_to(url: &str) -> (Option<i32>, String, f64) {
    let dir = one_file_dir();
    let started = std::time::Instant::now();
    let out = support::cutover()
        .args(upload_args(dir.path(), url, &["--all-files"]))
        .output()
        .expect("run cutover");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed().as_secs_f64(),
    )
}

#[test]
fn upload_to_a_closed_port_fails_in_seconds_naming_the_endpoint_and_the_cause() {
    let port = closed_port();
    let (code, stderr, secs) = upload_to(&format!(
        "http://127.0.0.1:{port}/devstoreaccount1/migration"
    ));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(secs < 10.0, "took {secs:.1} s: {stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("connection refused"), "{error}");
    assert!(error.contains("check the host and port"), "{error}");
    assert!(
        !error.contains("reqwest"),
        "the library's words stay out: {error}"
    );
    assert!(!error.contains("gave up"), "{error}");
    assert!(
        stderr.matches("retrying").count() <= 1,
        "one quick second try, not ten: {stderr}"
    );
}

#[test]
fn upload_to_a_name_that_does_not_resolve_says_so() {
    let (code, stderr, secs) = upload_to("https://cutover-no-such-account.invalid/acct/migration");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(secs < 30.0, "took {secs:.1} s: {stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(error.contains("host name not found"), "{error}");
    assert!(
        error.contains("cutover-no-such-account.invalid:443"),
        "{error}"
    );
    assert!(error.contains("DNS"), "{error}");
}

#[test]
fn upload_over_https_to_a_plain_http_port_says_tls_failed() {
    // A service that answers in clear text whatever it is sent.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            use std::io::Write;
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let (code, stderr, secs) = upload_to(&format!("https://127.0.0.1:{port}/acct/migration"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(secs < 10.0, "took {secs:.1} s: {stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(error.contains("TLS handshake failed"), "{error}");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("https endpoint"), "{error}");
}
