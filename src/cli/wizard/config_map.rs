//! The wizard's values and the configuration file are one mapping: [`config_file`] turns the
//! values into the file's serde shape (`cutover::config::ConfigFile`), [`config_toml`] writes it
//! with the `toml` serializer and adds, with `toml_edit`, the comments naming each secret's
//! environment variable; [`values_from_config`] prefills the wizard from a file; [`engine_config`]
//! builds the wizard's own migration through the same `config::engine_config_with` as `cutover run`
//! (with the secrets the operator typed, [`provided_secrets`]). Secrets never go into the file: it
//! names the environment variables that hold them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};

use crate::config::settings::{
    Credential, CutoverWhen, MiAccessSetting, SourceAuthentication, StopTrafficSetting,
    StorageAuthSetting, Tail, Word,
};
use crate::config::{
    BackupsSection, ConfigFile, DatabaseOverride, MigrationSection, ProvidedSecrets, RunFlags,
    SourceSection, StorageSection, TargetSection,
};
use crate::engine::runner::EngineConfig;
use crate::tui::format::without_query;
use crate::tui::wizard::values::{
    CutoverMode, Mbps, MiAccess, SaveOutcome, SecretText, SourceAuthKind, StopTrafficChoice,
    StorageAuthKind, TailChoice, TargetCredential, TargetForm, WizardValues, from_word,
};

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
            authentication: Some(
                if sql {
                    SourceAuthentication::Sql
                } else {
                    SourceAuthentication::AadToken
                }
                .word()
                .to_string(),
            ),
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
        smb_user: some(&m.smb_user),
        smb_password_env: some(&m.smb_password_env),
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
        sandbox: (t.sandbox || t.arm_sandbox).then_some(true),
        credential: (!t.sandbox).then(|| credential_setting(t.credential).word().to_string()),
        collation: v.carried.collation.clone(),
        sql_server: v.carried.sql_server.clone(),
        sql_user: v.carried.sql_user.clone(),
        sql_password_env: v.carried.sql_password_env.clone(),
        sql_authentication: v.carried.sql_authentication.clone(),
        sql_token_env: v.carried.sql_token_env.clone(),
        sql_ca_file: v.carried.sql_ca_file.clone(),
    };
    let key = m.storage_auth == StorageAuthKind::AccountKeyEnv;
    let storage = StorageSection {
        container: some(without_query(&m.container_url)),
        auth: Some(
            match m.storage_auth {
                StorageAuthKind::Sas => StorageAuthSetting::Sas,
                StorageAuthKind::AccountKeyEnv => StorageAuthSetting::AccountKey,
                StorageAuthKind::EntraId => StorageAuthSetting::Aad,
            }
            .word()
            .to_string(),
        ),
        sas_env: (m.storage_auth == StorageAuthKind::Sas).then(|| env.storage_sas.clone()),
        account_key_env: if key { some(&m.account_key_env) } else { None },
        mi_access: Some(
            match m.mi_access {
                MiAccess::Sas => MiAccessSetting::Sas,
                MiAccess::ManagedIdentity => MiAccessSetting::ManagedIdentity,
            }
            .word()
            .to_string(),
        ),
        mi_sas_env: (m.mi_access == MiAccess::Sas && !key).then(|| env.mi_sas.clone()),
        sas_expiry_days: Some(m.sas_expiry_days),
    };
    let migration = MigrationSection {
        activity: some(&v.activity),
        databases: Some(v.databases.clone()),
        // As chosen on the Migration settings screen.
        cutover: Some(cutover_setting(m.cutover).word().to_string()),
        tail: Some(tail_setting(m.tail).word().to_string()),
        stop_traffic: Some(stop_traffic_setting(m.stop_traffic).word().to_string()),
        concurrency: Some(m.concurrency as usize),
        max_mbps: m.bandwidth_mbps.map(|b| b.0),
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
        logins: logins_section(v),
    }
}

/// The configuration's word for a credential chosen on the Target screen.
fn credential_setting(c: TargetCredential) -> Credential {
    match c {
        TargetCredential::ServicePrincipal => Credential::ServicePrincipal,
        TargetCredential::AzureCli => Credential::AzureCli,
        TargetCredential::ManagedIdentity => Credential::ManagedIdentity,
        TargetCredential::WorkloadIdentity => Credential::WorkloadIdentity,
        TargetCredential::Auto => Credential::Auto,
    }
}

fn cutover_setting(c: CutoverMode) -> CutoverWhen {
    match c {
        CutoverMode::Never => CutoverWhen::Never,
        CutoverMode::WhenReady => CutoverWhen::WhenReady,
    }
}

fn tail_setting(t: TailChoice) -> Tail {
    match t {
        TailChoice::Take => Tail::Take,
        TailChoice::Wait => Tail::Wait,
        TailChoice::Skip => Tail::Skip,
    }
}

fn stop_traffic_setting(s: StopTrafficChoice) -> StopTrafficSetting {
    match s {
        StopTrafficChoice::ReadOnly => StopTrafficSetting::ReadOnly,
        StopTrafficChoice::RestrictedUser => StopTrafficSetting::RestrictedUser,
        StopTrafficChoice::None => StopTrafficSetting::None,
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

/// The configuration file's text: [`config_file`] written by the `toml` serializer, with comments
/// (added with `toml_edit`) saying where each secret comes from.
pub fn config_toml(v: &WizardValues, sandbox_arm: Option<&str>) -> Result<String, String> {
    let c = config_file(v, sandbox_arm);
    let text = toml::to_string(&c).map_err(|e| format!("cannot write the configuration: {e}"))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("cannot write the configuration: {e}"))?;
    comment_key(
        &mut doc,
        "source",
        "password_env",
        "The environment variable that holds the password (never the password itself).",
    );
    comment_key(
        &mut doc,
        "source",
        "token_env",
        "The environment variable that holds the Azure AD access token.",
    );
    comment_key(
        &mut doc,
        "storage",
        "sas_env",
        "The environment variable that holds the upload SAS (sp=rcwl).",
    );
    comment_key(
        &mut doc,
        "storage",
        "account_key_env",
        "The environment variable that holds the storage account key (cutover signs SAS from it).",
    );
    comment_key(
        &mut doc,
        "storage",
        "mi_sas_env",
        "The environment variable that holds the managed instance's Read + List SAS (sp=rl).",
    );
    if c.target.as_ref().and_then(|t| t.credential.as_deref())
        == Some(Credential::ServicePrincipal.word())
    {
        comment_key(
            &mut doc,
            "target",
            "credential",
            &format!(
                "The service principal comes from the environment:\n  AZURE_TENANT_ID     (tenant {})\n  AZURE_CLIENT_ID     (application {})\n  AZURE_CLIENT_SECRET",
                v.target.tenant_id.trim(),
                v.target.app_id.trim()
            ),
        );
    }
    comment_key(
        &mut doc,
        "target",
        "sandbox",
        "The ARM endpoint is the local sandbox (`cutover sandbox`): its fixed token, no Azure AD.",
    );
    comment_key(
        &mut doc,
        "migration",
        "cutover",
        "As chosen on the wizard's Settings screen: cutover \"never\" (the operator cuts over from the\ndashboard) or \"when-ready\"; the tail-log backup: \"wait\" for the operator's, \"take\" (needs\n[source]) or \"skip\"; stop_traffic: \"read-only\", \"restricted-user\" or \"none\".",
    );
    let mut head = comment_lines(
        "cutover configuration, saved by the wizard (config.sample.toml documents every key).\n\
         No secret is in this file: each is read from the environment variable named here.\n\
         Use it with `cutover run --config FILE` (headless) or `cutover wizard --config FILE`.",
    );
    let vars = secret_env_vars(v);
    if !vars.is_empty() {
        head.push_str("# Export before running:\n");
        for var in &vars {
            head.push_str(&format!("#   {var}\n"));
        }
    }
    if c.source.is_none() {
        head.push_str(&comment_lines(
            "No [source]: cutover works from the backup folder alone; at cutover the operator stops\n\
             traffic and takes the tail-log backup (tail = \"wait\"), or asserts that no more backups\n\
             will come (tail = \"skip\": a data-loss risk).",
        ));
    }
    Ok(format!("{head}\n{doc}"))
}

/// `text` as TOML comment lines.
fn comment_lines(text: &str) -> String {
    text.lines().map(|l| format!("# {l}\n")).collect()
}

/// Puts `comment` above `key` of `[section]` (when the file has that key).
fn comment_key(doc: &mut toml_edit::DocumentMut, section: &str, key: &str, comment: &str) {
    if let Some(mut k) = doc
        .get_mut(section)
        .and_then(toml_edit::Item::as_table_mut)
        .and_then(|t| t.key_mut(key))
    {
        k.leaf_decor_mut().set_prefix(comment_lines(comment));
    }
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
    if let Some(l) = &c.logins {
        v.logins = l.select.clone();
        v.carried.logins_migrate = l.migrate;
        v.carried.logins_remap_users = l.remap_users;
        v.carried.logins_map = l
            .map
            .iter()
            .flatten()
            .map(|e| (e.windows.clone(), e.entra.clone()))
            .collect();
    }
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
    v.settings.bandwidth_mbps = m.max_mbps.filter(|b| b.is_finite() && *b > 0.0).map(Mbps);
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
    v.settings.smb_user = b.smb_user.clone().unwrap_or_default();
    v.settings.smb_password_env = b.smb_password_env.clone().unwrap_or_default();
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
    v.target.arm_sandbox = t.sandbox.unwrap_or(false);
    v.carried.collation = t.collation;
    v.carried.sql_server = t.sql_server;
    v.carried.sql_user = t.sql_user;
    v.carried.sql_password_env = t.sql_password_env;
    v.carried.sql_authentication = t.sql_authentication;
    v.carried.sql_token_env = t.sql_token_env;
    v.carried.sql_ca_file = t.sql_ca_file;
    v.target.subscription = t.subscription.unwrap_or_default();
    v.target.resource_group = t.resource_group.unwrap_or_default();
    v.target.managed_instance = t.managed_instance.unwrap_or_default();
    v.target.arm_endpoint = t.arm_endpoint.unwrap_or_default();
    // Unset means "auto" to `cutover run`: the wizard keeps that meaning.
    v.target.credential = match t
        .credential
        .as_deref()
        .and_then(|w| crate::config::settings::word::<Credential>("", w).ok())
    {
        Some(Credential::ServicePrincipal) => TargetCredential::ServicePrincipal,
        Some(Credential::ManagedIdentity) => TargetCredential::ManagedIdentity,
        Some(Credential::WorkloadIdentity) => TargetCredential::WorkloadIdentity,
        Some(Credential::AzureCli) => TargetCredential::AzureCli,
        Some(Credential::Auto) | None => TargetCredential::Auto,
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
/// the service principal typed on the Target screen), for `config::engine_config_with`.
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
pub(super) fn typed_service_principal(
    t: &TargetForm,
) -> Result<Option<Arc<dyn TokenCredential>>, String> {
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

/// The engine's configuration for the wizard's values: the same mapping as the saved file, through
/// `config::engine_config_with` (every value checked there, the cutover / tail / stop-traffic
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
    crate::config::engine_config_with(&file, &RunFlags::default(), &provided_secrets(v)?)
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

/// `[logins]`: the wizard's choice of logins (absent: the default, those the databases need) and
/// what a prefilling file said that no screen edits (migrate, remap_users, the Entra mapping).
fn logins_section(v: &WizardValues) -> Option<crate::config::LoginsSection> {
    let c = &v.carried;
    let section = crate::config::LoginsSection {
        migrate: c.logins_migrate,
        select: v.logins.clone(),
        remap_users: c.logins_remap_users,
        map: (!c.logins_map.is_empty()).then(|| {
            c.logins_map
                .iter()
                .map(|(w, e)| crate::logins::EntraMap {
                    windows: w.clone(),
                    entra: e.clone(),
                })
                .collect()
        }),
    };
    (section != crate::config::LoginsSection::default()).then_some(section)
}
