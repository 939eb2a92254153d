//! [`Error`]: what a step of the engine fails with when a client below it fails, one variant per
//! client (the LRS client, Blob Storage, the source SQL Server). Each keeps the client's typed error,
//! so a caller can still ask it (an HTTP status, a retry class), and shows the client's message
//! unchanged: the operator reads the same text as before.

use crate::restore_target::lrs::LrsError;
use crate::source::SourceError;
use crate::storage::error::StorageError;

/// A client's failure, seen from the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Log Replay Service (ARM) client failed.
    #[error(transparent)]
    Lrs(#[from] LrsError),
    /// A Blob Storage call failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The source SQL Server failed.
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl Error {
    /// The HTTP status of an LRS (ARM) failure (404: no restore of this database).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Lrs(e) => e.http_status(),
            _ => None,
        }
    }

    /// The LRS (ARM) error code, e.g. `ExternalBackupAlreadySignaledToComplete`.
    pub fn lrs_code(&self) -> Option<&str> {
        match self {
            Error::Lrs(e) => e.code(),
            _ => None,
        }
    }

    /// The SQL Server error number of a source failure (927: the database is restoring).
    pub fn sql_number(&self) -> Option<u32> {
        match self {
            Error::Source(e) => e.number(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_error_keeps_its_message() {
        let lrs = LrsError::Http {
            op: "status",
            db: "Sales".into(),
            status: 503,
            message: "busy".into(),
        };
        let shown = lrs.to_string();
        let e = Error::from(lrs);
        assert_eq!(e.to_string(), shown);
        assert!(matches!(e, Error::Lrs(LrsError::Http { status: 503, .. })));
        assert_eq!(e.http_status(), Some(503));
        assert_eq!(e.sql_number(), None);
    }
}
