//! `cutover upload DIR --container URL [...]`: plans with the backup catalog and uploads each database's
//! backups into its own flat folder of the container.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::backup_folder::{BackupFolder, LocalFolder};
use crate::catalog::{self, ScanOptions};
use crate::storage::auth::{AadKind, StorageAuth, aad_credential};
use crate::storage::client::BlobStore;
use crate::storage::container::ContainerUrl;
use crate::storage::error::StorageError;
use crate::storage::layout::{self, Layout};
use crate::storage::progress::{ThroughputMeter, UploadEvent};
use crate::storage::retry::{RetryPolicy, with_retries};
use crate::storage::sas;
use crate::storage::upload::{FileResult, UploadItem, UploadOptions, Uploader};

use super::secret_arg::{SecretArg, sas_in_url_warning};

#[derive(Debug, Clone, clap::Args)]
pub struct UploadArgs {
    /// Print one JSON object per event line and a final summary object.
    #[arg(long)]
    pub json: bool,
    /// The backup folder (flat, or Ola Hallengren's <db>/FULL|DIFF|LOG), or a share:
    /// \\server\share\path or smb://server[:port]/share/path (with --smb-user).
    pub dir: PathBuf,
    #[command(flatten)]
    pub smb: super::smb_args::SmbArgs,
    /// Container URL: https://ACCOUNT.blob.core.windows.net/CONTAINER (or the emulator's
    /// http://127.0.0.1:10000/devstoreaccount1/CONTAINER).
    #[arg(long, value_name = "URL")]
    pub container: String,
    /// Name of the environment variable holding the container's SAS token (needs read, write, create
    /// and list) [default: CUTOVER_STORAGE_SAS].
    #[arg(long, value_name = "VAR")]
    pub sas_env: Option<String>,
    /// The SAS token itself: visible to every user in the process list, prefer --sas-env.
    #[arg(long, value_name = "TOKEN")]
    pub sas: Option<String>,
    /// Name of the environment variable holding the storage account key (cutover signs a
    /// short-lived SAS with it; the key itself is never sent).
    #[arg(long, value_name = "VAR")]
    pub account_key_env: Option<String>,
    /// Use Azure AD (service principal from the environment, Azure CLI, managed or workload identity).
    #[arg(long, value_name = "KIND", num_args = 0..=1, default_missing_value = "auto")]
    pub aad: Option<AadKind>,
    /// Files uploaded at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Blocks in flight per file.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub blocks_per_file: u16,
    /// Block size (e.g. 8MiB); default: 8 MiB, raised for files that would need over 50,000 blocks.
    #[arg(long, value_name = "SIZE")]
    pub block_size: Option<bytesize::ByteSize>,
    /// Most bytes read but not yet acknowledged, over all files (bounds memory).
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub max_in_flight: bytesize::ByteSize,
    /// Bandwidth cap in megabits per second.
    #[arg(long, value_name = "N")]
    pub max_mbps: Option<f64>,
    /// Upload every file as-is under its relative path (like AzCopy), without reading headers.
    #[arg(long)]
    pub all_files: bool,
    /// Also store each file's MD5 as the blob's Content-MD5 (a second hash over every byte; the
    /// per-block CRC64 the service verifies and the whole-file CRC64 in metadata are always sent).
    #[arg(long)]
    pub content_md5: bool,
    /// Create the container if it does not exist (needs an account key or Azure AD).
    #[arg(long)]
    pub create_container: bool,
    /// Keep running: upload new backups as they appear, until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// How often to look for new files with --watch (seconds; polling works on SMB shares).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub poll_seconds: f64,
    /// A file must be unchanged this long before it is uploaded (seconds).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub stable_seconds: f64,
}

/// A setup problem: exit code 2, message on stderr.
struct Usage(String);

/// The upload's SAS: `--sas-env VAR`, `--sas TOKEN` (warned about), `CUTOVER_STORAGE_SAS`.
fn sas_arg(a: &UploadArgs) -> SecretArg<'_> {
    SecretArg {
        flag: "--sas",
        value: a.sas.as_deref(),
        env_flag: "--sas-env",
        env_name: a.sas_env.as_deref(),
        default_env: "CUTOVER_STORAGE_SAS",
    }
}

fn auth_from_args(a: &UploadArgs, url: &ContainerUrl) -> Result<StorageAuth, Usage> {
    if url.sas_in_url.is_some() {
        eprintln!(
            "warning: {}",
            sas_in_url_warning("--container", "the SAS with --sas-env VAR")
        );
    }
    let given = [
        a.sas.is_some() || a.sas_env.is_some(),
        a.account_key_env.is_some(),
        a.aad.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given > 1 {
        return Err(Usage(
            "give only one of --sas-env (or --sas), --account-key-env and --aad".into(),
        ));
    }
    if let Some(var) = &a.account_key_env {
        let key = std::env::var(var).ok().filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            Usage(format!("--account-key-env {var}: the environment variable {var} is not set (export it with the storage account key)"))
        })?;
        return Ok(StorageAuth::account_key(
            &url.account,
            &url.container,
            key.trim().to_string(),
        ));
    }
    if let Some(kind) = a.aad {
        if url.is_emulator() {
            return Err(Usage(
                "--aad needs https: the storage emulator takes --sas-env or --account-key-env"
                    .into(),
            ));
        }
        return aad_credential(kind).map(StorageAuth::Aad).map_err(Usage);
    }
    let arg = sas_arg(a);
    let (token, source) = match arg.resolve().map_err(Usage)? {
        Some((token, source)) => (token, arg.label(&source)),
        None => url.sas_in_url.clone().map(|t| (t, "the SAS in --container".to_string())).ok_or_else(|| {
            Usage("no storage credential: give --sas-env VAR (the variable holding a SAS), --account-key-env VAR or --aad".into())
        })?,
    };
    let info = sas::parse_sas(&token).map_err(|e| Usage(format!("{source}: {e}")))?;
    if let Some(exp) = info.expiry
        && exp <= time::OffsetDateTime::now_utc()
    {
        return Err(Usage(format!(
            "{source}: the SAS token expired at {exp}; generate a new one"
        )));
    }
    let missing: Vec<&str> = [("r", "read"), ("w", "write"), ("l", "list")]
        .into_iter()
        .filter(|(c, _)| !info.permissions.to_string().contains(c))
        .map(|(_, n)| n)
        .collect();
    if !missing.is_empty() {
        return Err(Usage(format!(
            "{source}: the SAS lacks {} permission; uploading needs read, write, create and list (sp=rcwl). (The SAS you give the Managed Instance is another one, Read + List only: see `cutover sas`.)",
            missing.join(", ")
        )));
    }
    Ok(StorageAuth::sas(&token))
}

/// What to upload: per database the plan's files in a flat folder, or every file as-is.
fn select(
    a: &UploadArgs,
    json: bool,
    folder: &dyn BackupFolder,
) -> Result<(Vec<UploadItem>, u64), Usage> {
    if a.all_files {
        let files =
            catalog::scan::list_files_in(folder, &a.dir).map_err(|e| Usage(e.to_string()))?;
        let items = files
            .into_iter()
            .map(|p| {
                let rel = p
                    .strip_prefix(&a.dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                UploadItem {
                    local: p,
                    blob: rel,
                }
            })
            .collect();
        return Ok((items, 0));
    }
    let scan = catalog::scan::scan_folder_in(folder, &a.dir, &ScanOptions::default())
        .map_err(|e| Usage(e.to_string()))?;
    let report = catalog::check(&scan);
    let mut items = Vec::new();
    let mut skipped = 0u64;
    for f in report.findings.iter().filter(|f| f.file.is_some()) {
        skipped += 1;
        let e = UploadEvent::Skipped {
            file: f.file.clone().unwrap_or_default(),
            reason: f.message.clone(),
        };
        print_event(&e, json);
    }
    for db in &report.databases {
        let folder = layout::database_folder_name(&db.name)
            .unwrap_or_else(|_| layout::suggest_folder_name(&db.name));
        let mut lay = Layout::new(&folder);
        for f in db
            .findings
            .iter()
            .filter(|f| f.severity == catalog::Severity::Error)
        {
            eprintln!("warning: {}: {} {}", db.name, f.code, f.message);
        }
        for step in &db.plan {
            for stripe in &step.stripes {
                let local = a.dir.join(stripe);
                let blob = lay
                    .assign(&local, stripe)
                    .map_err(|e| Usage(e.to_string()))?;
                items.push(UploadItem { local, blob });
            }
        }
    }
    Ok((items, skipped))
}

fn print_event(e: &UploadEvent, json: bool) {
    if json {
        if let Ok(s) = serde_json::to_string(e) {
            println!("{s}");
        }
        return;
    }
    match e {
        UploadEvent::Skipped { file, reason } => eprintln!("skipped  {file}: {reason}"),
        UploadEvent::Waiting { file, reason } => eprintln!("waiting  {file}: {reason}"),
        UploadEvent::Retrying {
            file,
            attempt,
            delay_ms,
            reason,
        } => {
            eprintln!("retrying {file} (attempt {attempt}, in {delay_ms} ms): {reason}")
        }
        UploadEvent::Uploaded {
            file,
            bytes,
            seconds,
            resumed_bytes,
        } => {
            let resumed = if *resumed_bytes > 0 {
                format!(
                    ", {} resumed",
                    humansize::format_size(*resumed_bytes, humansize::BINARY)
                )
            } else {
                String::new()
            };
            eprintln!(
                "uploaded {file} ({} in {seconds:.1} s{resumed})",
                humansize::format_size(*bytes, humansize::BINARY)
            )
        }
        UploadEvent::Failed { file, error } => eprintln!("FAILED   {file}: {error}"),
        UploadEvent::Queued { .. } | UploadEvent::Uploading { .. } => {}
    }
}

#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    files: u64,
    bytes: u64,
    seconds: f64,
    mb_per_s: f64,
    skipped: u64,
    failed: u64,
}

pub fn run(a: &UploadArgs) -> i32 {
    let Some(rt) = super::runtime(true) else {
        return 2;
    };
    rt.block_on(run_async(a))
}

async fn run_async(a: &UploadArgs) -> i32 {
    match upload(a).await {
        Ok(code) => code,
        Err(Usage(m)) => {
            eprintln!("error: {m}");
            2
        }
    }
}

async fn upload(a: &UploadArgs) -> Result<i32, Usage> {
    if crate::backup_folder::smb_address::is_share(&a.dir.to_string_lossy()) {
        // A share: signed in to now (a wrong password or share fails before anything is sent).
        let (dir, smb) = (a.dir.clone(), a.smb.clone());
        let opened = tokio::task::spawn_blocking(move || super::smb_args::open(&dir, &smb))
            .await
            .map_err(|e| Usage(format!("the SMB client stopped: {e}")))?
            .map_err(Usage)?;
        let st = opened.folder.stat(&opened.root).map_err(|e| {
            Usage(format!(
                "{}: cannot open the backup folder: {e}",
                opened.root.display()
            ))
        })?;
        if !st.is_dir {
            return Err(Usage(format!(
                "{}: not a folder; give the folder that holds the backup files",
                opened.root.display()
            )));
        }
        let a = &UploadArgs {
            dir: opened.root.clone(),
            ..a.clone()
        };
        return upload_from(a, opened.folder).await;
    }
    if a.smb.smb_user.is_some() || a.smb.smb_password_env.is_some() {
        return Err(Usage(format!(
            "{}: --smb-user and --smb-password-env are for a share (\\\\server\\share\\folder or smb://server/share/folder), and this is a local folder",
            a.dir.display()
        )));
    }
    let dir = std::fs::canonicalize(&a.dir).map_err(|e| {
        Usage(format!(
            "{}: cannot open the backup folder: {e}",
            a.dir.display()
        ))
    })?;
    let a = &UploadArgs { dir, ..a.clone() };
    let meta = std::fs::metadata(&a.dir).map_err(|e| {
        Usage(format!(
            "{}: cannot open the backup folder: {e}",
            a.dir.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(Usage(format!(
            "{}: not a folder; give the folder that holds the backup files",
            a.dir.display()
        )));
    }
    upload_from(a, LocalFolder::shared()).await
}

/// The upload of `a.dir` (a canonical local path, or a share's `smb://` path) read through `folder`.
async fn upload_from(a: &UploadArgs, folder: Arc<dyn BackupFolder>) -> Result<i32, Usage> {
    let url = ContainerUrl::parse(&a.container).map_err(|e| Usage(e.to_string()))?;
    layout::validate_container_name(&url.container).map_err(|e| Usage(e.to_string()))?;
    let auth = auth_from_args(a, &url)?;
    for (name, v) in [
        ("--poll-seconds", a.poll_seconds),
        ("--stable-seconds", a.stable_seconds),
    ] {
        if !(0.0..=3600.0).contains(&v) {
            return Err(Usage(format!("{name} must be between 0 and 3600")));
        }
    }
    if a.max_mbps.is_some_and(|m| !m.is_finite() || m <= 0.0) {
        return Err(Usage(
            "--max-mbps must be a positive number of megabits per second".into(),
        ));
    }
    let store = Arc::new(BlobStore::new(url.clone(), auth));

    // Preflight: the container exists and the credential can list it. Transient failures (a dropped
    // connection, 5xx) are retried like every other request.
    let target = url.container.clone();
    let policy = RetryPolicy::default();
    let on_retry = |attempt, delay: Duration, e: &StorageError| {
        print_event(
            &UploadEvent::Retrying {
                file: target.clone(),
                attempt,
                delay_ms: delay.as_millis() as u64,
                reason: e.to_string(),
            },
            a.json,
        )
    };
    let listed = with_retries(&policy, &target, on_retry, || {
        store.list(Some("cutover-preflight/"))
    })
    .await;
    let refused = match listed {
        Ok(_) => None,
        Err(StorageError::ContainerNotFound { .. }) if a.create_container => {
            with_retries(&policy, &target, on_retry, || store.create_container())
                .await
                .err()
        }
        Err(e) => Some(e),
    };
    if let Some(e) = refused {
        eprintln!("error: {e}");
        if let (StorageError::Auth { .. }, Some(var)) = (&e, &a.account_key_env) {
            eprintln!(
                "hint: cutover signs its requests with the key in ${var}: check that it holds key1 or key2 of the storage account '{}' (the service did not accept the signature)",
                url.account
            );
        }
        return Ok(1);
    }

    let opts = UploadOptions {
        concurrency: a.concurrency as usize,
        blocks_per_file: a.blocks_per_file as usize,
        max_in_flight_bytes: a.max_in_flight.as_u64(),
        block_size: a.block_size.map(|b| b.as_u64()),
        max_mbps: a.max_mbps,
        stable_for: Duration::from_secs_f64(a.stable_seconds),
        content_md5: a.content_md5,
        ..Default::default()
    };
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut done: BTreeMap<String, (u64, SystemTime)> = BTreeMap::new();
    let mut first = true;
    let mut rounds = 0u32;
    loop {
        let (items, skipped) = {
            // Listing a share waits on the network: off the runtime's workers.
            let (a2, f2) = (a.clone(), folder.clone());
            tokio::task::spawn_blocking(move || select(&a2, a2.json, f2.as_ref()))
                .await
                .map_err(|e| Usage(format!("the folder scan stopped: {e}")))??
        };
        if first {
            summary.skipped += skipped;
        }
        first = false;
        let todo: Vec<UploadItem> = items
            .into_iter()
            .filter(|i| done.get(&i.blob) != identity(folder.as_ref(), &i.local).as_ref())
            .collect();
        // A file that changed while it was read (still being written) is uploaded again once
        // stable, in a one-shot run too (a few rounds: then it counts as failed).
        let mut again = false;
        if !todo.is_empty() {
            let outcomes = run_batch(&store, &opts, todo, a.json, folder.clone()).await;
            for o in outcomes {
                match &o.result {
                    Ok(FileResult::Uploaded { bytes, .. }) => {
                        summary.files += 1;
                        summary.bytes += bytes;
                    }
                    Ok(FileResult::Skipped { .. }) => summary.skipped += 1,
                    Err(StorageError::Changed { .. }) if !a.watch && rounds < CHANGED_ROUNDS => {
                        again = true;
                    }
                    Err(_) => summary.failed += 1,
                }
                if o.result.is_ok()
                    && let Some(id) = identity(folder.as_ref(), &o.item.local)
                {
                    done.insert(o.item.blob.clone(), id);
                }
            }
        }
        rounds += 1;
        if !a.watch {
            if again {
                tokio::time::sleep(opts.stable_for.max(Duration::from_millis(500))).await;
                continue;
            }
            break;
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_secs_f64(a.poll_seconds.max(0.2))) => {}
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.mb_per_s = if summary.seconds > 0.0 {
        summary.bytes as f64 / 1e6 / summary.seconds
    } else {
        0.0
    };
    if a.json {
        if let Ok(s) = serde_json::to_string(&summary) {
            println!("{s}");
        }
    } else {
        eprintln!(
            "{} file(s) uploaded, {} in {:.1} s ({:.1} MB/s); {} skipped, {} failed",
            summary.files,
            humansize::format_size(summary.bytes, humansize::BINARY),
            summary.seconds,
            summary.mb_per_s,
            summary.skipped,
            summary.failed
        );
    }
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

/// Rounds a one-shot upload gives a file that keeps changing while it is read.
const CHANGED_ROUNDS: u32 = 30;

fn identity(folder: &dyn BackupFolder, p: &Path) -> Option<(u64, SystemTime)> {
    let m = folder.stat(p).ok()?;
    Some((m.len, m.modified?))
}

async fn run_batch(
    store: &Arc<BlobStore>,
    opts: &UploadOptions,
    items: Vec<UploadItem>,
    json: bool,
    folder: Arc<dyn BackupFolder>,
) -> Vec<crate::storage::upload::FileOutcome> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let up = Uploader::with_folder(store.clone(), opts.clone(), tx, folder.clone());
    let total: u64 = items
        .iter()
        .filter_map(|i| identity(folder.as_ref(), &i.local))
        .map(|(s, _)| s)
        .sum();
    let n = items.len();
    let printer = tokio::spawn(async move {
        let tty = std::io::stderr().is_terminal() && !json;
        let mut meter = ThroughputMeter::default();
        let mut sent: BTreeMap<String, u64> = BTreeMap::new();
        let mut files_done = 0usize;
        let mut last_line = Instant::now();
        while let Some(e) = rx.recv().await {
            if let UploadEvent::Uploading { file, done, .. } = &e {
                let prev = sent.insert(file.clone(), *done).unwrap_or(0);
                meter.record(done.saturating_sub(prev), Instant::now());
            }
            if matches!(
                e,
                UploadEvent::Uploaded { .. }
                    | UploadEvent::Skipped { .. }
                    | UploadEvent::Failed { .. }
            ) {
                files_done += 1;
            }
            if tty
                && !matches!(
                    e,
                    UploadEvent::Uploading { .. } | UploadEvent::Queued { .. }
                )
            {
                eprint!("\r\x1b[K");
            }
            print_event(&e, json);
            if tty && last_line.elapsed() > Duration::from_millis(200) {
                last_line = Instant::now();
                let bytes: u64 = sent.values().sum();
                eprint!(
                    "\r\x1b[K{files_done}/{n} files  {} / {}  {}/s",
                    humansize::format_size(bytes, humansize::BINARY),
                    humansize::format_size(total, humansize::BINARY),
                    humansize::format_size(
                        meter.rate_bytes_per_sec(Instant::now()) as u64,
                        humansize::BINARY
                    )
                );
                let _ = std::io::stderr().flush();
            }
        }
        if tty {
            eprint!("\r\x1b[K");
        }
    });
    let outcomes = up.upload_all(items).await;
    drop(up);
    let _ = printer.await;
    outcomes
}
