//! The target's findings, pure: before the upload (the login is sysadmin, each target name is free
//! or already this activity's restore, the tier's room for databases, In-Memory OLTP, storage left
//! against the databases' sizes, collation) and after completion (ONLINE, compatibility level,
//! recovery model). Each finding has a stable code, a severity and what to do.
//!
//! Figures: the databases a tier holds are the LRS documentation's (`../shared/reference/lrs-api.md`:
//! "General Purpose: 100; Next-gen General Purpose: 500"); the published shapes do not tell
//! Next-gen apart, so an instance that already holds more than 100 databases is taken as Next-gen
//! (as `engine::lrs_slots` does). Business Critical's figure is not in that reference: not checked.

use serde::Serialize;

use crate::model::finding::{Code, Finding, Severity};
use crate::source::quote::quote_ident;

use super::queries::{InstanceInfo, ResourceStats, TargetDatabase};

/// What the instance reported over its SQL endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceReport {
    pub info: InstanceInfo,
    /// Every database, system ones included.
    pub databases: Vec<TargetDatabase>,
    /// `None`: the endpoint has no sys.server_resource_stats (not a Managed Instance).
    pub resources: Option<ResourceStats>,
}

impl InstanceReport {
    pub fn database(&self, name: &str) -> Option<&TargetDatabase> {
        self.databases
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    pub fn user_databases(&self) -> impl Iterator<Item = &TargetDatabase> {
        self.databases.iter().filter(|d| !d.is_system())
    }

    /// The databases the tier holds (`None`: not known for this tier).
    pub fn database_cap(&self) -> Option<usize> {
        let r = self.resources.as_ref()?;
        if !r.is_general_purpose() {
            return None;
        }
        Some(if self.user_databases().count() > 100 {
            500
        } else {
            100
        })
    }

    /// The instance's newest compatibility level (its `model` database's).
    pub fn default_level(&self) -> Option<i64> {
        self.database("model").map(|d| d.compatibility_level)
    }
}

/// A database about to be migrated, as the check sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedDatabase {
    pub source_name: String,
    pub target_name: String,
    /// What it takes on the instance: its size on the source, else its full backup's size.
    pub size_bytes: Option<u64>,
    /// Its collation (the source's or the backup header's).
    pub collation: Option<String>,
    /// It has a memory-optimized filegroup (known only with a source connection).
    pub in_memory_oltp: bool,
    /// This activity already started its LRS restore (its state says so): a RESTORING (or, once
    /// completed, ONLINE) database of that name is this one.
    pub started_by_activity: bool,
}

/// A finding about one database (`None`: about the instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetFinding {
    pub database: Option<String>,
    #[serde(flatten)]
    pub finding: Finding,
}

fn on(db: Option<&str>, f: Finding) -> TargetFinding {
    TargetFinding {
        database: db.map(str::to_string),
        finding: f,
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// The findings before anything is uploaded.
pub fn pre_upload(report: &InstanceReport, planned: &[PlannedDatabase]) -> Vec<TargetFinding> {
    let info = &report.info;
    let server = &info.server_name;
    let mut out = Vec::new();
    if !info.is_sysadmin {
        out.push(on(
            None,
            Finding::new(
                Code::TargetNotSysadmin,
                Severity::Error,
                None,
                format!(
                    "the login {} is not a member of the sysadmin role on the managed instance {server}",
                    info.login_name
                ),
                format!(
                    "use the instance's administrator login, or ALTER SERVER ROLE sysadmin ADD MEMBER {} on the instance",
                    quote_ident(&info.login_name)
                ),
            ),
        ));
    }
    if !info.is_managed_instance() {
        out.push(on(
            None,
            Finding::new(
                Code::TargetNotManagedInstance,
                Severity::Warning,
                None,
                format!(
                    "{server} is not an Azure SQL Managed Instance (engine edition {}, {}): the tier's limits are not checked",
                    info.engine_edition, info.edition
                ),
                "give the managed instance's SQL endpoint: <instance>.<dns zone>.database.windows.net (or ,3342 for its public endpoint)",
            ),
        ));
    }
    // Names: free, or this activity's own restore.
    let mut new_ones: Vec<&PlannedDatabase> = Vec::new();
    for p in planned {
        let t = &p.target_name;
        match report.database(t) {
            None => new_ones.push(p),
            Some(d)
                if p.started_by_activity
                    && (d.state.eq_ignore_ascii_case("RESTORING")
                        || d.state.eq_ignore_ascii_case("ONLINE")) => {}
            Some(d) => {
                let what = if d.state.eq_ignore_ascii_case("RESTORING") {
                    "a database being restored (another LRS restore or migration, not this activity's)"
                        .to_string()
                } else {
                    format!("a database ({})", d.state)
                };
                out.push(on(
                    Some(&p.source_name),
                    Finding::new(
                        Code::TargetNameInUse,
                        Severity::Error,
                        None,
                        format!(
                            "the managed instance {server} already has {what} named {t}: the Log Replay Service refuses to restore onto it"
                        ),
                        format!(
                            "give {} another name on the instance ([[backups.database]] target_name), or drop the instance's {} if it is left over (DROP DATABASE {}, after checking it holds nothing you need)",
                            p.source_name,
                            t,
                            quote_ident(t)
                        ),
                    ),
                ));
            }
        }
    }
    // The tier's room for databases.
    if let Some(cap) = report.database_cap() {
        let present = report.user_databases().count();
        let room = cap.saturating_sub(present);
        if new_ones.len() > room {
            let tier = report
                .resources
                .as_ref()
                .map(|r| r.tier_words())
                .unwrap_or_default();
            for p in &new_ones[room..] {
                out.push(on(
                    Some(&p.source_name),
                    Finding::new(
                        Code::TargetDatabaseLimit,
                        Severity::Error,
                        None,
                        format!(
                            "the {tier} instance {server} holds at most {cap} databases and has {present}: {} new ones do not fit, {} among them",
                            new_ones.len(),
                            p.target_name
                        ),
                        "migrate these databases to another instance, drop databases the instance no longer needs, or move the instance to a tier that holds more",
                    ),
                ));
            }
        }
    }
    // In-Memory OLTP.
    if info.xtp_supported == Some(false) {
        let tier = report
            .resources
            .as_ref()
            .map(|r| r.tier_words())
            .unwrap_or_else(|| "this".into());
        for p in planned.iter().filter(|p| p.in_memory_oltp) {
            out.push(on(
                Some(&p.source_name),
                Finding::new(
                    Code::TargetInMemoryOltp,
                    Severity::Error,
                    None,
                    format!(
                        "{} has a memory-optimized filegroup (In-Memory OLTP), which the {tier} instance {server} does not support: its restore would fail",
                        p.source_name
                    ),
                    "migrate it to a Business Critical instance, or remove its memory-optimized tables and filegroup on the source first",
                ),
            ));
        }
    }
    // Storage left against the new databases' sizes.
    if let Some(r) = &report.resources {
        let need: u64 = new_ones.iter().filter_map(|p| p.size_bytes).sum();
        let left = r.storage_left_mb();
        if need > 0 && mb(need) > left {
            out.push(on(
                None,
                Finding::new(
                    Code::TargetStorageShort,
                    Severity::Error,
                    None,
                    format!(
                        "the databases to restore need about {:.0} MB and the instance {server} has {:.0} MB left of {} MB reserved",
                        mb(need),
                        left,
                        r.reserved_storage_mb
                    ),
                    "raise the instance's storage (Azure portal: Compute + storage) before the migration, or migrate fewer databases at once",
                ),
            ));
        } else if need > 0 && left - mb(need) < r.reserved_storage_mb as f64 * 0.1 {
            out.push(on(
                None,
                Finding::new(
                    Code::TargetStorageShort,
                    Severity::Warning,
                    None,
                    format!(
                        "after the restores the instance {server} would have {:.0} MB left of {} MB reserved (under 10%): log growth during catch-up can fill it",
                        left - mb(need),
                        r.reserved_storage_mb
                    ),
                    "raise the instance's storage before the migration",
                ),
            ));
        }
    }
    // Collation.
    if !info.collation.is_empty() {
        for p in planned {
            if let Some(c) = &p.collation
                && !c.eq_ignore_ascii_case(&info.collation)
            {
                out.push(on(
                    Some(&p.source_name),
                    Finding::new(
                        Code::TargetCollationDiffers,
                        Severity::Warning,
                        None,
                        format!(
                            "{} uses the collation {c}, the instance {server} (and its tempdb) {}: comparisons between its columns and temporary tables fail with a collation conflict",
                            p.source_name, info.collation
                        ),
                        "declare temporary tables' text columns COLLATE DATABASE_DEFAULT, or migrate to an instance created with the same collation",
                    ),
                ));
            }
        }
    }
    out
}

/// A database after completion, as the instance reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostCutover {
    pub database: String,
    /// `None`: the instance has no database of that name.
    pub state: Option<String>,
    pub compatibility_level: Option<i64>,
    pub recovery_model: Option<String>,
    pub collation: Option<String>,
    /// What the applications connect with (no login or password in it).
    pub connection_string: String,
    pub findings: Vec<Finding>,
}

/// The facts and findings of each completed database (`names`: their target names).
/// `connection`: the applications' connection string for a database.
pub fn post_cutover(
    report: &InstanceReport,
    names: &[String],
    connection: &dyn Fn(&str) -> String,
) -> Vec<PostCutover> {
    let server = &report.info.server_name;
    let newest = report.default_level();
    names
        .iter()
        .map(|n| {
            let d = report.database(n);
            let mut findings = Vec::new();
            match d {
                Some(d) if d.state.eq_ignore_ascii_case("ONLINE") => {}
                other => findings.push(Finding::new(
                    Code::TargetNotOnline,
                    Severity::Error,
                    None,
                    match other {
                        Some(d) => format!("{n} is {} on the managed instance {server}, not ONLINE", d.state),
                        None => format!("the managed instance {server} has no database {n}"),
                    },
                    "read the LRS restore's status (cutover lrs status) and the instance's error log; applications cannot use it yet",
                )),
            }
            if let (Some(d), Some(newest)) = (d, newest)
                && d.state.eq_ignore_ascii_case("ONLINE")
                && d.compatibility_level < newest
            {
                findings.push(Finding::new(
                    Code::TargetCompatibilityLevel,
                    Severity::Info,
                    None,
                    format!(
                        "{n} keeps compatibility level {} from the source; the instance's newest is {newest}",
                        d.compatibility_level
                    ),
                    format!(
                        "after testing the applications on it: ALTER DATABASE {} SET COMPATIBILITY_LEVEL = {newest}",
                        quote_ident(n)
                    ),
                ));
            }
            if let Some(d) = d
                && d.state.eq_ignore_ascii_case("ONLINE")
                && !d.recovery_model.eq_ignore_ascii_case("FULL")
            {
                findings.push(Finding::new(
                    Code::TargetRecoveryModel,
                    Severity::Warning,
                    None,
                    format!(
                        "{n} is in the {} recovery model on the instance: point-in-time restore needs FULL",
                        d.recovery_model
                    ),
                    format!("ALTER DATABASE {} SET RECOVERY FULL", quote_ident(n)),
                ));
            }
            PostCutover {
                database: n.clone(),
                state: d.map(|d| d.state.clone()),
                compatibility_level: d.map(|d| d.compatibility_level),
                recovery_model: d.map(|d| d.recovery_model.clone()),
                collation: d.and_then(|d| d.collation.clone()),
                connection_string: connection(n),
                findings,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(name: &str, id: i64, state: &str) -> TargetDatabase {
        TargetDatabase {
            name: name.into(),
            database_id: id,
            state: state.into(),
            compatibility_level: 150,
            recovery_model: "FULL".into(),
            collation: Some("SQL_Latin1_General_CP1_CI_AS".into()),
        }
    }

    fn report(user_dbs: usize, used_mb: f64) -> InstanceReport {
        let mut databases = vec![db("master", 1, "ONLINE"), db("model", 3, "ONLINE")];
        databases[1].compatibility_level = 160;
        for i in 0..user_dbs {
            databases.push(db(&format!("db{i}"), 5 + i as i64, "ONLINE"));
        }
        InstanceReport {
            info: InstanceInfo {
                server_name: "mi".into(),
                product_version: "12.0.2000.8".into(),
                edition: "SQL Azure".into(),
                engine_edition: 8,
                collation: "SQL_Latin1_General_CP1_CI_AS".into(),
                xtp_supported: Some(false),
                is_sysadmin: true,
                login_name: "admin".into(),
            },
            databases,
            resources: Some(ResourceStats {
                sku: "GeneralPurpose".into(),
                hardware_generation: "Gen5".into(),
                vcores: 4,
                reserved_storage_mb: 1000,
                storage_used_mb: used_mb,
            }),
        }
    }

    fn planned(name: &str) -> PlannedDatabase {
        PlannedDatabase {
            source_name: name.into(),
            target_name: name.into(),
            size_bytes: Some(10 << 20),
            collation: Some("SQL_Latin1_General_CP1_CI_AS".into()),
            in_memory_oltp: false,
            started_by_activity: false,
        }
    }

    fn codes(f: &[TargetFinding]) -> Vec<(&str, Severity)> {
        f.iter()
            .map(|f| (f.finding.code.as_str(), f.finding.severity))
            .collect()
    }

    #[test]
    fn a_clean_instance_has_no_findings() {
        assert!(pre_upload(&report(3, 100.0), &[planned("Sales")]).is_empty());
    }

    #[test]
    fn a_taken_name_is_an_error_unless_it_is_this_activitys_restore() {
        let mut r = report(0, 100.0);
        r.databases.push(db("Sales", 5, "RESTORING"));
        let f = pre_upload(&r, &[planned("Sales")]);
        assert_eq!(codes(&f), vec![("TARGET_NAME_IN_USE", Severity::Error)]);
        assert_eq!(f[0].database.as_deref(), Some("Sales"));
        let mut ours = planned("Sales");
        ours.started_by_activity = true;
        assert!(pre_upload(&r, &[ours.clone()]).is_empty());
        // An OFFLINE database of that name is not a restore of ours.
        r.databases[2].state = "OFFLINE".into();
        assert_eq!(pre_upload(&r, &[ours]).len(), 1);
    }

    #[test]
    fn limits_in_memory_storage_collation_and_sysadmin() {
        let mut r = report(99, 900.0);
        r.info.is_sysadmin = false;
        let mut a = planned("A");
        a.in_memory_oltp = true;
        a.size_bytes = Some(200 << 20);
        let mut b = planned("B");
        b.collation = Some("Latin1_General_CI_AS".into());
        let f = pre_upload(&r, &[a, b]);
        let c = codes(&f);
        assert!(
            c.contains(&("TARGET_NOT_SYSADMIN", Severity::Error)),
            "{c:?}"
        );
        // 99 + 2 > 100: the second new one does not fit.
        let limit: Vec<_> = f
            .iter()
            .filter(|f| f.finding.code == Code::TargetDatabaseLimit)
            .collect();
        assert_eq!(limit.len(), 1);
        assert_eq!(limit[0].database.as_deref(), Some("B"));
        assert!(
            c.contains(&("TARGET_IN_MEMORY_OLTP", Severity::Error)),
            "{c:?}"
        );
        assert!(
            c.contains(&("TARGET_STORAGE_SHORT", Severity::Error)),
            "{c:?}"
        );
        assert!(
            c.contains(&("TARGET_COLLATION_DIFFERS", Severity::Warning)),
            "{c:?}"
        );
        // Business Critical: In-Memory OLTP supported, no database cap checked.
        r.info.xtp_supported = Some(true);
        if let Some(res) = r.resources.as_mut() {
            res.sku = "BusinessCritical".into();
        }
        let mut a = planned("A");
        a.in_memory_oltp = true;
        let c2 = pre_upload(&r, &[a, planned("B")]);
        assert!(
            !c2.iter().any(|f| matches!(
                f.finding.code,
                Code::TargetInMemoryOltp | Code::TargetDatabaseLimit
            )),
            "{:?}",
            codes(&c2)
        );
    }

    #[test]
    fn after_completion() {
        let mut r = report(0, 100.0);
        r.databases.push(db("Sales", 5, "ONLINE"));
        r.databases.push(db("Hr", 6, "RESTORING"));
        let p = post_cutover(&r, &["Sales".into(), "Hr".into(), "Gone".into()], &|db| {
            format!("Server=tcp:mi,1433;Database={db}")
        });
        assert_eq!(p[0].state.as_deref(), Some("ONLINE"));
        assert_eq!(p[0].connection_string, "Server=tcp:mi,1433;Database=Sales");
        assert_eq!(p[0].findings.len(), 1);
        assert_eq!(p[0].findings[0].code, Code::TargetCompatibilityLevel);
        assert_eq!(p[1].findings[0].code, Code::TargetNotOnline);
        assert_eq!(p[2].state, None);
        assert_eq!(p[2].findings[0].code, Code::TargetNotOnline);
    }
}
