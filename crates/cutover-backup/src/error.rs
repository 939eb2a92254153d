//! Typed errors of the backup reader. Each names the file and, where it applies, the byte offset.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: cannot open or read the file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: not a SQL Server backup (no 'TAPE' or 'MSSQLBAK' signature at byte 0); remove it from the backup folder or ignore it"
    )]
    NotABackup { path: PathBuf },
    #[error(
        "{path}: truncated at byte {offset}: {what}; the file is incomplete (still being written, or a copy that was cut short)"
    )]
    Truncated {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("{path}: corrupt at byte {offset}: {what}; take a new backup or copy the file again")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error(
        "{path}: encrypted backup: cannot read header ({what}); the Managed Instance needs the certificate, and cutover cannot plan it"
    )]
    Encrypted { path: PathBuf, what: String },
    #[error("{path}: unsupported backup format at byte {offset}: {what}")]
    Unsupported {
        path: PathBuf,
        offset: u64,
        what: String,
    },
}

impl ReadError {
    /// A short stable name of the error kind, used in JSON output and findings.
    pub fn kind(&self) -> &'static str {
        match self {
            ReadError::Io { .. } => "io",
            ReadError::NotABackup { .. } => "not_a_backup",
            ReadError::Truncated { .. } => "truncated",
            ReadError::Corrupt { .. } => "corrupt",
            ReadError::Encrypted { .. } => "encrypted",
            ReadError::Unsupported { .. } => "unsupported",
        }
    }

    /// The file could not be opened or read because another process holds it open without sharing
    /// it: SQL Server writing a backup to a share (the SMB client answers a sharing violation with
    /// EBUSY; Windows with ERROR_SHARING_VIOLATION / ERROR_LOCK_VIOLATION). Such a file is still
    /// being written, not damaged: it is read again at the next scan.
    pub fn held_open(&self) -> bool {
        let ReadError::Io { source, .. } = self else {
            return false;
        };
        if source.kind() == std::io::ErrorKind::ResourceBusy {
            return true;
        }
        let busy: &[i32] = if cfg!(windows) { &[32, 33] } else { &[16, 26] };
        source.raw_os_error().is_some_and(|c| busy.contains(&c))
    }

    pub fn path(&self) -> &PathBuf {
        match self {
            ReadError::Io { path, .. }
            | ReadError::NotABackup { path }
            | ReadError::Truncated { path, .. }
            | ReadError::Corrupt { path, .. }
            | ReadError::Encrypted { path, .. }
            | ReadError::Unsupported { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(e: std::io::Error) -> ReadError {
        ReadError::Io {
            path: PathBuf::from("x.trn"),
            source: e,
        }
    }

    #[test]
    fn a_file_held_open_by_its_writer_is_told_from_a_damaged_one() {
        let busy = if cfg!(windows) { 32 } else { 16 };
        assert!(io(std::io::Error::from_raw_os_error(busy)).held_open());
        assert!(io(std::io::Error::from(std::io::ErrorKind::ResourceBusy)).held_open());
        assert!(!io(std::io::Error::from(std::io::ErrorKind::PermissionDenied)).held_open());
        assert!(
            !ReadError::Truncated {
                path: PathBuf::from("x.trn"),
                offset: 1,
                what: "end".into()
            }
            .held_open()
        );
    }
}
