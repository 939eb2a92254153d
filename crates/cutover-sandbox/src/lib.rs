//! The local Azure: a Blob service subset, the ARM Log Replay Service and discovery endpoints on 127.0.0.1, for
//! tests, benchmarks and `cutover demo`. It follows the published specs and enforces the real rules.

pub mod arm;
pub mod arm_discovery;
pub mod blob;
pub mod instance;
pub mod login_ddl;
pub mod mi_catalog;
pub mod mi_sql;
pub mod principals;
pub mod restore;
pub mod restore_plan;
pub mod sample_logins;
pub mod sas;
pub mod sql;
pub mod sql_select;
pub mod tde;
pub mod tds;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use arm::{LrsConfig, LrsService};
use blob::{BlobService, BlobServiceConfig, DEV_ACCOUNT, DEV_KEY};

/// Options of a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Restore speed of the simulated Managed Instance, MB/s.
    pub restore_mbps: f64,
    /// Where blob data lives (a new temporary folder if `None`).
    pub data_dir: Option<PathBuf>,
    /// Name of the empty container created at start.
    pub container: String,
    /// The local SQL Server's backup folder (default: `backups/` under the data folder).
    pub backup_dir: Option<PathBuf>,
    /// The local SQL Server's user databases (default: [`default_databases`]).
    pub databases: Option<Vec<instance::DatabaseSpec>>,
    /// LRS cancels a restore this long after it started (default: Azure's 30 days).
    pub lrs_job_limit: std::time::Duration,
}

/// The managed instance's Microsoft Entra administrator (a sysadmin on its SQL side).
pub const MI_ENTRA_ADMIN: &str = "dba@cutover-sandbox.example";

/// The estate `cutover sandbox` serves: a healthy database, one backed up without CHECKSUM, one whose
/// name needs quoting, and one in SIMPLE recovery (a finding worth seeing).
pub fn default_databases() -> Vec<instance::DatabaseSpec> {
    let mut no_checksum = instance::DatabaseSpec::new("Inventory");
    no_checksum.checksums = false;
    let mut simple = instance::DatabaseSpec::new("Legacy");
    simple.recovery_model = "SIMPLE".into();
    vec![
        instance::DatabaseSpec::new("Sales"),
        no_checksum,
        instance::DatabaseSpec::new("we]ird 'name"),
        simple,
    ]
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            restore_mbps: 20.0,
            data_dir: None,
            container: "migration".into(),
            backup_dir: None,
            databases: None,
            lrs_job_limit: arm::LRS_JOB_LIMIT,
        }
    }
}

/// What a client needs to use the sandbox: printed by `cutover sandbox` as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxInfo {
    pub blob_endpoint: String,
    pub account_name: String,
    pub account_key: String,
    pub container: String,
    pub container_sas: String,
    pub arm_endpoint: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub managed_instance: String,
    pub location: String,
    /// The local SQL Server, in SQL Server's `host,port` form (plain TDS: `--plaintext`).
    pub sql_server: String,
    pub sql_user: String,
    /// The sandbox's own generated test password (not a user secret).
    pub sql_password: String,
    /// Where the local SQL Server writes its databases' backups (one folder per database).
    pub backup_dir: String,
    pub databases: Vec<String>,
    /// The managed instance's own SQL endpoint (`host,port`, plain TDS): the databases LRS restores
    /// appear in its sys.databases (RESTORING, then ONLINE after completion).
    pub mi_sql_server: String,
    /// Its administrator login (sysadmin).
    pub mi_sql_user: String,
    /// The instance's Microsoft Entra administrator: any Entra access token logs in as it.
    pub mi_entra_admin: String,
    /// The subscription's other managed instances whose LRS the sandbox serves too (`resource
    /// group`, `name`): restores on them count against the subscription's limit.
    pub other_instances: Vec<(String, String)>,
    /// The sandbox's own generated test password for it (not a user secret).
    pub mi_sql_password: String,
}

/// A running sandbox (its servers stop when it is dropped).
pub struct Sandbox {
    pub info: SandboxInfo,
    pub blob: Arc<BlobService>,
    pub lrs: Arc<LrsService>,
    /// The ARM discovery endpoints (subscriptions, instances, storage accounts, ...).
    pub discovery: Arc<arm_discovery::DiscoveryService>,
    pub sql: Arc<instance::SqlInstance>,
    /// The managed instance's SQL side (its catalog fed by `lrs`).
    pub mi_sql: Arc<mi_sql::ManagedInstanceSql>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox: {0}")]
    Io(#[from] std::io::Error),
    #[error("sandbox: {0}")]
    Setup(String),
}

impl Sandbox {
    /// Starts the Blob service, the ARM endpoints, the local SQL Server and the managed instance's
    /// SQL endpoint on 127.0.0.1 (ephemeral ports) in this runtime.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let (tmp, root) = match &opts.data_dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("cutover-sandbox-")
                    .tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let blob = BlobService::new(BlobServiceConfig {
            root: root.clone(),
            account: DEV_ACCOUNT.into(),
            key: DEV_KEY.into(),
        })?;
        let backup_dir = opts
            .backup_dir
            .clone()
            .unwrap_or_else(|| root.join("backups"));
        let sql_password = format!("Sbx-{:016x}!", rand::random::<u64>());
        let sql = Arc::new(
            instance::SqlInstance::new(instance::InstanceOptions {
                backup_dir: backup_dir.clone(),
                server_name: "SANDBOX".into(),
                logins: vec![instance::LoginSpec {
                    user: "sa".into(),
                    password: sql_password.clone(),
                    sysadmin: true,
                }],
                databases: opts.databases.clone().unwrap_or_else(default_databases),
            })
            .map_err(|e| SandboxError::Setup(format!("local SQL Server: {}", e.message)))?,
        );
        let tds = tds::server::TdsServer::bind(sql.clone()).await?;
        let sql_server = format!("127.0.0.1,{}", tds.local_addr().port());
        let blob_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let arm_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let blob_endpoint = format!("http://{}/{DEV_ACCOUNT}", blob_listener.local_addr()?);
        let arm_endpoint = format!("http://{}", arm_listener.local_addr()?);
        blob.create_container(&opts.container).map_err(|e| {
            SandboxError::Setup(format!("cannot create container {}: {e}", opts.container))
        })?;
        let cfg = LrsConfig {
            subscription: "00000000-0000-0000-0000-000000000000".into(),
            resource_group: "cutover-sandbox".into(),
            managed_instance: "sandbox-mi".into(),
            location: "westeurope".into(),
            restore_mbps: opts.restore_mbps,
            blob_endpoint: blob_endpoint.clone(),
            account: DEV_ACCOUNT.into(),
            account_key: DEV_KEY.into(),
            required_token: None,
            arm_endpoint: arm_endpoint.clone(),
            job_limit: opts.lrs_job_limit,
            max_concurrent: arm::LRS_MAX_RESTORES_PER_INSTANCE,
            instances: Vec::new(),
        };
        let world_cfg = arm_discovery::WorldConfig {
            subscription: cfg.subscription.clone(),
            resource_group: cfg.resource_group.clone(),
            managed_instance: cfg.managed_instance.clone(),
            location: cfg.location.clone(),
            account: DEV_ACCOUNT.into(),
            blob_endpoint: blob_endpoint.clone(),
        };
        // LRS serves the subscription's ready instances as the discovery side lists them: the
        // sandbox's own and the others (the per-subscription limit on restores at once counts
        // them all).
        let world = arm_discovery::world::sandbox_world(&world_cfg);
        let mut cfg = cfg;
        cfg.instances = world
            .iter()
            .filter(|s| s.id == cfg.subscription)
            .flat_map(|s| s.instances.iter().cloned())
            .filter(|i| i.state == "Ready")
            .map(|i| arm::ServedInstance {
                resource_group: i.resource_group,
                name: i.name,
                location: i.location,
                sku_name: i.sku_name,
                tier: i.tier,
                family: i.family,
                vcores: i.vcores,
            })
            .collect();
        let lrs = LrsService::new(cfg.clone(), blob.clone());
        let now = time::OffsetDateTime::now_utc();
        let container_sas = sas::sign_container_sas(
            DEV_ACCOUNT,
            DEV_KEY,
            &opts.container,
            "rl",
            now + time::Duration::days(30),
        )
        .map_err(|e| SandboxError::Setup(e.to_string()))?;
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(tds.serve()));
        let b = blob.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = b.serve(blob_listener).await {
                tracing::error!(error = %e, "sandbox blob service stopped");
            }
        }));
        let discovery = arm_discovery::DiscoveryService::with_world(
            world,
            blob.clone(),
            arm_discovery::DEFAULT_PAGE_SIZE,
        );
        // LRS reads with the instance's identity only while the discovery side says it has the role.
        let d = discovery.clone();
        lrs.set_identity_reader(Arc::new(move || {
            d.has_reader_role(arm_discovery::SANDBOX_MI_PRINCIPAL, DEV_ACCOUNT)
        }));
        // The instance's SQL side: its own administrator, its sys.databases fed by LRS, and LRS
        // refusing a name a database created on the instance already has.
        let mi_sql_password = format!("Mi-{:016x}!", rand::random::<u64>());
        let mi_sql = Arc::new(mi_sql::ManagedInstanceSql::new(
            &cfg.managed_instance,
            vec![instance::LoginSpec {
                user: "miadmin".into(),
                password: mi_sql_password.clone(),
                sysadmin: true,
            }],
        ));
        let l = lrs.clone();
        mi_sql.set_lrs(Arc::new(move || l.restores()));
        // A restored database brings its users (the source's, by the same name) with their SIDs.
        let source_sql = sql.clone();
        mi_sql.set_restored_users(Arc::new(move |db: &str| source_sql.database_users(db)));
        let m = mi_sql.clone();
        lrs.set_name_taken(Arc::new(move |name: &str| m.has_own_database(name)));
        let m = mi_sql.clone();
        lrs.set_own_databases(Arc::new(move || m.own_database_count()));
        mi_sql.set_entra_admin(MI_ENTRA_ADMIN);
        let l = lrs.clone();
        mi_sql.set_certificates(Arc::new(move || {
            l.tde_certificates()
                .into_iter()
                .map(|(thumbprint, subject)| mi_catalog::CertificateRow {
                    name: format!("TDE_{}", tde::hex(&thumbprint)),
                    subject,
                    thumbprint,
                })
                .collect()
        }));
        let (mi_addr, mi_task) = mi_sql.clone().serve().await?;
        tasks.push(mi_task);
        let router = lrs.router().merge(discovery.router());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(arm_listener, router).await {
                tracing::error!(error = %e, "sandbox ARM service stopped");
            }
        }));
        tasks.push(tokio::spawn(
            lrs.clone().run_ticker(Duration::from_millis(200)),
        ));
        let other_instances = cfg
            .instances
            .iter()
            .filter(|i| i.name != cfg.managed_instance)
            .map(|i| (i.resource_group.clone(), i.name.clone()))
            .collect();
        Ok(Sandbox {
            info: SandboxInfo {
                blob_endpoint,
                account_name: DEV_ACCOUNT.into(),
                account_key: DEV_KEY.into(),
                container: opts.container.clone(),
                container_sas,
                arm_endpoint,
                subscription_id: cfg.subscription,
                resource_group: cfg.resource_group,
                managed_instance: cfg.managed_instance,
                location: cfg.location,
                sql_server,
                sql_user: "sa".into(),
                sql_password,
                backup_dir: backup_dir.to_string_lossy().into_owned(),
                databases: sql.database_names(),
                mi_sql_server: format!("127.0.0.1,{}", mi_addr.port()),
                mi_sql_user: "miadmin".into(),
                mi_sql_password,
                mi_entra_admin: MI_ENTRA_ADMIN.into(),
                other_instances,
            },
            sql,
            mi_sql,
            blob,
            lrs,
            discovery,
            tasks,
            _tmp: tmp,
        })
    }
}
