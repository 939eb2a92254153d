//! The source SQL Server as the UIs see it: one user database as the wizard lists it (read by the
//! source client, shown by the wizard and `cutover source databases`), and the warnings shown about
//! the connection.

use serde::Serialize;

/// DMS's warning, shown whenever the server certificate is not validated.
pub const TRUST_CERTIFICATE_WARNING: &str = "the server certificate will not be validated (trust server certificate): \
     a self-signed certificate leaves the connection open to man-in-the-middle attacks; \
     install a certificate from a trusted authority on the SQL Server instead";

/// One user database, as the Databases wizard screen and `cutover source databases` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceDatabase {
    pub name: String,
    pub database_id: i32,
    /// ONLINE, RESTORING, OFFLINE, ...
    pub state: String,
    /// FULL, BULK_LOGGED, SIMPLE.
    pub recovery_model: String,
    pub compatibility_level: i32,
    pub is_read_only: bool,
    /// MULTI_USER, SINGLE_USER, RESTRICTED_USER.
    pub user_access: String,
    /// Transparent Data Encryption on.
    pub is_encrypted: bool,
    pub size_bytes: u64,
    /// Files of type FILESTREAM (FILESTREAM data or memory-optimized containers).
    pub filestream_files: i32,
    /// Memory-optimized (In-Memory OLTP) filegroups, filled in by a second query when
    /// `filestream_files > 0`.
    pub memory_optimized_filegroups: i32,
    pub last_full_backup: Option<String>,
    pub last_log_backup: Option<String>,
}
