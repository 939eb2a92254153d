//! Failures that must not stop a migration: a storage endpoint that answered and then went away is
//! retried until it is back (the sandbox's Blob service stopped and started again on the same port).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cutover::sandbox::blob::{BlobService, BlobServiceConfig, DEV_ACCOUNT, DEV_KEY};
use cutover::storage::auth::StorageAuth;
use cutover::storage::client::BlobStore;
use cutover::storage::container::ContainerUrl;
use cutover::storage::progress::UploadEvent;
use cutover::storage::upload::{FileResult, UploadItem, UploadOptions, Uploader};
use tokio::sync::{mpsc, oneshot};

/// The Blob service served on `addr` until the sender is used (or dropped).
async fn serve(
    svc: &Arc<BlobService>,
    addr: SocketAddr,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let s = svc.clone();
    let task = tokio::spawn(async move {
        let _ = s
            .serve_until(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

fn file(dir: &std::path::Path, name: &str, size: usize, seed: u8) -> UploadItem {
    let local = dir.join(name);
    let data: Vec<u8> = (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(&local, data).expect("write");
    UploadItem {
        local,
        blob: format!("Sales/{name}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_endpoint_that_worked_is_retried_until_it_comes_back() {
    let data = tempfile::tempdir().expect("tmp");
    let svc = BlobService::new(BlobServiceConfig {
        root: data.path().join("blob"),
        account: DEV_ACCOUNT.into(),
        key: DEV_KEY.into(),
    })
    .expect("blob service");
    svc.create_container("migration").expect("container");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let (stop, task) = serve(&svc, addr).await;

    let url = ContainerUrl::parse(&format!("http://{addr}/{DEV_ACCOUNT}/migration")).expect("url");
    let store = Arc::new(BlobStore::new(
        url,
        StorageAuth::account_key(DEV_ACCOUNT, "migration", DEV_KEY.into()),
    ));
    let (tx, mut events) = mpsc::unbounded_channel();
    let opts = UploadOptions {
        stable_for: Duration::ZERO,
        ..Default::default()
    };
    let up = Uploader::new(store.clone(), opts, tx);
    let files = tempfile::tempdir().expect("tmp");
    let first = file(files.path(), "full.bak", 300_000, 1);
    let second = file(files.path(), "log1.trn", 200_000, 2);

    let r = up.upload_file(&first).await;
    assert!(matches!(r, Ok(FileResult::Uploaded { .. })), "{r:?}");
    assert!(store.reached());

    // The service goes away; the next file's upload keeps trying.
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the service stopped")
        .expect("serve task");
    let up2 = up.clone();
    let upload = tokio::spawn(async move { up2.upload_file(&second).await });
    // The first try may reuse a pooled keep-alive connection the stopped service closed (said as
    // "connection dropped"); the tries after it find the port closed ("connection refused").
    let mut retries: Vec<String> = Vec::new();
    while retries.len() < 3
        || !retries
            .last()
            .is_some_and(|r| r.contains("connection refused"))
    {
        assert!(
            retries.len() < 6,
            "no 'connection refused' among {retries:?}"
        );
        let e = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("retry events while the service is away")
            .expect("event channel");
        if let UploadEvent::Retrying { reason, .. } = e {
            retries.push(reason);
        }
    }
    for reason in &retries {
        assert!(
            reason.contains("connection refused") || reason.contains("connection dropped"),
            "{reason}"
        );
        assert!(reason.contains(&addr.to_string()), "{reason}");
        assert!(reason.contains("keeps retrying"), "{reason}");
        assert!(!reason.contains("reqwest"), "{reason}");
    }
    assert!(
        !upload.is_finished(),
        "more than the quick first-contact tries"
    );

    // Back on the same port: the upload finishes by itself.
    let (_stop, _task) = serve(&svc, addr).await;
    let r = tokio::time::timeout(Duration::from_secs(90), upload)
        .await
        .expect("the upload finished after the service came back")
        .expect("upload task");
    assert!(matches!(r, Ok(FileResult::Uploaded { .. })), "{r:?}");
    let blobs = svc.list_blobs("migration", "Sales/").expect("list");
    let sizes: Vec<(String, u64)> = blobs.into_iter().map(|b| (b.name, b.size)).collect();
    assert_eq!(
        sizes,
        vec![
            ("Sales/full.bak".to_string(), 300_000),
            ("Sales/log1.trn".to_string(), 200_000)
        ]
    );
}

/// A local folder whose files are "held by their writer" while `held` is set: opens fail with
/// `ResourceBusy`, as an SMB share answers STATUS_SHARING_VIOLATION while SQL Server writes.
#[derive(Debug)]
struct HeldFolder {
    held: Arc<std::sync::atomic::AtomicBool>,
    refused: Arc<std::sync::atomic::AtomicU32>,
}

impl cutover::backup_folder::BackupFolder for HeldFolder {
    fn list(
        &self,
        root: &std::path::Path,
    ) -> Result<cutover::backup_folder::Listing, cutover::backup_folder::ListError> {
        cutover::backup_folder::LocalFolder.list(root)
    }
    fn stat(&self, path: &std::path::Path) -> std::io::Result<cutover::backup_folder::FileStat> {
        cutover::backup_folder::LocalFolder.stat(path)
    }
    fn open(
        &self,
        path: &std::path::Path,
    ) -> std::io::Result<Box<dyn cutover::backup_folder::BackupFile>> {
        if self.held.load(std::sync::atomic::Ordering::SeqCst) {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Err(std::io::Error::new(
                std::io::ErrorKind::ResourceBusy,
                "still being written",
            ));
        }
        cutover::backup_folder::LocalFolder.open(path)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_its_writer_holds_is_waited_for_then_uploaded_as_finished() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let data = tempfile::tempdir().expect("tmp");
    let svc = BlobService::new(BlobServiceConfig {
        root: data.path().join("blob"),
        account: DEV_ACCOUNT.into(),
        key: DEV_KEY.into(),
    })
    .expect("blob service");
    svc.create_container("migration").expect("container");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let (_stop, _task) = serve(&svc, addr).await;
    let url = ContainerUrl::parse(&format!("http://{addr}/{DEV_ACCOUNT}/migration")).expect("url");
    let store = Arc::new(BlobStore::new(
        url,
        StorageAuth::account_key(DEV_ACCOUNT, "migration", DEV_KEY.into()),
    ));
    let held = Arc::new(AtomicBool::new(true));
    let refused = Arc::new(AtomicU32::new(0));
    let folder = Arc::new(HeldFolder {
        held: held.clone(),
        refused: refused.clone(),
    });
    let (tx, mut events) = mpsc::unbounded_channel();
    let opts = UploadOptions {
        stable_for: Duration::ZERO,
        ..Default::default()
    };
    let up = Uploader::with_folder(store.clone(), opts, tx, folder);
    let files = tempfile::tempdir().expect("tmp");
    let item = file(files.path(), "log7.trn", 100_000, 3);
    let up2 = up.clone();
    let it = item.clone();
    let upload = tokio::spawn(async move { up2.upload_file(&it).await });

    // Held: the upload waits (said once), is not an error, and nothing is sent.
    let waiting = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Some(UploadEvent::Waiting { reason, .. }) => return reason,
                Some(UploadEvent::Failed { error, .. }) => panic!("failed: {error}"),
                Some(_) => {}
                None => panic!("no events"),
            }
        }
    })
    .await
    .expect("a waiting event");
    assert!(waiting.contains("still being written"), "{waiting}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !upload.is_finished(),
        "waits while the writer holds the file"
    );
    assert!(refused.load(Ordering::SeqCst) >= 2, "looked at again");
    assert!(
        svc.list_blobs("migration", "Sales/")
            .expect("list")
            .is_empty()
    );

    // The writer finishes the file (it grows) and lets go: the finished file is uploaded.
    let finished: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&item.local, &finished).expect("finish the file");
    held.store(false, Ordering::SeqCst);
    let r = tokio::time::timeout(Duration::from_secs(30), upload)
        .await
        .expect("the upload finished")
        .expect("upload task");
    assert!(
        matches!(r, Ok(FileResult::Uploaded { bytes: 300_000, .. })),
        "{r:?}"
    );
    let props = store
        .properties("Sales/log7.trn")
        .await
        .expect("properties")
        .expect("the blob");
    assert_eq!(props.size, 300_000);
    let mut crc = cutover::storage::client::Crc64::new();
    crc.update(&finished);
    assert_eq!(
        props.crc64.as_deref(),
        Some(cutover::storage::client::crc64_base64(crc.sum64()).as_str())
    );
}

/// A file server whose clock is ahead gives times in the future: the file is uploaded once it was
/// seen unchanged for `stable_for`, not when this machine's clock catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dated_in_the_future_is_uploaded_once_seen_unchanged() {
    let data = tempfile::tempdir().expect("tmp");
    let svc = BlobService::new(BlobServiceConfig {
        root: data.path().join("blob"),
        account: DEV_ACCOUNT.into(),
        key: DEV_KEY.into(),
    })
    .expect("blob service");
    svc.create_container("migration").expect("container");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let (_stop, _task) = serve(&svc, addr).await;
    let url = ContainerUrl::parse(&format!("http://{addr}/{DEV_ACCOUNT}/migration")).expect("url");
    let store = Arc::new(BlobStore::new(
        url,
        StorageAuth::account_key(DEV_ACCOUNT, "migration", DEV_KEY.into()),
    ));
    let (tx, _events) = mpsc::unbounded_channel();
    let opts = UploadOptions {
        stable_for: Duration::from_millis(600),
        ..Default::default()
    };
    let up = Uploader::new(store, opts, tx);
    let files = tempfile::tempdir().expect("tmp");
    let item = file(files.path(), "log8.trn", 50_000, 4);
    std::fs::File::options()
        .append(true)
        .open(&item.local)
        .and_then(|f| f.set_modified(std::time::SystemTime::now() + Duration::from_secs(3600)))
        .expect("date the file an hour ahead");
    let r = tokio::time::timeout(Duration::from_secs(20), up.upload_file(&item))
        .await
        .expect("uploaded without waiting for the clock");
    assert!(
        matches!(r, Ok(FileResult::Uploaded { bytes: 50_000, .. })),
        "{r:?}"
    );
}
