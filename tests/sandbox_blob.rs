//! The sandbox Blob service against real clients: `cutover upload` (the project's uploader on the
//! `azure_storage_blob` SDK, with a self-signed container SAS and an account SAS to create the
//! container) and Microsoft's Python SDK (`tests/tools/sandbox_python_client.py`, Shared Key from a
//! connection string, and a Read+List container SAS).
//!
//! The service runs in this process, on a free port, on its own tokio runtime in a background
//! thread. The Python part prints `SKIPPED: ...` when `azure-storage-blob` is not installed, and
//! fails on CI (`CI=true`). No assertion depends on timing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cutover::sandbox::blob::{BlobInfo, BlobService, BlobServiceConfig, DEV_ACCOUNT, DEV_KEY};
use md5::{Digest, Md5};
use serde_json::Value;

/// The environment variable the key is passed in (`--account-key-env`).
const KEY_VAR: &str = "CUTOVER_SANDBOX_TEST_KEY";
/// Longest one client run may take before the test kills it (a hang guard, not a timing check).
const RUN_GUARD: Duration = Duration::from_secs(300);

/// A Blob service serving on 127.0.0.1 until dropped.
struct Running {
    svc: Arc<BlobService>,
    endpoint: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _data: tempfile::TempDir,
}

impl Running {
    fn start() -> Running {
        let data = tempfile::tempdir().expect("tempdir");
        let svc = BlobService::new(BlobServiceConfig {
            root: data.path().join("blob"),
            account: DEV_ACCOUNT.into(),
            key: DEV_KEY.into(),
        })
        .expect("open the Blob service");
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let s = svc.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                addr_tx
                    .send(listener.local_addr().expect("local addr"))
                    .expect("send the address");
                s.serve_until(listener, async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("serve");
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the service did not start");
        Running {
            svc,
            endpoint: format!("http://{addr}/{DEV_ACCOUNT}"),
            stop: Some(stop_tx),
            thread: Some(thread),
            _data: data,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs a command to completion (killed after [`RUN_GUARD`]); returns exit code, stdout, stderr.
fn run(cmd: &mut Command) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + RUN_GUARD;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {} s", RUN_GUARD.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        out_t.join().unwrap_or_default(),
        err_t.join().unwrap_or_default(),
    )
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Backups of two databases, each in its own folder: `SalesDb` (full, diff, 3 logs) and
/// `Inventory` (full, diff, 1 log). Returns `file name -> path`.
fn write_backups(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut files = BTreeMap::new();
    for (db, logs) in [("SalesDb", 3), ("Inventory", 1)] {
        let folder = dir.join(db);
        std::fs::create_dir_all(&folder).expect("mkdir");
        for p in common::write_chain(&folder, db, logs, true) {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .expect("file name")
                .to_string();
            files.insert(name, p);
        }
    }
    files
}

/// `cutover upload --create-container --account-key-env` into the sandbox, with 64 KiB blocks so
/// the full backups take several blocks.
fn upload(endpoint: &str, container: &str, dir: &Path) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_cutover"))
        // --content-md5: the whole-file MD5 is opt-in; this test checks it is stored right.
        .args(["upload", "--json", "--content-md5"])
        .arg(dir)
        .args(["--container", &format!("{endpoint}/{container}")])
        .args(["--account-key-env", KEY_VAR, "--create-container"])
        .args(["--block-size", "64KiB", "--stable-seconds", "0"])
        .env(KEY_VAR, DEV_KEY)
        .env_remove("CUTOVER_STORAGE_SAS"))
}

/// Whether `python3` can import `azure.storage.blob`.
fn python_sdk() -> Result<(), String> {
    match Command::new("python3")
        .args(["-c", "import azure.storage.blob"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "python3 cannot import azure.storage.blob: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("python3 not found: {e}")),
    }
}

fn blobs_by_file_name(infos: &[BlobInfo]) -> BTreeMap<String, &BlobInfo> {
    infos
        .iter()
        .map(|b| {
            let file = b.name.rsplit('/').next().unwrap_or(&b.name).to_string();
            (file, b)
        })
        .collect()
}

#[test]
fn cutover_upload_and_the_python_sdk_accept_the_sandbox() {
    let sandbox = Running::start();
    let src = tempfile::tempdir().expect("tempdir");
    let files = write_backups(src.path());
    let container = "migration";

    // (b) The project's uploader: creates the container with an account SAS, uploads each file as
    // Put Block (with MD5) + Put Block List (with the file's MD5).
    let (code, stdout, stderr) = upload(&sandbox.endpoint, container, src.path());
    assert_eq!(
        code, 0,
        "cutover upload failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stderr.contains(DEV_KEY) && !stdout.contains(DEV_KEY),
        "the key was printed"
    );
    let blobs = sandbox.svc.list_blobs(container, "").expect("list");
    assert_eq!(blobs.len(), files.len(), "blobs: {blobs:?}");
    let by_file = blobs_by_file_name(&blobs);
    for (file, local) in &files {
        let blob = by_file
            .get(file)
            .unwrap_or_else(|| panic!("{file} was not uploaded: {blobs:?}"));
        assert_eq!(
            blob.name.matches('/').count(),
            1,
            "{}: not <db-folder>/<file>",
            blob.name
        );
        let want = std::fs::read(local).expect("read the backup");
        let path = sandbox
            .svc
            .blob_path(container, &blob.name)
            .expect("blob path");
        let got = std::fs::read(&path).expect("read the blob's file");
        assert_eq!(got.len(), want.len(), "{}: size", blob.name);
        assert!(
            got == want,
            "{}: the bytes on disk differ from the file",
            blob.name
        );
        assert_eq!(blob.size, want.len() as u64);
        assert_eq!(
            blob.content_md5,
            Some(Md5::digest(&want).into()),
            "{}: stored Content-MD5",
            blob.name
        );
    }
    // The full backups needed more than one 64 KiB block.
    let full = std::fs::metadata(&files["SalesDb_FULL.bak"])
        .expect("size")
        .len();
    assert!(full > 64 * 1024, "the full backup is only {full} bytes");

    // Uploading again changes nothing: same size and MD5, so every blob is skipped.
    let (code, stdout, stderr) = upload(&sandbox.endpoint, container, src.path());
    assert_eq!(
        code, 0,
        "second upload\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let again = sandbox.svc.list_blobs(container, "").expect("list");
    assert_eq!(again, blobs, "the second upload rewrote blobs");

    // (c) Microsoft's Python SDK lists and downloads what the sandbox holds, and uploads.
    if let Err(why) = python_sdk() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why}; CI must have it (pip install azure-storage-blob)");
        }
        eprintln!("SKIPPED (the Python SDK part of this test): {why}");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/sandbox_python_client.py");
    let (code, stdout, stderr) = run(Command::new("python3")
        .arg(&script)
        .args(["--endpoint", &sandbox.endpoint, "--container", container])
        .env("SANDBOX_ACCOUNT_KEY", DEV_KEY));
    assert_eq!(
        code, 0,
        "python client failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("the python client's JSON");

    let listed = report["listed"].as_object().expect("listed");
    assert_eq!(listed.len(), blobs.len(), "{listed:?}");
    for b in &blobs {
        let entry = &listed[&b.name];
        let want = std::fs::read(&files[b.name.rsplit('/').next().expect("file")]).expect("read");
        let md5 = md5_hex(&want);
        assert_eq!(entry["size"].as_u64(), Some(b.size), "{}", b.name);
        assert_eq!(
            entry["downloaded_bytes"].as_u64(),
            Some(b.size),
            "{}",
            b.name
        );
        assert_eq!(entry["md5"].as_str(), Some(md5.as_str()), "{}", b.name);
        assert_eq!(
            entry["content_md5"].as_str(),
            Some(md5.as_str()),
            "{}",
            b.name
        );
    }
    let mut folders: Vec<String> = blobs
        .iter()
        .map(|b| format!("{}/", b.name.split('/').next().expect("folder")))
        .collect();
    folders.dedup();
    let prefixes: Vec<String> = report["prefixes"]
        .as_array()
        .expect("prefixes")
        .iter()
        .map(|p| p.as_str().expect("prefix").to_string())
        .collect();
    assert_eq!(prefixes, folders);

    // What Python uploaded is on disk, byte for byte, with the MD5 it expects.
    let uploaded = report["uploaded"].as_object().expect("uploaded");
    for (name, size, min_blocks) in [
        ("python/small.bin", 1000usize, 0u64),
        ("python/multi-block.bin", 700 * 1024, 2),
    ] {
        let entry = &uploaded[name];
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let md5 = md5_hex(&data);
        assert_eq!(entry["size"].as_u64(), Some(size as u64), "{name}");
        assert_eq!(entry["md5"].as_str(), Some(md5.as_str()), "{name}");
        assert_eq!(
            entry["downloaded_md5"].as_str(),
            Some(md5.as_str()),
            "{name}"
        );
        assert!(
            entry["blocks"].as_u64().unwrap_or(0) >= min_blocks,
            "{name}: {entry}"
        );
        let path = sandbox
            .svc
            .blob_path(container, name)
            .expect("python blob on disk");
        assert!(
            std::fs::read(path).expect("read") == data,
            "{name}: bytes on disk"
        );
    }
    // Put Blob stores the MD5 it computed; the Python SDK sends none for a block list.
    assert_eq!(
        uploaded["python/small.bin"]["content_md5"].as_str(),
        Some(
            md5_hex(
                &(0..1000usize)
                    .map(|i| (i * 7 % 251) as u8)
                    .collect::<Vec<u8>>()
            )
            .as_str()
        )
    );
    assert_eq!(
        report["overwrite_refused"].as_str(),
        Some("BlobAlreadyExists")
    );
    assert_eq!(report["missing_blob_exists"].as_bool(), Some(false));
    assert_eq!(
        report["sas_list_count"].as_u64(),
        Some(blobs.len() as u64 + 2)
    );
    assert_eq!(
        report["sas_write_refused"].as_str(),
        Some("AuthorizationPermissionMismatch")
    );
}
