//! What the wizard asks of the outside world, done here (the TUI never connects itself): test the
//! source (connect, list databases), or list the databases of the backup folder when there is no
//! source connection; test the target (sign in with the chosen credential and read the managed
//! instance from ARM); the preflight findings per selected database (the catalog's check of its
//! backup folder plus the source cross-check: msdb history vs folder, SIMPLE recovery, TDE,
//! In-Memory OLTP, FILESTREAM, sysadmin) and the configuration check `cutover run` makes (its
//! warnings, e.g. a SAS that expires during the migration, shown before Run); and saving the
//! values as a configuration file.
//!
//! The values and the configuration file are one mapping ([`config_file`]): the file the Summary
//! saves is what `cutover run --config` reads, and the wizard's own migration goes through the same
//! `setup::engine_config` with the secrets the operator typed ([`engine_config`]). Secrets never go
//! into the file: it names the environment variables that hold them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{Secret, TokenCredential};

use crate::catalog::{self, Finding, ScanOptions};
use crate::config::{
    BackupsSection, ConfigFile, DatabaseOverride, MigrationSection, SourceSection, StorageSection,
    TargetSection,
};
use crate::engine::runner::EngineConfig;
use crate::restore_target::lrs::{
    DEFAULT_ARM_ENDPOINT, InstanceRef, LrsClient, StaticToken, is_local_endpoint,
};
use crate::setup::{self, ProvidedSecrets, RunFlags};
use crate::source::{
    Encryption, ServerAddress, SourceAuth, SourceClient, SourceDatabase, SourceOptions, crosscheck,
};
use crate::storage::auth::{AadKind, aad_credential};
use crate::tui::format::without_query;
use crate::tui::wizard::values::{
    CutoverMode, MiAccess, PreflightReport, SaveOutcome, SecretText, SourceAuthKind, SourceForm,
    StopTrafficChoice, StorageAuthKind, TailChoice, TargetCredential, TargetForm, WizardValues,
    from_word,
};
use crate::tui::{SourceSummary, WizardBackend};

/// The wizard's backend. `sandbox_arm` is the sandbox's ARM endpoint when the target may be the
/// sandbox.
pub struct Backend {
    pub sandbox_arm: Option<String>,
}

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

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The configuration file the values describe (the keys of `config.sample.toml`). Secrets are the
/// names of the environment variables that hold them, never the values. `sandbox_arm`: the
/// sandbox's ARM endpoint, written when the target is the sandbox.
pub fn config_file(v: &WizardValues, sandbox_arm: Option<&str>) -> ConfigFile {
    let s = &v.source;
    let env = &v.secret_env;
    let source = (!s.folder_only).then(|| {
        let sql = s.auth == SourceAuthKind::SqlLogin;
        SourceSection {
            server: some(&s.address()),
            authentication: Some(if sql { "sql" } else { "aad-token" }.to_string()),
            user: if sql { some(&s.user) } else { None },
            password_env: sql.then(|| env.source_password.clone()),
            token_env: (!sql).then(|| env.source_token.clone()),
            trust_server_certificate: Some(s.encrypt && s.trust_server_certificate),
            plaintext: Some(!s.encrypt),
            connect_timeout_seconds: v.carried.connect_timeout_seconds,
            ca_file: v.carried.ca_file.clone(),
        }
    });
    let m = &v.settings;
    let overrides: Vec<DatabaseOverride> = v
        .databases
        .iter()
        .filter_map(|db| {
            let folder = m
                .folder_overrides
                .get(db)
                .map(|f| f.trim())
                .filter(|f| !f.is_empty())
                .map(PathBuf::from);
            let (server_folder, target_name) =
                v.carried.database.get(db).cloned().unwrap_or_default();
            (folder.is_some() || server_folder.is_some() || target_name.is_some()).then(|| {
                DatabaseOverride {
                    name: db.clone(),
                    folder,
                    server_folder,
                    target_name,
                }
            })
        })
        .collect();
    let backups = BackupsSection {
        folder: some(&m.backup_folder).map(PathBuf::from),
        server_folder: if s.folder_only {
            None
        } else {
            some(&m.server_folder)
        },
        settle_seconds: number(&v.carried.settle_seconds),
        database: (!overrides.is_empty()).then_some(overrides),
        ..Default::default()
    };
    let t = &v.target;
    let target = TargetSection {
        subscription: some(&t.subscription),
        resource_group: some(&t.resource_group),
        managed_instance: some(&t.managed_instance),
        location: v.carried.location.clone(),
        arm_endpoint: if t.sandbox {
            sandbox_arm.map(str::to_string)
        } else {
            some(&t.arm_endpoint)
        },
        credential: (!t.sandbox).then(|| {
            match t.credential {
                TargetCredential::ServicePrincipal => "service-principal",
                TargetCredential::AzureCli => "azure-cli",
                TargetCredential::ManagedIdentity => "managed-identity",
                TargetCredential::WorkloadIdentity => "workload-identity",
                TargetCredential::Auto => "auto",
            }
            .to_string()
        }),
        collation: v.carried.collation.clone(),
    };
    let key = m.storage_auth == StorageAuthKind::AccountKeyEnv;
    let storage = StorageSection {
        container: some(without_query(&m.container_url)),
        auth: Some(
            match m.storage_auth {
                StorageAuthKind::Sas => "sas",
                StorageAuthKind::AccountKeyEnv => "account-key",
                StorageAuthKind::EntraId => "aad",
            }
            .to_string(),
        ),
        sas_env: (m.storage_auth == StorageAuthKind::Sas).then(|| env.storage_sas.clone()),
        account_key_env: if key { some(&m.account_key_env) } else { None },
        mi_access: Some(
            match m.mi_access {
                MiAccess::Sas => "sas",
                MiAccess::ManagedIdentity => "managed-identity",
            }
            .to_string(),
        ),
        mi_sas_env: (m.mi_access == MiAccess::Sas && !key).then(|| env.mi_sas.clone()),
        sas_expiry_days: Some(m.sas_expiry_days),
    };
    let migration = MigrationSection {
        activity: some(&v.activity),
        databases: Some(v.databases.clone()),
        // As chosen on the Migration settings screen.
        cutover: Some(m.cutover.word().to_string()),
        tail: Some(m.tail.word().to_string()),
        stop_traffic: Some(m.stop_traffic.word().to_string()),
        concurrency: Some(m.concurrency as usize),
        max_mbps: m.bandwidth_mbps.map(f64::from),
        scan_seconds: number(&v.carried.scan_seconds),
        poll_seconds: number(&v.carried.poll_seconds),
        state_dir: v.carried.state_dir.as_ref().map(PathBuf::from),
    };
    ConfigFile {
        source,
        target: Some(target),
        storage: Some(storage),
        backups: Some(backups),
        migration: Some(migration),
    }
}

/// A number kept as the configuration file's text (it was parsed from a number, so it parses).
fn number(text: &Option<String>) -> Option<f64> {
    text.as_deref().and_then(|t| t.parse().ok())
}

/// The environment variables a saved configuration needs, `VAR (what)`, in the file's order.
pub fn secret_env_vars(v: &WizardValues) -> Vec<String> {
    let mut out = Vec::new();
    let env = &v.secret_env;
    if !v.source.folder_only {
        out.push(match v.source.auth {
            SourceAuthKind::SqlLogin => format!("{} (source password)", env.source_password),
            SourceAuthKind::EntraToken => format!("{} (source access token)", env.source_token),
        });
    }
    if !v.target.sandbox && v.target.credential == TargetCredential::ServicePrincipal {
        out.push(
            "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (service principal)".into(),
        );
    }
    let m = &v.settings;
    match m.storage_auth {
        StorageAuthKind::Sas => out.push(format!("{} (upload SAS, sp=rcwl)", env.storage_sas)),
        StorageAuthKind::AccountKeyEnv => out.push(format!(
            "{} (storage account key)",
            m.account_key_env.trim()
        )),
        StorageAuthKind::EntraId => {}
    }
    if m.mi_access == MiAccess::Sas && m.storage_auth != StorageAuthKind::AccountKeyEnv {
        out.push(format!("{} (managed instance SAS, sp=rl)", env.mi_sas));
    }
    out
}

fn line(out: &mut String, key: &str, value: toml::Value) {
    out.push_str(&format!("{key} = {value}\n"));
}
fn opt_str(out: &mut String, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        line(out, key, toml::Value::String(v.clone()));
    }
}
fn opt_path(out: &mut String, key: &str, v: &Option<PathBuf>) {
    if let Some(v) = v {
        line(
            out,
            key,
            toml::Value::String(v.to_string_lossy().into_owned()),
        );
    }
}
fn opt_bool(out: &mut String, key: &str, v: Option<bool>) {
    if let Some(v) = v {
        line(out, key, toml::Value::Boolean(v));
    }
}
fn opt_float(out: &mut String, key: &str, v: Option<f64>) {
    if let Some(v) = v {
        line(out, key, toml::Value::Float(v));
    }
}
fn opt_int(out: &mut String, key: &str, v: Option<i64>) {
    if let Some(v) = v {
        line(out, key, toml::Value::Integer(v));
    }
}

/// The configuration file's text: the sections of [`config_file`] with comments saying where each
/// secret comes from.
pub fn config_toml(v: &WizardValues, sandbox_arm: Option<&str>) -> String {
    let c = config_file(v, sandbox_arm);
    let mut o = String::new();
    o.push_str(
        "# cutover configuration, saved by the wizard (config.sample.toml documents every key).\n\
         # No secret is in this file: each is read from the environment variable named here.\n\
         # Use it with `cutover run --config FILE` (headless) or `cutover wizard --config FILE`.\n",
    );
    let vars = secret_env_vars(v);
    if !vars.is_empty() {
        o.push_str("# Export before running:\n");
        for var in &vars {
            o.push_str(&format!("#   {var}\n"));
        }
    }
    if let Some(s) = &c.source {
        o.push_str("\n[source]\n");
        opt_str(&mut o, "server", &s.server);
        opt_str(&mut o, "authentication", &s.authentication);
        opt_str(&mut o, "user", &s.user);
        if s.password_env.is_some() {
            o.push_str(
                "# The environment variable that holds the password (never the password itself).\n",
            );
        }
        opt_str(&mut o, "password_env", &s.password_env);
        opt_str(&mut o, "token_env", &s.token_env);
        opt_bool(
            &mut o,
            "trust_server_certificate",
            s.trust_server_certificate,
        );
        opt_bool(&mut o, "plaintext", s.plaintext);
        opt_path(&mut o, "ca_file", &s.ca_file);
        opt_int(
            &mut o,
            "connect_timeout_seconds",
            s.connect_timeout_seconds
                .and_then(|t| i64::try_from(t).ok()),
        );
    } else {
        o.push_str(
            "\n# No [source]: cutover works from the backup folder alone; at cutover the operator stops\n\
             # traffic and takes the tail-log backup (tail = \"wait\"), or asserts that no more backups\n\
             # will come (tail = \"skip\": a data-loss risk).\n",
        );
    }
    if let Some(b) = &c.backups {
        o.push_str("\n[backups]\n");
        opt_path(&mut o, "folder", &b.folder);
        opt_str(&mut o, "server_folder", &b.server_folder);
        opt_float(&mut o, "settle_seconds", b.settle_seconds);
        for d in b.database.iter().flatten() {
            o.push_str("\n[[backups.database]]\n");
            line(&mut o, "name", toml::Value::String(d.name.clone()));
            opt_path(&mut o, "folder", &d.folder);
            opt_str(&mut o, "server_folder", &d.server_folder);
            opt_str(&mut o, "target_name", &d.target_name);
        }
    }
    if let Some(t) = &c.target {
        o.push_str("\n[target]\n");
        opt_str(&mut o, "subscription", &t.subscription);
        opt_str(&mut o, "resource_group", &t.resource_group);
        opt_str(&mut o, "managed_instance", &t.managed_instance);
        opt_str(&mut o, "location", &t.location);
        opt_str(&mut o, "collation", &t.collation);
        opt_str(&mut o, "arm_endpoint", &t.arm_endpoint);
        if t.credential.as_deref() == Some("service-principal") {
            o.push_str(&format!(
                "# The service principal comes from the environment:\n\
                 #   AZURE_TENANT_ID     (tenant {})\n\
                 #   AZURE_CLIENT_ID     (application {})\n\
                 #   AZURE_CLIENT_SECRET\n",
                v.target.tenant_id.trim(),
                v.target.app_id.trim()
            ));
        }
        opt_str(&mut o, "credential", &t.credential);
    }
    if let Some(s) = &c.storage {
        o.push_str("\n[storage]\n");
        opt_str(&mut o, "container", &s.container);
        opt_str(&mut o, "auth", &s.auth);
        opt_str(&mut o, "sas_env", &s.sas_env);
        opt_str(&mut o, "account_key_env", &s.account_key_env);
        opt_str(&mut o, "mi_access", &s.mi_access);
        opt_str(&mut o, "mi_sas_env", &s.mi_sas_env);
        opt_int(&mut o, "sas_expiry_days", s.sas_expiry_days.map(i64::from));
    }
    if let Some(m) = &c.migration {
        o.push_str("\n[migration]\n");
        opt_str(&mut o, "activity", &m.activity);
        if let Some(d) = &m.databases {
            line(
                &mut o,
                "databases",
                toml::Value::Array(d.iter().cloned().map(toml::Value::String).collect()),
            );
        }
        o.push_str(
            "# As chosen on the wizard's Settings screen: cutover \"never\" (the operator cuts over from the\n\
             # dashboard) or \"when-ready\"; the tail-log backup: \"wait\" for the operator's, \"take\" (needs\n\
             # [source]) or \"skip\"; stop_traffic: \"read-only\", \"restricted-user\" or \"none\".\n",
        );
        opt_str(&mut o, "cutover", &m.cutover);
        opt_str(&mut o, "tail", &m.tail);
        opt_str(&mut o, "stop_traffic", &m.stop_traffic);
        opt_int(&mut o, "concurrency", m.concurrency.map(|c| c as i64));
        opt_float(&mut o, "max_mbps", m.max_mbps);
        opt_float(&mut o, "scan_seconds", m.scan_seconds);
        opt_float(&mut o, "poll_seconds", m.poll_seconds);
        opt_path(&mut o, "state_dir", &m.state_dir);
    }
    o
}

/// Wizard values prefilled from a configuration file. The secrets are taken from the environment
/// variables the file names when they are set (they are never shown: the fields are masked).
pub fn values_from_config(c: &ConfigFile) -> WizardValues {
    let env = |var: &str| {
        SecretText(
            std::env::var(var)
                .ok()
                .map(|v| v.trim().to_string())
                .unwrap_or_default(),
        )
    };
    let mut v = WizardValues::default();
    let m = c.migration.clone().unwrap_or_default();
    v.activity = m.activity.clone().unwrap_or_default();
    v.databases = m.databases.clone().unwrap_or_default();
    // (A word the file's loader let through but the wizard does not know keeps the default; setup
    // refuses such a word anyway.)
    if let Some(c) = m
        .cutover
        .as_deref()
        .and_then(|w| from_word(&CutoverMode::ALL, w, CutoverMode::word))
    {
        v.settings.cutover = c;
    }
    if let Some(t) = m
        .tail
        .as_deref()
        .and_then(|w| from_word(&TailChoice::ALL, w, TailChoice::word))
    {
        v.settings.tail = t;
    }
    if let Some(st) = m
        .stop_traffic
        .as_deref()
        .and_then(|w| from_word(&StopTrafficChoice::ALL, w, StopTrafficChoice::word))
    {
        v.settings.stop_traffic = st;
    }
    v.carried.scan_seconds = m.scan_seconds.map(|n| n.to_string());
    v.carried.poll_seconds = m.poll_seconds.map(|n| n.to_string());
    v.carried.state_dir = m
        .state_dir
        .as_ref()
        .map(|d| d.to_string_lossy().into_owned());
    if let Some(n) = m.concurrency.and_then(|n| u32::try_from(n).ok()) {
        v.settings.concurrency = n;
    }
    v.settings.bandwidth_mbps = m
        .max_mbps
        .filter(|b| b.is_finite() && *b >= 1.0)
        .map(|b| b.round().min(f64::from(u32::MAX)) as u32);
    match &c.source {
        Some(s) if s.server.is_some() => {
            let server = s.server.clone().unwrap_or_default();
            // HOST,PORT or HOST\INSTANCE -> the two fields of the Source screen.
            let (host, rest) = match server.split_once([',', '\\']) {
                Some((h, r)) => (h.to_string(), r.to_string()),
                None => (server.clone(), String::new()),
            };
            v.source.server = host.trim().to_string();
            v.source.port_or_instance = rest.trim().to_string();
            v.source.user = s.user.clone().unwrap_or_default();
            v.carried.connect_timeout_seconds = s.connect_timeout_seconds;
            v.carried.ca_file = s.ca_file.clone();
            v.source.encrypt = !s.plaintext.unwrap_or(false);
            v.source.trust_server_certificate = s.trust_server_certificate.unwrap_or(false);
            if let Some(p) = &s.password_env {
                v.secret_env.source_password = p.clone();
            }
            if let Some(t) = &s.token_env {
                v.secret_env.source_token = t.clone();
            }
            if s.authentication.as_deref() == Some("aad-token") {
                v.source.auth = SourceAuthKind::EntraToken;
                v.source.token = env(&v.secret_env.source_token);
            } else {
                v.source.password = env(&v.secret_env.source_password);
            }
        }
        _ => v.source.folder_only = true,
    }
    let b = c.backups.clone().unwrap_or_default();
    v.settings.backup_folder = b
        .folder
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    v.settings.server_folder = b.server_folder.unwrap_or_default();
    v.carried.settle_seconds = b.settle_seconds.map(|n| n.to_string());
    for d in b.database.unwrap_or_default() {
        if d.server_folder.is_some() || d.target_name.is_some() {
            v.carried
                .database
                .insert(d.name.clone(), (d.server_folder, d.target_name));
        }
        if let Some(f) = d.folder {
            v.settings
                .folder_overrides
                .insert(d.name, f.to_string_lossy().into_owned());
        }
    }
    let t = c.target.clone().unwrap_or_default();
    v.carried.location = t.location;
    v.carried.collation = t.collation;
    v.target.subscription = t.subscription.unwrap_or_default();
    v.target.resource_group = t.resource_group.unwrap_or_default();
    v.target.managed_instance = t.managed_instance.unwrap_or_default();
    v.target.arm_endpoint = t.arm_endpoint.unwrap_or_default();
    v.target.credential = match t.credential.as_deref() {
        Some("service-principal") => TargetCredential::ServicePrincipal,
        Some("managed-identity") => TargetCredential::ManagedIdentity,
        Some("workload-identity") => TargetCredential::WorkloadIdentity,
        Some("azure-cli") => TargetCredential::AzureCli,
        // Unset means "auto" to `cutover run` (setup::aad_kind): the wizard keeps that meaning.
        _ => TargetCredential::Auto,
    };
    if v.target.credential == TargetCredential::ServicePrincipal {
        v.target.tenant_id = env("AZURE_TENANT_ID").0;
        v.target.app_id = env("AZURE_CLIENT_ID").0;
        v.target.client_secret = env("AZURE_CLIENT_SECRET");
    }
    let st = c.storage.clone().unwrap_or_default();
    v.settings.container_url = st.container.unwrap_or_default();
    if let Some(var) = &st.sas_env {
        v.secret_env.storage_sas = var.clone();
    }
    if let Some(var) = &st.mi_sas_env {
        v.secret_env.mi_sas = var.clone();
    }
    v.settings.account_key_env = st.account_key_env.clone().unwrap_or_default();
    v.settings.storage_auth = match st.auth.as_deref() {
        Some("account-key") => StorageAuthKind::AccountKeyEnv,
        Some("aad") => StorageAuthKind::EntraId,
        Some(_) => StorageAuthKind::Sas,
        None if st.account_key_env.is_some() => StorageAuthKind::AccountKeyEnv,
        None => StorageAuthKind::Sas,
    };
    if v.settings.storage_auth == StorageAuthKind::Sas {
        v.settings.sas_token = env(&v.secret_env.storage_sas);
    }
    v.settings.mi_access = match st.mi_access.as_deref() {
        Some("managed-identity") => MiAccess::ManagedIdentity,
        _ => MiAccess::Sas,
    };
    if v.settings.mi_access == MiAccess::Sas
        && v.settings.storage_auth != StorageAuthKind::AccountKeyEnv
    {
        v.settings.mi_sas_token = env(&v.secret_env.mi_sas);
    }
    if let Some(d) = st.sas_expiry_days {
        v.settings.sas_expiry_days = d.clamp(1, 30);
    }
    v
}

/// The secrets the operator typed, keyed by the environment variables [`config_file`] names (and
/// the service principal typed on the Target screen), for `setup::engine_config_with`.
pub fn provided_secrets(v: &WizardValues) -> Result<ProvidedSecrets, String> {
    let mut by_env = BTreeMap::new();
    let mut put = |var: &str, s: &str| {
        if !s.trim().is_empty() {
            by_env.insert(var.to_string(), Secret::new(s.trim().to_string()));
        }
    };
    let env = &v.secret_env;
    if !v.source.folder_only {
        match v.source.auth {
            SourceAuthKind::SqlLogin => put(&env.source_password, v.source.password.expose()),
            SourceAuthKind::EntraToken => put(&env.source_token, v.source.token.expose()),
        }
    }
    let m = &v.settings;
    if m.storage_auth == StorageAuthKind::Sas {
        // The SAS typed, or the one in the container URL.
        let sas = if m.sas_token.expose().trim().is_empty() {
            m.container_url
                .split_once('?')
                .map(|(_, q)| q.to_string())
                .unwrap_or_default()
        } else {
            m.sas_token.expose().to_string()
        };
        put(&env.storage_sas, sas.trim_start_matches('?'));
    }
    if m.mi_access == MiAccess::Sas && m.storage_auth != StorageAuthKind::AccountKeyEnv {
        put(&env.mi_sas, m.mi_sas_token.expose().trim_start_matches('?'));
    }
    Ok(ProvidedSecrets {
        by_env,
        credential: typed_service_principal(&v.target)?,
    })
}

/// The service principal typed on the Target screen (None: another credential, or no secret).
fn typed_service_principal(t: &TargetForm) -> Result<Option<Arc<dyn TokenCredential>>, String> {
    if t.sandbox
        || t.credential != TargetCredential::ServicePrincipal
        || t.client_secret.expose().is_empty()
    {
        return Ok(None);
    }
    let c: Arc<dyn TokenCredential> = azure_identity::ClientSecretCredential::new(
        t.tenant_id.trim(),
        t.app_id.trim().to_string(),
        Secret::new(t.client_secret.expose().to_string()),
        None,
    )
    .map_err(|e| format!("Target: service principal: {e}"))?;
    Ok(Some(c))
}

/// The credential the Target screen describes, as the migration will use it: a static token for
/// a local (sandbox) endpoint, the typed service principal, or `azure_identity`'s credential.
fn target_credential(t: &TargetForm, arm: &str) -> Result<Arc<dyn TokenCredential>, String> {
    if is_local_endpoint(arm) {
        return Ok(Arc::new(StaticToken("cutover-sandbox".into())));
    }
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
pub async fn check_target(t: &TargetForm, arm: &str) -> Result<String, String> {
    for (v, name) in [
        (&t.subscription, "Subscription ID"),
        (&t.resource_group, "Resource group"),
        (&t.managed_instance, "Managed instance"),
    ] {
        if v.trim().is_empty() {
            return Err(format!("{name} is empty"));
        }
    }
    let credential = target_credential(t, arm)?;
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
    let signed_in = if is_local_endpoint(arm) {
        "the sandbox's ARM".to_string()
    } else {
        format!("signed in to {arm}")
    };
    Ok(format!(
        "{} ({signed_in})",
        describe_instance(t.managed_instance.trim(), &v)
    ))
}

/// The engine's configuration for the wizard's values: the same mapping as the saved file, through
/// `setup::engine_config_with` (every value checked there, the cutover / tail / stop-traffic
/// modes as chosen on the Settings screen), with the secrets typed. `state_dir`: where the state
/// file goes (default: the values' state folder, else the platform data folder).
pub fn engine_config(
    v: &WizardValues,
    sandbox_arm: Option<&str>,
    state_dir: Option<PathBuf>,
) -> Result<(EngineConfig, Vec<String>), String> {
    let mut file = config_file(v, sandbox_arm);
    if let Some(m) = file.migration.as_mut()
        && state_dir.is_some()
    {
        m.state_dir = state_dir;
    }
    setup::engine_config_with(&file, &RunFlags::default(), &provided_secrets(v)?)
}

/// Writes `text` at `path`: a new file, or (with `overwrite`) replacing the old one atomically.
pub fn write_config(path: &Path, text: &str, overwrite: bool) -> Result<SaveOutcome, String> {
    use std::io::Write;
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let shown_s = shown.display().to_string();
    if path.is_dir() {
        return Err(format!(
            "{shown_s} is a folder: give a file name such as cutover.toml"
        ));
    }
    let dir = match shown.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{shown_s}: the folder {} does not exist: create it or choose another path",
            dir.display()
        ));
    }
    if !overwrite {
        // Private (0600 on Unix): the file names servers, databases and paths.
        let mut f = match crate::private_files::options()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Ok(SaveOutcome::Exists { path: shown_s });
            }
            Err(e) => return Err(format!("{shown_s}: cannot create the file: {e}")),
        };
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("{shown_s}: cannot write the file: {e}"))?;
    } else {
        // tempfile creates 0600 on Unix and `persist` keeps the mode: the replaced file is private too.
        let mut tmp = tempfile::Builder::new()
            .prefix(".cutover-config-")
            .tempfile_in(&dir)
            .map_err(|e| format!("{shown_s}: cannot write in {}: {e}", dir.display()))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| format!("{shown_s}: cannot write the file: {e}"))?;
        tmp.persist(path)
            .map_err(|e| format!("{shown_s}: cannot replace the file: {}", e.error))?;
    }
    Ok(SaveOutcome::Saved {
        path: shown_s,
        env: Vec::new(),
    })
}

fn datetime(t: Option<time::PrimitiveDateTime>) -> Option<String> {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.and_then(|t| t.format(&f).ok())
}

/// The databases of a backup folder, as the Databases screen lists them (size and dates from the
/// restore plan; recovery model and state are unknown without the source).
pub fn folder_databases(folder: &Path) -> Result<SourceSummary, String> {
    let scan = catalog::scan_folder(folder, &ScanOptions::default())
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
        })
    }

    async fn scan_folder(&self, folder: &str) -> Result<SourceSummary, String> {
        let folder = PathBuf::from(folder.trim());
        tokio::task::spawn_blocking(move || folder_databases(&folder))
            .await
            .map_err(|e| format!("Backup folder: the scan stopped: {e}"))?
    }

    async fn test_target(&self, form: &TargetForm) -> Result<String, String> {
        let arm = if form.sandbox {
            self.sandbox_arm
                .clone()
                .ok_or("no sandbox runs here: start `cutover sandbox` or choose Azure")?
        } else if form.arm_endpoint.trim().is_empty() {
            DEFAULT_ARM_ENDPOINT.to_string()
        } else {
            form.arm_endpoint.trim().to_string()
        };
        check_target(form, &arm).await
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
        report
    }

    async fn save_config(
        &self,
        path: &str,
        values: &WizardValues,
        overwrite: bool,
    ) -> Result<SaveOutcome, String> {
        let text = config_toml(values, self.sandbox_arm.as_deref());
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

impl Backend {
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
