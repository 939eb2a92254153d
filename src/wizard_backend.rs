//! What the wizard asks of the outside world, done here (the TUI never connects itself): test the
//! source (connect, list databases), test the target (reach the ARM endpoint), and the preflight
//! findings per selected database (the catalog's check of its backup folder plus the source
//! cross-check: msdb history vs folder, SIMPLE recovery, TDE, In-Memory OLTP, FILESTREAM, sysadmin).

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::Secret;

use crate::catalog::{self, Finding, ScanOptions};
use crate::source::{
    Encryption, ServerAddress, SourceAuth, SourceClient, SourceOptions, crosscheck,
};
use crate::tui::wizard::values::{SourceAuthKind, SourceForm, TargetForm, WizardValues};
use crate::tui::{SourceSummary, WizardBackend};

/// The wizard's backend. `sandbox_arm` is the sandbox's ARM endpoint when the target may be the
/// sandbox.
pub struct Backend {
    pub sandbox_arm: Option<String>,
}

/// The source options a Source screen describes.
pub fn source_options(form: &SourceForm) -> Result<SourceOptions, String> {
    let server: ServerAddress = form.address().parse().map_err(|e| format!("Server: {e}"))?;
    let auth = match form.auth {
        SourceAuthKind::SqlLogin => {
            if form.user.trim().is_empty() {
                return Err("User: give the SQL login".into());
            }
            SourceAuth::SqlLogin {
                user: form.user.trim().to_string(),
                password: Secret::new(form.password.expose().to_string()),
            }
        }
        SourceAuthKind::EntraToken => {
            SourceAuth::AadToken(Secret::new(form.token.expose().to_string()))
        }
    };
    let encryption = if form.encrypt {
        Encryption::Tls {
            trust_server_certificate: form.trust_server_certificate,
        }
    } else {
        Encryption::Plaintext
    };
    let mut o = SourceOptions::new(server, auth, encryption);
    o.connect_timeout = Duration::from_secs(10);
    Ok(o)
}

#[async_trait]
impl WizardBackend for Backend {
    async fn test_source(&self, form: &SourceForm) -> Result<SourceSummary, String> {
        let opts = source_options(form)?;
        let mut c = SourceClient::connect(&opts)
            .await
            .map_err(|e| e.to_string())?;
        let info = c.server_info().await.map_err(|e| e.to_string())?;
        let databases = c.databases().await.map_err(|e| e.to_string())?;
        c.close().await;
        let admin = if info.is_sysadmin {
            "sysadmin"
        } else {
            "NOT sysadmin"
        };
        Ok(SourceSummary {
            server: format!(
                "{} (SQL Server {}, {}; login {} is {admin})",
                info.server_name, info.product_version, info.edition, info.login_name
            ),
            databases,
        })
    }

    async fn test_target(&self, form: &TargetForm) -> Result<String, String> {
        if form.sandbox {
            let arm = self
                .sandbox_arm
                .clone()
                .ok_or("no sandbox runs here: start `cutover sandbox` or choose Azure")?;
            let hostport = arm.trim_start_matches("http://").to_string();
            tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect(&hostport),
            )
            .await
            .map_err(|_| format!("the sandbox at {arm} does not answer"))?
            .map_err(|e| format!("the sandbox at {arm}: {e}"))?;
            return Ok(format!("sandbox managed instance at {arm}"));
        }
        for (v, name) in [
            (&form.subscription, "Subscription"),
            (&form.resource_group, "Resource group"),
            (&form.managed_instance, "Managed instance"),
        ] {
            if v.trim().is_empty() {
                return Err(format!("{name} is empty"));
            }
        }
        Ok(format!(
            "{} in {} ({}): credentials are checked when the migration starts",
            form.managed_instance, form.resource_group, form.subscription
        ))
    }

    async fn preflight(&self, values: &WizardValues) -> Vec<(String, Vec<Finding>)> {
        let mut client = match source_options(&values.source) {
            Ok(o) => SourceClient::connect(&o).await.ok(),
            Err(_) => None,
        };
        let mut out = Vec::new();
        let source_dbs = match client.as_mut() {
            Some(c) => c.databases().await.unwrap_or_default(),
            None => Vec::new(),
        };
        for name in &values.databases {
            let folder = PathBuf::from(
                values
                    .settings
                    .folder_overrides
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| values.settings.backup_folder.clone()),
            );
            let mut findings = Vec::new();
            let scan = tokio::task::spawn_blocking({
                let folder = folder.clone();
                move || catalog::scan_folder(&folder, &ScanOptions::default())
            })
            .await;
            let scan = match scan {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    findings.push(Finding::new(
                        catalog::Code::UnreadableFile,
                        catalog::Severity::Error,
                        None,
                        e.to_string(),
                        "check the backup folder",
                    ));
                    out.push((name.clone(), findings));
                    continue;
                }
                Err(e) => {
                    out.push((
                        name.clone(),
                        vec![Finding::new(
                            catalog::Code::UnreadableFile,
                            catalog::Severity::Error,
                            None,
                            e.to_string(),
                            "try again",
                        )],
                    ));
                    continue;
                }
            };
            let report = catalog::check(&scan);
            match report.database(name) {
                Some(p) => findings.extend(p.findings.iter().cloned()),
                None => findings.push(Finding::new(
                    catalog::Code::NoFullBackup,
                    catalog::Severity::Error,
                    None,
                    format!("no backup of {name} in {}", folder.display()),
                    "check the backup folder, or set a per-database folder under Advanced",
                )),
            }
            if let Some(d) = source_dbs.iter().find(|d| &d.name == name) {
                findings.extend(crosscheck::database_findings(d));
                if let Some(c) = client.as_mut()
                    && let Ok(h) = c.backup_history(name).await
                {
                    let sets: Vec<_> = scan
                        .files
                        .iter()
                        .filter_map(|f| f.sets.as_ref().ok())
                        .flatten()
                        .collect();
                    findings.extend(crosscheck::history_findings(
                        name,
                        &h,
                        &sets,
                        report.database(name),
                    ));
                }
            }
            out.push((name.clone(), findings));
        }
        if let Some(c) = client {
            c.close().await;
        }
        out
    }
}
