//! The Managed Instance's catalog as its SQL side shows it: `sys.databases` (the system databases,
//! the databases created on the instance, and those the Log Replay Service restores: RESTORING
//! while LRS runs, ONLINE once completed), `sys.server_resource_stats` (the instance's tier,
//! hardware, vCores and storage) and the server-level functions `SERVERPROPERTY(...)`,
//! `IS_SRVROLEMEMBER(...)` and `SUSER_SNAME()`.
//!
//! Written from SQL Server's documentation of these views and functions (column names and types,
//! `state` / `recovery_model` codes, a Managed Instance's `EngineEdition` 8 and `IsXTPSupported`
//! 0 on General Purpose), not from any client's queries: a SELECT is answered by the columns it
//! names, an unknown column is error 207, and a WHERE on these views is refused (the sandbox does
//! not evaluate filters; a client reads the view whole and filters itself).

use time::{OffsetDateTime, PrimitiveDateTime};

use super::arm::LrsDatabase;
use super::sql_select::{Asks, Select};
use super::tds::{Column, ColumnType, Reply, Value};

/// A database that exists on the instance without LRS (created there, or restored another way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiDatabase {
    pub name: String,
    pub collation: String,
    pub compatibility_level: u8,
    /// `FULL` (Managed Instance keeps every user database in FULL).
    pub recovery_model: String,
    pub size_bytes: u64,
    pub created: OffsetDateTime,
}

impl MiDatabase {
    /// An ONLINE database of `size_bytes` with the instance's defaults (level 160, FULL).
    pub fn new(name: &str, size_bytes: u64) -> Self {
        MiDatabase {
            name: name.into(),
            collation: DEFAULT_COLLATION.into(),
            compatibility_level: 160,
            recovery_model: "FULL".into(),
            size_bytes,
            created: OffsetDateTime::now_utc(),
        }
    }
}

/// The instance's collation unless told otherwise (Azure's default for a new instance).
pub const DEFAULT_COLLATION: &str = "SQL_Latin1_General_CP1_CI_AS";

/// What the instance is: its tier and size, as `sys.server_resource_stats` and SERVERPROPERTY
/// report them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceShape {
    /// `GeneralPurpose` or `BusinessCritical` (the view's `sku`).
    pub sku: String,
    /// `Gen5`, `G8IM`, ...
    pub hardware_generation: String,
    pub vcores: u32,
    /// The instance's reserved storage, MB.
    pub reserved_storage_mb: u64,
    /// Storage taken by what is not a user database here (system databases, logs), MB.
    pub base_used_mb: u64,
    /// SERVERPROPERTY('Collation').
    pub collation: String,
}

impl Default for InstanceShape {
    /// The sandbox's instance: General Purpose, Gen5, 4 vCores, 256 GB (as its ARM side says).
    fn default() -> Self {
        InstanceShape {
            sku: "GeneralPurpose".into(),
            hardware_generation: "Gen5".into(),
            vcores: 4,
            reserved_storage_mb: 256 * 1024,
            base_used_mb: 512,
            collation: DEFAULT_COLLATION.into(),
        }
    }
}

/// One sys.databases row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseRow {
    pub name: String,
    pub database_id: i64,
    /// sys.databases.state: 0 ONLINE, 1 RESTORING, 2 RECOVERING, 3 RECOVERY_PENDING, 4 SUSPECT,
    /// 5 EMERGENCY, 6 OFFLINE.
    pub state_desc: &'static str,
    pub compatibility_level: u8,
    pub recovery_model_desc: String,
    pub collation: Option<String>,
    pub created: OffsetDateTime,
    pub size_bytes: u64,
}

fn state_code(desc: &str) -> i64 {
    match desc {
        "ONLINE" => 0,
        "RESTORING" => 1,
        "RECOVERING" => 2,
        "RECOVERY_PENDING" => 3,
        "SUSPECT" => 4,
        "EMERGENCY" => 5,
        _ => 6,
    }
}

fn recovery_code(desc: &str) -> i64 {
    match desc {
        "FULL" => 1,
        "BULK_LOGGED" => 2,
        _ => 3,
    }
}

/// The rows of sys.databases: master, tempdb, model, msdb, then the user databases with the ids
/// `ids` gave them (in order of first sight: an id stays with its database).
pub fn database_rows(
    own: &[MiDatabase],
    lrs: &[LrsDatabase],
    ids: &mut Vec<String>,
    shape: &InstanceShape,
) -> Vec<DatabaseRow> {
    let started = OffsetDateTime::UNIX_EPOCH + time::Duration::days(19_000);
    let mut rows: Vec<DatabaseRow> = ["master", "tempdb", "model", "msdb"]
        .iter()
        .enumerate()
        .map(|(i, n)| DatabaseRow {
            name: (*n).into(),
            database_id: i as i64 + 1,
            state_desc: "ONLINE",
            compatibility_level: 160,
            recovery_model_desc: if *n == "msdb" || *n == "model" {
                "FULL".into()
            } else {
                "SIMPLE".into()
            },
            collation: Some(shape.collation.clone()),
            created: started,
            size_bytes: 0,
        })
        .collect();
    let mut id_of = |name: &str| -> i64 {
        let key = name.to_lowercase();
        let at = match ids.iter().position(|k| *k == key) {
            Some(p) => p,
            None => {
                ids.push(key);
                ids.len() - 1
            }
        };
        at as i64 + 5
    };
    for d in own {
        rows.push(DatabaseRow {
            name: d.name.clone(),
            database_id: id_of(&d.name),
            state_desc: "ONLINE",
            compatibility_level: d.compatibility_level,
            recovery_model_desc: d.recovery_model.clone(),
            collation: Some(d.collation.clone()),
            created: d.created,
            size_bytes: d.size_bytes,
        });
    }
    for d in lrs {
        if own.iter().any(|o| o.name.eq_ignore_ascii_case(&d.name)) {
            continue;
        }
        // A restoring database shows the model's level until recovery reads its own; Managed
        // Instance raises a level below 100 to 100.
        let level = match (d.state, d.compatibility_level) {
            ("ONLINE", Some(l)) => l.max(100),
            _ => 160,
        };
        rows.push(DatabaseRow {
            name: d.name.clone(),
            database_id: id_of(&d.name),
            state_desc: d.state,
            compatibility_level: level,
            recovery_model_desc: "FULL".into(),
            // SQL Server shows no collation for a database it cannot open yet.
            collation: (d.state == "ONLINE").then(|| d.collation.clone()),
            created: d.created,
            size_bytes: d.size_bytes,
        });
    }
    rows
}

fn datetime(t: OffsetDateTime) -> Value {
    Value::DateTime(PrimitiveDateTime::new(t.date(), t.time()))
}

type ColumnOf<R> = (ColumnType, fn(&R) -> Value);

fn database_column(name: &str) -> Option<ColumnOf<DatabaseRow>> {
    let c: ColumnOf<DatabaseRow> = match name {
        "name" => (ColumnType::NVarChar(128), |r| Value::Str(r.name.clone())),
        "database_id" => (ColumnType::Int, |r| Value::Int(r.database_id)),
        "state" => (ColumnType::TinyInt, |r| {
            Value::Int(state_code(r.state_desc))
        }),
        "state_desc" => (ColumnType::NVarChar(60), |r| {
            Value::Str(r.state_desc.into())
        }),
        "compatibility_level" => (ColumnType::TinyInt, |r| {
            Value::Int(i64::from(r.compatibility_level))
        }),
        "recovery_model" => (ColumnType::TinyInt, |r| {
            Value::Int(recovery_code(&r.recovery_model_desc))
        }),
        "recovery_model_desc" => (ColumnType::NVarChar(60), |r| {
            Value::Str(r.recovery_model_desc.clone())
        }),
        "collation_name" => (ColumnType::NVarChar(128), |r| {
            r.collation.clone().map(Value::Str).unwrap_or(Value::Null)
        }),
        "create_date" => (ColumnType::DateTime, |r| datetime(r.created)),
        "is_read_only"
        | "is_encrypted"
        | "is_in_standby"
        | "is_memory_optimized_elevate_to_snapshot_on" => (ColumnType::Bit, |_| Value::Int(0)),
        "user_access" => (ColumnType::TinyInt, |_| Value::Int(0)),
        "user_access_desc" => (ColumnType::NVarChar(60), |_| {
            Value::Str("MULTI_USER".into())
        }),
        _ => return None,
    };
    Some(c)
}

/// The one row sys.server_resource_stats answers here (the newest interval).
pub struct ResourceRow {
    pub shape: InstanceShape,
    pub used_mb_hundredths: i128,
    pub end: OffsetDateTime,
    pub name: String,
}

fn resource_column(name: &str) -> Option<ColumnOf<ResourceRow>> {
    let c: ColumnOf<ResourceRow> = match name {
        "start_time" => (ColumnType::DateTime, |r| {
            datetime(r.end - time::Duration::seconds(15))
        }),
        "end_time" => (ColumnType::DateTime, |r| datetime(r.end)),
        "resource_type" => (ColumnType::NVarChar(128), |_| {
            Value::Str("SQL instance".into())
        }),
        "resource_name" => (ColumnType::NVarChar(128), |r| Value::Str(r.name.clone())),
        "sku" => (ColumnType::NVarChar(128), |r| {
            Value::Str(r.shape.sku.clone())
        }),
        "hardware_generation" => (ColumnType::NVarChar(128), |r| {
            Value::Str(r.shape.hardware_generation.clone())
        }),
        "virtual_core_count" => (ColumnType::Int, |r| Value::Int(i64::from(r.shape.vcores))),
        "avg_cpu_percent" => (
            ColumnType::Decimal {
                precision: 5,
                scale: 2,
            },
            |_| Value::Decimal(312),
        ),
        "reserved_storage_mb" => (ColumnType::BigInt, |r| {
            Value::Int(i64::try_from(r.shape.reserved_storage_mb).unwrap_or(i64::MAX))
        }),
        "storage_space_used_mb" => (
            ColumnType::Decimal {
                precision: 18,
                scale: 2,
            },
            |r| Value::Decimal(r.used_mb_hundredths),
        ),
        "io_requests" | "io_bytes_read" | "io_bytes_written" => {
            (ColumnType::BigInt, |_| Value::Int(0))
        }
        _ => return None,
    };
    Some(c)
}

fn answer_rows<R>(
    sel: &Select,
    rows: &[R],
    lookup: impl Fn(&str) -> Option<ColumnOf<R>>,
) -> Result<Reply, (u32, String)> {
    let mut cols = Vec::new();
    for i in &sel.items {
        match &i.asks {
            Asks::Column(c) => {
                let (ty, f) =
                    lookup(c).ok_or_else(|| (207, format!("Invalid column name '{c}'.")))?;
                cols.push((
                    Column {
                        name: i.name.clone(),
                        ty,
                    },
                    f,
                ));
            }
            _ => return Err((207, format!("Invalid column name '{}'.", i.name))),
        }
    }
    let top = sel
        .top
        .map(|t| usize::try_from(t).unwrap_or(usize::MAX))
        .unwrap_or(usize::MAX);
    Ok(Reply::Rows {
        rows: rows
            .iter()
            .take(top)
            .map(|r| cols.iter().map(|(_, f)| f(r)).collect())
            .collect(),
        columns: cols.into_iter().map(|(c, _)| c).collect(),
    })
}

/// Answers a SELECT of sys.databases or sys.server_resource_stats; `None` if it reads neither.
pub fn answer_view(
    sel: &Select,
    databases: &[DatabaseRow],
    resources: &ResourceRow,
) -> Option<Result<Reply, (u32, String)>> {
    let view = if sel.reads("sys.databases") {
        "databases"
    } else if sel.reads("sys.server_resource_stats") {
        "server_resource_stats"
    } else {
        return None;
    };
    // sys.server_resource_stats has one row here, so TOP 1 ... ORDER BY end_time DESC is
    // answered rightly; on sys.databases an ordered TOP is not evaluated, so it is refused.
    if !sel.filter.is_empty() || sel.from.len() != 1 || (view == "databases" && sel.top.is_some()) {
        return Some(Err((
            102,
            format!(
                "The cutover sandbox answers sys.{view} without WHERE, JOIN or TOP; filter the rows in the client."
            ),
        )));
    }
    Some(match view {
        "databases" => answer_rows(sel, databases, database_column),
        _ => answer_rows(sel, std::slice::from_ref(resources), resource_column),
    })
}

/// One `master.sys.certificates` row of the instance: a TDE certificate uploaded through ARM
/// (ManagedInstanceTdeCertificates_Create) with its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    pub name: String,
    pub subject: String,
    pub thumbprint: [u8; 20],
}

fn certificate_column(name: &str) -> Option<ColumnOf<CertificateRow>> {
    let c: ColumnOf<CertificateRow> = match name {
        "name" => (ColumnType::NVarChar(128), |c| Value::Str(c.name.clone())),
        "subject" => (ColumnType::NVarChar(4000), |c| {
            Value::Str(c.subject.clone())
        }),
        "thumbprint" => (ColumnType::VarBinary(32), |c| {
            Value::Bytes(c.thumbprint.to_vec())
        }),
        "pvt_key_encryption_type" => (ColumnType::VarChar(2), |_| Value::Str("MK".into())),
        // The upload carries no expiry the sandbox keeps: NULL, as for a column not known.
        "expiry_date" => (ColumnType::DateTime, |_| Value::Null),
        _ => return None,
    };
    Some(c)
}

/// Answers a SELECT of sys.certificates (the TDE certificates uploaded to the instance); `None`
/// if it reads something else.
pub fn answer_certificates(
    sel: &Select,
    certificates: &[CertificateRow],
) -> Option<Result<Reply, (u32, String)>> {
    if !sel.reads("sys.certificates") {
        return None;
    }
    if !sel.filter.is_empty() || sel.from.len() != 1 || sel.top.is_some() {
        return Some(Err((
            102,
            "The cutover sandbox answers sys.certificates without WHERE, JOIN or TOP; filter the rows in the client.".into(),
        )));
    }
    Some(answer_rows(sel, certificates, certificate_column))
}

/// What the server-level functions answer for one session.
pub struct ServerFacts<'a> {
    pub server_name: &'a str,
    pub shape: &'a InstanceShape,
    pub login: &'a str,
    /// Whether the login is a member of a server role (lowercase name).
    pub member_of: &'a dyn Fn(&str) -> Option<bool>,
}

/// Answers a SELECT without FROM whose items are SERVERPROPERTY, IS_SRVROLEMEMBER or SUSER_SNAME;
/// `None` if it is something else.
pub fn answer_server(sel: &Select, f: &ServerFacts<'_>) -> Option<Reply> {
    if !sel.from.is_empty() {
        return None;
    }
    let mut columns = Vec::new();
    let mut row = Vec::new();
    for item in &sel.items {
        let (ty, value) = match &item.asks {
            Asks::ServerProperty(p) => {
                let s = |v: &str| (ColumnType::NVarChar(256), Value::Str(v.to_string()));
                let i = |v: i64| (ColumnType::Int, Value::Int(v));
                match p.as_str() {
                    "servername" => s(f.server_name),
                    "machinename" => s(f.server_name),
                    // A Managed Instance reports version 12 whatever its engine build.
                    "productversion" => s("12.0.2000.8"),
                    "productmajorversion" => s("12"),
                    "productlevel" => s("RTM"),
                    "edition" => s("SQL Azure"),
                    "engineedition" => i(8),
                    "collation" => s(&f.shape.collation),
                    "isxtpsupported" => i(i64::from(
                        f.shape.sku.eq_ignore_ascii_case("BusinessCritical"),
                    )),
                    "ishadrenabled" => i(1),
                    "isclustered" => i(0),
                    // SQL Server answers NULL for a property it does not know.
                    _ => (ColumnType::NVarChar(256), Value::Null),
                }
            }
            Asks::RoleMember(r) => match (f.member_of)(r) {
                Some(b) => (ColumnType::Int, Value::Int(i64::from(b))),
                // IS_SRVROLEMEMBER answers NULL for a role that does not exist.
                None => (ColumnType::Int, Value::Null),
            },
            Asks::LoginName => (ColumnType::NVarChar(128), Value::Str(f.login.to_string())),
            _ => return None,
        };
        columns.push(Column {
            name: item.name.clone(),
            ty,
        });
        row.push(value);
    }
    Some(Reply::Rows {
        columns,
        rows: vec![row],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::tokenize;
    use crate::sql_select::parse_select;

    fn select(sql: &str) -> Select {
        let (t, o) = tokenize(sql).unwrap();
        parse_select(&t, &o).unwrap()
    }

    fn lrs(name: &str, state: &'static str) -> LrsDatabase {
        LrsDatabase {
            name: name.into(),
            collation: "Latin1_General_100_CI_AS".into(),
            state,
            created: OffsetDateTime::now_utc(),
            compatibility_level: Some(90),
            size_bytes: 10 << 20,
        }
    }

    #[test]
    fn restores_show_restoring_then_online_with_a_stable_id() {
        let shape = InstanceShape::default();
        let mut ids = Vec::new();
        let own = vec![MiDatabase::new("Existing", 1 << 30)];
        let rows = database_rows(&own, &[lrs("Sales", "RESTORING")], &mut ids, &shape);
        let sales = rows.iter().find(|r| r.name == "Sales").unwrap();
        assert_eq!(
            (sales.state_desc, sales.collation.clone()),
            ("RESTORING", None)
        );
        let id = sales.database_id;
        assert!(id > 4);
        let rows = database_rows(&own, &[lrs("Sales", "ONLINE")], &mut ids, &shape);
        let sales = rows.iter().find(|r| r.name == "Sales").unwrap();
        assert_eq!(sales.state_desc, "ONLINE");
        assert_eq!(sales.database_id, id);
        // A level below 100 is raised to 100 on the instance.
        assert_eq!(sales.compatibility_level, 100);
        assert_eq!(rows.len(), 6);
    }

    #[test]
    fn columns_are_the_views_and_filters_are_refused() {
        let shape = InstanceShape::default();
        let rows = database_rows(&[], &[], &mut Vec::new(), &shape);
        let res = ResourceRow {
            shape: shape.clone(),
            used_mb_hundredths: 51200,
            end: OffsetDateTime::now_utc(),
            name: "x".into(),
        };
        let r = answer_view(
            &select("SELECT d.name, d.state_desc, d.compatibility_level FROM sys.databases d"),
            &rows,
            &res,
        )
        .unwrap()
        .unwrap();
        let Reply::Rows { columns, rows: got } = r else {
            panic!()
        };
        assert_eq!(columns[2].ty, ColumnType::TinyInt);
        assert_eq!(got.len(), 4);
        let e = answer_view(&select("SELECT d.nme FROM sys.databases d"), &rows, &res)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.0, 207);
        let e = answer_view(
            &select("SELECT name FROM sys.databases WHERE name = 'x'"),
            &rows,
            &res,
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(e.0, 102);
        assert!(answer_view(&select("SELECT name FROM sys.tables"), &rows, &res).is_none());
    }

    #[test]
    fn server_functions() {
        let shape = InstanceShape::default();
        let member = |r: &str| (r == "sysadmin").then_some(true);
        let f = ServerFacts {
            server_name: "mi",
            shape: &shape,
            login: "admin",
            member_of: &member,
        };
        let r = answer_server(
            &select(
                "SELECT CAST(SERVERPROPERTY('EngineEdition') AS int) AS e, \
                 CAST(SERVERPROPERTY('IsXTPSupported') AS int) AS x, \
                 IS_SRVROLEMEMBER('sysadmin') AS s, IS_SRVROLEMEMBER('nosuch') AS n",
            ),
            &f,
        )
        .unwrap();
        let Reply::Rows { rows, .. } = r else {
            panic!()
        };
        assert_eq!(
            rows[0],
            vec![Value::Int(8), Value::Int(0), Value::Int(1), Value::Null]
        );
    }
}
