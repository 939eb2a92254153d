//! `cutover demo`: a whole migration on this machine. The sandbox (local Blob Storage, Log Replay
//! Service and SQL Server) runs in-process with an estate of databases of different sizes (one backed
//! up without CHECKSUM, one whose name needs quoting); a backup job keeps writing log backups while
//! the migration runs; restores are throttled so the progress can be watched (or fast, for scripts).
//! The engine runs against it exactly as it would against Azure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::Secret;

use crate::config::settings::{
    CutoverWhen, MiAccessSetting, SourceAuthentication, StopTrafficSetting, StorageAuthSetting,
    Tail, Word,
};
use crate::config::{
    self, BackupsSection, ConfigFile, DatabaseOverride, LoginsSection, MigrationSection,
    ProvidedSecrets, RunFlags, SourceSection, StorageSection, TargetSection,
};
use crate::engine::runner::{DatabaseConfig, EngineConfig, EngineHandle};
use crate::engine::{TailMode, persist};
use crate::restore_target::lrs::{InstanceRef, LrsClient};
use crate::sandbox::instance::DatabaseSpec;
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::source::tail::StopTraffic;

/// The variable names the demo's configuration gives its secrets (handed over in memory, never
/// read from or written to the environment).
const DEMO_SQL_PASSWORD_ENV: &str = "CUTOVER_DEMO_SQL_PASSWORD";
const DEMO_ACCOUNT_KEY_ENV: &str = "CUTOVER_DEMO_ACCOUNT_KEY";
const DEMO_MI_SAS_ENV: &str = "CUTOVER_DEMO_MI_SAS";
/// The variable the sandbox instance's SQL password is handed over under (never exported).
const DEMO_MI_SQL_PASSWORD_ENV: &str = "CUTOVER_DEMO_MI_SQL_PASSWORD";
/// The Microsoft Entra principal the demo maps the source's Windows login to.
pub const DEMO_ENTRA_LOGIN: &str = "app@contoso.com";

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Small databases, fast restores, short intervals: a run finishes in well under a minute.
    pub fast: bool,
    /// Seed from a real backup folder instead of the generated estate (no source server then).
    pub backups: Option<PathBuf>,
    pub cutover_when_ready: bool,
    pub tail: TailMode,
    pub stop_traffic: Option<StopTraffic>,
    pub activity: String,
    pub state_dir: PathBuf,
    /// Keep the sandbox's data (blobs, and the source's backups under `backups/`) here.
    pub data_dir: Option<PathBuf>,
}

/// The generated estate: sizes differ so the dashboard shows databases at different stages.
pub fn demo_databases(fast: bool) -> Vec<DatabaseSpec> {
    let mib = 1024 * 1024;
    let scale = if fast { 1 } else { 8 };
    let spec = |name: &str, mb: u64, checksums: bool| {
        let mut s = DatabaseSpec::new(name);
        s.data_bytes = mb * mib * scale;
        s.log_bytes = 64 * 1024;
        s.checksums = checksums;
        s.initial_logs = 2;
        s
    };
    vec![
        spec("Sales", 12, true),
        spec("Inventory", 4, false),
        spec("HR", 1, true),
        spec("we]ird 'name", 1, true),
    ]
}

/// A running demo: the sandbox, the engine, and the backup job.
pub struct Demo {
    pub sandbox: Sandbox,
    pub engine: EngineHandle,
    pub databases: Vec<String>,
    pub source_connected: bool,
    writer: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            w.abort();
        }
    }
}

fn engine_err(what: &str, e: impl std::fmt::Display) -> String {
    format!("demo: {what}: {e}")
}

/// Starts the sandbox, the backup job and the engine.
pub async fn start(opts: &DemoOptions) -> Result<Demo, String> {
    let sandbox = start_sandbox(opts).await?;
    start_engine(opts, sandbox, None)
}

/// What a demo run leaves behind for the next one, said honestly: the sandbox (its SQL Server,
/// storage and managed instance) runs inside the demo's process and never outlives it.
pub fn kept_after_exit(opts: &DemoOptions, state_dir_given: bool) -> String {
    if state_dir_given {
        format!(
            "the demo's state and logs stay in {}; its sandbox stopped with this process, so running `cutover demo` with the same --state-dir / --data-dir starts the demo again from the beginning",
            opts.state_dir.display()
        )
    } else {
        "nothing of this demo is kept: its state, logs and sandbox were in temporary folders, removed now".into()
    }
}

/// A previous demo in the same folders (killed, or stopped before the end): its sandbox stopped
/// with its process, so its restores are gone and its source backups would be written again. The
/// previous state is moved aside (`<activity>.json.previous-<unix time>`), the sandbox's container
/// and source backups in `--data-dir` are removed, and the demo starts from the beginning.
/// Refused while another demo still owns the activity. Returns what was done, to print.
pub fn prepare_restart(opts: &DemoOptions) -> Result<Option<String>, String> {
    let state = persist::state_path(&opts.state_dir, &opts.activity);
    // Only a folder the sandbox laid out (containers/ beside backups/) is cleared.
    let sandbox_data = opts
        .data_dir
        .as_ref()
        .filter(|d| d.join("containers").is_dir());
    let data_left = sandbox_data.is_some();
    if !state.exists() && !data_left {
        return Ok(None);
    }
    // Not while another demo runs on these folders.
    let _lock = crate::engine::lock::acquire(&state, &opts.activity)?;
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut moved = Vec::new();
    for p in [state.clone(), persist::databases_dir(&state)] {
        if p.exists() {
            let mut name = p.file_name().unwrap_or_default().to_os_string();
            name.push(format!(".previous-{stamp}"));
            let to = p.with_file_name(name);
            std::fs::rename(&p, &to).map_err(|e| {
                format!(
                    "demo: cannot move the previous state {} aside: {e}",
                    p.display()
                )
            })?;
            moved.push(to.display().to_string());
        }
    }
    if let Some(d) = sandbox_data {
        for p in [d.join("containers").join(DEMO_CONTAINER), d.join("backups")] {
            if p.exists() {
                std::fs::remove_dir_all(&p).map_err(|e| {
                    format!(
                        "demo: cannot clear the previous sandbox's data {}: {e}",
                        p.display()
                    )
                })?;
            }
        }
    }
    let kept = if moved.is_empty() {
        String::new()
    } else {
        format!(" (the previous state is kept as {})", moved.join(" and "))
    };
    Ok(Some(format!(
        "a previous demo ran in these folders; its sandbox (SQL Server, storage and managed instance) stopped with its process, so this demo starts again from the beginning{kept}"
    )))
}

/// The sandbox container the demo migrates into.
const DEMO_CONTAINER: &str = "migration";

/// Starts the sandbox with the demo's estate (or none with `--backups`).
pub async fn start_sandbox(opts: &DemoOptions) -> Result<Sandbox, String> {
    if let Some(said) = prepare_restart(opts)? {
        tracing::info!("{said}");
        eprintln!("demo: {said}");
    }
    let seeded = opts.backups.is_some();
    Sandbox::start(SandboxOptions {
        restore_mbps: if opts.fast { 400.0 } else { 1.5 },
        databases: Some(if seeded {
            Vec::new()
        } else {
            demo_databases(opts.fast)
        }),
        data_dir: opts.data_dir.clone(),
        container: DEMO_CONTAINER.into(),
        ..Default::default()
    })
    .await
    .map_err(|e| engine_err("cannot start the sandbox", e))
}

/// Starts the engine (and the source's backup job) on a started sandbox, for the `selected`
/// databases (all when `None`).
pub fn start_engine(
    opts: &DemoOptions,
    sandbox: Sandbox,
    selected: Option<&[String]>,
) -> Result<Demo, String> {
    start_engine_with(opts, sandbox, selected, DemoLogins::Sample)
}

/// Which of the sandbox source's logins the demo migrates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoLogins {
    /// One of each kind: its SQL logins, the Windows login (mapped) and group (unmapped).
    Sample,
    /// The wizard's choice (None: those the selected databases' users need).
    Chosen(Option<Vec<String>>),
}

/// [`start_engine`] with the logins chosen in the wizard.
pub fn start_engine_with(
    opts: &DemoOptions,
    sandbox: Sandbox,
    selected: Option<&[String]>,
    logins: DemoLogins,
) -> Result<Demo, String> {
    let seeded = opts.backups.is_some();
    let cfg = engine_config_with(opts, &sandbox, selected, logins)?;
    let names: Vec<String> = cfg.databases.iter().map(|d| d.name.clone()).collect();
    let engine = crate::engine::runner::start(cfg)?;

    // The source's backup job: a log backup of every online database every few seconds, until the
    // tail-log backup leaves it restoring.
    let writer = (!seeded).then(|| {
        let sql = sandbox.sql.clone();
        let every = Duration::from_millis(if opts.fast { 1500 } else { 5000 });
        let names = names.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                for n in &names {
                    if sql.database_state(n).as_deref() == Some("ONLINE") {
                        let _ = sql.backup_now(n, true);
                    }
                }
            }
        })
    });
    Ok(Demo {
        source_connected: !seeded,
        sandbox,
        engine,
        databases: names,
        writer,
    })
}

/// The engine's configuration for the demo's activity on a started sandbox, for the `selected`
/// databases (all when `None`).
pub fn engine_config(
    opts: &DemoOptions,
    sandbox: &Sandbox,
    selected: Option<&[String]>,
) -> Result<EngineConfig, String> {
    engine_config_with(opts, sandbox, selected, DemoLogins::Sample)
}

fn engine_config_with(
    opts: &DemoOptions,
    sandbox: &Sandbox,
    selected: Option<&[String]>,
    logins: DemoLogins,
) -> Result<EngineConfig, String> {
    let seeded = opts.backups.is_some();
    let info = sandbox.info.clone();

    let databases: Vec<DatabaseConfig> = match &opts.backups {
        Some(dir) => {
            let scan = crate::catalog::scan_folder(dir, &crate::catalog::ScanOptions::default())
                .map_err(|e| engine_err("--backups", e))?;
            let report = crate::catalog::check(&scan);
            if report.databases.is_empty() {
                return Err(format!(
                    "demo: --backups {}: no SQL Server backups found there",
                    dir.display()
                ));
            }
            report
                .databases
                .iter()
                .map(|d| DatabaseConfig {
                    name: d.name.clone(),
                    folder: dir.clone(),
                    server_folder: None,
                    target_name: d.name.clone(),
                })
                .collect()
        }
        None => info
            .databases
            .iter()
            .map(|n| DatabaseConfig {
                name: n.clone(),
                folder: sandbox.sql.database_dir(n),
                server_folder: None,
                target_name: n.clone(),
            })
            .collect(),
    };
    let databases: Vec<DatabaseConfig> = databases
        .into_iter()
        .filter(|d| selected.is_none_or(|s| s.contains(&d.name)))
        .collect();
    if databases.is_empty() {
        return Err("demo: no database selected".into());
    }
    if seeded && opts.tail == TailMode::Take {
        return Err("demo: --tail take needs the sandbox's SQL Server: with --backups, use --tail skip or wait".into());
    }

    // Through the configuration path `cutover run` takes (config::engine_config_with), the sandbox
    // named as such (its fixed token), the secrets handed over under the variable names the file
    // gives them (nothing is exported or written).
    let names: Vec<String> = databases.iter().map(|d| d.name.clone()).collect();
    let speed = if opts.fast { 0.25 } else { 1.0 };
    let file = ConfigFile {
        source: (!seeded).then(|| SourceSection {
            server: Some(info.sql_server.clone()),
            authentication: Some(SourceAuthentication::Sql.word().into()),
            user: Some(info.sql_user.clone()),
            password_env: Some(DEMO_SQL_PASSWORD_ENV.into()),
            plaintext: Some(true),
            connect_timeout_seconds: Some(5),
            ..Default::default()
        }),
        target: Some(TargetSection {
            subscription: Some(info.subscription_id.clone()),
            resource_group: Some(info.resource_group.clone()),
            managed_instance: Some(info.managed_instance.clone()),
            location: Some(info.location.clone()),
            arm_endpoint: Some(info.arm_endpoint.clone()),
            sandbox: Some(true),
            sql_server: Some(info.mi_sql_server.clone()),
            sql_user: Some(info.mi_sql_user.clone()),
            sql_password_env: Some(DEMO_MI_SQL_PASSWORD_ENV.into()),
            ..Default::default()
        }),
        storage: Some(StorageSection {
            container: Some(format!("{}/{}", info.blob_endpoint, info.container)),
            auth: Some(StorageAuthSetting::AccountKey.word().into()),
            account_key_env: Some(DEMO_ACCOUNT_KEY_ENV.into()),
            mi_access: Some(MiAccessSetting::Sas.word().into()),
            mi_sas_env: Some(DEMO_MI_SAS_ENV.into()),
            ..Default::default()
        }),
        backups: Some(BackupsSection {
            database: Some(
                databases
                    .iter()
                    .map(|d| DatabaseOverride {
                        name: d.name.clone(),
                        folder: Some(d.folder.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        migration: Some(MigrationSection {
            activity: Some(opts.activity.clone()),
            databases: Some(names),
            cutover: Some(
                if opts.cutover_when_ready {
                    CutoverWhen::WhenReady
                } else {
                    CutoverWhen::Never
                }
                .word()
                .into(),
            ),
            tail: Some(Tail::from(opts.tail).word().into()),
            stop_traffic: Some(
                match (seeded, opts.stop_traffic) {
                    (false, Some(StopTraffic::ReadOnly)) => StopTrafficSetting::ReadOnly,
                    (false, Some(StopTraffic::RestrictedUser)) => {
                        StopTrafficSetting::RestrictedUser
                    }
                    _ => StopTrafficSetting::None,
                }
                .word()
                .into(),
            ),
            max_mbps: (!opts.fast).then_some(40.0),
            scan_seconds: Some(speed),
            poll_seconds: Some(speed),
            state_dir: Some(opts.state_dir.clone()),
            ..Default::default()
        }),
        // The sandbox's source has a login of each kind: its SQL logins, the Windows login
        // (mapped to an Entra name) and the Windows group (left unmapped: skipped, with what to do).
        logins: (!seeded).then(|| {
            use crate::sandbox::sample_logins::{SQL_LOGINS, WINDOWS_GROUP, WINDOWS_LOGIN};
            let select = match &logins {
                DemoLogins::Sample => {
                    let mut s: Vec<String> =
                        SQL_LOGINS.iter().map(|(n, _)| n.to_string()).collect();
                    s.extend([WINDOWS_LOGIN.to_string(), WINDOWS_GROUP.to_string()]);
                    Some(s)
                }
                DemoLogins::Chosen(c) => c.clone(),
            };
            LoginsSection {
                migrate: Some(true),
                select,
                remap_users: Some(true),
                map: Some(vec![crate::logins::EntraMap {
                    windows: WINDOWS_LOGIN.into(),
                    entra: DEMO_ENTRA_LOGIN.into(),
                }]),
            }
        }),
    };
    let mut secrets = ProvidedSecrets::default();
    for (var, value) in [
        (DEMO_SQL_PASSWORD_ENV, &info.sql_password),
        (DEMO_ACCOUNT_KEY_ENV, &info.account_key),
        (DEMO_MI_SAS_ENV, &info.container_sas),
        (DEMO_MI_SQL_PASSWORD_ENV, &info.mi_sql_password),
    ] {
        secrets
            .by_env
            .insert(var.to_string(), Secret::new(value.clone()));
    }
    let (mut cfg, _) = config::engine_config_with(&file, &RunFlags::default(), &secrets)
        .map_err(|e| format!("demo: {e}"))?;
    // What a configuration file does not say: the demo's labels, its quick LRS operation polling
    // and its short wait for files to settle.
    cfg.source_label = if seeded {
        format!(
            "backups in {}",
            opts.backups
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
    } else {
        format!("SANDBOX ({})", info.sql_server)
    };
    cfg.target_label = format!("{} (sandbox)", info.managed_instance);
    cfg.upload.stable_for = Duration::from_millis(if opts.fast { 0 } else { 500 });
    let credential = config::engine::arm_credential(&info.arm_endpoint, true, "--sandbox", || {
        Err("the demo runs on the sandbox".to_string())
    })?;
    let mut lrs = LrsClient::new(
        &info.arm_endpoint,
        credential,
        InstanceRef {
            subscription: info.subscription_id.clone(),
            resource_group: info.resource_group.clone(),
            managed_instance: info.managed_instance.clone(),
        },
    )
    .map_err(|e| engine_err("LRS client", e))?;
    lrs.arm.poll_interval = Duration::from_millis(200);
    cfg.lrs = Arc::new(lrs);
    Ok(cfg)
}
