//! The seam for backup sources: [`BackupFolder`] is where backup files are listed, looked at and
//! read from. Today's implementation is [`LocalFolder`] (a local or mounted folder, opened
//! read-only) and [`SmbFolder`] (an SMB share read directly, `\\server\share\folder`).
//!
//! The trait is **blocking**, as its callers are today: the catalog scan reads headers on a pool
//! of threads, the engine's folder scan runs in `spawn_blocking`, the uploader reads its blocks in
//! `spawn_blocking`, and the header reader (`cutover-backup`'s `Source`, `FileWindow`) is a
//! synchronous walker that borrows its window. An async trait would need the reader rewritten and
//! every read boxed into a future for no gain: SMB reads of 16 KiB windows and 256 KiB pieces are
//! short, and an SMB implementation with an async client blocks on it inside these threads (the
//! runtime's blocking pool). Implementations must be `Send + Sync` so one is shared (`Arc`) by the
//! scan threads, the engine and the uploader.
//!
//! Paths are full paths as the implementation understands them (what `list` returns, below the
//! root it was given), so `ScannedFile::path`, `UploadItem::local` and the engine's state keep
//! naming files as they do today.

mod local;
pub mod smb;
pub mod smb_address;
pub mod smb_error;

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use local::LocalFolder;
pub use smb::{SmbFolder, SmbLogin};
pub use smb_address::{SmbAddress, SmbUser};
pub use smb_error::SmbFailure;

use crate::backup::source::{FileWindow, ReadAt};
use crate::backup::{BackupSet, ReadError, read_backup_from};

/// A folder that cannot be listed: missing, not a folder, or unreadable (`catalog::ScanError`).
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(
        "{0}: the backup folder does not exist; check the path (and that the share is mounted)"
    )]
    NotFound(PathBuf),
    #[error("{0}: not a folder; give the folder that holds the backup files")]
    NotAFolder(PathBuf),
    #[error("{path}: cannot list the folder: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A file's size and modification time (its identity for re-scans and resumed uploads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub len: u64,
    pub modified: Option<SystemTime>,
    pub is_file: bool,
    pub is_dir: bool,
}

/// A folder tree as listed: its regular files with their size and time, and every folder (the
/// root included) with its modification time, which changes when a file is created, removed or
/// renamed in it (the cheap "what changed" signal).
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted by path; symlinks are not followed. The stat is `None` when the file could not be
    /// looked at after it was listed (it vanished, or is denied).
    pub files: Vec<(PathBuf, Option<FileStat>)>,
    pub folders: Vec<(PathBuf, Option<SystemTime>)>,
}

/// An open backup file: positional reads (the header reader's 16 KiB windows, the uploader's
/// 256 KiB pieces).
pub trait BackupFile: ReadAt + Send {
    /// The file's length when it was opened.
    fn len(&self) -> u64;
    /// The size of the pieces a sequential reader (the uploader) should ask for: small for a
    /// local file (each piece checksummed while it is in the CPU's cache), large for a share
    /// (each piece costs a round trip; a share splits it into reads in flight together).
    fn preferred_read(&self) -> usize {
        256 * 1024
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where backup files are found and read: list, stat, open (read-only), and a folder's time.
pub trait BackupFolder: Send + Sync + Debug {
    /// Every regular file and folder below `root` (recursive, sorted). Errors say whether the
    /// root is missing, not a folder or unreadable.
    fn list(&self, root: &Path) -> Result<Listing, ListError>;

    /// A file's or folder's size and time; `Err(NotFound)` when it is not there.
    fn stat(&self, path: &Path) -> io::Result<FileStat>;

    /// Opens a file for reading (never for writing).
    fn open(&self, path: &Path) -> io::Result<Box<dyn BackupFile>>;

    /// The watch primitive: a folder's modification time, which moves when a file is created,
    /// removed or renamed in it (`None`: unknown or gone). The engine's folder scan walks the tree
    /// again only when one moved.
    fn folder_time(&self, folder: &Path) -> Option<SystemTime> {
        self.stat(folder).ok().and_then(|s| s.modified)
    }

    /// Removes a file cutover had the source write there (the TDE certificate export), and
    /// nothing else: backups are never removed. Folders that cannot remove (the default) answer
    /// `Unsupported`, and the caller reports the file for the operator to delete.
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{}: this backup folder is read-only to cutover",
                path.display()
            ),
        ))
    }

    /// `true` when `path` exists (file or folder).
    fn exists(&self, path: &Path) -> bool {
        self.stat(path).is_ok()
    }
}

/// Reads the backup headers of one file of `folder` (as `read_backup_file` does for a local file:
/// same errors, naming `path`).
pub fn read_headers(folder: &dyn BackupFolder, path: &Path) -> Result<Vec<BackupSet>, ReadError> {
    let io_err = |source: io::Error| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = folder.open(path).map_err(io_err)?;
    let len = file.len();
    read_backup_from(&mut FileWindow::new(file, len), path)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::catalog::{ScanOptions, scan};

    /// A local folder that records what is asked of it (what an SMB share would be asked).
    #[derive(Debug, Default)]
    struct Recording {
        opened: Mutex<Vec<PathBuf>>,
        lists: Mutex<u32>,
    }

    impl BackupFolder for Recording {
        fn list(&self, root: &Path) -> Result<Listing, ListError> {
            *self.lists.lock().unwrap() += 1;
            LocalFolder.list(root)
        }
        fn stat(&self, path: &Path) -> io::Result<FileStat> {
            LocalFolder.stat(path)
        }
        fn open(&self, path: &Path) -> io::Result<Box<dyn BackupFile>> {
            self.opened.lock().unwrap().push(path.to_path_buf());
            LocalFolder.open(path)
        }
    }

    #[test]
    fn the_scan_lists_and_reads_through_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.bak"), b"not a backup").unwrap();
        std::fs::create_dir(tmp.path().join("LOG")).unwrap();
        std::fs::write(tmp.path().join("LOG/b.trn"), b"TAPE").unwrap();
        let folder = Recording::default();
        let s = scan::scan_folder_in(&folder, tmp.path(), &ScanOptions::default()).unwrap();
        assert_eq!(*folder.lists.lock().unwrap(), 1);
        let mut opened = folder.opened.lock().unwrap().clone();
        opened.sort();
        assert_eq!(
            opened,
            [tmp.path().join("LOG/b.trn"), tmp.path().join("a.bak")]
        );
        // Same findings as the local scan.
        let local = scan::scan_folder(tmp.path(), &ScanOptions::default()).unwrap();
        let kinds = |s: &scan::Scan| {
            s.files
                .iter()
                .map(|f| (f.relative.clone(), f.sets.as_ref().err().map(|e| e.kind())))
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds(&s), kinds(&local));
    }

    #[test]
    fn headers_are_read_with_the_readers_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.bak");
        std::fs::write(&p, b"hello").unwrap();
        let e = read_headers(&LocalFolder, &p).unwrap_err();
        let local = crate::backup::read_backup_file(&p).unwrap_err();
        assert_eq!(e.to_string(), local.to_string());
        let e = read_headers(&LocalFolder, tmp.path()).unwrap_err();
        let local = crate::backup::read_backup_file(tmp.path()).unwrap_err();
        assert_eq!(e.to_string(), local.to_string());
    }
}
