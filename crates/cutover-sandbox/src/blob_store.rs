//! The sandbox Blob service's data on disk, and the index of it kept in memory.
//!
//! ```text
//! root/
//!   containers/<container>/container.json        created time, ETag
//!   containers/<container>/blobs/<h>.data         a committed blob's bytes (h = SHA-256 of its name)
//!   containers/<container>/blobs/<h>.json         its properties (name, size, MD5, headers, blocks)
//!   containers/<container>/staging/<h>/name       the blob name the uncommitted blocks belong to
//!   containers/<container>/staging/<h>/<hex id>.block   one uncommitted block
//!   tmp/                                           request bodies being received, commits being built
//! ```
//!
//! Nothing holds a whole blob in memory: bodies are streamed to `tmp/` and renamed into place, a
//! commit concatenates block files into a new file that replaces the blob with one `rename` (so a
//! reader that opened the old file keeps reading the old bytes). The in-memory index (names,
//! sizes, MD5s, block lists) is guarded by one mutex held only for metadata work and renames;
//! commits of one blob are serialized by a per-blob async lock so a commit being built never loses
//! its staged blocks to another commit, Put Blob or Delete Blob of the same blob. A restarted
//! service reloads everything from `root`.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::blob_xml::BlockKind;
use super::{BlobError, ErrorCode};

/// Most uncommitted blocks one blob may have (Azure: 100,000).
pub(crate) const MAX_UNCOMMITTED_BLOCKS: usize = 100_000;
/// Most blocks a committed blob may have (Azure: 50,000).
pub(crate) const MAX_COMMITTED_BLOCKS: usize = 50_000;

/// A container's properties.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ContainerProps {
    pub name: String,
    /// Creation (and last modification) time, Unix nanoseconds.
    pub created_ns: i64,
    /// ETag without quotes.
    pub etag: String,
}

/// The standard HTTP properties a blob keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct HttpProps {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    /// The stored Content-MD5 (what the client set, or what Put Blob computed).
    pub content_md5: Option<[u8; 16]>,
}

/// One block of a committed blob.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct CommittedBlock {
    /// The block id, base64 as the client sent it.
    pub id: String,
    pub size: u64,
}

/// A committed blob's properties.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct BlobMeta {
    pub name: String,
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    pub created_ns: i64,
    pub modified_ns: i64,
    pub http: HttpProps,
    /// `x-ms-meta-*` pairs, names as sent.
    pub metadata: Vec<(String, String)>,
    /// The committed block list (empty for a blob written by Put Blob).
    pub blocks: Vec<CommittedBlock>,
}

/// One uncommitted block.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StagedBlock {
    size: u64,
    /// Order of staging (Get Block List lists uncommitted blocks in this order).
    seq: u64,
}

#[derive(Debug, Default)]
struct Staging {
    blocks: HashMap<Vec<u8>, StagedBlock>,
    next_seq: u64,
}

#[derive(Debug)]
struct ContainerState {
    props: ContainerProps,
    blobs: BTreeMap<String, BlobMeta>,
    staging: HashMap<String, Staging>,
}

/// An entry of a List Blobs page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListEntry {
    Blob(Box<BlobMeta>),
    /// A `BlobPrefix` (names sharing the prefix up to and including the delimiter).
    Prefix(String),
}

/// What Get Block List shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BlockListView {
    /// The committed blob, if there is one.
    pub blob: Option<BlobMeta>,
    /// Uncommitted blocks (id, size) in staging order.
    pub uncommitted: Vec<(Vec<u8>, u64)>,
}

/// A file in `tmp/` that is removed when dropped, unless it was moved into place.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Where the bytes of one block of a commit come from.
#[derive(Debug)]
enum Source {
    Staged { path: PathBuf, size: u64 },
    Committed { offset: u64, size: u64 },
}

/// A commit resolved against the index: what to copy, in order.
#[derive(Debug)]
pub(crate) struct CommitPlan {
    sources: Vec<Source>,
    /// The committed blob's file, opened when the plan was made (for `<Committed>` blocks).
    committed_file: Option<File>,
    blocks: Vec<CommittedBlock>,
}

/// What a blob install writes.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewBlob {
    pub size: u64,
    pub http: HttpProps,
    pub metadata: Vec<(String, String)>,
    pub blocks: Vec<CommittedBlock>,
}

/// A check run under the index lock against the blob as it is (None: no committed blob), right
/// before a write: conditional headers, permission to overwrite.
pub(crate) type Precheck<'a> = &'a (dyn Fn(Option<&BlobMeta>) -> Result<(), BlobError> + Sync);

/// Held while a commit, Put Blob install or delete of one blob runs.
pub(crate) struct BlobLock {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    key: (String, String),
    locks: Arc<Mutex<LockMap>>,
}

impl Drop for BlobLock {
    fn drop(&mut self) {
        let mut map = lock(&self.locks);
        // The map and this guard's mutex are the last users: forget the entry.
        if let Some(m) = map.get(&self.key)
            && Arc::strong_count(m) <= 2
        {
            map.remove(&self.key);
        }
    }
}

/// Per-blob async locks, by (container, blob).
type LockMap = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

/// The store.
pub(crate) struct Store {
    root: PathBuf,
    index: Mutex<BTreeMap<String, ContainerState>>,
    locks: Arc<Mutex<LockMap>>,
    seq: AtomicU64,
    last_tick: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn internal(what: &str, e: io::Error) -> BlobError {
    tracing::warn!("sandbox blob store: {what}: {e}");
    BlobError::new(ErrorCode::InternalError).with("Reason", format!("{what}: {e}"))
}

fn container_not_found() -> BlobError {
    BlobError::new(ErrorCode::ContainerNotFound)
}

/// The file-name key of a blob name.
pub(crate) fn name_hash(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn now_ns() -> i64 {
    let t = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    {
        let mut f = File::create(tmp)?;
        f.write_all(bytes)?;
    }
    fs::rename(tmp, path)
}

impl Store {
    /// Opens (creating if needed) the store under `root`: clears `tmp/`, loads containers, blobs
    /// and uncommitted blocks. Inconsistent entries (a property file without its data, a size that
    /// differs) are skipped with a warning.
    pub(crate) fn open(root: &Path) -> io::Result<Store> {
        fs::create_dir_all(root.join("containers"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        let store = Store {
            root: root.to_path_buf(),
            index: Mutex::new(BTreeMap::new()),
            locks: Arc::new(Mutex::new(HashMap::new())),
            seq: AtomicU64::new(0),
            last_tick: Mutex::new(0),
        };
        let mut index = BTreeMap::new();
        for entry in fs::read_dir(root.join("containers"))? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if container_name_problem(&name).is_some() || !entry.file_type()?.is_dir() {
                tracing::warn!("sandbox blob store: skipping {}", entry.path().display());
                continue;
            }
            let state = store.load_container(&name)?;
            index.insert(name, state);
        }
        *lock(&store.index) = index;
        Ok(store)
    }

    fn load_container(&self, name: &str) -> io::Result<ContainerState> {
        let dir = self.container_dir(name);
        fs::create_dir_all(dir.join("blobs"))?;
        fs::create_dir_all(dir.join("staging"))?;
        let props = fs::read(dir.join("container.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<ContainerProps>(&b).ok())
            .filter(|p| p.name == name)
            .unwrap_or_else(|| {
                let (etag, ns) = self.stamp();
                ContainerProps {
                    name: name.to_string(),
                    created_ns: ns,
                    etag,
                }
            });
        let mut blobs = BTreeMap::new();
        for entry in fs::read_dir(dir.join("blobs"))? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let meta = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<BlobMeta>(&b).ok());
            let Some(meta) = meta else {
                tracing::warn!("sandbox blob store: unreadable {}", path.display());
                continue;
            };
            let h = name_hash(&meta.name);
            let data = dir.join("blobs").join(format!("{h}.data"));
            let stem_ok = path.file_stem().and_then(|s| s.to_str()) == Some(h.as_str());
            let size_ok = fs::metadata(&data).is_ok_and(|m| m.len() == meta.size);
            if !stem_ok || !size_ok {
                tracing::warn!(
                    "sandbox blob store: {} does not match its data, skipped",
                    path.display()
                );
                continue;
            }
            blobs.insert(meta.name.clone(), meta);
        }
        let mut staging = HashMap::new();
        for entry in fs::read_dir(dir.join("staging"))? {
            let sdir = entry?.path();
            let Ok(blob) = fs::read_to_string(sdir.join("name")) else {
                continue;
            };
            let mut found: Vec<(std::time::SystemTime, Vec<u8>, u64)> = Vec::new();
            for b in fs::read_dir(&sdir)? {
                let p = b?.path();
                if p.extension().and_then(|e| e.to_str()) != Some("block") {
                    continue;
                }
                let Some(id) = p.file_stem().and_then(|s| s.to_str()).and_then(unhex) else {
                    continue;
                };
                let md = fs::metadata(&p)?;
                found.push((md.modified().unwrap_or(std::time::UNIX_EPOCH), id, md.len()));
            }
            found.sort();
            let mut st = Staging::default();
            for (_, id, size) in found {
                let seq = st.next_seq;
                st.next_seq += 1;
                st.blocks.insert(id, StagedBlock { size, seq });
            }
            if !st.blocks.is_empty() {
                staging.insert(blob, st);
            }
        }
        Ok(ContainerState {
            props,
            blobs,
            staging,
        })
    }

    fn container_dir(&self, container: &str) -> PathBuf {
        self.root.join("containers").join(container)
    }

    fn data_path(&self, container: &str, blob: &str) -> PathBuf {
        self.container_dir(container)
            .join("blobs")
            .join(format!("{}.data", name_hash(blob)))
    }

    fn meta_path(&self, container: &str, blob: &str) -> PathBuf {
        self.container_dir(container)
            .join("blobs")
            .join(format!("{}.json", name_hash(blob)))
    }

    fn staging_dir(&self, container: &str, blob: &str) -> PathBuf {
        self.container_dir(container)
            .join("staging")
            .join(name_hash(blob))
    }

    fn block_path(&self, container: &str, blob: &str, id: &[u8]) -> PathBuf {
        self.staging_dir(container, blob)
            .join(format!("{}.block", hex(id)))
    }

    fn tmp_path(&self, what: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.root.join("tmp").join(format!("{n}.{what}"))
    }

    /// A new temporary file name in `tmp/` (the file is created by whoever writes it).
    pub(crate) fn temp_file(&self) -> TempFile {
        TempFile {
            path: self.tmp_path("part"),
            armed: true,
        }
    }

    /// A fresh ETag (unquoted, Azure's `0x8D...` form: 100 ns ticks since 0001-01-01, strictly
    /// increasing) and the time it stands for, in Unix nanoseconds.
    pub(crate) fn stamp(&self) -> (String, i64) {
        let ns = now_ns();
        let ticks = (ns.max(0) as u64) / 100 + 621_355_968_000_000_000;
        let mut last = lock(&self.last_tick);
        let t = ticks.max(*last + 1);
        *last = t;
        (format!("0x{t:X}"), ns)
    }

    /// Moves a directory out of the way (under the lock) so it can be removed later.
    fn to_trash(&self, dir: &Path) -> Option<PathBuf> {
        if !dir.exists() {
            return None;
        }
        let trash = self.tmp_path("trash");
        match fs::rename(dir, &trash) {
            Ok(()) => Some(trash),
            Err(e) => {
                tracing::warn!("sandbox blob store: cannot move {}: {e}", dir.display());
                None
            }
        }
    }

    fn empty_trash(trash: Option<PathBuf>) {
        if let Some(t) = trash
            && let Err(e) = fs::remove_dir_all(&t)
        {
            tracing::warn!("sandbox blob store: cannot remove {}: {e}", t.display());
        }
    }

    // -----------------------------------------------------------------------------------------
    // Containers

    pub(crate) fn create_container(&self, name: &str) -> Result<ContainerProps, BlobError> {
        check_container_name(name)?;
        let mut index = lock(&self.index);
        if index.contains_key(name) {
            return Err(BlobError::new(ErrorCode::ContainerAlreadyExists));
        }
        let dir = self.container_dir(name);
        let (etag, ns) = self.stamp();
        let props = ContainerProps {
            name: name.to_string(),
            created_ns: ns,
            etag,
        };
        let json = serde_json::to_vec(&props).unwrap_or_default();
        fs::create_dir_all(dir.join("blobs"))
            .and_then(|()| fs::create_dir_all(dir.join("staging")))
            .and_then(|()| {
                write_atomically(&dir.join("container.json"), &self.tmp_path("json"), &json)
            })
            .map_err(|e| internal("cannot create the container folder", e))?;
        index.insert(
            name.to_string(),
            ContainerState {
                props: props.clone(),
                blobs: BTreeMap::new(),
                staging: HashMap::new(),
            },
        );
        Ok(props)
    }

    pub(crate) fn container(&self, name: &str) -> Result<ContainerProps, BlobError> {
        lock(&self.index)
            .get(name)
            .map(|c| c.props.clone())
            .ok_or_else(container_not_found)
    }

    /// Deletes a container and everything in it.
    pub(crate) fn delete_container(&self, name: &str) -> Result<(), BlobError> {
        let trash = {
            let mut index = lock(&self.index);
            if index.remove(name).is_none() {
                return Err(container_not_found());
            }
            self.to_trash(&self.container_dir(name))
        };
        Self::empty_trash(trash);
        Ok(())
    }

    /// Containers whose names start with `prefix`, from `marker` on, at most `max`; and the
    /// marker of the next page.
    pub(crate) fn list_containers(
        &self,
        prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> (Vec<ContainerProps>, Option<String>) {
        let index = lock(&self.index);
        let start = marker.map_or(prefix, |m| m.max(prefix)).to_string();
        let mut out = Vec::new();
        for (name, c) in index.range(start..) {
            if !name.starts_with(prefix) {
                break;
            }
            if out.len() == max {
                return (out, Some(name.clone()));
            }
            out.push(c.props.clone());
        }
        (out, None)
    }

    // -----------------------------------------------------------------------------------------
    // Reading

    /// A page of List Blobs: committed blobs under `prefix` from `marker` on, names sharing a
    /// `delimiter` after the prefix rolled into one [`ListEntry::Prefix`]. Returns the entries and
    /// the marker of the next page.
    pub(crate) fn list_blobs(
        &self,
        container: &str,
        prefix: &str,
        delimiter: Option<&str>,
        marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<ListEntry>, Option<String>), BlobError> {
        let index = lock(&self.index);
        let c = index.get(container).ok_or_else(container_not_found)?;
        let start = marker.map_or(prefix, |m| m.max(prefix)).to_string();
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let mut out: Vec<ListEntry> = Vec::new();
        for (name, meta) in c.blobs.range(start..) {
            if !name.starts_with(prefix) {
                break;
            }
            let rolled = delimiter.and_then(|d| {
                name[prefix.len()..]
                    .find(d)
                    .map(|i| name[..prefix.len() + i + d.len()].to_string())
            });
            if let (Some(p), Some(ListEntry::Prefix(last))) = (&rolled, out.last())
                && p == last
            {
                continue;
            }
            let (key, entry) = match rolled {
                Some(p) => (p.clone(), ListEntry::Prefix(p)),
                None => (name.clone(), ListEntry::Blob(Box::new(meta.clone()))),
            };
            if out.len() == max {
                return Ok((out, Some(key)));
            }
            out.push(entry);
        }
        Ok((out, None))
    }

    /// The committed blob, `None` if it does not exist.
    pub(crate) fn blob(&self, container: &str, blob: &str) -> Result<Option<BlobMeta>, BlobError> {
        let index = lock(&self.index);
        let c = index.get(container).ok_or_else(container_not_found)?;
        Ok(c.blobs.get(blob).cloned())
    }

    /// The committed blob and its file, opened under the lock so both belong to one version.
    pub(crate) fn open_blob(
        &self,
        container: &str,
        blob: &str,
    ) -> Result<(BlobMeta, File), BlobError> {
        let index = lock(&self.index);
        let c = index.get(container).ok_or_else(container_not_found)?;
        let meta = c
            .blobs
            .get(blob)
            .ok_or_else(|| BlobError::new(ErrorCode::BlobNotFound))?;
        let file = File::open(self.data_path(container, blob))
            .map_err(|e| internal("cannot open the blob's file", e))?;
        Ok((meta.clone(), file))
    }

    /// The committed blob's data file.
    pub(crate) fn blob_path(&self, container: &str, blob: &str) -> Option<PathBuf> {
        let index = lock(&self.index);
        let c = index.get(container)?;
        c.blobs
            .contains_key(blob)
            .then(|| self.data_path(container, blob))
    }

    /// Committed and uncommitted blocks; BlobNotFound when there is neither a blob nor a block.
    pub(crate) fn block_list(
        &self,
        container: &str,
        blob: &str,
    ) -> Result<BlockListView, BlobError> {
        let index = lock(&self.index);
        let c = index.get(container).ok_or_else(container_not_found)?;
        let meta = c.blobs.get(blob).cloned();
        let mut uncommitted: Vec<(u64, Vec<u8>, u64)> = c
            .staging
            .get(blob)
            .map(|s| {
                s.blocks
                    .iter()
                    .map(|(id, b)| (b.seq, id.clone(), b.size))
                    .collect()
            })
            .unwrap_or_default();
        if meta.is_none() && uncommitted.is_empty() {
            return Err(BlobError::new(ErrorCode::BlobNotFound));
        }
        uncommitted.sort();
        Ok(BlockListView {
            blob: meta,
            uncommitted: uncommitted
                .into_iter()
                .map(|(_, id, size)| (id, size))
                .collect(),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Writing

    /// Takes the per-blob lock (commits, Put Blob installs, deletes of one blob run one at a time).
    pub(crate) async fn lock_blob(&self, container: &str, blob: &str) -> BlobLock {
        let key = (container.to_string(), blob.to_string());
        let m = lock(&self.locks).entry(key.clone()).or_default().clone();
        let guard = m.lock_owned().await;
        BlobLock {
            _guard: guard,
            key,
            locks: self.locks.clone(),
        }
    }

    /// Checks, before a Put Block body is received, that the container exists and that the id
    /// has the length of the blob's other uncommitted block ids.
    pub(crate) fn check_block(
        &self,
        container: &str,
        blob: &str,
        id: &[u8],
    ) -> Result<(), BlobError> {
        let index = lock(&self.index);
        let c = index.get(container).ok_or_else(container_not_found)?;
        check_block_in(c, blob, id)
    }

    /// Stores a received block (moves `temp` into the blob's staging folder), replacing an
    /// uncommitted block with the same id.
    pub(crate) fn stage_block(
        &self,
        container: &str,
        blob: &str,
        id: &[u8],
        mut temp: TempFile,
        size: u64,
    ) -> Result<(), BlobError> {
        let mut index = lock(&self.index);
        let c = index.get_mut(container).ok_or_else(container_not_found)?;
        check_block_in(c, blob, id)?;
        let dir = self.staging_dir(container, blob);
        if !c.staging.contains_key(blob) || !dir.exists() {
            fs::create_dir_all(&dir)
                .and_then(|()| fs::write(dir.join("name"), blob.as_bytes()))
                .map_err(|e| internal("cannot create the staging folder", e))?;
        }
        fs::rename(temp.path(), self.block_path(container, blob, id))
            .map_err(|e| internal("cannot store the block", e))?;
        temp.disarm();
        let st = c.staging.entry(blob.to_string()).or_default();
        let seq = st.next_seq;
        st.next_seq += 1;
        st.blocks.insert(id.to_vec(), StagedBlock { size, seq });
        Ok(())
    }

    /// Resolves a Put Block List against the blob's blocks (call with the per-blob lock held).
    /// `precheck` sees the committed blob as it is.
    pub(crate) fn plan_commit(
        &self,
        container: &str,
        blob: &str,
        list: &[(BlockKind, Vec<u8>)],
        precheck: Precheck<'_>,
    ) -> Result<CommitPlan, BlobError> {
        let index = lock(&self.index);
        let c = index.get(container).ok_or_else(container_not_found)?;
        let current = c.blobs.get(blob);
        precheck(current)?;
        let mut committed: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
        if let Some(meta) = current {
            let mut offset = 0u64;
            for b in &meta.blocks {
                if let Ok(id) = BASE64.decode(&b.id) {
                    committed.entry(id).or_insert((offset, b.size));
                }
                offset += b.size;
            }
        }
        let staged = c.staging.get(blob);
        let mut sources = Vec::with_capacity(list.len());
        let mut blocks = Vec::with_capacity(list.len());
        let mut uses_committed = false;
        for (kind, id) in list {
            let from_staged = || {
                staged
                    .and_then(|s| s.blocks.get(id))
                    .map(|b| Source::Staged {
                        path: self.block_path(container, blob, id),
                        size: b.size,
                    })
            };
            let from_committed = || {
                committed
                    .get(id)
                    .map(|&(offset, size)| Source::Committed { offset, size })
            };
            let source = match kind {
                BlockKind::Uncommitted => from_staged(),
                BlockKind::Committed => from_committed(),
                BlockKind::Latest => from_staged().or_else(from_committed),
            };
            let Some(source) = source else {
                let list_name = match kind {
                    BlockKind::Uncommitted => "uncommitted",
                    BlockKind::Committed => "committed",
                    BlockKind::Latest => "uncommitted or committed",
                };
                return Err(BlobError::new(ErrorCode::InvalidBlockList).with(
                    "Reason",
                    format!(
                        "the block {} is not among the blob's {list_name} blocks",
                        BASE64.encode(id)
                    ),
                ));
            };
            let size = match &source {
                Source::Staged { size, .. } => *size,
                Source::Committed { size, .. } => {
                    uses_committed = true;
                    *size
                }
            };
            blocks.push(CommittedBlock {
                id: BASE64.encode(id),
                size,
            });
            sources.push(source);
        }
        let committed_file = if uses_committed {
            Some(
                File::open(self.data_path(container, blob))
                    .map_err(|e| internal("cannot open the committed blob", e))?,
            )
        } else {
            None
        };
        Ok(CommitPlan {
            sources,
            committed_file,
            blocks,
        })
    }

    /// Concatenates a plan's blocks into a new temporary file (blocking; no index lock held).
    /// Returns the file, its size and the committed block list.
    pub(crate) fn build_commit(
        &self,
        mut plan: CommitPlan,
    ) -> Result<(TempFile, u64, Vec<CommittedBlock>), BlobError> {
        let temp = self.temp_file();
        let mut out = io::BufWriter::with_capacity(
            1 << 20,
            File::create(temp.path()).map_err(|e| internal("cannot create a temporary file", e))?,
        );
        let mut total = 0u64;
        for source in &plan.sources {
            let copied = match source {
                Source::Staged { path, size } => {
                    let f = File::open(path).map_err(|_| vanished())?;
                    let n = io::copy(&mut f.take(*size + 1), &mut out)
                        .map_err(|e| internal("cannot copy a block", e))?;
                    (n, *size)
                }
                Source::Committed { offset, size } => {
                    let Some(f) = plan.committed_file.as_mut() else {
                        return Err(vanished());
                    };
                    f.seek(SeekFrom::Start(*offset))
                        .map_err(|e| internal("cannot read the committed blob", e))?;
                    let n = io::copy(&mut Read::by_ref(f).take(*size), &mut out)
                        .map_err(|e| internal("cannot copy a committed block", e))?;
                    (n, *size)
                }
            };
            if copied.0 != copied.1 {
                return Err(vanished());
            }
            total += copied.1;
        }
        out.flush()
            .map_err(|e| internal("cannot write the committed blob", e))?;
        drop(out);
        Ok((temp, total, plan.blocks))
    }

    /// Installs `temp` as the committed blob (call with the per-blob lock held): runs `precheck`
    /// against the blob as it is, renames the file into place, writes the properties, and
    /// discards the blob's uncommitted blocks.
    pub(crate) fn install(
        &self,
        container: &str,
        blob: &str,
        mut temp: TempFile,
        new: NewBlob,
        precheck: Precheck<'_>,
    ) -> Result<BlobMeta, BlobError> {
        let (meta, trash) = {
            let mut index = lock(&self.index);
            let c = index.get_mut(container).ok_or_else(container_not_found)?;
            let current = c.blobs.get(blob);
            precheck(current)?;
            let (etag, ns) = self.stamp();
            let meta = BlobMeta {
                name: blob.to_string(),
                size: new.size,
                etag,
                created_ns: current.map_or(ns, |m| m.created_ns),
                modified_ns: ns,
                http: new.http,
                metadata: new.metadata,
                blocks: new.blocks,
            };
            let json = serde_json::to_vec(&meta).unwrap_or_default();
            fs::rename(temp.path(), self.data_path(container, blob))
                .map_err(|e| internal("cannot move the blob into place", e))?;
            temp.disarm();
            write_atomically(
                &self.meta_path(container, blob),
                &self.tmp_path("json"),
                &json,
            )
            .map_err(|e| internal("cannot write the blob's properties", e))?;
            c.blobs.insert(blob.to_string(), meta.clone());
            let trash = c
                .staging
                .remove(blob)
                .and_then(|_| self.to_trash(&self.staging_dir(container, blob)));
            (meta, trash)
        };
        Self::empty_trash(trash);
        Ok(meta)
    }

    /// Deletes the committed blob and its uncommitted blocks (call with the per-blob lock held).
    pub(crate) fn delete_blob(
        &self,
        container: &str,
        blob: &str,
        precheck: Precheck<'_>,
    ) -> Result<(), BlobError> {
        let trash = {
            let mut index = lock(&self.index);
            let c = index.get_mut(container).ok_or_else(container_not_found)?;
            let current = c.blobs.get(blob);
            if current.is_none() {
                return Err(BlobError::new(ErrorCode::BlobNotFound));
            }
            precheck(current)?;
            c.blobs.remove(blob);
            for p in [
                self.meta_path(container, blob),
                self.data_path(container, blob),
            ] {
                if let Err(e) = fs::remove_file(&p)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    tracing::warn!("sandbox blob store: cannot remove {}: {e}", p.display());
                }
            }
            c.staging
                .remove(blob)
                .and_then(|_| self.to_trash(&self.staging_dir(container, blob)))
        };
        Self::empty_trash(trash);
        Ok(())
    }
}

fn vanished() -> BlobError {
    BlobError::new(ErrorCode::InvalidBlockList).with(
        "Reason",
        "a block of the list changed or disappeared while the blob was being committed",
    )
}

fn check_block_in(c: &ContainerState, blob: &str, id: &[u8]) -> Result<(), BlobError> {
    if let Some(st) = c.staging.get(blob) {
        if let Some(other) = st.blocks.keys().next()
            && other.len() != id.len()
        {
            return Err(BlobError::new(ErrorCode::InvalidBlobOrBlock).with(
                "Reason",
                format!(
                    "the block id is {} bytes long but this blob's uncommitted block ids are {} \
                     bytes: all block ids of a blob must have the same length",
                    id.len(),
                    other.len()
                ),
            ));
        }
        if st.blocks.len() >= MAX_UNCOMMITTED_BLOCKS && !st.blocks.contains_key(id) {
            return Err(BlobError::new(ErrorCode::BlockCountExceedsLimit));
        }
    }
    Ok(())
}

/// Checks a container name against Azure's rules (InvalidResourceName otherwise). Keeps every name
/// that reaches the file system to `[a-z0-9-]`.
pub(crate) fn check_container_name(name: &str) -> Result<(), BlobError> {
    container_name_problem(name).map_or(Ok(()), |reason| {
        Err(BlobError::new(ErrorCode::InvalidResourceName).with("Reason", reason))
    })
}

/// Why Azure refuses a container name, from "Naming and Referencing Containers, Blobs, and
/// Metadata": 3 to 63 characters; lowercase letters, digits and '-'; starting and ending with a
/// letter or digit; no two '-' in a row. `None` when the name is valid.
pub(crate) fn container_name_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        return Some(format!(
            "the container name '{name}' has {len} characters, Azure needs 3 to 63"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "the container name '{name}' holds '{c}': only lowercase letters, digits and '-' are allowed"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some(format!(
            "the container name '{name}' must start and end with a letter or digit"
        ));
    }
    if name.contains("--") {
        return Some(format!(
            "the container name '{name}' has consecutive hyphens"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_check(_: Option<&BlobMeta>) -> Result<(), BlobError> {
        Ok(())
    }

    fn stage(store: &Store, c: &str, b: &str, id: &[u8], data: &[u8]) -> Result<(), BlobError> {
        let t = store.temp_file();
        fs::write(t.path(), data).unwrap();
        store.stage_block(c, b, id, t, data.len() as u64)
    }

    async fn commit(
        store: &Store,
        c: &str,
        b: &str,
        list: &[(BlockKind, &[u8])],
    ) -> Result<BlobMeta, BlobError> {
        let _l = store.lock_blob(c, b).await;
        let list: Vec<(BlockKind, Vec<u8>)> = list.iter().map(|(k, i)| (*k, i.to_vec())).collect();
        let plan = store.plan_commit(c, b, &list, &no_check)?;
        let (temp, size, blocks) = store.build_commit(plan)?;
        store.install(
            c,
            b,
            temp,
            NewBlob {
                size,
                blocks,
                ..Default::default()
            },
            &no_check,
        )
    }

    fn read(store: &Store, c: &str, b: &str) -> Vec<u8> {
        fs::read(store.blob_path(c, b).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn blocks_commit_and_recommit_from_committed_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_container("cc1").unwrap();
        stage(&store, "cc1", "db/x", b"aa", b"hello ").unwrap();
        stage(&store, "cc1", "db/x", b"bb", b"world").unwrap();
        assert_eq!(
            stage(&store, "cc1", "db/x", b"ccc", b"!").unwrap_err().code,
            ErrorCode::InvalidBlobOrBlock
        );
        let meta = commit(
            &store,
            "cc1",
            "db/x",
            &[(BlockKind::Latest, b"aa"), (BlockKind::Uncommitted, b"bb")],
        )
        .await
        .unwrap();
        assert_eq!(meta.size, 11);
        assert_eq!(read(&store, "cc1", "db/x"), b"hello world");
        // Uncommitted blocks are gone; the committed ones can be reused and mixed with new ones.
        assert!(
            store
                .block_list("cc1", "db/x")
                .unwrap()
                .uncommitted
                .is_empty()
        );
        stage(&store, "cc1", "db/x", b"cc", b"there ").unwrap();
        commit(
            &store,
            "cc1",
            "db/x",
            &[
                (BlockKind::Committed, b"aa"),
                (BlockKind::Latest, b"cc"),
                (BlockKind::Committed, b"bb"),
            ],
        )
        .await
        .unwrap();
        assert_eq!(read(&store, "cc1", "db/x"), b"hello there world");
        // An unknown block, or a committed one asked for as uncommitted.
        let err = commit(&store, "cc1", "db/x", &[(BlockKind::Uncommitted, b"aa")])
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidBlockList);
        let err = commit(&store, "cc1", "db/x", &[(BlockKind::Latest, b"zz")])
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidBlockList);
        assert_eq!(read(&store, "cc1", "db/x"), b"hello there world");
    }

    #[tokio::test]
    async fn state_survives_a_restart_and_tmp_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.create_container("keep").unwrap();
            stage(&store, "keep", "a", b"01", b"abc").unwrap();
            commit(&store, "keep", "a", &[(BlockKind::Latest, b"01")])
                .await
                .unwrap();
            stage(&store, "keep", "b/c", b"02", b"staged").unwrap();
            fs::write(dir.path().join("tmp/leftover.part"), b"x").unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(read(&store, "keep", "a"), b"abc");
        let view = store.block_list("keep", "b/c").unwrap();
        assert!(view.blob.is_none());
        assert_eq!(view.uncommitted, vec![(b"02".to_vec(), 6)]);
        assert!(!dir.path().join("tmp/leftover.part").exists());
        assert_eq!(
            store.create_container("keep").unwrap_err().code,
            ErrorCode::ContainerAlreadyExists
        );
    }

    #[test]
    fn listing_with_delimiter_and_markers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_container("lst").unwrap();
        for name in ["a/1", "a/2", "a0", "b", "c/d/e", "c/x"] {
            let t = store.temp_file();
            fs::write(t.path(), name).unwrap();
            store
                .install(
                    "lst",
                    name,
                    t,
                    NewBlob {
                        size: name.len() as u64,
                        ..Default::default()
                    },
                    &no_check,
                )
                .unwrap();
        }
        let keys = |v: &[ListEntry]| -> Vec<String> {
            v.iter()
                .map(|e| match e {
                    ListEntry::Blob(m) => m.name.clone(),
                    ListEntry::Prefix(p) => format!("P:{p}"),
                })
                .collect()
        };
        let (all, next) = store.list_blobs("lst", "", Some("/"), None, 100).unwrap();
        assert_eq!(keys(&all), ["P:a/", "a0", "b", "P:c/"]);
        assert_eq!(next, None);
        let (page, next) = store.list_blobs("lst", "", Some("/"), None, 1).unwrap();
        assert_eq!(keys(&page), ["P:a/"]);
        let (page, next2) = store
            .list_blobs("lst", "", Some("/"), next.as_deref(), 2)
            .unwrap();
        assert_eq!(keys(&page), ["a0", "b"]);
        let (page, next3) = store
            .list_blobs("lst", "", Some("/"), next2.as_deref(), 2)
            .unwrap();
        assert_eq!(keys(&page), ["P:c/"]);
        assert_eq!(next3, None);
        let (page, _) = store.list_blobs("lst", "c/", Some("/"), None, 10).unwrap();
        assert_eq!(keys(&page), ["P:c/d/", "c/x"]);
        let (page, _) = store.list_blobs("lst", "a", None, None, 10).unwrap();
        assert_eq!(keys(&page), ["a/1", "a/2", "a0"]);
        assert_eq!(
            store
                .list_blobs("nope", "", None, None, 1)
                .unwrap_err()
                .code,
            ErrorCode::ContainerNotFound
        );
    }

    #[test]
    fn container_names_are_checked_before_touching_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for bad in ["..", "a/b", "UPPER", "ab", "-ab", "a--b"] {
            assert_eq!(
                store.create_container(bad).unwrap_err().code,
                ErrorCode::InvalidResourceName,
                "{bad}"
            );
        }
    }
}
