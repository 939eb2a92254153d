//! The upload engine: each file as a block blob (Put Block / Put Block List), several blocks in flight
//! per file and several files at once, under global limits on in-flight bytes and bandwidth; resumable
//! from the uncommitted block list; idempotent (same size and MD5 = skipped). The files are looked
//! at and read through a [`BackupFolder`] (a local folder unless [`Uploader::with_folder`] says).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use md5::{Digest, Md5};

use super::client::{Crc64, crc64_base64};
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::client::BlobStore;
use super::error::StorageError;
use super::progress::UploadEvent;
use super::retry::{RetryPolicy, with_retries};
use crate::backup_folder::{BackupFolder, LocalFolder};

const MIB: u64 = 1 << 20;
/// Azure's limits for a block blob.
pub const MAX_BLOCKS: u64 = 50_000;
pub const MAX_BLOCK_SIZE: u64 = 4000 * MIB;
pub const MIN_BLOCK_SIZE: u64 = 64 * 1024;
/// Default block size: large blocks keep the request rate low and throughput high.
pub const DEFAULT_BLOCK_SIZE: u64 = 8 * MIB;

/// The block size for a file: the default (or the override), raised so the file needs at most
/// 50,000 blocks.
pub fn choose_block_size(file_size: u64, requested: Option<u64>) -> Result<u64, String> {
    let needed = file_size.div_ceil(MAX_BLOCKS).div_ceil(MIB) * MIB;
    match requested {
        Some(bs) if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&bs) => Err(format!(
            "block size {bs} bytes is outside Azure's limits (64 KiB to 4000 MiB)"
        )),
        Some(bs) if file_size.div_ceil(bs) > MAX_BLOCKS => Err(format!(
            "block size {} would need {} blocks for a {} file; Azure allows 50,000: use at least {}",
            humansize::format_size(bs, humansize::BINARY),
            file_size.div_ceil(bs),
            humansize::format_size(file_size, humansize::BINARY),
            humansize::format_size(needed, humansize::BINARY)
        )),
        Some(bs) => Ok(bs),
        None => Ok(DEFAULT_BLOCK_SIZE.max(needed).min(MAX_BLOCK_SIZE)),
    }
}

/// Options of an upload run.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Files uploaded at once.
    pub concurrency: usize,
    /// Blocks in flight per file.
    pub blocks_per_file: usize,
    /// Bytes read and not yet acknowledged by the service, over all files (bounds memory).
    pub max_in_flight_bytes: u64,
    /// Block size override.
    pub block_size: Option<u64>,
    /// Bandwidth cap in megabits per second.
    pub max_mbps: Option<f64>,
    pub retry: RetryPolicy,
    /// A file must have been unchanged this long before it is uploaded.
    pub stable_for: Duration,
    /// Also compute the whole file's MD5 and store it as the blob's Content-MD5 (a second hash over
    /// every byte: off by default; the per-block CRC64 is what the service verifies).
    pub content_md5: bool,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            concurrency: 4,
            blocks_per_file: 4,
            max_in_flight_bytes: 256 * MIB,
            block_size: None,
            max_mbps: None,
            retry: RetryPolicy::default(),
            stable_for: Duration::from_secs(2),
            content_md5: false,
        }
    }
}

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadItem {
    pub local: PathBuf,
    /// Blob name inside the container (`<db-folder>/<file>`).
    pub blob: String,
}

/// What happened to a file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileResult {
    Uploaded {
        bytes: u64,
        /// Bytes found already staged from an earlier, interrupted run (not sent again).
        resumed_bytes: u64,
        seconds: f64,
    },
    /// Already in the container with the same size and MD5.
    Skipped { bytes: u64 },
}

#[derive(Debug)]
pub struct FileOutcome {
    pub item: UploadItem,
    pub result: Result<FileResult, StorageError>,
}

/// Paces sends to a byte rate (a token bucket with one block of burst).
pub struct RateLimiter {
    bytes_per_sec: f64,
    next_free: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(mbps: f64) -> Self {
        RateLimiter {
            bytes_per_sec: mbps * 1_000_000.0 / 8.0,
            next_free: Mutex::new(Instant::now()),
        }
    }

    pub async fn acquire(&self, bytes: u64) {
        let start = {
            let mut next = self.next_free.lock().await;
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec);
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }
}

/// Shared state of one upload run.
pub struct Uploader {
    store: Arc<BlobStore>,
    opts: UploadOptions,
    /// In-flight bytes, counted in KiB permits.
    in_flight: Arc<Semaphore>,
    files: Arc<Semaphore>,
    limiter: Option<Arc<RateLimiter>>,
    events: mpsc::UnboundedSender<UploadEvent>,
    buffers: Arc<BufferPool>,
    /// Where the files are read from.
    folder: Arc<dyn BackupFolder>,
}

fn kib(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// A read of the backup folder failed: held by its writer (`Busy`, waited for), the folder's
/// server away (`SourceUnavailable`, retried), or anything else (`Local`, the file fails).
fn local_err(path: &Path, what: &str, e: std::io::Error) -> StorageError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ResourceBusy => StorageError::Busy {
            path: path.display().to_string(),
        },
        K::ConnectionAborted
        | K::ConnectionRefused
        | K::ConnectionReset
        | K::NotConnected
        | K::BrokenPipe
        | K::TimedOut
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown => StorageError::SourceUnavailable {
            path: path.display().to_string(),
            detail: format!("{what}: {e}"),
        },
        _ => StorageError::Local(format!("{}: {what}: {e}", path.display())),
    }
}

/// Size and modification time, the file's identity for resuming.
fn stat(folder: &dyn BackupFolder, path: &Path) -> Result<(u64, SystemTime), StorageError> {
    let m = folder
        .stat(path)
        .map_err(|e| local_err(path, "cannot read the file's size", e))?;
    if !m.is_file {
        return Err(StorageError::Local(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    Ok((m.len, m.modified.unwrap_or(SystemTime::UNIX_EPOCH)))
}

/// A stable fingerprint of (size, mtime) for block ids, so blocks staged from an older version of a file
/// with the same name are never reused.
fn fingerprint(size: u64, mtime: SystemTime) -> u64 {
    let nanos = mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in size.to_le_bytes().into_iter().chain(nanos.to_le_bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Block ids are all the same length (Azure requires it per blob).
pub fn block_id(fp: u64, block_size: u64, index: u64) -> Vec<u8> {
    format!("co1-{fp:016x}-{block_size:010x}-{index:08}").into_bytes()
}

/// A file last written longer ago than this is not being written: taken without watching its size.
const RECENT: Duration = Duration::from_secs(300);

/// Bytes read per `pread` while filling a block: small enough that the piece is still in the CPU's
/// L2 cache when it is checksummed right after, so the CRC64 (and MD5) never wait on memory.
const READ_CHUNK: usize = 256 * 1024;

/// Block buffers kept for reuse, so each block does not fault in (and the kernel zero) 8 MiB of
/// fresh pages. Memory stays within the in-flight budget: a buffer is only allocated when no idle one
/// of that size exists (idle ones of other sizes are freed first), so every buffer that exists was
/// in use, under its in-flight permit, when it was allocated; buffers come back before their permit
/// is released. Only full blocks are pooled (a file's last, shorter block gets its own buffer).
#[derive(Default)]
struct BufferPool {
    idle: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A buffer of exactly `len` initialised bytes (contents unspecified).
    fn take(&self, len: usize, pooled: bool) -> Vec<u8> {
        if pooled {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = idle.iter().position(|b| b.len() == len) {
                return idle.swap_remove(i);
            }
            idle.clear();
        }
        // Zeroed memory of this size comes straight from fresh pages (no memset).
        vec![0u8; len]
    }

    fn give(&self, buf: Vec<u8>) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buf);
    }

    /// Takes a block's buffer back once the HTTP layer has let go of it (if it still holds a
    /// reference, the buffer is simply freed).
    fn give_bytes(&self, data: Bytes, len: usize) {
        if let Ok(m) = data.try_into_mut() {
            let v: Vec<u8> = m.into();
            if v.len() == len {
                self.give(v);
            }
        }
    }
}

/// Reads `buf.len()` bytes at `offset` (positional reads, opened read-only), handing each piece to
/// `each` while it is still in cache.
fn read_block_into(
    folder: &dyn BackupFolder,
    path: &Path,
    offset: u64,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]),
) -> Result<(), StorageError> {
    let mut f = folder
        .open(path)
        .map_err(|e| local_err(path, "cannot open", e))?;
    let chunk = f.preferred_read().clamp(READ_CHUNK, 16 * READ_CHUNK);
    let mut pos = 0;
    while pos < buf.len() {
        let end = (pos + chunk).min(buf.len());
        let n = match f.read_at(offset + pos as u64, &mut buf[pos..end]) {
            Ok(0) => {
                return Err(StorageError::Changed {
                    path: path.display().to_string(),
                    what: format!("it shrank: it now ends at byte {}", offset + pos as u64),
                });
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(local_err(path, "cannot read", e)),
        };
        each(&buf[pos..pos + n]);
        pos += n;
    }
    Ok(())
}

/// The blob-like name of a path for retry messages of a whole-file pass.
fn blob_of(path: &Path) -> String {
    path.display().to_string()
}

/// Feeds a block to the running MD5 (only with `content_md5`), off the runtime's workers.
async fn hash_md5(mut m: Md5, buf: Vec<u8>) -> Result<(Md5, Vec<u8>), StorageError> {
    tokio::task::spawn_blocking(move || {
        m.update(&buf);
        (m, buf)
    })
    .await
    .map_err(|e| StorageError::Local(format!("hash task failed: {e}")))
}

impl Uploader {
    pub fn new(
        store: Arc<BlobStore>,
        opts: UploadOptions,
        events: mpsc::UnboundedSender<UploadEvent>,
    ) -> Arc<Self> {
        Self::with_folder(store, opts, events, LocalFolder::shared())
    }

    /// An uploader that reads its files through `folder` (e.g. a share rather than a local folder).
    pub fn with_folder(
        store: Arc<BlobStore>,
        opts: UploadOptions,
        events: mpsc::UnboundedSender<UploadEvent>,
        folder: Arc<dyn BackupFolder>,
    ) -> Arc<Self> {
        let permits = kib(opts.max_in_flight_bytes).min(Semaphore::MAX_PERMITS as u32) as usize;
        Arc::new(Uploader {
            in_flight: Arc::new(Semaphore::new(permits)),
            files: Arc::new(Semaphore::new(opts.concurrency.max(1))),
            limiter: opts
                .max_mbps
                .filter(|m| *m > 0.0)
                .map(|m| Arc::new(RateLimiter::new(m))),
            store,
            opts,
            events,
            buffers: Arc::default(),
            folder,
        })
    }

    fn emit(&self, e: UploadEvent) {
        let _ = self.events.send(e);
    }

    /// Uploads every item (several at once) and returns one outcome per item, in the given order.
    pub async fn upload_all(self: &Arc<Self>, items: Vec<UploadItem>) -> Vec<FileOutcome> {
        let mut set = JoinSet::new();
        for (i, item) in items.into_iter().enumerate() {
            let me = self.clone();
            set.spawn(async move {
                let permit = me.files.clone().acquire_owned().await;
                let result = match permit {
                    Ok(_p) => me.upload_file(&item).await,
                    Err(_) => Err(StorageError::Local("upload stopped".into())),
                };
                if let Err(e) = &result {
                    me.emit(UploadEvent::Failed {
                        file: item.blob.clone(),
                        error: e.to_string(),
                    });
                }
                (i, FileOutcome { item, result })
            });
        }
        let mut out: Vec<(usize, FileOutcome)> = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(v) = r {
                out.push(v);
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, o)| o).collect()
    }

    /// Waits until the file has not changed for `stable_for` (a backup still being written).
    ///
    /// A file whose time is older than [`RECENT`] and older than `stable_for` is taken at once. A
    /// recent one must keep its size and time while it is watched for `stable_for`: a file server
    /// may hold back the time of a file open for writing (Windows and Samba update it late, on
    /// close), so a backup still growing on a share can show a time seconds old; and a server
    /// whose clock is ahead shows times in the future.
    async fn wait_stable(&self, item: &UploadItem) -> Result<(u64, SystemTime), StorageError> {
        let mut told = false;
        let mut seen: Option<(u64, SystemTime, Instant)> = None;
        loop {
            let (size, mtime) = self.stat_retrying(item).await?;
            let age = SystemTime::now()
                .duration_since(mtime)
                .unwrap_or(Duration::ZERO);
            // Seen unchanged for `stable_for` (also what a file server's clock ahead of this
            // one needs: its times look like the future), or old enough by its time.
            let watched = seen.is_some_and(|(s, m, at)| {
                (s, m) == (size, mtime) && at.elapsed() >= self.opts.stable_for
            });
            let settled = watched
                || (age >= self.opts.stable_for
                    && (age >= RECENT || self.opts.stable_for.is_zero()));
            if settled {
                return Ok((size, mtime));
            }
            if seen.is_none_or(|(s, m, _)| (s, m) != (size, mtime)) {
                if seen.is_some() && !told {
                    self.emit(UploadEvent::Waiting {
                        file: item.blob.clone(),
                        reason:
                            "the file changed in the last seconds: waiting until it is complete"
                                .into(),
                    });
                    told = true;
                }
                seen = Some((size, mtime, Instant::now()));
            }
            if age < self.opts.stable_for && !told {
                self.emit(UploadEvent::Waiting {
                    file: item.blob.clone(),
                    reason: "the file changed in the last seconds: waiting until it is complete"
                        .into(),
                });
                told = true;
            }
            tokio::time::sleep(
                self.opts
                    .stable_for
                    .saturating_sub(age)
                    .max(self.opts.stable_for / 2)
                    .max(Duration::from_millis(200)),
            )
            .await;
        }
    }

    /// Reserves `len` bytes of the in-flight budget (released when the permit drops).
    async fn reserve(&self, len: u64) -> Result<tokio::sync::OwnedSemaphorePermit, StorageError> {
        self.in_flight
            .clone()
            .acquire_many_owned(kib(len))
            .await
            .map_err(|_| StorageError::Local("upload stopped".into()))
    }

    /// Reads the whole file once for its CRC64 and, if asked, MD5 (to compare with a blob already in
    /// the container).
    async fn file_checksums(
        &self,
        path: &Path,
        size: u64,
        block: u64,
        with_md5: bool,
    ) -> Result<(u64, Option<[u8; 16]>), StorageError> {
        let mut crc = 0u64;
        let mut md5 = with_md5.then(Md5::new);
        let mut off = 0;
        while off < size {
            let len = block.min(size - off);
            let permit = self.reserve(len).await?;
            let (mut buf, bc) = self
                .read_block(path, &blob_of(path), off, len, len == block)
                .await?;
            crc = super::client::crc64_combine(crc, bc, len);
            if let Some(m) = md5.take() {
                let (m, b) = hash_md5(m, buf).await?;
                md5 = Some(m);
                buf = b;
            }
            if len == block {
                self.buffers.give(buf);
            }
            drop(permit);
            off += len;
        }
        Ok((crc, md5.map(|m| m.finalize().into())))
    }

    fn on_retry(&self, file: &str) -> impl FnMut(u32, Duration, &StorageError) + '_ {
        let file = file.to_string();
        move |attempt, delay, e| {
            tracing::warn!(file = %file, attempt, delay_ms = delay.as_millis() as u64, error = %e, "retrying");
            self.emit(UploadEvent::Retrying {
                file: file.clone(),
                attempt,
                delay_ms: delay.as_millis() as u64,
                reason: e.to_string(),
            })
        }
    }

    /// Uploads one file: skip if identical, resume staged blocks, stage the rest, commit. A file
    /// its writer holds open without sharing it (a backup being written on a share) is waited for:
    /// looked at again until the writer closes it, then uploaded as it is then.
    pub async fn upload_file(
        self: &Arc<Self>,
        item: &UploadItem,
    ) -> Result<FileResult, StorageError> {
        let mut told = false;
        loop {
            match self.upload_file_once(item).await {
                Err(StorageError::Busy { .. }) => {
                    if !told {
                        self.emit(UploadEvent::Waiting {
                            file: item.blob.clone(),
                            reason: "held open by its writer (still being written): waiting until it is closed"
                                .into(),
                        });
                        told = true;
                    }
                    tokio::time::sleep(self.opts.stable_for.max(Duration::from_millis(500))).await;
                }
                r => return r,
            }
        }
    }

    /// The file's size and time, retried while the backup folder does not answer.
    async fn stat_retrying(&self, item: &UploadItem) -> Result<(u64, SystemTime), StorageError> {
        let folder = self.folder.clone();
        let path = item.local.clone();
        with_retries(
            &self.opts.retry,
            &item.blob,
            self.on_retry(&item.blob),
            || {
                let (folder, path) = (folder.clone(), path.clone());
                async move {
                    tokio::task::spawn_blocking(move || stat(folder.as_ref(), &path))
                        .await
                        .map_err(|e| StorageError::Local(format!("stat task failed: {e}")))?
                }
            },
        )
        .await
    }

    /// Reads one block (`len` bytes at `off`) into a buffer of the pool and returns it with its
    /// CRC64; retried (the file opened again) while the backup folder does not answer, so a share
    /// whose server restarts is read on from the same block.
    async fn read_block(
        &self,
        path: &Path,
        blob: &str,
        off: u64,
        len: u64,
        pooled: bool,
    ) -> Result<(Vec<u8>, u64), StorageError> {
        with_retries(&self.opts.retry, blob, self.on_retry(blob), || {
            let (pool, folder, p) = (
                self.buffers.clone(),
                self.folder.clone(),
                path.to_path_buf(),
            );
            async move {
                tokio::task::spawn_blocking(move || -> Result<_, StorageError> {
                    let mut buf = pool.take(len as usize, pooled);
                    let mut crc = Crc64::new();
                    let read = read_block_into(folder.as_ref(), &p, off, &mut buf, |piece| {
                        crc.update(piece)
                    });
                    if let Err(e) = read {
                        if pooled {
                            pool.give(buf);
                        }
                        return Err(e);
                    }
                    Ok((buf, crc.sum64()))
                })
                .await
                .map_err(|e| StorageError::Local(format!("read task failed: {e}")))?
            }
        })
        .await
    }

    async fn upload_file_once(
        self: &Arc<Self>,
        item: &UploadItem,
    ) -> Result<FileResult, StorageError> {
        let started = Instant::now();
        let (size, mtime) = self.wait_stable(item).await?;
        let block = choose_block_size(size, self.opts.block_size)
            .map_err(|e| StorageError::Local(format!("{}: {e}", item.local.display())))?;
        self.emit(UploadEvent::Queued {
            file: item.blob.clone(),
            bytes: size,
        });
        let store = self.store.clone();
        let policy = self.opts.retry;

        // Already there with the same size and checksum (cutover's CRC64, or a Content-MD5 another
        // tool stored)?
        let props = with_retries(&policy, &item.blob, self.on_retry(&item.blob), || {
            store.properties(&item.blob)
        })
        .await?;
        if let Some(p) = props
            && p.size == size
            && (p.crc64.is_some() || p.content_md5.as_ref().is_some_and(|m| m.len() == 16))
        {
            let need_md5 = p.crc64.is_none();
            let (crc, md5) = self
                .file_checksums(&item.local, size, block, need_md5)
                .await?;
            let same = match (&p.crc64, md5) {
                (Some(remote), _) => *remote == crc64_base64(crc),
                (None, Some(m)) => p.content_md5.as_deref() == Some(&m[..]),
                (None, None) => false,
            };
            if same {
                self.emit(UploadEvent::Skipped {
                    file: item.blob.clone(),
                    reason: format!(
                        "already in the container with the same size and {}",
                        if need_md5 { "MD5" } else { "CRC64" }
                    ),
                });
                return Ok(FileResult::Skipped { bytes: size });
            }
        }

        // Blocks staged by an interrupted run of the same file version.
        let staged = with_retries(&policy, &item.blob, self.on_retry(&item.blob), || {
            store.blocks(&item.blob)
        })
        .await?;
        let fp = fingerprint(size, mtime);
        let count = size.div_ceil(block).max(1);
        let ids: Vec<Vec<u8>> = (0..count).map(|i| block_id(fp, block, i)).collect();

        // One pass over the bytes: each block's CRC64, combined into the whole file's (and the MD5
        // only if asked).
        let mut whole: (u64, Option<Md5>) = (0, self.opts.content_md5.then(Md5::new));
        let shift = Arc::new(super::client::crc64_shift_operator(block));
        let mut uploads: JoinSet<Result<u64, StorageError>> = JoinSet::new();
        let mut resumed = 0u64;
        let mut done = 0u64;
        for (i, id) in ids.iter().enumerate() {
            let off = i as u64 * block;
            let len = block.min(size - off.min(size));
            let permit = self.reserve(len).await?;
            let already = staged
                .uncommitted
                .iter()
                .any(|(sid, ssize)| sid == id && *ssize == len);
            let full = len == block;
            let (mut buf, bc) = self
                .read_block(&item.local, &item.blob, off, len, full)
                .await?;
            let crc = if full {
                super::client::crc64_combine_with(&shift, whole.0, bc)
            } else {
                super::client::crc64_combine(whole.0, bc, len)
            };
            whole.0 = crc;
            if let Some(m) = whole.1.take() {
                let (m, b) = hash_md5(m, buf).await?;
                whole.1 = Some(m);
                buf = b;
            }
            let (data, block_crc) = if already {
                // Staged by an earlier run: only its CRC64 was needed.
                if full {
                    self.buffers.give(buf);
                }
                (None, None)
            } else {
                (Some(Bytes::from(buf)), Some(bc))
            };
            let (Some(data), Some(block_crc)) = (data, block_crc) else {
                resumed += len;
                done += len;
                drop(permit);
                continue;
            };
            // Keep at most `blocks_per_file` blocks of this file in flight.
            while uploads.len() >= self.opts.blocks_per_file.max(1) {
                if let Some(r) = uploads.join_next().await {
                    done += self.finish_block(r, item, &mut uploads)?;
                    self.emit(UploadEvent::Uploading {
                        file: item.blob.clone(),
                        done,
                        total: size,
                    });
                }
            }
            let me = self.clone();
            let blob = item.blob.clone();
            let id = id.clone();
            uploads.spawn(async move {
                if let Some(l) = &me.limiter {
                    l.acquire(len).await;
                }
                let store = me.store.clone();
                with_retries(&me.opts.retry, &blob, me.on_retry(&blob), || {
                    store.put_block(&blob, &id, data.clone(), block_crc)
                })
                .await?;
                // The buffer goes back to the pool before the block's in-flight bytes are released.
                if full {
                    me.buffers.give_bytes(data, len as usize);
                }
                drop(permit);
                Ok(len)
            });
        }
        while let Some(r) = uploads.join_next().await {
            done += self.finish_block(r, item, &mut uploads)?;
            self.emit(UploadEvent::Uploading {
                file: item.blob.clone(),
                done,
                total: size,
            });
        }
        // The file must not have changed while it was read.
        let (size2, mtime2) = self.stat_retrying(item).await?;
        if (size2, mtime2) != (size, mtime) {
            return Err(StorageError::Changed {
                path: item.local.display().to_string(),
                what: if size2 == size {
                    "its modification time moved".into()
                } else {
                    format!("{size} bytes when it was read, {size2} now")
                },
            });
        }
        let crc = whole.0;
        let md5: Option<[u8; 16]> = whole.1.map(|m| m.finalize().into());
        with_retries(&policy, &item.blob, self.on_retry(&item.blob), || {
            store.put_block_list(&item.blob, &ids, crc, md5)
        })
        .await?;
        let seconds = started.elapsed().as_secs_f64();
        self.emit(UploadEvent::Uploaded {
            file: item.blob.clone(),
            bytes: size,
            seconds,
            resumed_bytes: resumed,
        });
        Ok(FileResult::Uploaded {
            bytes: size,
            resumed_bytes: resumed,
            seconds,
        })
    }

    /// Accounts a finished block; on failure stops the file's other blocks.
    fn finish_block(
        &self,
        r: Result<Result<u64, StorageError>, tokio::task::JoinError>,
        item: &UploadItem,
        uploads: &mut JoinSet<Result<u64, StorageError>>,
    ) -> Result<u64, StorageError> {
        match r {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => {
                uploads.abort_all();
                Err(e)
            }
            Err(e) => {
                uploads.abort_all();
                Err(StorageError::Local(format!(
                    "{}: upload task failed: {e}",
                    item.blob
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_respect_azure_limits() {
        assert_eq!(choose_block_size(1000, None), Ok(DEFAULT_BLOCK_SIZE));
        let huge = 1u64 << 42; // 4 TiB
        let bs = choose_block_size(huge, None).expect("size");
        assert!(huge.div_ceil(bs) <= MAX_BLOCKS);
        assert_eq!(bs % MIB, 0);
        assert!(choose_block_size(1 << 30, Some(16 * 1024)).is_err());
        assert!(
            choose_block_size(1 << 40, Some(MIB))
                .expect_err("too many blocks")
                .contains("50,000")
        );
        assert_eq!(choose_block_size(1 << 30, Some(4 * MIB)), Ok(4 * MIB));
    }

    #[test]
    fn block_ids_have_one_length() {
        let a = block_id(1, DEFAULT_BLOCK_SIZE, 0);
        let b = block_id(u64::MAX, MAX_BLOCK_SIZE, 49_999);
        assert_eq!(a.len(), b.len());
        assert_ne!(block_id(1, DEFAULT_BLOCK_SIZE, 1), a);
        assert_ne!(block_id(2, DEFAULT_BLOCK_SIZE, 0), a);
    }
}
