//! From the layered configuration (flags, environment, file: see `layers`) to what the engine runs:
//! every value checked once, every error naming the key, the layer it came from and what to do.
//! Secrets come only from the environment variables the file names (or, in the wizard, what the
//! operator typed, keyed by those names). The ARM credential: the fixed sandbox token only when the
//! target is explicitly the sandbox (`[target] sandbox = true` / `--sandbox`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{Secret, TokenCredential};

use super::file::{ConfigFile, SourceSection};
use super::layers::{Layered, Layers, Origins};
use super::settings::{
    self, CutoverWhen, MiAccessSetting, SourceAuthentication, StopTrafficSetting,
    StorageAuthSetting, Tail, TargetSqlAuthentication, Word, defaults,
};
use crate::engine::TailMode;
use crate::engine::persist;
use crate::engine::runner::{DatabaseConfig, EngineConfig};
use crate::restore_target::lrs::{
    InstanceRef, LrsClient, StaticToken, StorageAccess, is_local_endpoint,
};
use crate::source::{Encryption, ServerAddress, SourceAuth, SourceOptions};
use crate::storage::auth::{AadKind, StorageAuth, aad_credential};
use crate::storage::client::BlobStore;
use crate::storage::container::ContainerUrl;
use crate::storage::sas::{self, SasPermissions};
use crate::storage::upload::UploadOptions;

/// Source options given as flags (they win over the file).
#[derive(Debug, Clone, Default)]
pub struct SourceFlags {
    pub server: Option<String>,
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub aad_token_env: Option<String>,
    pub trust_server_certificate: bool,
    pub plaintext: bool,
    pub connect_timeout: Option<u64>,
    pub ca_file: Option<std::path::PathBuf>,
}

/// Secrets already in hand (typed into the wizard), keyed by the environment variable the
/// configuration names for them: looked up before the environment. Never written anywhere; `Debug`
/// shows the variable names only.
#[derive(Clone, Default)]
pub struct ProvidedSecrets {
    pub by_env: std::collections::BTreeMap<String, Secret>,
    /// The Azure credential to use instead of the one `[target] credential` would build (a service
    /// principal typed into the wizard).
    pub credential: Option<Arc<dyn TokenCredential>>,
}

impl std::fmt::Debug for ProvidedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvidedSecrets")
            .field("by_env", &self.by_env.keys().collect::<Vec<_>>())
            .field("credential", &self.credential.is_some())
            .finish()
    }
}

impl ProvidedSecrets {
    fn get(&self, var: &str, what: &str) -> Result<Secret, String> {
        match self.by_env.get(var) {
            Some(s) if !s.secret().trim().is_empty() => {
                Ok(Secret::new(s.secret().trim().to_string()))
            }
            _ => env_secret(var, what),
        }
    }
    fn aad(&self, kind: AadKind) -> Result<Arc<dyn TokenCredential>, String> {
        match &self.credential {
            Some(c) => Ok(c.clone()),
            None => aad_credential(kind),
        }
    }
}

fn env_secret(var: &str, what: &str) -> Result<Secret, String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim().to_string())),
        Ok(_) => Err(format!("the environment variable {var} ({what}) is empty")),
        Err(_) => Err(format!(
            "the environment variable {var} ({what}) is not set: export {var}=... (secrets are never read from flags or the config file)"
        )),
    }
}

/// The source connection: flags > environment (secrets) > `[source]`. Also returns warnings to show
/// (trust server certificate).
pub fn source_options(
    s: &SourceSection,
    f: &SourceFlags,
) -> Result<(SourceOptions, Vec<String>), String> {
    source_options_with(s, f, &ProvidedSecrets::default())
}

/// [`source_options`], taking the secrets in `p` before the environment.
pub fn source_options_with(
    s: &SourceSection,
    f: &SourceFlags,
    p: &ProvidedSecrets,
) -> Result<(SourceOptions, Vec<String>), String> {
    source_options_in(s, f, p, &Origins::default())
}

/// [`source_options_with`], naming the keys with their layers.
fn source_options_in(
    s: &SourceSection,
    f: &SourceFlags,
    p: &ProvidedSecrets,
    origins: &Origins,
) -> Result<(SourceOptions, Vec<String>), String> {
    let server_text = f.server.clone().or(s.server.clone()).ok_or(
        "no source server: give --server HOST[,PORT] or set [source] server in the config file",
    )?;
    let origin = if f.server.is_some() {
        "--server".to_string()
    } else {
        origins.name("[source] server")
    };
    let server: ServerAddress = server_text.parse().map_err(|e| format!("{origin}: {e}"))?;
    let method = s.authentication.as_deref().unwrap_or("sql");
    let token_var = f.aad_token_env.clone().or_else(|| {
        (method == SourceAuthentication::AadToken.word())
            .then(|| s.token_env.clone())
            .flatten()
    });
    let auth = if let Some(var) = token_var {
        SourceAuth::AadToken(p.get(&var, "Azure AD access token")?)
    } else {
        match settings::word(&origins.name("[source] authentication"), method)? {
            SourceAuthentication::Sql => {}
            SourceAuthentication::AadToken => {
                return Err("[source] authentication = \"aad-token\" needs token_env (or --aad-token-env VAR)".into());
            }
        }
        let user = f.user.clone().or(s.user.clone()).ok_or(
            "no SQL login: give --user NAME or set [source] user (or use --aad-token-env VAR)",
        )?;
        let var = f
            .password_env
            .clone()
            .or(s.password_env.clone())
            .unwrap_or_else(|| defaults::SOURCE_PASSWORD_ENV.into());
        SourceAuth::SqlLogin {
            user,
            password: p.get(&var, "source password")?,
        }
    };
    let plaintext = f.plaintext || s.plaintext.unwrap_or(false);
    let trust = f.trust_server_certificate || s.trust_server_certificate.unwrap_or(false);
    if plaintext && trust {
        return Err("--plaintext and --trust-server-certificate exclude each other: plain text has no certificate".into());
    }
    let encryption = if plaintext {
        Encryption::Plaintext
    } else {
        Encryption::Tls {
            trust_server_certificate: trust,
        }
    };
    let mut warnings = Vec::new();
    if trust {
        warnings.push(crate::source::options::TRUST_CERTIFICATE_WARNING.to_string());
    }
    let mut opts = SourceOptions::new(server, auth, encryption);
    if let Some(t) = f.connect_timeout.or(s.connect_timeout_seconds) {
        if t == 0 || t > 600 {
            return Err("connect timeout (--connect-timeout / [source] connect_timeout_seconds) must be 1..600 seconds".into());
        }
        opts.connect_timeout = Duration::from_secs(t);
    }
    if let Some(path) = f.ca_file.as_ref().or(s.ca_file.as_ref()) {
        let key = if f.ca_file.is_some() {
            "--ca-file"
        } else {
            "[source] ca_file"
        };
        if plaintext || trust {
            return Err(format!(
                "{key} validates the server's certificate: remove --plaintext / --trust-server-certificate (or their config keys)"
            ));
        }
        opts.ca_file =
            Some(crate::source::tls::CaFile::load(path).map_err(|e| format!("{key}: {e}"))?);
    }
    Ok((opts, warnings))
}

/// The managed instance's SQL endpoint (`[target] sql_server`, and `sql_authentication`: `sql_user`
/// with the password from `sql_password_env` (default CUTOVER_TARGET_PASSWORD), Microsoft Entra ID
/// through `[target] credential`, or a token from `sql_token_env`); `None` when `sql_server` is not
/// set. TLS with the certificate validated (`sql_ca_file` for a private CA); plain TDS only for the
/// sandbox (`[target] sandbox = true`), whose endpoint must then be a loopback address (the
/// connection refuses it otherwise).
pub fn target_sql_options(
    t: &super::file::TargetSection,
    p: &ProvidedSecrets,
) -> Result<Option<SourceOptions>, String> {
    target_sql_options_in(t, p, &Origins::default(), None)
}

/// `credential`: the one ARM uses, when already built (Entra signs in with it).
fn target_sql_options_in(
    t: &super::file::TargetSection,
    p: &ProvidedSecrets,
    origins: &Origins,
    credential: Option<&Arc<dyn TokenCredential>>,
) -> Result<Option<SourceOptions>, String> {
    let Some(text) = t.sql_server.as_deref().filter(|s| !s.trim().is_empty()) else {
        if t.sql_user.is_some()
            || t.sql_password_env.is_some()
            || t.sql_authentication.is_some()
            || t.sql_token_env.is_some()
            || t.sql_ca_file.is_some()
        {
            return Err("[target] sql_user / sql_password_env / sql_authentication / sql_token_env / sql_ca_file are set but sql_server is not: give the instance's SQL endpoint, HOST[,PORT] (<instance>.<dns zone>.database.windows.net)".into());
        }
        return Ok(None);
    };
    let key = origins.name("[target] sql_server");
    let server: ServerAddress = text.trim().parse().map_err(|e| format!("{key}: {e}"))?;
    let method_key = origins.name("[target] sql_authentication");
    let method = settings::word(
        &method_key,
        t.sql_authentication.as_deref().unwrap_or("sql"),
    )?;
    let auth = match method {
        TargetSqlAuthentication::Sql => {
            let user = t
                .sql_user
                .clone()
                .filter(|u| !u.trim().is_empty())
                .ok_or_else(|| format!("{} is missing: the SQL login on the instance {server} (its administrator, a sysadmin), or sql_authentication = \"entra\"", origins.name("[target] sql_user")))?;
            let var = t
                .sql_password_env
                .clone()
                .unwrap_or_else(|| defaults::TARGET_PASSWORD_ENV.into());
            let password = p
                .get(&var, "the managed instance's SQL password")
                .map_err(|e| format!("[target] sql_password_env: {e}"))?;
            SourceAuth::SqlLogin { user, password }
        }
        TargetSqlAuthentication::AadToken => {
            let var = t.sql_token_env.clone().ok_or_else(|| {
                format!("{method_key} = \"aad-token\" needs [target] sql_token_env (the variable holding the token)")
            })?;
            SourceAuth::AadToken(
                p.get(&var, "Microsoft Entra access token for the instance")
                    .map_err(|e| format!("[target] sql_token_env: {e}"))?,
            )
        }
        TargetSqlAuthentication::Entra => {
            let credential = match credential {
                Some(c) => c.clone(),
                None => {
                    let arm = t
                        .arm_endpoint
                        .clone()
                        .unwrap_or_else(|| defaults::ARM_ENDPOINT.into());
                    let credential_key = origins.name("[target] credential");
                    arm_credential(&arm, t.sandbox.unwrap_or(false), "[target] sandbox", || {
                        p.aad(aad_kind(t.credential.as_deref(), &credential_key)?)
                    })?
                }
            };
            SourceAuth::Entra(credential)
        }
    };
    let encryption = if t.sandbox.unwrap_or(false) {
        Encryption::Plaintext
    } else {
        Encryption::Tls {
            trust_server_certificate: false,
        }
    };
    let mut opts = SourceOptions::new(server, auth, encryption);
    if let Some(path) = &t.sql_ca_file {
        let key = origins.name("[target] sql_ca_file");
        if t.sandbox.unwrap_or(false) {
            return Err(format!(
                "{key} validates the instance's certificate, but the sandbox's endpoint is plain TDS: remove it (or [target] sandbox)"
            ));
        }
        opts.ca_file =
            Some(crate::source::tls::CaFile::load(path).map_err(|e| format!("{key}: {e}"))?);
    }
    Ok(Some(opts))
}

/// Flags of `cutover run` that override the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct RunFlags {
    pub activity: Option<String>,
    /// Retry the databases the state file says Failed.
    pub retry_failed: bool,
    pub cutover_when_ready: Option<bool>,
    pub tail: Option<TailMode>,
    /// `--state-dir` (wins over `[migration] state_dir`).
    pub state_dir: Option<PathBuf>,
    /// `--sandbox`: the ARM endpoint is the local sandbox (`[target] sandbox = true`).
    pub sandbox: bool,
}

impl RunFlags {
    /// The flags' layer on top of `layers`.
    pub fn onto(&self, mut layers: Layers) -> Layers {
        use toml::Value;
        if let Some(a) = &self.activity {
            layers = layers.flag(
                "migration",
                "activity",
                Value::String(a.clone()),
                "--activity",
            );
        }
        if let Some(w) = self.cutover_when_ready {
            let c = if w {
                CutoverWhen::WhenReady
            } else {
                CutoverWhen::Never
            };
            layers = layers.flag(
                "migration",
                "cutover",
                Value::String(c.word().into()),
                "--cutover",
            );
        }
        if let Some(t) = self.tail {
            let t = Value::String(Tail::from(t).word().into());
            layers = layers.flag("migration", "tail", t, "--tail");
        }
        if let Some(d) = &self.state_dir {
            let d = Value::String(d.to_string_lossy().into_owned());
            layers = layers.flag("migration", "state_dir", d, "--state-dir");
        }
        if self.sandbox {
            layers = layers.flag("target", "sandbox", Value::Boolean(true), "--sandbox");
        }
        layers
    }

    /// flag > environment (`lookup`, see `layers::ENVIRONMENT`) > file > default.
    pub fn layered(
        &self,
        file: &ConfigFile,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Layered, String> {
        self.onto(Layers::file(file)?.environment(lookup)?).finish()
    }
}

fn need<'a>(v: &'a Option<String>, key: &str) -> Result<&'a str, String> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            format!("{key} is missing: set it in the config file (see config.sample.toml)")
        })
}

/// The Azure credential `[target] credential` names (default auto).
fn aad_kind(v: Option<&str>, key: &str) -> Result<AadKind, String> {
    Ok(settings::word::<settings::Credential>(key, v.unwrap_or("auto"))?.into())
}

/// The credential for ARM at `arm`: the sandbox's fixed token when `sandbox` says the endpoint is
/// the local sandbox (which must then be a loopback address: the token never leaves the machine),
/// else the real one `real` builds. A loopback endpoint without `sandbox` gets the real credential,
/// whose failures then suggest `hint` (e.g. "--sandbox").
pub fn arm_credential(
    arm: &str,
    sandbox: bool,
    hint: &str,
    real: impl FnOnce() -> Result<Arc<dyn TokenCredential>, String>,
) -> Result<Arc<dyn TokenCredential>, String> {
    if sandbox {
        if !is_local_endpoint(arm) {
            return Err(format!(
                "{hint} means the local sandbox, but the ARM endpoint {arm} is not a loopback address: give the sandbox's endpoint (http://127.0.0.1:PORT) or remove {hint}"
            ));
        }
        return Ok(Arc::new(StaticToken(defaults::SANDBOX_TOKEN.into())));
    }
    if !is_local_endpoint(arm) {
        return real();
    }
    let hint = format!(
        "the ARM endpoint {arm} is a loopback address: if it is the local sandbox (`cutover sandbox`), give {hint}"
    );
    let inner = real().map_err(|e| format!("{e}; {hint}"))?;
    Ok(Arc::new(HintedCredential { inner, hint }))
}

/// A credential whose failures say what to do about a loopback endpoint.
#[derive(Debug)]
struct HintedCredential {
    inner: Arc<dyn TokenCredential>,
    hint: String,
}

#[async_trait::async_trait]
impl TokenCredential for HintedCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        self.inner.get_token(scopes, options).await.map_err(|e| {
            azure_core::Error::with_message(e.kind().clone(), format!("{e}; {}", self.hint))
        })
    }
}

/// Builds the engine's configuration from the file and flags (no environment layer: `cutover
/// run` uses [`engine_config_layered`] with [`RunFlags::layered`]).
pub fn engine_config(
    file: &ConfigFile,
    flags: &RunFlags,
) -> Result<(EngineConfig, Vec<String>), String> {
    engine_config_with(file, flags, &ProvidedSecrets::default())
}

/// [`engine_config`], taking the secrets in `p` before the environment (the wizard's path: what
/// the operator typed is used, the file keeps only the variable names).
pub fn engine_config_with(
    file: &ConfigFile,
    flags: &RunFlags,
    p: &ProvidedSecrets,
) -> Result<(EngineConfig, Vec<String>), String> {
    let layered = flags.onto(Layers::file(file)?).finish()?;
    engine_config_layered(&layered, flags.retry_failed, p)
}

/// The engine's configuration from the layered values, every value checked once; errors name the
/// key and, when a flag or the environment gave it, that layer.
pub fn engine_config_layered(
    layered: &Layered,
    retry_failed: bool,
    p: &ProvidedSecrets,
) -> Result<(EngineConfig, Vec<String>), String> {
    let file = &layered.file;
    let o = &layered.origins;
    let mut warnings = Vec::new();
    let m = file.migration.clone().unwrap_or_default();
    let t = file.target.clone().unwrap_or_default();
    let st = file.storage.clone().unwrap_or_default();
    let b = file.backups.clone().unwrap_or_default();

    let activity = m
        .activity
        .clone()
        .filter(|a| !a.trim().is_empty())
        .ok_or("[migration] activity is missing (or give --activity NAME): it names the migration and its state file")?;
    let cutover_when_ready = settings::word::<CutoverWhen>(
        &o.name("[migration] cutover"),
        m.cutover.as_deref().unwrap_or(CutoverWhen::Never.word()),
    )? == CutoverWhen::WhenReady;
    let tail: TailMode = settings::word::<Tail>(
        &o.name("[migration] tail"),
        m.tail.as_deref().unwrap_or(Tail::Wait.word()),
    )?
    .into();
    let stop_traffic = settings::word::<StopTrafficSetting>(
        &o.name("[migration] stop_traffic"),
        m.stop_traffic
            .as_deref()
            .unwrap_or(StopTrafficSetting::None.word()),
    )?
    .stop_traffic();
    let source = match &file.source {
        Some(s) if s.server.is_some() => {
            let (o, w) = source_options_in(s, &SourceFlags::default(), p, o)?;
            warnings.extend(w);
            Some(o)
        }
        _ => None,
    };
    if source.is_none() && (tail == TailMode::Take || stop_traffic.is_some()) {
        return Err("[migration] tail = \"take\" and stop_traffic need the source connection: set [source] server, user and password_env".into());
    }
    if tail == TailMode::Skip {
        warnings.push("tail = \"skip\": cutover will complete without a tail-log backup; transactions after the last log backup are lost".into());
    }

    // Backups and databases (a local folder, or a share read through its own client).
    let (backups, folder, overrides) = backups_folder(&b)?;
    let names: Vec<String> = match &m.databases {
        Some(n) if !n.is_empty() => n.clone(),
        _ => {
            let dir = folder
                .clone()
                .ok_or("[backups] folder is missing: set the folder that holds the backup files")?;
            let scan = crate::catalog::scan::scan_folder_in(
                backups.as_ref(),
                &dir,
                &crate::catalog::ScanOptions::default(),
            )
            .map_err(|e| format!("[backups] folder: {e}"))?;
            let report = crate::catalog::check(&scan);
            let found: Vec<String> = report.databases.iter().map(|d| d.name.clone()).collect();
            if found.is_empty() {
                return Err(format!(
                    "[backups] folder {}: no SQL Server backups found; check the path or list [migration] databases",
                    dir.display()
                ));
            }
            found
        }
    };
    let mut databases = Vec::new();
    for name in &names {
        let o = overrides.iter().find(|o| &o.name == name);
        let db_folder: PathBuf = o
            .and_then(|o| o.folder.clone())
            .or(folder.clone())
            .ok_or_else(|| format!("no folder for database {name}: set [backups] folder or a [[backups.database]] folder"))?;
        if !backups.stat(&db_folder).is_ok_and(|s| s.is_dir) {
            return Err(format!(
                "the backup folder {} of database {name} is not a folder cutover can read",
                db_folder.display()
            ));
        }
        let target_name = o
            .and_then(|o| o.target_name.clone())
            .unwrap_or_else(|| name.clone());
        let field = match o.and_then(|o| o.target_name.as_ref()) {
            Some(_) => format!("[[backups.database]] target_name of {name}"),
            None => format!(
                "the target name of database {name} (its own; set another with [[backups.database]] target_name)"
            ),
        };
        crate::restore_target::names::check_target_name(&field, &target_name)?;
        databases.push(DatabaseConfig {
            name: name.clone(),
            folder: db_folder,
            server_folder: o
                .and_then(|o| o.server_folder.clone())
                .or(b.server_folder.clone()),
            target_name,
        });
    }
    for o in &overrides {
        if !names.contains(&o.name) {
            warnings.push(format!(
                "[[backups.database]] {:?} is not among the databases to migrate",
                o.name
            ));
        }
    }

    // Storage.
    let container_key = o.name("[storage] container");
    let url = ContainerUrl::parse(need(&st.container, &container_key)?)
        .map_err(|e| format!("{container_key}: {e}"))?;
    crate::storage::layout::validate_container_name(&url.container)
        .map_err(|e| format!("{container_key}: {e}"))?;
    let account_key = match &st.account_key_env {
        Some(var) => Some(p.get(var, "storage account key")?),
        None => None,
    };
    let default_auth = if account_key.is_some() {
        StorageAuthSetting::AccountKey
    } else {
        StorageAuthSetting::Sas
    };
    let auth_kind = match st.auth.as_deref() {
        Some(w) => settings::word(&o.name("[storage] auth"), w)?,
        None => default_auth,
    };
    let credential_key = o.name("[target] credential");
    let auth = match auth_kind {
        StorageAuthSetting::AccountKey => {
            let key = account_key
                .clone()
                .ok_or("[storage] auth = \"account-key\" needs account_key_env")?;
            StorageAuth::account_key(&url.account, &url.container, key.secret().to_string())
        }
        StorageAuthSetting::Sas => {
            let var = st
                .sas_env
                .clone()
                .unwrap_or_else(|| defaults::STORAGE_SAS_ENV.into());
            StorageAuth::sas(p.get(&var, "upload SAS")?.secret())
        }
        StorageAuthSetting::Aad => {
            StorageAuth::Aad(p.aad(aad_kind(t.credential.as_deref(), &credential_key)?)?)
        }
    };
    let expiry_days = settings::whole_in(
        "[storage] sas_expiry_days",
        st.sas_expiry_days.unwrap_or(defaults::SAS_EXPIRY_DAYS),
        1..=365,
        "days",
    )?;
    // One instant, in whole seconds (as a SAS writes its expiry), for signing and checking: the SAS
    // cutover signs lasts exactly the migration's length and does not warn about itself.
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let mi_access = settings::word::<MiAccessSetting>(
        &o.name("[storage] mi_access"),
        st.mi_access
            .as_deref()
            .unwrap_or(MiAccessSetting::Sas.word()),
    )?;
    let lrs_access = match mi_access {
        MiAccessSetting::ManagedIdentity => StorageAccess::ManagedIdentity,
        MiAccessSetting::Sas => {
            let token = match (&st.mi_sas_env, &account_key) {
                (Some(var), _) => p.get(var, "managed instance SAS")?.secret().to_string(),
                (None, Some(key)) => sas::service_sas_for_container(
                    &url.account,
                    key.secret(),
                    &url.container,
                    &SasPermissions::read_list(),
                    None,
                    now + time::Duration::days(i64::from(expiry_days)),
                )
                .map_err(|e| format!("[storage] account key: {e}"))?
                .into_query(),
                (None, None) => {
                    return Err("[storage] mi_access = \"sas\" needs mi_sas_env (a Read + List SAS) or account_key_env (cutover signs one)".into());
                }
            };
            let w = sas::check_lrs_sas(&token, now, time::Duration::days(i64::from(expiry_days)))
                .map_err(|e| format!("[storage] the managed instance's SAS: {e}"))?;
            warnings.extend(w.iter().map(|w| format!("managed instance SAS: {w}")));
            StorageAccess::Sas(Secret::new(token))
        }
    };

    // Target.
    let arm = t
        .arm_endpoint
        .clone()
        .unwrap_or_else(|| defaults::ARM_ENDPOINT.into());
    let sandbox_key = o.name("[target] sandbox");
    let hint = if o.is_flag("[target] sandbox") {
        "--sandbox".to_string()
    } else {
        "--sandbox (or [target] sandbox = true)".to_string()
    };
    let credential = arm_credential(&arm, t.sandbox.unwrap_or(false), &hint, || {
        p.aad(aad_kind(t.credential.as_deref(), &credential_key)?)
    })
    .map_err(|e| {
        if t.sandbox == Some(true) {
            format!("{sandbox_key}: {e}")
        } else {
            e
        }
    })?;
    let instance = InstanceRef {
        subscription: need(&t.subscription, "[target] subscription")?.to_string(),
        resource_group: need(&t.resource_group, "[target] resource_group")?.to_string(),
        managed_instance: need(&t.managed_instance, "[target] managed_instance")?.to_string(),
    };
    let target_label = instance.managed_instance.clone();
    let target_sql = target_sql_options_in(&t, p, o, Some(&credential))?;
    let logins = logins_run(file, source.is_some(), target_sql.is_some())?;
    let lrs = LrsClient::new(&arm, credential, instance)
        .map_err(|e| format!("{}: {e}", o.name("[target] arm_endpoint")))?;

    let secs = |v: Option<f64>, d: f64, key: &str| settings::seconds(&o.name(key), v.unwrap_or(d));
    let mut upload = UploadOptions::default();
    if let Some(c) = m.concurrency {
        upload.concurrency = settings::whole_in(
            &o.name("[migration] concurrency"),
            c,
            1..=64,
            "files at once",
        )?;
    }
    if let Some(mbps) = m.max_mbps {
        upload.max_mbps = Some(settings::rate_mbps(&o.name("[migration] max_mbps"), mbps)?);
    }
    let state_dir = m
        .state_dir
        .clone()
        .unwrap_or_else(persist::default_state_dir);
    let source_label = source
        .as_ref()
        .map(|s| s.server.to_string())
        .unwrap_or_else(|| {
            folder
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default()
        });
    Ok((
        EngineConfig {
            state_file: persist::state_path(&state_dir, &activity),
            retry_failed,
            lrs_limits: Default::default(),
            activity,
            source_label,
            target_label,
            databases,
            backups,
            store: Arc::new(BlobStore::new(url.clone(), auth)),
            container_url: url.container_url(),
            upload,
            lrs: Arc::new(lrs),
            lrs_access,
            location: t
                .location
                .clone()
                .unwrap_or_else(|| defaults::LOCATION.into()),
            collation: t
                .collation
                .clone()
                .unwrap_or_else(|| defaults::COLLATION.into()),
            source,
            target_sql,
            logins,
            cutover_when_ready,
            tail,
            stop_traffic,
            scan_interval: secs(
                m.scan_seconds,
                defaults::SCAN_SECONDS,
                "[migration] scan_seconds",
            )?,
            lrs_poll: secs(
                m.poll_seconds,
                defaults::POLL_SECONDS,
                "[migration] poll_seconds",
            )?,
        },
        warnings,
    ))
}

/// `[logins]`: migrated by the run when a source connection and the instance's SQL endpoint are
/// configured and `migrate` is not false; `migrate = true` without them is an error naming what
/// is missing.
fn logins_run(
    file: &ConfigFile,
    has_source: bool,
    has_target_sql: bool,
) -> Result<Option<crate::logins::LoginsRun>, String> {
    let l = file.logins.clone().unwrap_or_default();
    let asked = l.migrate;
    if asked == Some(false) {
        return Ok(None);
    }
    if !(has_source && has_target_sql) {
        if asked == Some(true) {
            let missing = match (has_source, has_target_sql) {
                (false, false) => "[source] server and [target] sql_server",
                (false, true) => "[source] server",
                _ => "[target] sql_server",
            };
            return Err(format!(
                "[logins] migrate = true needs {missing}: logins are read on the source and created over the instance's SQL endpoint (or set migrate = false)"
            ));
        }
        return Ok(None);
    }
    let select = crate::logins::LoginSelection::from_config(l.select.as_deref())?;
    let map = crate::logins::EntraMapping::new(l.map.unwrap_or_default(), "[[logins.map]]")?;
    Ok(Some(crate::logins::LoginsRun {
        select,
        map,
        remap_users: l.remap_users.unwrap_or(true),
    }))
}

/// Checks the credentials before anything is uploaded: the upload credential lists the container
/// and the Azure credential reads the first target database on the managed instance (one that
/// does not exist yet is fine). The error says which failed, why, and what to check.
pub async fn check_access(cfg: &EngineConfig) -> Result<(), String> {
    cfg.store
        .list(Some("cutover-access-check/"))
        .await
        .map_err(|e| {
            format!(
                "[storage] the upload credential cannot list the container {}: {e}; check [storage] auth and the SAS / account key it names (a SAS needs read, create, write and list)",
                cfg.container_url
            )
        })?;
    if let Some(d) = cfg.databases.first() {
        cfg.lrs.database(&d.target_name).await.map_err(|e| {
            format!(
                "[target] cannot read the managed instance {} with the Azure credential: {e}; check [target] subscription, resource_group, managed_instance and credential",
                cfg.lrs.name()
            )
        })?;
    }
    Ok(())
}

/// `[backups]`'s folders and the `BackupFolder` that reads them: the local file system, or one
/// share (`folder` and every `[[backups.database]] folder` on it, written `\\server\share\path`
/// or `smb://server[:port]/share/path`, turned into canonical `smb://` paths) signed in to with
/// `smb_user` and the password from `smb_password_env` now, so a wrong password or an unknown
/// share fails here with its reason.
#[allow(clippy::type_complexity)]
pub fn backups_folder(
    b: &crate::config::BackupsSection,
) -> Result<
    (
        Arc<dyn crate::backup_folder::BackupFolder>,
        Option<PathBuf>,
        Vec<crate::config::DatabaseOverride>,
    ),
    String,
> {
    use crate::backup_folder::{SmbAddress, SmbFolder, SmbLogin, smb_address::is_share};
    let mut overrides = b.database.clone().unwrap_or_default();
    let is = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| is_share(&p.to_string_lossy()));
    let mut share: Option<SmbAddress> = None;
    let mut canonical = |p: &PathBuf, key: &str| -> Result<PathBuf, String> {
        let a = SmbAddress::parse(&p.to_string_lossy()).map_err(|e| format!("{key}: {e}"))?;
        match &share {
            Some(s)
                if (s.host.as_str(), s.port, s.share.as_str())
                    != (a.host.as_str(), a.port, a.share.as_str()) =>
            {
                Err(format!(
                    "{key} {}: every backup folder on a share must be on the same share as {} (cutover signs in to one share)",
                    p.display(),
                    s.share_root().display()
                ))
            }
            Some(_) => Ok(a.to_path()),
            None => {
                let path = a.to_path();
                share = Some(a);
                Ok(path)
            }
        }
    };
    let any_share = is(&b.folder) || overrides.iter().any(|o| is(&o.folder));
    if !any_share {
        if b.smb_user.is_some() || b.smb_password_env.is_some() {
            return Err("[backups] smb_user / smb_password_env are set, but no backup folder is a share (\\\\server\\share\\path or smb://server/share/path)".into());
        }
        return Ok((
            crate::backup_folder::LocalFolder::shared(),
            b.folder.clone(),
            overrides,
        ));
    }
    let folder = match &b.folder {
        Some(f) if is(&b.folder) => Some(canonical(f, "[backups] folder")?),
        Some(f) => {
            return Err(format!(
                "[backups] folder {}: a local folder and a share cannot be mixed; give every folder on the share",
                f.display()
            ));
        }
        None => None,
    };
    for o in &mut overrides {
        if let Some(f) = &o.folder {
            if !is(&o.folder) {
                return Err(format!(
                    "[[backups.database]] folder of {} ({}): a local folder and a share cannot be mixed; give every folder on the share",
                    o.name,
                    f.display()
                ));
            }
            o.folder = Some(canonical(f, "[[backups.database]] folder")?);
        }
    }
    let Some(address) = share else {
        return Err("[backups] folder: no share found".into());
    };
    let user = b.smb_user.as_deref().ok_or_else(|| {
        format!(
            "[backups] smb_user is missing: {} needs the account that reads it (DOMAIN\\user; AZURE\\<storage account> for an Azure file share)",
            address.share_root().display()
        )
    })?;
    let env = b
        .smb_password_env
        .as_deref()
        .unwrap_or(crate::backup_folder::smb::DEFAULT_PASSWORD_ENV);
    let login =
        SmbLogin::from_env(user, env).map_err(|e| format!("[backups] smb_password_env: {e}"))?;
    let smb = SmbFolder::new(&address, login)
        .map_err(|e| format!("[backups] folder: cannot start the SMB client: {e}"))?;
    smb.connect()
        .map_err(|e| format!("[backups] folder: {e}"))?;
    Ok((smb.shared(), folder, overrides))
}

#[cfg(test)]
mod tests {
    use super::super::file::TargetSection;
    use super::*;

    fn target(extra: impl FnOnce(&mut TargetSection)) -> TargetSection {
        let mut t = TargetSection {
            sql_server: Some("sqlmi.0123456789ab.database.windows.net".into()),
            sql_user: Some("miadmin".into()),
            sql_password_env: Some("CUTOVER_TEST_UNSET_PW_9".into()),
            ..Default::default()
        };
        extra(&mut t);
        t
    }

    fn provided(var: &str) -> ProvidedSecrets {
        let mut p = ProvidedSecrets::default();
        p.by_env.insert(var.into(), Secret::new("pw".to_string()));
        p
    }

    #[test]
    fn the_instances_sql_sign_in_follows_sql_authentication() {
        let p = provided("CUTOVER_TEST_UNSET_PW_9");
        let o = target_sql_options(&target(|_| {}), &p).unwrap().unwrap();
        assert!(matches!(o.auth, SourceAuth::SqlLogin { .. }));
        assert!(o.ca_file.is_none());
        // Entra through the sandbox's credential (the sandbox endpoint is local): no user needed.
        let t = target(|t| {
            t.sql_user = None;
            t.sql_authentication = Some("entra".into());
            t.sandbox = Some(true);
            t.arm_endpoint = Some("http://127.0.0.1:9".into());
        });
        let o = target_sql_options(&t, &ProvidedSecrets::default())
            .unwrap()
            .unwrap();
        assert!(matches!(o.auth, SourceAuth::Entra(_)));
        // A word it does not know, and aad-token without its variable, name the key.
        let e = target_sql_options(
            &target(|t| t.sql_authentication = Some("kerberos".into())),
            &p,
        )
        .unwrap_err();
        assert!(e.contains("[target] sql_authentication"), "{e}");
        let e = target_sql_options(
            &target(|t| t.sql_authentication = Some("aad-token".into())),
            &p,
        )
        .unwrap_err();
        assert!(e.contains("sql_token_env"), "{e}");
        // The CA file: named when missing, refused with the sandbox's plain TDS.
        let e = target_sql_options(
            &target(|t| t.sql_ca_file = Some("/nonexistent/ca.pem".into())),
            &p,
        )
        .unwrap_err();
        assert!(e.contains("[target] sql_ca_file"), "{e}");
        let e = target_sql_options(
            &target(|t| {
                t.sql_ca_file = Some("/nonexistent/ca.pem".into());
                t.sandbox = Some(true);
            }),
            &p,
        )
        .unwrap_err();
        assert!(e.contains("plain TDS"), "{e}");
        // Keys for the endpoint without the endpoint.
        let e = target_sql_options(
            &target(|t| {
                t.sql_server = None;
                t.sql_authentication = Some("entra".into());
            }),
            &p,
        )
        .unwrap_err();
        assert!(e.contains("sql_server is not"), "{e}");
    }
}
