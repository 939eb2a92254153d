//! What the wizard asks of the outside world, done here (the TUI never connects itself): test the
//! source (connect, list databases), or list the databases of the backup folder when there is no
//! source connection; test the target (sign in with the chosen credential and read the managed
//! instance from ARM); the preflight findings per selected database (the catalog's check of its
//! backup folder plus the source cross-check: msdb history vs folder, SIMPLE recovery, TDE,
//! In-Memory OLTP, FILESTREAM, sysadmin) and the configuration check `cutover run` makes (its
//! warnings, e.g. a SAS that expires during the migration, shown before Run); and saving the
//! values as a configuration file (the mapping lives in `config_map`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{Secret, TokenCredential};

use super::config_map::{
    config_toml, engine_config, secret_env_vars, typed_service_principal, write_config,
};
use crate::arm::ArmClient;
use crate::arm::discovery::types::{ManagedInstance, StorageAccount};
use crate::arm::discovery::{DiscoveryClient, judge_firewall};
use crate::backup_folder::{BackupFolder, smb_address};
use crate::catalog::{self, Finding, ScanOptions};
use crate::config::{BackupsSection, DatabaseOverride};
use crate::model::{
    AzureCheck, AzureContainer, AzureInstance, AzureStorageAccount, AzureSubscription,
};
use crate::restore_target::lrs::{DEFAULT_ARM_ENDPOINT, InstanceRef, LrsClient};
use crate::source::{
    Encryption, ServerAddress, SourceAuth, SourceClient, SourceDatabase, SourceOptions, crosscheck,
};
use crate::storage::auth::{AadKind, aad_credential};
use crate::tui::wizard::values::{
    MiAccess, MigrationSettings, PreflightReport, SaveOutcome, SourceAuthKind, SourceForm,
    StorageCheckRequest, TargetCredential, TargetForm, WizardValues,
};
use crate::tui::{SourceSummary, WizardBackend};

/// The wizard's backend. `sandbox_arm` is the sandbox's ARM endpoint when the target may be the
/// sandbox.
pub struct Backend {
    pub sandbox_arm: Option<String>,
    /// The sandbox's managed instance SQL endpoint `(server, user, password)`, when the target may
    /// be the sandbox: the Summary checks it as it would the instance's (`[target] sql_server`).
    pub sandbox_mi_sql: Option<(String, String, String)>,
}

/// The variable the sandbox's instance password is handed over under (never set in the
/// environment: it lives in `ProvidedSecrets` only).
const SANDBOX_MI_PASSWORD: &str = "CUTOVER_SANDBOX_MI_PASSWORD";

/// The source options a Source screen describes.
pub fn source_options(form: &SourceForm) -> Result<SourceOptions, String> {
    if form.folder_only {
        return Err("Source: no connection (backup folder only)".into());
    }
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

/// The credential the Target screen describes, as the migration will use it: a static token for
/// the sandbox (explicitly chosen), the typed service principal, or `azure_identity`'s credential.
fn target_credential(
    t: &TargetForm,
    arm: &str,
    sandbox: bool,
) -> Result<Arc<dyn TokenCredential>, String> {
    crate::config::engine::arm_credential(arm, sandbox, "the Sandbox target", || {
        if let Some(c) = typed_service_principal(t)? {
            return Ok(c);
        }
        let kind = match t.credential {
            TargetCredential::ServicePrincipal => AadKind::ServicePrincipal,
            TargetCredential::AzureCli => AadKind::AzureCli,
            TargetCredential::ManagedIdentity => AadKind::ManagedIdentity,
            TargetCredential::WorkloadIdentity => AadKind::WorkloadIdentity,
            TargetCredential::Auto => AadKind::Auto,
        };
        aad_credential(kind)
    })
}

/// "mi-contoso (GeneralPurpose, 8 vCores, westeurope, Ready)" from ARM's managed instance.
fn describe_instance(name: &str, v: &serde_json::Value) -> String {
    let s = |p: &str| v.pointer(p).and_then(serde_json::Value::as_str);
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = s("/sku/tier") {
        parts.push(t.to_string());
    }
    if let Some(c) = v
        .pointer("/properties/vCores")
        .or_else(|| v.pointer("/sku/capacity"))
        .and_then(serde_json::Value::as_u64)
    {
        parts.push(format!("{c} vCores"));
    }
    if let Some(l) = s("/location") {
        parts.push(l.to_string());
    }
    if let Some(st) = s("/properties/state") {
        parts.push(st.to_string());
    }
    let name = s("/name").unwrap_or(name);
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", parts.join(", "))
    }
}

/// Signs in with the credential of `t` and reads the managed instance at `arm` (one GET, no
/// retries, at most 30 s): the answer says the credential works and may read the instance.
pub async fn check_target(t: &TargetForm, arm: &str, sandbox: bool) -> Result<String, String> {
    for (v, name) in [
        (&t.subscription, "Subscription ID"),
        (&t.resource_group, "Resource group"),
        (&t.managed_instance, "Managed instance"),
    ] {
        if v.trim().is_empty() {
            return Err(format!("{name} is empty"));
        }
    }
    let credential = target_credential(t, arm, sandbox)?;
    let mut lrs = LrsClient::new(
        arm,
        credential,
        InstanceRef {
            subscription: t.subscription.trim().to_string(),
            resource_group: t.resource_group.trim().to_string(),
            managed_instance: t.managed_instance.trim().to_string(),
        },
    )
    .map_err(|e| e.to_string())?;
    lrs.arm.max_attempts = 1;
    let v = tokio::time::timeout(Duration::from_secs(30), lrs.instance())
        .await
        .map_err(|_| {
            format!("no answer from {arm} within 30 s: check the network or the ARM endpoint")
        })?
        .map_err(|e| e.to_string())?;
    let signed_in = if sandbox {
        "the sandbox's ARM".to_string()
    } else {
        format!("signed in to {arm}")
    };
    Ok(format!(
        "{} ({signed_in})",
        describe_instance(t.managed_instance.trim(), &v)
    ))
}

fn datetime(t: Option<time::PrimitiveDateTime>) -> Option<String> {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.and_then(|t| t.format(&f).ok())
}

/// The backup folder of the Migration settings as the migration reads it: a local folder, or an
/// SMB share signed in to (the same code as `[backups]` in a configuration file).
pub struct OpenedBackups {
    pub folder: Arc<dyn BackupFolder>,
    /// The backup folder (canonical `smb://...` on a share).
    pub root: PathBuf,
    /// Per-database folders (Advanced).
    pub overrides: BTreeMap<String, PathBuf>,
    /// `\\server\share signed in as USER` for a share.
    pub share: Option<String>,
}

impl OpenedBackups {
    pub fn folder_of(&self, database: &str) -> PathBuf {
        self.overrides
            .get(database)
            .cloned()
            .unwrap_or_else(|| self.root.clone())
    }
}

/// Opens the settings' backup folder (signs in to the share now: a wrong password or an unknown
/// share fails here, said in the screen's words).
pub fn open_backups(m: &MigrationSettings) -> Result<OpenedBackups, String> {
    let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let folder = some(&m.backup_folder).ok_or("Backup folder: required")?;
    let database: Vec<DatabaseOverride> = m
        .folder_overrides
        .iter()
        .map(|(name, f)| DatabaseOverride {
            name: name.clone(),
            folder: Some(PathBuf::from(f.trim())),
            server_folder: None,
            target_name: None,
        })
        .collect();
    let section = BackupsSection {
        folder: Some(PathBuf::from(&folder)),
        database: (!database.is_empty()).then_some(database),
        smb_user: some(&m.smb_user),
        smb_password_env: some(&m.smb_password_env),
        ..Default::default()
    };
    let (reader, root, overrides) =
        crate::config::engine::backups_folder(&section).map_err(|e| {
            e.replacen("[backups] folder: ", "Backup folder: ", 1)
                .replacen("[backups] folder ", "Backup folder ", 1)
                .replacen("[backups] smb_password_env: ", "SMB password variable: ", 1)
                .replacen("[backups] smb_user is missing: ", "SMB user: required: ", 1)
        })?;
    let root = root.unwrap_or_else(|| PathBuf::from(&folder));
    let share = smb_address::is_share(&folder)
        .then(|| format!("signed in to the share as {}", m.smb_user.trim()));
    Ok(OpenedBackups {
        folder: reader,
        root,
        overrides: overrides
            .into_iter()
            .filter_map(|o| o.folder.map(|f| (o.name, f)))
            .collect(),
        share,
    })
}

/// What the Migration settings screen's Ctrl-T says of the backup folder: where, signed in as
/// whom, the files and databases found, and each database's newest backups (a few lines).
pub fn backups_report(m: &MigrationSettings) -> Result<String, String> {
    let b = open_backups(m)?;
    let scan = catalog::scan::scan_folder_in(b.folder.as_ref(), &b.root, &ScanOptions::default())
        .map_err(|e| format!("Backup folder: {e}"))?;
    let report = catalog::check(&scan);
    if report.databases.is_empty() {
        return Err(format!(
            "Backup folder: {} file(s) in {} but no SQL Server backup: check the path",
            scan.files.len(),
            b.root.display()
        ));
    }
    let mut lines = vec![format!(
        "{}: {} file(s), {} database(s){}",
        b.root.display(),
        scan.files.len(),
        report.databases.len(),
        b.share.map(|s| format!(", {s}")).unwrap_or_default()
    )];
    let shown = 3;
    for d in report.databases.iter().take(shown) {
        let newest = |t: crate::backup::header::BackupType| {
            d.plan.iter().rev().find(|s| s.backup_type == t).map(|s| {
                format!(
                    "{} {}",
                    s.stripes.first().map(String::as_str).unwrap_or("?"),
                    datetime(s.start).unwrap_or_default()
                )
            })
        };
        let full = newest(crate::backup::header::BackupType::Full);
        let log = newest(crate::backup::header::BackupType::Log);
        lines.push(format!(
            "{}: full {}; newest log {}",
            d.name,
            full.as_deref().unwrap_or("none"),
            log.as_deref().unwrap_or("none")
        ));
    }
    if report.databases.len() > shown {
        lines.push(format!(
            "... and {} more: {}",
            report.databases.len() - shown,
            report.databases[shown..]
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(lines.join("\n"))
}

/// The databases of a backup folder, as the Databases screen lists them (size and dates from the
/// restore plan; recovery model and state are unknown without the source).
pub fn folder_databases(folder: &Path) -> Result<SourceSummary, String> {
    folder_databases_in(&crate::backup_folder::LocalFolder, folder)
}

/// [`folder_databases`] of a folder read through `reader` (an SMB share signed in to).
pub fn folder_databases_in(
    reader: &dyn BackupFolder,
    folder: &Path,
) -> Result<SourceSummary, String> {
    let scan = catalog::scan::scan_folder_in(reader, folder, &ScanOptions::default())
        .map_err(|e| format!("Backup folder: {e}"))?;
    let report = catalog::check(&scan);
    if report.databases.is_empty() {
        return Err(format!(
            "Backup folder: no SQL Server backups in {}: check the path",
            folder.display()
        ));
    }
    let databases = report
        .databases
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let full = d
                .plan
                .iter()
                .find(|s| s.backup_type == crate::backup::header::BackupType::Full);
            let log = d
                .plan
                .iter()
                .rev()
                .find(|s| s.backup_type == crate::backup::header::BackupType::Log);
            SourceDatabase {
                name: d.name.clone(),
                database_id: i32::try_from(i).unwrap_or(i32::MAX),
                state: "-".to_string(),
                recovery_model: "-".to_string(),
                compatibility_level: 0,
                is_read_only: false,
                user_access: "-".to_string(),
                is_encrypted: false,
                size_bytes: full.map_or(0, |f| f.size),
                filestream_files: 0,
                memory_optimized_filegroups: 0,
                last_full_backup: datetime(full.and_then(|f| f.start)),
                last_log_backup: datetime(log.and_then(|f| f.start)),
            }
        })
        .collect();
    Ok(SourceSummary {
        server: format!(
            "backup folder {}: {} database(s)",
            folder.display(),
            report.databases.len()
        ),
        databases,
        // Without the source, recovery model and state are unknown: the backups' findings come
        // in the preflight.
        findings: Default::default(),
        logins: Vec::new(),
    })
}

/// The source cross-check's findings of each database the source listed (the Databases screen
/// shows their codes and, for the database under the cursor, the findings whole).
pub fn source_findings(
    databases: &[SourceDatabase],
) -> std::collections::BTreeMap<String, Vec<crate::catalog::Finding>> {
    databases
        .iter()
        .map(|d| {
            (
                d.name.clone(),
                crate::source::crosscheck::database_findings(d),
            )
        })
        .collect()
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
        // The logins the Databases screen offers (a source that refuses the catalog views of
        // logins leaves the list empty: the run's default applies).
        let names: Vec<String> = databases.iter().map(|d| d.name.clone()).collect();
        let logins = match c.login_inventory(&names).await {
            Ok(inv) => inv
                .logins
                .iter()
                .map(|l| crate::model::LoginRow {
                    login: l.name.clone(),
                    kind: l.kind.label().to_string(),
                    target: l.name.clone(),
                    used_by: l.used_by.clone(),
                    status: crate::model::LoginStatus::Pending,
                })
                .collect(),
            Err(e) => {
                tracing::warn!("the wizard cannot list the source's logins: {e}");
                Vec::new()
            }
        };
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
            findings: source_findings(&databases),
            databases,
            logins,
        })
    }

    async fn test_backups(&self, settings: &MigrationSettings) -> Result<String, String> {
        let m = settings.clone();
        tokio::task::spawn_blocking(move || backups_report(&m))
            .await
            .map_err(|e| format!("Backup folder: the test stopped: {e}"))?
    }

    async fn scan_backups(
        &self,
        folder: &str,
        smb_user: &str,
        smb_password_env: &str,
    ) -> Result<SourceSummary, String> {
        if !smb_address::is_share(folder.trim()) {
            return self.scan_folder(folder).await;
        }
        if smb_user.trim().is_empty() {
            return Err(format!(
                "Backup folder: {} is an SMB share and no SMB user is known yet: choose 'SQL Server connection' and give the share on Migration settings, or start the wizard from a configuration file with [backups] smb_user / smb_password_env (cutover wizard --config FILE)",
                folder.trim()
            ));
        }
        let m = MigrationSettings {
            backup_folder: folder.to_string(),
            smb_user: smb_user.to_string(),
            smb_password_env: smb_password_env.to_string(),
            ..Default::default()
        };
        tokio::task::spawn_blocking(move || {
            let b = open_backups(&m)?;
            folder_databases_in(b.folder.as_ref(), &b.root)
        })
        .await
        .map_err(|e| format!("Backup folder: the scan stopped: {e}"))?
    }

    async fn scan_folder(&self, folder: &str) -> Result<SourceSummary, String> {
        let folder = PathBuf::from(folder.trim());
        tokio::task::spawn_blocking(move || folder_databases(&folder))
            .await
            .map_err(|e| format!("Backup folder: the scan stopped: {e}"))?
    }

    async fn test_target(&self, form: &TargetForm) -> Result<String, String> {
        let arm = self.arm_of(form)?;
        // A loaded file's `[target] sandbox = true` names its endpoint as the sandbox.
        check_target(form, &arm, form.sandbox || form.arm_sandbox).await
    }

    async fn azure_subscriptions(
        &self,
        target: &TargetForm,
    ) -> Result<Vec<AzureSubscription>, String> {
        let c = self.discovery(target)?;
        let list = c.subscriptions().await.map_err(|e| e.to_string())?;
        Ok(list
            .into_iter()
            .map(|s| AzureSubscription {
                id: s.subscription_id,
                name: s.display_name,
                state: s.state.unwrap_or_default(),
            })
            .collect())
    }

    async fn azure_instances(
        &self,
        target: &TargetForm,
        subscription: &str,
    ) -> Result<Vec<AzureInstance>, String> {
        let c = self.discovery(target)?;
        let list = c
            .instances(subscription.trim())
            .await
            .map_err(|e| e.to_string())?;
        Ok(list
            .iter()
            .map(|i| azure_instance(subscription.trim(), i))
            .collect())
    }

    async fn azure_storage_accounts(
        &self,
        target: &TargetForm,
        subscription: &str,
    ) -> Result<Vec<AzureStorageAccount>, String> {
        let c = self.discovery(target)?;
        let list = c
            .storage_accounts(subscription.trim())
            .await
            .map_err(|e| e.to_string())?;
        Ok(list.iter().map(azure_account).collect())
    }

    async fn azure_containers(
        &self,
        target: &TargetForm,
        account: &AzureStorageAccount,
    ) -> Result<Vec<AzureContainer>, String> {
        let c = self.discovery(target)?;
        let list = c.containers(&account.id).await.map_err(|e| e.to_string())?;
        Ok(list
            .into_iter()
            .map(|c| AzureContainer { name: c.name })
            .collect())
    }

    async fn azure_storage_checks(
        &self,
        r: &StorageCheckRequest,
    ) -> Result<Vec<AzureCheck>, String> {
        use crate::arm::discovery::checks::{check_reader_role, judge_region};
        let c = self.discovery(&r.target)?;
        let mut out = Vec::new();
        if r.create {
            let (_, created) = c
                .create_container(&r.account.id, &r.container)
                .await
                .map_err(|e| e.to_string())?;
            out.push(AzureCheck {
                code: "CONTAINER_CREATED".into(),
                severity: crate::model::Severity::Info,
                message: if created {
                    format!("container {} created on {}", r.container, r.account.name)
                } else {
                    format!(
                        "container {} was already on {}",
                        r.container, r.account.name
                    )
                },
                fix: String::new(),
            });
        }
        let account = c
            .storage_account(&r.account.id)
            .await
            .map_err(|e| e.to_string())?;
        let sub = r.target.subscription.trim();
        let name = r
            .instance
            .as_ref()
            .map_or(r.target.managed_instance.trim(), |i| i.name.as_str());
        let instances = c.instances(sub).await.map_err(|e| e.to_string())?;
        let Some(mi) = instances.iter().find(|i| i.name.eq_ignore_ascii_case(name)) else {
            return Err(format!(
                "Managed instance: no instance {name} in subscription {sub}: pick it on the Target screen (Ctrl-L)"
            ));
        };
        let mut found = vec![judge_firewall(mi, &account)];
        found.extend(judge_region(mi, &account));
        if r.mi_access == MiAccess::ManagedIdentity {
            found.push(
                check_reader_role(&c, mi, &account)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        out.extend(found.into_iter().map(|f| AzureCheck {
            code: f.code.to_string(),
            severity: f.severity,
            message: f.message,
            fix: f.fix,
        }));
        Ok(out)
    }

    async fn preflight(&self, values: &WizardValues) -> PreflightReport {
        let mut report = PreflightReport {
            databases: self.database_findings(values).await,
            ..Default::default()
        };
        // What `cutover run --config` would check and print (not for the sandbox: the demo runs
        // it with its own development key).
        if !values.target.sandbox {
            let mut v = values.clone();
            // The activity is named on the Summary itself (and checked there): the check needs one.
            if v.activity.trim().is_empty() {
                v.activity = "unnamed".to_string();
            }
            let arm = self.sandbox_arm.clone();
            match tokio::task::spawn_blocking(move || engine_config(&v, arm.as_deref(), None)).await
            {
                Ok(Ok((_, warnings))) => report.config_warnings = warnings,
                Ok(Err(e)) => report.config_error = Some(e),
                Err(e) => report.config_error = Some(format!("the check stopped: {e}")),
            }
        }
        self.target_findings(values, &mut report).await;
        report
    }

    async fn save_config(
        &self,
        path: &str,
        values: &WizardValues,
        overwrite: bool,
    ) -> Result<SaveOutcome, String> {
        let text = config_toml(values, self.sandbox_arm.as_deref())?;
        let env = secret_env_vars(values);
        let path = PathBuf::from(path.trim());
        let r = tokio::task::spawn_blocking(move || write_config(&path, &text, overwrite))
            .await
            .map_err(|e| format!("saving stopped: {e}"))??;
        Ok(match r {
            SaveOutcome::Saved { path, .. } => SaveOutcome::Saved { path, env },
            e => e,
        })
    }
}

/// ARM's managed instance as the wizard lists it.
fn azure_instance(subscription: &str, i: &ManagedInstance) -> AzureInstance {
    let p = &i.properties;
    AzureInstance {
        subscription: subscription.to_string(),
        resource_group: i.resource_group().to_string(),
        name: i.name.clone(),
        location: i.location.clone(),
        tier: i.sku.tier.clone().unwrap_or_default(),
        hardware: i.sku.family.clone().unwrap_or_default(),
        vcores: p.v_cores.or(i.sku.capacity),
        storage_gb: p.storage_size_in_gb,
        state: p.state.clone().unwrap_or_default(),
        fqdn: p.fully_qualified_domain_name.clone(),
        public_endpoint: p.public_data_endpoint_enabled.unwrap_or(false),
        identity: i.identity_principal().map(str::to_string),
    }
}

/// ARM's storage account as the wizard lists it.
fn azure_account(a: &StorageAccount) -> AzureStorageAccount {
    AzureStorageAccount {
        id: a.id.clone(),
        name: a.name.clone(),
        resource_group: a.resource_group().to_string(),
        location: a.location.clone(),
        kind: a.kind.clone().unwrap_or_default(),
        network: if a.public_access_disabled() {
            "no public access"
        } else if a.firewall_denies() {
            "firewall"
        } else {
            "open"
        }
        .to_string(),
        hns: a.properties.is_hns_enabled.unwrap_or(false),
        blob_endpoint: a
            .blob_endpoint()
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", a.name)),
    }
}

impl Backend {
    /// The ARM endpoint the Target screen names (the sandbox's for the sandbox).
    fn arm_of(&self, form: &TargetForm) -> Result<String, String> {
        Ok(if form.sandbox {
            self.sandbox_arm
                .clone()
                .ok_or("no sandbox runs here: start `cutover sandbox` or choose Azure")?
        } else if form.arm_endpoint.trim().is_empty() {
            DEFAULT_ARM_ENDPOINT.to_string()
        } else {
            form.arm_endpoint.trim().to_string()
        })
    }

    /// A discovery client signed in with the Target screen's credential (one attempt per call
    /// on a 429's Retry-After as the client does; no wait longer than the client's).
    fn discovery(&self, form: &TargetForm) -> Result<DiscoveryClient, String> {
        let arm = self.arm_of(form)?;
        let credential = target_credential(form, &arm, form.sandbox || form.arm_sandbox)?;
        let client = ArmClient::new(&arm, credential).map_err(|e| e.to_string())?;
        Ok(DiscoveryClient::new(client))
    }

    /// The instance's SQL endpoint the values (or the sandbox) name, if any.
    fn target_sql(&self, values: &WizardValues) -> Result<Option<SourceOptions>, String> {
        let c = &values.carried;
        let mut t = crate::config::TargetSection {
            sql_server: c.sql_server.clone(),
            sql_user: c.sql_user.clone(),
            sql_password_env: c.sql_password_env.clone(),
            sandbox: (values.target.sandbox || values.target.arm_sandbox).then_some(true),
            ..Default::default()
        };
        let mut provided = crate::config::ProvidedSecrets::default();
        if t.sql_server.is_none()
            && values.target.sandbox
            && let Some((server, user, password)) = &self.sandbox_mi_sql
        {
            t.sql_server = Some(server.clone());
            t.sql_user = Some(user.clone());
            t.sql_password_env = Some(SANDBOX_MI_PASSWORD.into());
            provided
                .by_env
                .insert(SANDBOX_MI_PASSWORD.into(), Secret::new(password.clone()));
        }
        crate::config::target_sql_options(&t, &provided)
    }

    /// The instance's findings before the upload (a name taken, the tier full, the login not
    /// sysadmin...), added to the databases' (the instance's own under its name); an instance
    /// named but not reachable is a configuration error, as `cutover run` makes it.
    async fn target_findings(&self, values: &WizardValues, report: &mut PreflightReport) {
        let opts = match self.target_sql(values) {
            Ok(Some(o)) => o,
            Ok(None) => return,
            Err(e) => {
                report.config_error.get_or_insert(e);
                return;
            }
        };
        let mut target = match crate::target_sql::TargetSql::connect(&opts).await {
            Ok(t) => t,
            Err(e) => {
                report
                    .config_error
                    .get_or_insert(format!("[target] sql_server: {e}"));
                return;
            }
        };
        let instance = target.report().await;
        target.close().await;
        let instance = match instance {
            Ok(r) => r,
            Err(e) => {
                report
                    .config_error
                    .get_or_insert(format!("[target] sql_server: {e}"));
                return;
            }
        };
        let source = match source_options(&values.source) {
            Ok(o) => match SourceClient::connect(&o).await {
                Ok(mut c) => {
                    let d = c.databases().await.unwrap_or_default();
                    c.close().await;
                    d
                }
                Err(_) => Vec::new(),
            },
            Err(_) => Vec::new(),
        };
        let state_dir = values
            .carried
            .state_dir
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(crate::engine::persist::default_state_dir);
        let state_file = crate::engine::persist::state_path(&state_dir, values.activity.trim());
        let dbs: Vec<(String, String, PathBuf)> = values
            .databases
            .iter()
            .map(|n| {
                let target = values
                    .carried
                    .database
                    .get(n)
                    .and_then(|(_, t)| t.clone())
                    .unwrap_or_else(|| n.clone());
                let folder = values
                    .settings
                    .folder_overrides
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| values.settings.backup_folder.clone());
                (n.clone(), target, PathBuf::from(folder.trim()))
            })
            .collect();
        let planned = tokio::task::spawn_blocking(move || {
            let list: Vec<crate::target_sql::ToMigrate<'_>> = dbs
                .iter()
                .map(|(n, t, f)| crate::target_sql::ToMigrate {
                    name: n,
                    target_name: t,
                    folder: f,
                })
                .collect();
            crate::target_sql::planned_databases(
                crate::backup_folder::LocalFolder::shared().as_ref(),
                &list,
                &source,
                &state_file,
            )
        })
        .await
        .unwrap_or_default();
        let findings = crate::target_sql::checks::pre_upload(&instance, &planned);
        let mut server_level = Vec::new();
        for f in findings {
            match f
                .database
                .as_ref()
                .and_then(|d| report.databases.iter_mut().find(|(n, _)| n == d))
            {
                Some((_, list)) => list.push(f.finding),
                None => server_level.push(f.finding),
            }
        }
        if !server_level.is_empty() {
            report.databases.push((
                format!("managed instance {}", instance.info.server_name),
                server_level,
            ));
        }
    }

    /// The findings per selected database: the catalog's check of its backup folder and, with a
    /// source connection, the source cross-check.
    async fn database_findings(&self, values: &WizardValues) -> Vec<(String, Vec<Finding>)> {
        let mut client = match source_options(&values.source) {
            Ok(o) => SourceClient::connect(&o).await.ok(),
            Err(_) => None,
        };
        let mut out = Vec::new();
        let source_dbs = match client.as_mut() {
            Some(c) => c.databases().await.unwrap_or_default(),
            None => Vec::new(),
        };
        // A re-attach: the activity's own word on each database corrects the source's findings.
        let state_dir = values
            .carried
            .state_dir
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(crate::engine::persist::default_state_dir);
        let state_file = crate::engine::persist::state_path(&state_dir, values.activity.trim());
        let saved = crate::engine::reattach_preflight::saved_states(&state_file);
        // The backup folder as the migration reads it (an SMB share signed in to once).
        let backups = {
            let m = values.settings.clone();
            tokio::task::spawn_blocking(move || open_backups(&m))
                .await
                .unwrap_or_else(|e| Err(format!("Backup folder: {e}")))
        };
        for name in &values.databases {
            let (reader, folder) = match &backups {
                Ok(b) => (b.folder.clone(), b.folder_of(name)),
                Err(e) => {
                    let f = Finding::new(
                        catalog::Code::UnreadableFile,
                        catalog::Severity::Error,
                        None,
                        e.clone(),
                        "check the backup folder (Ctrl-T on Migration settings tests it)",
                    );
                    out.push((name.clone(), vec![f]));
                    continue;
                }
            };
            let mut findings = Vec::new();
            let scan = tokio::task::spawn_blocking({
                let folder = folder.clone();
                move || {
                    catalog::scan::scan_folder_in(reader.as_ref(), &folder, &ScanOptions::default())
                }
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
                findings.extend(crate::engine::reattach_preflight::database_findings(
                    d,
                    saved.get(name),
                ));
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
