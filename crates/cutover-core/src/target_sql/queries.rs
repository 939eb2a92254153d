//! What cutover asks the managed instance's SQL endpoint, and the typed rows. Plain SELECTs of
//! documented columns: SERVERPROPERTY / IS_SRVROLEMEMBER, `sys.databases` read whole (a few
//! hundred rows at most, filtered here), the newest `sys.server_resource_stats` row (a Managed
//! Instance's tier, vCores and storage).

use serde::Serialize;
use tiberius::Row;

use crate::source::queries::{RowError, bad, int, opt_str, req_str};

/// The instance: name, version, edition, engine edition (8 = Managed Instance), collation
/// (tempdb's), whether In-Memory OLTP is supported, whether the login is sysadmin.
pub const INSTANCE_INFO: &str = "SELECT CAST(SERVERPROPERTY('ServerName') AS nvarchar(256)) AS server_name, \
CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version, \
CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS edition, \
CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition, \
CAST(SERVERPROPERTY('Collation') AS nvarchar(128)) AS collation, \
CAST(SERVERPROPERTY('IsXTPSupported') AS int) AS xtp_supported, \
CAST(IS_SRVROLEMEMBER('sysadmin') AS int) AS is_sysadmin, \
SUSER_SNAME() AS login_name";

/// Every database with its state, level, recovery model and collation (system ones included:
/// `model`'s level is the instance's default).
pub const DATABASES: &str = "SELECT d.name, d.database_id, d.state_desc, d.compatibility_level, \
d.recovery_model_desc, d.collation_name FROM sys.databases d";

/// The newest resource interval of a Managed Instance: its tier (`sku`), hardware, vCores, and
/// reserved and used storage in MB.
pub const RESOURCE_STATS: &str = "SELECT TOP 1 rs.end_time, rs.sku, rs.hardware_generation, \
rs.virtual_core_count, rs.reserved_storage_mb, rs.storage_space_used_mb \
FROM master.sys.server_resource_stats rs ORDER BY rs.end_time DESC";

/// What INSTANCE_INFO returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceInfo {
    pub server_name: String,
    pub product_version: String,
    pub edition: String,
    /// 8 for Azure SQL Managed Instance.
    pub engine_edition: i64,
    pub collation: String,
    /// SERVERPROPERTY('IsXTPSupported'): In-Memory OLTP (`None`: the server does not say).
    pub xtp_supported: Option<bool>,
    pub is_sysadmin: bool,
    pub login_name: String,
}

impl InstanceInfo {
    pub fn from_row(row: &Row) -> Result<Self, RowError> {
        Ok(InstanceInfo {
            server_name: req_str(row, "server_name")?,
            product_version: opt_str(row, "product_version")?.unwrap_or_default(),
            edition: opt_str(row, "edition")?.unwrap_or_default(),
            engine_edition: int(row, "engine_edition")?.unwrap_or(0),
            collation: opt_str(row, "collation")?.unwrap_or_default(),
            xtp_supported: int(row, "xtp_supported")?.map(|v| v != 0),
            is_sysadmin: int(row, "is_sysadmin")?.unwrap_or(0) == 1,
            login_name: opt_str(row, "login_name")?.unwrap_or_default(),
        })
    }

    /// Whether the endpoint is an Azure SQL Managed Instance.
    pub fn is_managed_instance(&self) -> bool {
        self.engine_edition == 8
    }
}

/// One sys.databases row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetDatabase {
    pub name: String,
    pub database_id: i64,
    /// `ONLINE`, `RESTORING`, `SUSPECT`, ...
    pub state: String,
    pub compatibility_level: i64,
    pub recovery_model: String,
    /// NULL while the database cannot be opened (restoring).
    pub collation: Option<String>,
}

impl TargetDatabase {
    pub fn from_row(row: &Row) -> Result<Self, RowError> {
        Ok(TargetDatabase {
            name: req_str(row, "name")?,
            database_id: int(row, "database_id")?.ok_or_else(|| bad("database_id", "is NULL"))?,
            state: req_str(row, "state_desc")?,
            compatibility_level: int(row, "compatibility_level")?.unwrap_or(0),
            recovery_model: opt_str(row, "recovery_model_desc")?.unwrap_or_default(),
            collation: opt_str(row, "collation_name")?,
        })
    }

    /// master, tempdb, model, msdb.
    pub fn is_system(&self) -> bool {
        self.database_id <= 4
    }
}

/// The newest sys.server_resource_stats row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceStats {
    /// `GeneralPurpose`, `BusinessCritical`.
    pub sku: String,
    pub hardware_generation: String,
    pub vcores: i64,
    pub reserved_storage_mb: i64,
    pub storage_used_mb: f64,
}

fn decimal(row: &Row, c: &'static str) -> Result<Option<f64>, RowError> {
    if let Ok(v) = row.try_get::<tiberius::numeric::Numeric, _>(c) {
        return Ok(v.map(|n| n.value() as f64 / 10f64.powi(i32::from(n.scale()))));
    }
    if let Ok(v) = row.try_get::<f64, _>(c) {
        return Ok(v);
    }
    Ok(int(row, c)?.map(|v| v as f64))
}

impl ResourceStats {
    pub fn from_row(row: &Row) -> Result<Self, RowError> {
        Ok(ResourceStats {
            sku: req_str(row, "sku")?,
            hardware_generation: opt_str(row, "hardware_generation")?.unwrap_or_default(),
            vcores: int(row, "virtual_core_count")?.unwrap_or(0),
            reserved_storage_mb: int(row, "reserved_storage_mb")?.unwrap_or(0),
            storage_used_mb: decimal(row, "storage_space_used_mb")?.unwrap_or(0.0),
        })
    }

    /// The tier as the Azure portal writes it.
    pub fn tier_words(&self) -> String {
        match self.sku.as_str() {
            "GeneralPurpose" => "General Purpose".into(),
            "BusinessCritical" => "Business Critical".into(),
            other => other.into(),
        }
    }

    pub fn is_general_purpose(&self) -> bool {
        self.sku.eq_ignore_ascii_case("GeneralPurpose")
    }

    /// Storage left, MB.
    pub fn storage_left_mb(&self) -> f64 {
        (self.reserved_storage_mb as f64 - self.storage_used_mb).max(0.0)
    }
}
