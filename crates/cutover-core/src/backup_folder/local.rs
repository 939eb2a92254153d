//! [`LocalFolder`]: backup files in a local (or mounted) folder, through `std::fs`, opened
//! read-only; reads are `pread`s.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{BackupFile, BackupFolder, FileStat, ListError as ScanError, Listing};
use crate::backup::source::ReadAt;

/// A folder on this machine's file system (what cutover has always read).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalFolder;

impl LocalFolder {
    /// A shared handle, for callers that hold an `Arc<dyn BackupFolder>`.
    pub fn shared() -> std::sync::Arc<dyn BackupFolder> {
        std::sync::Arc::new(LocalFolder)
    }
}

fn file_stat(m: &std::fs::Metadata) -> FileStat {
    FileStat {
        len: m.len(),
        modified: m.modified().ok(),
        is_file: m.is_file(),
        is_dir: m.is_dir(),
    }
}

impl BackupFolder for LocalFolder {
    fn list(&self, root: &Path) -> Result<Listing, ScanError> {
        let meta = std::fs::metadata(root).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ScanError::NotFound(root.to_path_buf())
            } else {
                ScanError::Unreadable {
                    path: root.to_path_buf(),
                    source: e,
                }
            }
        })?;
        if !meta.is_dir() {
            return Err(ScanError::NotAFolder(root.to_path_buf()));
        }
        let mut listing = Listing::default();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.map_err(|e| ScanError::Unreadable {
                path: e.path().unwrap_or(root).to_path_buf(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| io::Error::other("folder loop")),
            })?;
            if entry.file_type().is_file() {
                let stat = entry.metadata().ok().map(|m| file_stat(&m));
                listing.files.push((entry.into_path(), stat));
            } else if entry.file_type().is_dir() {
                let modified = entry.metadata().ok().and_then(|m| m.modified().ok());
                listing.folders.push((entry.into_path(), modified));
            }
        }
        Ok(listing)
    }

    fn stat(&self, path: &Path) -> io::Result<FileStat> {
        std::fs::metadata(path).map(|m| file_stat(&m))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn BackupFile>> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::other("is a folder, not a backup file"));
        }
        Ok(Box::new(LocalFile {
            file,
            len: meta.len(),
        }))
    }
}

/// A local file opened read-only.
struct LocalFile {
    file: File,
    len: u64,
}

impl ReadAt for LocalFile {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        FileExt::read_at(&self.file, buf, off)
    }
}

impl BackupFile for LocalFile {
    fn len(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_files_with_their_size_and_folders_with_their_time() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("LOG")).unwrap();
        std::fs::write(tmp.path().join("LOG/b.trn"), b"abc").unwrap();
        std::fs::write(tmp.path().join("a.bak"), b"x").unwrap();
        let l = LocalFolder.list(tmp.path()).unwrap();
        let files: Vec<_> = l
            .files
            .iter()
            .map(|(p, s)| {
                (
                    p.strip_prefix(tmp.path()).unwrap().to_owned(),
                    s.unwrap().len,
                )
            })
            .collect();
        // Sorted by name at each level: "LOG" sorts before "a.bak".
        assert_eq!(files, [("LOG/b.trn".into(), 3), ("a.bak".into(), 1)]);
        assert_eq!(l.folders.len(), 2);
        assert!(l.folders.iter().all(|(_, t)| t.is_some()));
        assert!(matches!(
            LocalFolder.list(&tmp.path().join("none")),
            Err(ScanError::NotFound(_))
        ));
        assert!(matches!(
            LocalFolder.list(&tmp.path().join("a.bak")),
            Err(ScanError::NotAFolder(_))
        ));
    }

    #[test]
    fn reads_at_an_offset_and_refuses_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let mut f = LocalFolder.open(&p).unwrap();
        assert_eq!(f.len(), 10);
        let mut buf = [0u8; 4];
        assert_eq!(f.read_at(6, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"6789");
        assert_eq!(f.read_at(10, &mut buf).unwrap(), 0);
        assert!(LocalFolder.open(tmp.path()).is_err());
        let s = LocalFolder.stat(&p).unwrap();
        assert!(s.is_file && !s.is_dir && s.len == 10);
        assert!(!LocalFolder.exists(&tmp.path().join("none")));
    }
}
