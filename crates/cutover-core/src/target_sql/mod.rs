//! The managed instance's own SQL endpoint, over the source client's connection code (tiberius,
//! TLS validated by default, plain TDS only for a loopback test server; `SourceOptions` name the
//! instance): before the upload, whether the login is sysadmin, each target name is free, the
//! tier's room for databases, In-Memory OLTP, storage and collation (`checks::pre_upload`); after
//! completion, each database's state, compatibility level and recovery model, and the connection
//! string the applications use (`checks::post_cutover`). Nothing here prints.

pub mod checks;
pub mod queries;

use std::collections::HashMap;
use std::path::Path;

pub use checks::{InstanceReport, PlannedDatabase, PostCutover, TargetFinding};
pub use queries::{InstanceInfo, ResourceStats, TargetDatabase};

use crate::backup::BackupType;
use crate::model::snapshot::connection_value;
use crate::source::{Encryption, SourceClient, SourceError, SourceOptions};

/// An open connection to the instance's SQL endpoint.
#[derive(Debug)]
pub struct TargetSql {
    client: SourceClient,
}

impl TargetSql {
    /// Connects and logs in (the same checks and errors as the source's connection).
    pub async fn connect(opts: &SourceOptions) -> Result<TargetSql, SourceError> {
        Ok(TargetSql {
            client: SourceClient::connect(opts).await?,
        })
    }

    /// The instance, its databases and (on a Managed Instance) its tier and storage.
    pub async fn report(&mut self) -> Result<InstanceReport, SourceError> {
        let label = self.client.label().to_string();
        let unexpected = |what: &'static str, detail: String| SourceError::Unexpected {
            server: label.clone(),
            what,
            detail,
        };
        let rows = self.client.rows(queries::INSTANCE_INFO, &[]).await?;
        let row = rows
            .first()
            .ok_or_else(|| unexpected("the instance query", "no row".into()))?;
        let info = InstanceInfo::from_row(row)
            .map_err(|e| unexpected("the instance query", e.to_string()))?;
        let rows = self.client.rows(queries::DATABASES, &[]).await?;
        let databases = rows
            .iter()
            .map(TargetDatabase::from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unexpected("the databases query", e.to_string()))?;
        // Only a Managed Instance has sys.server_resource_stats.
        let resources = if info.is_managed_instance() {
            let rows = self.client.rows(queries::RESOURCE_STATS, &[]).await?;
            match rows.first() {
                Some(r) => Some(
                    ResourceStats::from_row(r)
                        .map_err(|e| unexpected("sys.server_resource_stats", e.to_string()))?,
                ),
                None => None,
            }
        } else {
            None
        };
        Ok(InstanceReport {
            info,
            databases,
            resources,
        })
    }

    pub async fn close(self) {
        self.client.close().await;
    }
}

/// The connection string applications use for `database` (no login or password: theirs): the
/// endpoint as given, encrypted with the certificate validated unless it is the plain-text
/// sandbox.
pub fn connection_string(opts: &SourceOptions, database: &str) -> String {
    let host = &opts.server.host;
    let port = opts
        .server
        .port
        .unwrap_or(crate::source::ServerAddress::DEFAULT_PORT);
    let encrypt = match opts.encryption {
        Encryption::Plaintext => "Encrypt=False",
        Encryption::Tls { .. } => "Encrypt=True;TrustServerCertificate=False",
    };
    format!(
        "Server=tcp:{host},{port};Database={};{encrypt};Connection Timeout=30;",
        connection_value(database)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_string_values_are_quoted_when_they_must_be() {
        assert_eq!(connection_value("Sales"), "Sales");
        assert_eq!(connection_value("we]ird 'name"), "\"we]ird 'name\"");
        assert_eq!(connection_value("a;b"), "\"a;b\"");
        assert_eq!(connection_value("x\"y'z"), "'x\"y''z'");
        let o = SourceOptions::new(
            "mi.zone.database.windows.net".parse().unwrap(),
            crate::source::SourceAuth::AadToken(azure_core::credentials::Secret::new("t")),
            Encryption::Tls {
                trust_server_certificate: false,
            },
        );
        assert_eq!(
            connection_string(&o, "Sales"),
            "Server=tcp:mi.zone.database.windows.net,1433;Database=Sales;Encrypt=True;TrustServerCertificate=False;Connection Timeout=30;"
        );
    }
}

/// One database to migrate, for [`planned_databases`].
#[derive(Debug, Clone)]
pub struct ToMigrate<'a> {
    pub name: &'a str,
    pub target_name: &'a str,
    pub folder: &'a Path,
}

/// What the check needs of each database: its size and collation from its backup folder's newest
/// full backup (or the source, when connected: its allocated size and In-Memory OLTP), and
/// whether the activity (`state_file`) already started its restore.
pub fn planned_databases(
    backups: &dyn crate::backup_folder::BackupFolder,
    databases: &[ToMigrate<'_>],
    source: &[crate::source::SourceDatabase],
    state_file: &Path,
) -> Vec<PlannedDatabase> {
    let saved = crate::engine::reattach_preflight::saved_states(state_file);
    let mut scans: HashMap<&Path, Option<crate::catalog::Scan>> = HashMap::new();
    databases
        .iter()
        .map(|d| {
            let scan = scans.entry(d.folder).or_insert_with(|| {
                crate::catalog::scan::scan_folder_in(
                    backups,
                    d.folder,
                    &crate::catalog::ScanOptions::default(),
                )
                .ok()
            });
            let full = scan.as_ref().and_then(|s| {
                s.files
                    .iter()
                    .filter_map(|f| f.sets.as_ref().ok())
                    .flatten()
                    .filter(|b| b.database_name == d.name && b.backup_type == BackupType::Full)
                    .max_by_key(|b| b.last_lsn)
                    .cloned()
            });
            let src = source.iter().find(|s| s.name == d.name);
            PlannedDatabase {
                source_name: d.name.to_string(),
                target_name: d.target_name.to_string(),
                size_bytes: src
                    .map(|s| s.size_bytes)
                    .filter(|b| *b > 0)
                    .or(full.as_ref().map(|b| b.backup_size)),
                collation: full.map(|b| b.collation).filter(|c| !c.is_empty()),
                in_memory_oltp: src.is_some_and(|s| s.memory_optimized_filegroups > 0),
                started_by_activity: saved.get(d.name).is_some_and(|s| s.lrs_started),
            }
        })
        .collect()
}

/// The pre-upload check of a configured migration: `None` when `[target] sql_server` is not set.
/// The source (when configured) adds each database's allocated size and In-Memory OLTP; a source
/// that cannot be reached here is left out (its own check reports it). The error: the instance
/// could not be reached or read.
pub async fn check_before_upload(
    cfg: &crate::engine::runner::EngineConfig,
) -> Result<Option<(InstanceReport, Vec<TargetFinding>)>, String> {
    let Some(opts) = &cfg.target_sql else {
        return Ok(None);
    };
    let mut target = TargetSql::connect(opts)
        .await
        .map_err(|e| format!("[target] sql_server: {e}"))?;
    let report = target
        .report()
        .await
        .map_err(|e| format!("[target] sql_server: {e}"));
    target.close().await;
    let report = report?;
    let source = match &cfg.source {
        Some(o) => match SourceClient::connect(o).await {
            Ok(mut c) => {
                let d = c.databases().await.unwrap_or_default();
                c.close().await;
                d
            }
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    let backups = cfg.backups.clone();
    let state_file = cfg.state_file.clone();
    let dbs: Vec<(String, String, std::path::PathBuf)> = cfg
        .databases
        .iter()
        .map(|d| (d.name.clone(), d.target_name.clone(), d.folder.clone()))
        .collect();
    let planned = tokio::task::spawn_blocking(move || {
        let list: Vec<ToMigrate<'_>> = dbs
            .iter()
            .map(|(n, t, f)| ToMigrate {
                name: n,
                target_name: t,
                folder: f,
            })
            .collect();
        planned_databases(backups.as_ref(), &list, &source, &state_file)
    })
    .await
    .map_err(|e| format!("the target check stopped: {e}"))?;
    let findings = checks::pre_upload(&report, &planned);
    Ok(Some((report, findings)))
}

/// After completion: each database (`names`: target names) as the instance reports it, with the
/// applications' connection string.
pub async fn check_after_completion(
    opts: &SourceOptions,
    names: &[String],
) -> Result<(InstanceReport, Vec<PostCutover>), SourceError> {
    let mut target = TargetSql::connect(opts).await?;
    let report = target.report().await;
    target.close().await;
    let report = report?;
    let post = checks::post_cutover(&report, names, &|db| connection_string(opts, db));
    Ok((report, post))
}
