//! The inspection queries cutover sends to the source, and the typed rows they produce. Every value
//! that comes from the user (database names) travels as a parameter (@P1...), never in the text.
//!
//! The sandbox's SQL Server does not know this text: it answers a SELECT by what it asks for
//! (SERVERPROPERTY, sys.databases columns, msdb.dbo.backupset, sys.filegroups), as SQL Server does,
//! and refuses a column its views do not have (error 207).

use serde::Serialize;
use tiberius::Row;
use time::PrimitiveDateTime;

use crate::backup::{BackupType, Lsn};
pub use crate::model::SourceDatabase;

/// Server version, edition and whether the login is sysadmin (DMS requires it).
pub const SERVER_INFO: &str = "SELECT CAST(SERVERPROPERTY('ServerName') AS nvarchar(256)) AS server_name, \
CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version, \
CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS edition, \
CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition, \
CAST(IS_SRVROLEMEMBER('sysadmin') AS int) AS is_sysadmin, \
SUSER_SNAME() AS login_name";

/// User databases with state, recovery model, size, compatibility, TDE, FILESTREAM/In-Memory files
/// (sys.master_files type 2) and the newest full and log backup msdb knows of.
pub const DATABASES: &str = "SELECT d.name, d.database_id, d.state_desc, d.recovery_model_desc, \
CAST(d.compatibility_level AS int) AS compatibility_level, d.is_read_only, d.user_access_desc, d.is_encrypted, \
(SELECT CAST(SUM(CAST(mf.size AS bigint)) * 8192 AS bigint) FROM sys.master_files mf WHERE mf.database_id = d.database_id) AS size_bytes, \
(SELECT CAST(COUNT(*) AS int) FROM sys.master_files mf WHERE mf.database_id = d.database_id AND mf.type = 2) AS filestream_files, \
(SELECT MAX(b.backup_finish_date) FROM msdb.dbo.backupset b WHERE b.database_name = d.name AND b.type = 'D') AS last_full_backup, \
(SELECT MAX(b.backup_finish_date) FROM msdb.dbo.backupset b WHERE b.database_name = d.name AND b.type = 'L') AS last_log_backup \
FROM sys.databases d WHERE d.database_id > 4 ORDER BY d.name";

/// Memory-optimized filegroups of one database (sent only for databases with FILESTREAM-type files):
/// `{db}` is replaced by the QUOTENAME-quoted name (a three-part name cannot be a parameter).
pub const MEMORY_OPTIMIZED_FILEGROUPS: &str =
    "SELECT CAST(COUNT(*) AS int) AS memory_optimized FROM {db}.sys.filegroups WHERE type = 'FX'";

/// msdb's backup history of one database (@P1 = name), one row per media family (stripe), oldest first.
pub const BACKUP_HISTORY: &str = "SELECT b.database_name, b.type, b.first_lsn, b.last_lsn, b.checkpoint_lsn, \
b.database_backup_lsn, b.has_backup_checksums, b.is_copy_only, b.backup_start_date, b.backup_finish_date, \
b.backup_size, b.server_name, mf.family_sequence_number, mf.physical_device_name \
FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily mf ON mf.media_set_id = b.media_set_id \
WHERE b.database_name = @P1 ORDER BY b.backup_start_date, b.backup_set_id, mf.family_sequence_number";

/// The server's offset from UTC in minutes (its local time minus UTC, e.g. -300 at UTC-5): backup
/// headers' and msdb's dates are in the server's local time.
pub const SERVER_UTC_OFFSET: &str =
    "SELECT DATEPART(TZOFFSET, SYSDATETIMEOFFSET()) AS utc_offset_minutes";

/// The one value SERVER_UTC_OFFSET returns.
pub fn utc_offset_from_row(row: &Row) -> Result<i32, RowError> {
    let v = int(row, "utc_offset_minutes")?.ok_or_else(|| bad("utc_offset_minutes", "NULL"))?;
    // Time zones lie within -14:00..+14:00.
    i32::try_from(v)
        .ok()
        .filter(|m| m.abs() <= 14 * 60)
        .ok_or_else(|| {
            bad(
                "utc_offset_minutes",
                format!("{v} is not a time zone offset"),
            )
        })
}

/// What SERVER_INFO returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerInfo {
    pub server_name: String,
    pub product_version: String,
    pub edition: String,
    /// SERVERPROPERTY('EngineEdition'): 2 Standard, 3 Enterprise, 4 Express, 5 Azure SQL Database,
    /// 8 Managed Instance...
    pub engine_edition: i32,
    pub is_sysadmin: bool,
    pub login_name: String,
}

/// One row of msdb's backup history (one media family of one backup set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub database_name: String,
    pub backup_type: BackupType,
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub checkpoint_lsn: Lsn,
    pub database_backup_lsn: Lsn,
    pub has_checksums: bool,
    pub is_copy_only: bool,
    pub start: Option<String>,
    pub finish: Option<String>,
    pub size: u64,
    pub server_name: String,
    pub family_sequence: i32,
    /// The file (or device) as the server wrote it, e.g. `\\fs01\backups\Sales_LOG_1.trn`.
    pub device: String,
}

/// Why a row could not be read: the column and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {detail}")]
pub struct RowError {
    pub column: &'static str,
    pub detail: String,
}

pub(crate) fn bad(column: &'static str, detail: impl std::fmt::Display) -> RowError {
    RowError {
        column,
        detail: detail.to_string(),
    }
}

pub(crate) fn opt_str(row: &Row, c: &'static str) -> Result<Option<String>, RowError> {
    row.try_get::<&str, _>(c)
        .map(|v| v.map(str::to_string))
        .map_err(|e| bad(c, e))
}

pub(crate) fn req_str(row: &Row, c: &'static str) -> Result<String, RowError> {
    opt_str(row, c)?.ok_or_else(|| bad(c, "is NULL"))
}

pub(crate) fn int(row: &Row, c: &'static str) -> Result<Option<i64>, RowError> {
    // Integer columns arrive as tinyint/smallint/int/bigint depending on the catalog view.
    if let Ok(v) = row.try_get::<i32, _>(c) {
        return Ok(v.map(i64::from));
    }
    if let Ok(v) = row.try_get::<i64, _>(c) {
        return Ok(v);
    }
    if let Ok(v) = row.try_get::<i16, _>(c) {
        return Ok(v.map(i64::from));
    }
    row.try_get::<u8, _>(c)
        .map(|v| v.map(i64::from))
        .map_err(|e| bad(c, e))
}

fn req_int(row: &Row, c: &'static str) -> Result<i64, RowError> {
    int(row, c)?.ok_or_else(|| bad(c, "is NULL"))
}

fn bit(row: &Row, c: &'static str) -> Result<bool, RowError> {
    if let Ok(v) = row.try_get::<bool, _>(c) {
        return Ok(v.unwrap_or(false));
    }
    Ok(int(row, c)?.unwrap_or(0) != 0)
}

fn numeric(row: &Row, c: &'static str) -> Result<Option<u128>, RowError> {
    match row.try_get::<tiberius::numeric::Numeric, _>(c) {
        Ok(Some(n)) => {
            if n.scale() != 0 {
                return Err(bad(c, format!("numeric with scale {}", n.scale())));
            }
            u128::try_from(n.value())
                .map(Some)
                .map_err(|_| bad(c, "negative"))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(bad(c, e)),
    }
}

fn lsn(row: &Row, c: &'static str) -> Result<Lsn, RowError> {
    match numeric(row, c)? {
        None => Ok(Lsn::ZERO),
        Some(v) => v
            .to_string()
            .parse::<Lsn>()
            .map_err(|e| bad(c, format!("{v} is not an LSN: {e}"))),
    }
}

fn date(row: &Row, c: &'static str) -> Result<Option<String>, RowError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    match row.try_get::<PrimitiveDateTime, _>(c) {
        Ok(Some(d)) => d.format(fmt).map(Some).map_err(|e| bad(c, e)),
        Ok(None) => Ok(None),
        Err(e) => Err(bad(c, e)),
    }
}

impl ServerInfo {
    pub fn from_row(row: &Row) -> Result<ServerInfo, RowError> {
        Ok(ServerInfo {
            server_name: opt_str(row, "server_name")?.unwrap_or_default(),
            product_version: opt_str(row, "product_version")?.unwrap_or_default(),
            edition: opt_str(row, "edition")?.unwrap_or_default(),
            engine_edition: int(row, "engine_edition")?.unwrap_or(0) as i32,
            is_sysadmin: int(row, "is_sysadmin")?.unwrap_or(0) == 1,
            login_name: opt_str(row, "login_name")?.unwrap_or_default(),
        })
    }

    /// The major version (e.g. 16 for SQL Server 2022), if the version string is readable.
    pub fn major_version(&self) -> Option<u32> {
        self.product_version.split('.').next()?.parse().ok()
    }
}

/// One row of [`DATABASES`] as a [`SourceDatabase`] (the model's type; the query and
/// its columns are the source's).
pub fn source_database_from_row(row: &Row) -> Result<SourceDatabase, RowError> {
    let size = int(row, "size_bytes")?.unwrap_or(0);
    Ok(SourceDatabase {
        name: req_str(row, "name")?,
        database_id: req_int(row, "database_id")? as i32,
        state: opt_str(row, "state_desc")?.unwrap_or_default(),
        recovery_model: opt_str(row, "recovery_model_desc")?.unwrap_or_default(),
        compatibility_level: int(row, "compatibility_level")?.unwrap_or(0) as i32,
        is_read_only: bit(row, "is_read_only")?,
        user_access: opt_str(row, "user_access_desc")?.unwrap_or_default(),
        is_encrypted: bit(row, "is_encrypted")?,
        size_bytes: u64::try_from(size).map_err(|_| bad("size_bytes", "negative"))?,
        filestream_files: int(row, "filestream_files")?.unwrap_or(0) as i32,
        memory_optimized_filegroups: 0,
        last_full_backup: date(row, "last_full_backup")?,
        last_log_backup: date(row, "last_log_backup")?,
    })
}

impl HistoryEntry {
    pub fn from_row(row: &Row) -> Result<HistoryEntry, RowError> {
        let t = req_str(row, "type")?;
        let backup_type = t
            .bytes()
            .next()
            .and_then(BackupType::from_letter)
            .ok_or_else(|| bad("type", format!("unknown backup type {t:?}")))?;
        let size = numeric(row, "backup_size")?.unwrap_or(0);
        Ok(HistoryEntry {
            database_name: req_str(row, "database_name")?,
            backup_type,
            first_lsn: lsn(row, "first_lsn")?,
            last_lsn: lsn(row, "last_lsn")?,
            checkpoint_lsn: lsn(row, "checkpoint_lsn")?,
            database_backup_lsn: lsn(row, "database_backup_lsn")?,
            has_checksums: bit(row, "has_backup_checksums")?,
            is_copy_only: bit(row, "is_copy_only")?,
            start: date(row, "backup_start_date")?,
            finish: date(row, "backup_finish_date")?,
            size: u64::try_from(size).map_err(|_| bad("backup_size", "too large"))?,
            server_name: opt_str(row, "server_name")?.unwrap_or_default(),
            family_sequence: int(row, "family_sequence_number")?.unwrap_or(1) as i32,
            device: opt_str(row, "physical_device_name")?.unwrap_or_default(),
        })
    }
}
