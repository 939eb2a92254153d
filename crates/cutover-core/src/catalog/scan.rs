//! Scanning a backup folder tree: every regular file is read (headers only, in parallel), whatever its
//! name or extension. The files are listed, looked at and read through a [`BackupFolder`] (the
//! `*_in` functions; the others read a local folder).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use crate::backup::{BackupSet, ReadError};
use crate::backup_folder::{BackupFolder, LocalFolder, read_headers};

/// What was found in one file.
#[derive(Debug)]
pub struct ScannedFile {
    pub path: PathBuf,
    /// Path relative to the scanned root, with '/' separators.
    pub relative: String,
    pub size: u64,
    pub modified: Option<SystemTime>,
    pub sets: Result<Vec<BackupSet>, ReadError>,
    /// Size or modification time changed while it was being read (or during the settle wait).
    pub changing: bool,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub root: PathBuf,
    pub files: Vec<ScannedFile>,
}

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Wait this long after reading and look at every file's size and time again: a file still being
    /// written on a network share is caught even if it did not change during its own read.
    pub settle: Duration,
    /// Threads reading headers (0 = number of cores, at most 8).
    pub threads: usize,
}

/// A backup folder that cannot be listed (defined with the [`BackupFolder`] seam, which returns it).
pub use crate::backup_folder::ListError as ScanError;

fn stat(folder: &dyn BackupFolder, path: &Path) -> Option<(u64, Option<SystemTime>)> {
    let m = folder.stat(path).ok()?;
    Some((m.len, m.modified))
}

pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Lists the regular files below `root` (sorted, symlinks not followed).
pub fn list_files(root: &Path) -> Result<Vec<PathBuf>, ScanError> {
    list_files_in(&LocalFolder, root)
}

/// [`list_files`] in any [`BackupFolder`].
pub fn list_files_in(folder: &dyn BackupFolder, root: &Path) -> Result<Vec<PathBuf>, ScanError> {
    Ok(folder
        .list(root)?
        .files
        .into_iter()
        .map(|(p, _)| p)
        .collect())
}

/// Reads the headers of every file below `root`.
pub fn scan_folder(root: &Path, opts: &ScanOptions) -> Result<Scan, ScanError> {
    scan_folder_in(&LocalFolder, root, opts)
}

/// [`scan_folder`] in any [`BackupFolder`].
pub fn scan_folder_in(
    folder: &dyn BackupFolder,
    root: &Path,
    opts: &ScanOptions,
) -> Result<Scan, ScanError> {
    let paths = list_files_in(folder, root)?;
    let files = read_all_in(folder, root, &paths, opts);
    Ok(Scan {
        root: root.to_path_buf(),
        files,
    })
}

/// Reads the given files (in parallel) and notes the ones that change.
pub fn read_all(root: &Path, paths: &[PathBuf], opts: &ScanOptions) -> Vec<ScannedFile> {
    read_all_in(&LocalFolder, root, paths, opts)
}

/// [`read_all`] in any [`BackupFolder`].
pub fn read_all_in(
    folder: &dyn BackupFolder,
    root: &Path,
    paths: &[PathBuf],
    opts: &ScanOptions,
) -> Vec<ScannedFile> {
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8)
    } else {
        opts.threads
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<ScannedFile>>> =
        Mutex::new((0..paths.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(paths.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let before = stat(folder, path);
                    let sets = read_headers(folder, path);
                    let after = stat(folder, path);
                    let (size, modified) = after.unwrap_or((0, None));
                    let f = ScannedFile {
                        path: path.clone(),
                        relative: relative(root, path),
                        size,
                        modified,
                        // Held open by the writer (a sharing violation on a share): still
                        // being written, whatever its size says.
                        changing: before != after || sets.as_ref().is_err_and(ReadError::held_open),
                        sets,
                    };
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(f);
                    }
                }
            });
        }
    });
    let mut files: Vec<ScannedFile> = results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    if !opts.settle.is_zero() {
        std::thread::sleep(opts.settle);
        for f in &mut files {
            if stat(folder, &f.path) != Some((f.size, f.modified)) {
                f.changing = true;
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Code, check};

    #[test]
    fn a_file_its_writer_holds_open_is_reported_as_being_written_not_unreadable() {
        let f = ScannedFile {
            path: PathBuf::from("/b/Sales_LOG_1.trn"),
            relative: "Sales_LOG_1.trn".into(),
            size: 0,
            modified: None,
            sets: Err(ReadError::Io {
                path: PathBuf::from("/b/Sales_LOG_1.trn"),
                source: std::io::Error::from(std::io::ErrorKind::ResourceBusy),
            }),
            changing: true,
        };
        let report = check(&Scan {
            root: PathBuf::from("/b"),
            files: vec![f],
        });
        let codes: Vec<_> = report.findings.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [Code::FileStillBeingWritten],
            "{:?}",
            report.findings
        );
        assert!(report.findings[0].message.contains("holds it open"));
    }
}
