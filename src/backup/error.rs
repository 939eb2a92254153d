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
