//! The Azure Resource Manager endpoints of the Log Replay Service, for one managed instance, backed by
//! the sandbox Blob service's files and the restore simulation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use time::OffsetDateTime;

mod tde_certificates;

use super::blob::BlobService;
use super::restore::{FolderFile, FolderView, JobState, RestoreJob, view};
use super::sas;

/// Which managed instance the sandbox pretends to be.
#[derive(Debug, Clone)]
pub struct LrsConfig {
    pub subscription: String,
    pub resource_group: String,
    pub managed_instance: String,
    pub location: String,
    /// Restore speed in MB/s (a Managed Instance's log rate is limited; this makes progress visible).
    pub restore_mbps: f64,
    /// The sandbox Blob endpoint, e.g. http://127.0.0.1:PORT/devstoreaccount1 (the only http:// storage
    /// URI accepted: real LRS needs https on 443).
    pub blob_endpoint: String,
    pub account: String,
    pub account_key: String,
    /// If set, the bearer token must equal it; otherwise any bearer token is accepted.
    pub required_token: Option<String>,
    /// Where this service is reachable (for Azure-AsyncOperation URLs).
    pub arm_endpoint: String,
    /// LRS cancels a restore this long after it started, dropping the restoring database (Azure: 30
    /// days; shorter in tests and to show it).
    pub job_limit: Duration,
    /// Restores running at once that one instance accepts (the documented per-instance figure);
    /// all the served instances together accept [`LRS_MAX_RESTORES_PER_SUBSCRIPTION`].
    pub max_concurrent: usize,
    /// The subscription's ready managed instances whose Log Replay Service the sandbox serves, as
    /// its discovery side lists them: `managed_instance` and the others (the per-subscription
    /// limit counts the restores of them all).
    pub instances: Vec<ServedInstance>,
}

/// A managed instance the sandbox's LRS serves, as ARM's GET of it shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedInstance {
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub sku_name: String,
    pub tier: String,
    pub family: String,
    pub vcores: u32,
}

impl LrsConfig {
    /// The served instance at `rg`/`mi` (ARM matches names without regard to case).
    fn served(&self, rg: &str, mi: &str) -> Option<ServedInstance> {
        self.instances
            .iter()
            .find(|i| i.resource_group.eq_ignore_ascii_case(rg) && i.name.eq_ignore_ascii_case(mi))
            .cloned()
    }
}

/// The key of a database's restore: instance and database, each without regard to case.
fn job_key(mi: &str, db: &str) -> String {
    format!("{}/{}", mi.to_lowercase(), db.to_lowercase())
}

/// "100 concurrent restores per instance" (the LRS documentation, `lrs-api.md`).
pub const LRS_MAX_RESTORES_PER_INSTANCE: usize = 100;
/// "a per-subscription cap on concurrent restores (150 at the time of writing)" (`lrs-api.md`).
pub const LRS_MAX_RESTORES_PER_SUBSCRIPTION: usize = 150;

/// The error code of a start refused for the limit on restores at once. The reference gives no
/// code for it: this name is the sandbox's own.
pub const RESTORE_LIMIT_CODE: &str = "ConcurrentRestoreLimitReached";

/// Databases a General Purpose instance holds (Azure SQL Managed Instance's resource limits; a
/// Next-gen General Purpose instance holds 500, which the sandbox's instances are not).
pub const GENERAL_PURPOSE_MAX_DATABASES: usize = 100;

/// The error code of a start refused because the instance holds all the databases its tier
/// allows; the sandbox's own name (the reference gives none).
pub const DATABASE_LIMIT_CODE: &str = "ManagedInstanceDatabaseLimitReached";

/// Whether an api-version answers restoreDetails in the detailed shape (type, sizes, per-state
/// counts, backup sets, `unrestorableFiles` as objects, whole-number percent): the previews, and
/// the stable versions from 2025-01-01 on ("the stable api-version 2025-01-01 now carries what was
/// preview-only at 2023-08-01", lrs-api.md).
fn detailed_shape(api: &str) -> bool {
    api.contains("preview") || api >= "2025-01-01"
}

/// Days an LRS job may run before Azure cancels it ("the LRS job is cancelled 30 days after it
/// starts", the LRS documentation; see `../shared/reference/lrs-api.md`).
pub const LRS_JOB_LIMIT_DAYS: u64 = 30;

/// Azure's limit on one LRS restore job, written from the LRS documentation (not the client's).
pub const LRS_JOB_LIMIT: Duration = Duration::from_secs(LRS_JOB_LIMIT_DAYS * 86_400);

struct Job {
    job: RestoreJob,
    /// The served instance restoring it (its name as ARM shows it).
    instance: String,
    /// When the start was accepted (the job limit counts from it).
    started: std::time::Instant,
    /// The database's `creationDate` (what tells this restore from a later one of the same name).
    created: OffsetDateTime,
    container: String,
    folder: String,
    /// The storage cannot be read (managed identity without a role, unreachable host).
    storage_block: Option<(String, String)>,
}

struct Operation {
    db: String,
    kind: &'static str,
    started: OffsetDateTime,
}

type HeaderCache = HashMap<(String, u64, i128), Result<Vec<cutover_backup::BackupSet>, String>>;

/// Whether the instance's managed identity may read the storage account now (its role
/// assignments, kept by the discovery side of the sandbox).
pub type IdentityReader = Arc<dyn Fn() -> bool + Send + Sync>;

/// Whether a database of this name exists on the instance outside LRS (created or restored
/// another way): the instance's SQL side answers it.
pub type NameTaken = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// How many databases exist on the instance outside LRS (the instance's SQL side answers it).
pub type OwnDatabases = Arc<dyn Fn() -> usize + Send + Sync>;

/// One database LRS restores or restored, as the instance's SQL side shows it in sys.databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LrsDatabase {
    pub name: String,
    pub collation: String,
    /// `RESTORING` while LRS restores it (completion included), `ONLINE` once completed,
    /// `SUSPECT` when the restore failed.
    pub state: &'static str,
    /// When LRS accepted the start (sys.databases.create_date).
    pub created: OffsetDateTime,
    /// The compatibility level of the first restored set's header (none restored yet: `None`).
    pub compatibility_level: Option<u8>,
    /// Bytes restored so far (the sets' sizes): what the database takes on the instance.
    pub size_bytes: u64,
}

/// The LRS emulator.
pub struct LrsService {
    cfg: Mutex<LrsConfig>,
    blob: Arc<BlobService>,
    jobs: Mutex<HashMap<String, Job>>,
    ops: Mutex<HashMap<String, Operation>>,
    headers: Mutex<HeaderCache>,
    identity_reader: Mutex<Option<IdentityReader>>,
    name_taken: Mutex<Option<NameTaken>>,
    own_databases: Mutex<Option<OwnDatabases>>,
    tde: tde_certificates::TdeCertificates,
}

fn err(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, Json(body)).into_response()
}

fn iso(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[derive(serde::Deserialize)]
struct ApiVersion {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

#[derive(serde::Deserialize)]
struct DbPath {
    sub: String,
    rg: String,
    mi: String,
    db: String,
}

impl LrsService {
    pub fn new(cfg: LrsConfig, blob: Arc<BlobService>) -> Arc<Self> {
        Arc::new(LrsService {
            cfg: Mutex::new(cfg),
            blob,
            jobs: Mutex::new(HashMap::new()),
            ops: Mutex::new(HashMap::new()),
            headers: Mutex::new(HashMap::new()),
            identity_reader: Mutex::new(None),
            name_taken: Mutex::new(None),
            own_databases: Mutex::new(None),
            tde: Mutex::new(Default::default()),
        })
    }

    /// Where the instance identity's role on the storage account is looked up (without one, the
    /// identity has no role: a restore with `ManagedIdentity` is blocked).
    pub fn set_identity_reader(&self, reader: IdentityReader) {
        if let Ok(mut r) = self.identity_reader.lock() {
            *r = Some(reader);
        }
    }

    /// Where a start looks up whether the database's name is taken on the instance by a database
    /// LRS did not restore (the instance refuses a restore onto an existing name).
    pub fn set_name_taken(&self, taken: NameTaken) {
        if let Ok(mut t) = self.name_taken.lock() {
            *t = Some(taken);
        }
    }

    /// Where a start on the sandbox's instance counts the databases created on it outside LRS (a
    /// General Purpose instance holds 100 databases in all).
    pub fn set_own_databases(&self, count: OwnDatabases) {
        if let Ok(mut c) = self.own_databases.lock() {
            *c = Some(count);
        }
    }

    fn own_database_count(&self) -> usize {
        self.own_databases
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .map_or(0, |f| f())
    }

    fn name_is_taken(&self, name: &str) -> bool {
        self.name_taken
            .lock()
            .ok()
            .and_then(|t| t.clone())
            .is_some_and(|f| f(name))
    }

    /// The databases LRS restores or restored (sorted by name), for the instance's SQL side.
    pub fn restores(&self) -> Vec<LrsDatabase> {
        let Ok(jobs) = self.jobs.lock() else {
            return Vec::new();
        };
        let primary = self.cfg().managed_instance;
        let mut out: Vec<LrsDatabase> = jobs
            .values()
            .filter(|j| j.instance.eq_ignore_ascii_case(&primary))
            .map(|j| LrsDatabase {
                name: j.job.db.clone(),
                collation: j.job.collation.clone(),
                state: match j.job.state {
                    JobState::Completed => "ONLINE",
                    JobState::Failed { .. } => "SUSPECT",
                    _ => "RESTORING",
                },
                created: j.created,
                compatibility_level: j.job.restored.first().map(|r| r.compatibility_level),
                size_bytes: j.job.restored.iter().map(|r| r.size).sum(),
            })
            .collect();
        out.sort_by_key(|a| a.name.to_lowercase());
        out
    }

    fn identity_may_read(&self) -> bool {
        self.identity_reader
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .is_some_and(|f| f())
    }

    pub fn set_arm_endpoint(&self, endpoint: &str) {
        if let Ok(mut c) = self.cfg.lock() {
            c.arm_endpoint = endpoint.to_string();
        }
    }

    pub fn set_restore_mbps(&self, mbps: f64) {
        if let Ok(mut c) = self.cfg.lock() {
            c.restore_mbps = mbps;
        }
    }

    fn cfg(&self) -> LrsConfig {
        self.cfg
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn router(self: &Arc<Self>) -> Router {
        let base = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Sql/managedInstances/{mi}/databases/{db}";
        Router::new()
            .route(
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Sql/managedInstances/{mi}",
                get(get_instance),
            )
            .route(
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Sql/managedInstances/{mi}/databases",
                get(list_dbs),
            )
            .route(
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Sql/managedInstances/{mi}/tdeCertificates",
                post(tde_certificates::post_tde_certificate),
            )
            .route(base, get(get_db).put(put_db).delete(delete_db))
            .route(&format!("{base}/restoreDetails/{{name}}"), get(get_details))
            .route(&format!("{base}/completeRestore"), post(post_complete))
            .route(
                "/subscriptions/{sub}/providers/Microsoft.Sql/locations/{loc}/managedDatabaseRestoreAzureAsyncOperation/{id}",
                get(get_operation),
            )
            .fallback(|| async { err(StatusCode::NOT_FOUND, "InvalidResourceType", "The resource type or path is not served by this instance.") })
            .with_state(self.clone())
    }

    /// Advances every restore; call every few hundred milliseconds.
    pub fn tick(&self, dt: Duration) {
        let cfg = self.cfg();
        let now = OffsetDateTime::now_utc();
        let Ok(mut jobs) = self.jobs.lock() else {
            return;
        };
        // Past the job limit a restore still restoring is cancelled and its database dropped (a
        // completion already asked for goes on).
        jobs.retain(|_, j| {
            !(j.job.state == JobState::Restoring && j.started.elapsed() >= cfg.job_limit)
        });
        for j in jobs.values_mut() {
            if let Some((code, msg)) = &j.storage_block {
                j.job.block_reason = Some(format!("{code}: {msg}"));
                continue;
            }
            let v = self.folder_view(&j.container, &j.folder, &j.job.db);
            j.job.tick(&v, dt, cfg.restore_mbps, now);
        }
    }

    /// Runs `tick` forever at `every`.
    pub async fn run_ticker(self: Arc<Self>, every: Duration) {
        let mut iv = tokio::time::interval(every);
        loop {
            iv.tick().await;
            self.tick(every);
        }
    }

    fn folder_view(&self, container: &str, folder: &str, db: &str) -> FolderView {
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        let blobs = self.blob.list_blobs(container, &prefix).unwrap_or_default();
        let mut files = Vec::new();
        let Ok(mut cache) = self.headers.lock() else {
            return view(db, &[]);
        };
        for b in blobs {
            let Some(name) = b.name.strip_prefix(&prefix) else {
                continue;
            };
            if name.contains('/') {
                continue; // nested folders are not read by LRS
            }
            let modified = b.last_modified;
            let key = (b.name.clone(), b.size, modified.unix_timestamp_nanos());
            let sets = cache
                .entry(key)
                .or_insert_with(|| match self.blob.blob_path(container, &b.name) {
                    Some(p) => cutover_backup::read_backup_file(&p).map_err(|e| e.to_string()),
                    None => Err("blob vanished".into()),
                })
                .clone();
            files.push(FolderFile {
                name: name.to_string(),
                size: b.size,
                modified,
                sets,
            });
        }
        let mut v = view(db, &files);
        self.tde_block(&files, &mut v);
        v
    }

    fn new_operation(&self, db: &str, kind: &'static str) -> String {
        let id = format!("{:032x}", rand::random::<u128>());
        if let Ok(mut ops) = self.ops.lock() {
            ops.insert(
                id.clone(),
                Operation {
                    db: db.to_lowercase(),
                    kind,
                    started: OffsetDateTime::now_utc(),
                },
            );
        }
        id
    }

    fn accepted(
        &self,
        status: StatusCode,
        db: &str,
        kind: &'static str,
        api: &str,
        body: Value,
    ) -> Response {
        let cfg = self.cfg();
        let id = self.new_operation(db, kind);
        let url = format!(
            "{}/subscriptions/{}/providers/Microsoft.Sql/locations/{}/managedDatabaseRestoreAzureAsyncOperation/{id}?api-version={api}",
            cfg.arm_endpoint, cfg.subscription, cfg.location
        );
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&url) {
            h.insert("azure-asyncoperation", v.clone());
            h.insert("location", v);
        }
        h.insert("retry-after", HeaderValue::from_static("1"));
        (status, h, Json(body)).into_response()
    }

    /// Checks the bearer token, api-version and the instance path: the api-version and the served
    /// instance the path names, or the ready error response.
    #[allow(clippy::result_large_err)] // an axum Response, returned at once by the handler
    fn check_served(
        &self,
        headers: &HeaderMap,
        p: &DbPath,
        q: &ApiVersion,
    ) -> Result<(String, ServedInstance), Response> {
        let cfg = self.cfg();
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(token) = auth
            .strip_prefix("Bearer ")
            .filter(|t| !t.trim().is_empty())
        else {
            return Err(err(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or is not a Bearer token.",
            ));
        };
        if cfg.required_token.as_deref().is_some_and(|r| r != token) {
            return Err(err(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            ));
        }
        let Some(api) = q.api_version.clone() else {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            ));
        };
        if !p.sub.eq_ignore_ascii_case(&cfg.subscription) {
            return Err(err(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                format!("The subscription '{}' could not be found.", p.sub),
            ));
        }
        if !cfg
            .instances
            .iter()
            .any(|i| p.rg.eq_ignore_ascii_case(&i.resource_group))
        {
            return Err(err(
                StatusCode::NOT_FOUND,
                "ResourceGroupNotFound",
                format!("Resource group '{}' could not be found.", p.rg),
            ));
        }
        let Some(inst) = cfg.served(&p.rg, &p.mi) else {
            return Err(err(
                StatusCode::NOT_FOUND,
                "ParentResourceNotFound",
                format!(
                    "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                    p.mi
                ),
            ));
        };
        Ok((api, inst))
    }

    /// Validates the storage URI: (container, folder), or the documented error.
    fn storage_target(
        &self,
        uri: &str,
    ) -> Result<(String, String), (StatusCode, &'static str, String)> {
        let cfg = self.cfg();
        let bad = |code: &'static str, m: String| (StatusCode::BAD_REQUEST, code, m);
        let url = url::Url::parse(uri).map_err(|_| {
            bad(
                "ExternalBackupUriMalformed",
                format!("The storage container URI '{uri}' is malformed."),
            )
        })?;
        if url.query().is_some() {
            return Err(bad("ExternalBackupUriMalformed", "The storage container URI must not contain a query string (put the SAS in storageContainerSasToken).".into()));
        }
        let own = uri.starts_with(&format!("{}/", cfg.blob_endpoint.trim_end_matches('/')));
        if !own {
            if url.scheme() != "https" || url.port().is_some_and(|p| p != 443) {
                return Err(bad(
                    "ExternalBackupUriInvalidSchemeOrPort",
                    format!("The storage container URI '{uri}' must use https on port 443."),
                ));
            }
            let host = url.host_str().unwrap_or("");
            if !host.ends_with(".blob.core.windows.net") {
                return Err(bad(
                    "ExternalBackupUriHostNotAllowed",
                    format!("The host '{host}' is not an Azure Blob Storage endpoint."),
                ));
            }
        }
        let mut segs: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|x| !x.is_empty()).map(|x| x.to_string()).collect())
            .unwrap_or_default();
        if own && segs.first().is_some_and(|a| a == &cfg.account) {
            segs.remove(0);
        }
        let segs: Vec<String> = segs.iter().map(|s| percent_decode(s)).collect();
        let Some(container) = segs.first().cloned() else {
            return Err(bad(
                "ExternalBackupUriMalformed",
                format!("The storage container URI '{uri}' names no container."),
            ));
        };
        if segs.len() > 2 {
            return Err(bad(
                "ExternalBackupUriMalformed",
                format!(
                    "The storage container URI '{uri}' has nested folders; LRS reads one flat folder per database."
                ),
            ));
        }
        let folder = segs.get(1).cloned().unwrap_or_default();
        for n in [&container, &folder] {
            if n.to_ascii_lowercase().contains("backup") {
                return Err(bad(
                    "ExternalBackupUriMalformed",
                    format!(
                        "The container or folder name '{n}' contains 'backup' or 'backups', which LRS does not allow; rename it."
                    ),
                ));
            }
        }
        if !own {
            return Err((
                StatusCode::BAD_REQUEST,
                "BlobStorageFailure",
                format!(
                    "The sandbox cannot reach '{}': only its own Blob endpoint {} is available here.",
                    url.host_str().unwrap_or(""),
                    cfg.blob_endpoint
                ),
            ));
        }
        Ok((container, folder))
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

async fn put_db(
    State(s): State<Arc<LrsService>>,
    Path(p): Path<DbPath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (api, inst) = match s.check_served(&headers, &p, &q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return err(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let props = v.get("properties").cloned().unwrap_or(Value::Null);
    let get = |k: &str| props.get(k).and_then(Value::as_str).map(str::to_string);
    if get("createMode").as_deref() != Some("RestoreExternalBackup") {
        return err(
            StatusCode::BAD_REQUEST,
            "InvalidCreateMode",
            "The sandbox only creates databases with createMode RestoreExternalBackup (Log Replay Service).",
        );
    }
    let Some(uri) = get("storageContainerUri").filter(|u| !u.is_empty()) else {
        return err(
            StatusCode::BAD_REQUEST,
            "MissingStorageContainerUri",
            "Storage container URI must be provided.",
        );
    };
    let identity =
        get("storageContainerIdentity").unwrap_or_else(|| "SharedAccessSignature".into());
    let sas_token = get("storageContainerSasToken").filter(|t| !t.is_empty());
    if identity.eq_ignore_ascii_case("SharedAccessSignature") && sas_token.is_none() {
        return err(
            StatusCode::BAD_REQUEST,
            "MissingStorageContainerSasToken",
            "Storage container SAS token must be provided when the identity is SharedAccessSignature.",
        );
    }
    let Some(collation) = get("collation").filter(|c| !c.is_empty()) else {
        return err(
            StatusCode::BAD_REQUEST,
            "MissingCollation",
            "Collation must be provided.",
        );
    };
    let auto = props
        .get("autoCompleteRestore")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let last = get("lastBackupName");
    if auto && last.as_deref().is_none_or(str::is_empty) {
        return err(
            StatusCode::BAD_REQUEST,
            "AutoCompleteMissingLastBackupName",
            "lastBackupName must be provided when autoCompleteRestore is true.",
        );
    }
    if let Some(l) = &last {
        if l.contains('\n') || l.contains('\r') {
            return err(
                StatusCode::BAD_REQUEST,
                "LastBackupNameHasNewline",
                "lastBackupName must not contain a newline.",
            );
        }
        if !l.is_ascii() {
            return err(
                StatusCode::BAD_REQUEST,
                "LastBackupNameHasNonAsciiCharacter",
                "lastBackupName must contain ASCII characters only.",
            );
        }
    }
    let (container, folder) = match s.storage_target(&uri) {
        Ok(t) => t,
        Err((st, code, m)) => return err(st, code, m),
    };
    let cfg = s.cfg();
    let mut storage_block = None;
    if let Some(token) = &sas_token {
        if let Err(e) = sas::check_mi_sas(token, OffsetDateTime::now_utc()) {
            return err(
                StatusCode::BAD_REQUEST,
                "BlobStorageFailure",
                format!("The SAS token cannot be used: {e}"),
            );
        }
        if let Err(e) =
            sas::verify_service_sas(token, &cfg.account, &cfg.account_key, &container, None)
        {
            return err(
                StatusCode::BAD_REQUEST,
                "BlobStorageFailure",
                format!("The storage account refused the SAS token: {e}"),
            );
        }
    } else if !s.identity_may_read() {
        storage_block = Some((
            "ManagedIdentityIssueDetected".to_string(),
            "The managed instance's identity has no Storage Blob Data Reader role on the storage account; grant it, or use a SAS token.".to_string(),
        ));
    }
    let key = job_key(&inst.name, &p.db);
    let created = OffsetDateTime::now_utc();
    {
        let Ok(mut jobs) = s.jobs.lock() else {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "state lock poisoned",
            );
        };
        let running = |on: Option<&str>| {
            jobs.values()
                .filter(|j| !matches!(j.job.state, JobState::Completed))
                .filter(|j| on.is_none_or(|mi| j.instance.eq_ignore_ascii_case(mi)))
                .count()
        };
        let primary = inst.name == cfg.managed_instance;
        let held = jobs
            .values()
            .filter(|j| j.instance.eq_ignore_ascii_case(&inst.name))
            .count()
            + if primary { s.own_database_count() } else { 0 };
        if !jobs.contains_key(&key)
            && inst.tier.eq_ignore_ascii_case("GeneralPurpose")
            && held >= GENERAL_PURPOSE_MAX_DATABASES
        {
            return err(
                StatusCode::CONFLICT,
                DATABASE_LIMIT_CODE,
                format!(
                    "The managed instance holds {held} databases, the most a General Purpose instance holds ({GENERAL_PURPOSE_MAX_DATABASES}); drop one or use another instance.",
                ),
            );
        }
        let on_instance = running(Some(&inst.name));
        if !jobs.contains_key(&key) && on_instance >= cfg.max_concurrent {
            return err(
                StatusCode::CONFLICT,
                RESTORE_LIMIT_CODE,
                format!(
                    "The managed instance already runs {on_instance} Log Replay Service restores, the most it runs at once ({}); start this one when another completes or is cancelled.",
                    cfg.max_concurrent
                ),
            );
        }
        let in_subscription = running(None);
        if !jobs.contains_key(&key) && in_subscription >= LRS_MAX_RESTORES_PER_SUBSCRIPTION {
            return err(
                StatusCode::CONFLICT,
                RESTORE_LIMIT_CODE,
                format!(
                    "The subscription already runs {in_subscription} Log Replay Service restores, the most it runs at once ({LRS_MAX_RESTORES_PER_SUBSCRIPTION}); start this one when another completes or is cancelled.",
                ),
            );
        }
        if !jobs.contains_key(&key) && primary && s.name_is_taken(&p.db) {
            return err(
                StatusCode::CONFLICT,
                "ManagedDatabaseNameInUse",
                format!(
                    "A database named '{}' already exists on the managed instance.",
                    p.db
                ),
            );
        }
        if let Some(existing) = jobs.get(&key) {
            return match existing.job.state {
                JobState::Restoring | JobState::Completing { .. } => err(
                    StatusCode::CONFLICT,
                    "DuplicateRestoreOperation",
                    format!("A restore of database '{}' is already in progress.", p.db),
                ),
                _ => err(
                    StatusCode::CONFLICT,
                    "ManagedDatabaseNameInUse",
                    format!(
                        "A database named '{}' already exists on the managed instance.",
                        p.db
                    ),
                ),
            };
        }
        jobs.insert(
            key.clone(),
            Job {
                job: RestoreJob::new(&p.db, &collation, if auto { last } else { None }),
                instance: inst.name.clone(),
                started: std::time::Instant::now(),
                created,
                container,
                folder,
                storage_block,
            },
        );
    }
    let body = json!({
        "id": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/databases/{}", cfg.subscription, inst.resource_group, inst.name, p.db),
        "name": p.db,
        "type": "Microsoft.Sql/managedInstances/databases",
        "location": inst.location,
        "properties": {"collation": collation, "status": "Restoring", "creationDate": iso(created)},
    });
    s.accepted(StatusCode::CREATED, &key, "start", &api, body)
}

#[derive(serde::Deserialize)]
struct InstancePath {
    sub: String,
    rg: String,
    mi: String,
}

/// The managed instance itself (what the wizard's target test reads).
async fn get_instance(
    State(s): State<Arc<LrsService>>,
    Path(p): Path<InstancePath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
) -> Response {
    let p = DbPath {
        sub: p.sub,
        rg: p.rg,
        mi: p.mi,
        db: String::new(),
    };
    let inst = match s.check_served(&headers, &p, &q) {
        Ok((_, i)) => i,
        Err(r) => return r,
    };
    let cfg = s.cfg();
    Json(json!({
        "id": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}", cfg.subscription, inst.resource_group, inst.name),
        "name": inst.name,
        "type": "Microsoft.Sql/managedInstances",
        "location": inst.location,
        "sku": {"name": inst.sku_name, "tier": inst.tier, "capacity": inst.vcores, "family": inst.family},
        "properties": {"state": "Ready", "vCores": inst.vcores},
    }))
    .into_response()
}

/// ManagedDatabases_ListByInstance: the instance's databases (restoring, online or failed), in
/// the published shape (ManagedDatabaseListByManagedInstance.json).
async fn list_dbs(
    State(s): State<Arc<LrsService>>,
    Path(p): Path<InstancePath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
) -> Response {
    let p = DbPath {
        sub: p.sub,
        rg: p.rg,
        mi: p.mi,
        db: String::new(),
    };
    let inst = match s.check_served(&headers, &p, &q) {
        Ok((_, i)) => i,
        Err(r) => return r,
    };
    let cfg = s.cfg();
    let Ok(jobs) = s.jobs.lock() else {
        return err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "state lock poisoned",
        );
    };
    let mut value: Vec<Value> = jobs
        .values()
        .filter(|j| j.instance == inst.name)
        .map(|j| {
            let status = match j.job.state {
                JobState::Completed => "Online",
                JobState::Failed { .. } => "Inaccessible",
                _ => "Restoring",
            };
            json!({
                "properties": {"collation": j.job.collation, "status": status, "creationDate": iso(j.created)},
                "location": inst.location,
                "id": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/databases/{}", cfg.subscription, inst.resource_group, inst.name, j.job.db),
                "name": j.job.db,
                "type": "Microsoft.Sql/managedInstances/databases",
            })
        })
        .collect();
    value.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Json(json!({ "value": value })).into_response()
}

async fn get_db(
    State(s): State<Arc<LrsService>>,
    Path(p): Path<DbPath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
) -> Response {
    let inst = match s.check_served(&headers, &p, &q) {
        Ok((_, i)) => i,
        Err(r) => return r,
    };
    let Ok(jobs) = s.jobs.lock() else {
        return err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "state lock poisoned",
        );
    };
    match jobs.get(&job_key(&inst.name, &p.db)) {
        Some(j) => {
            let status = match j.job.state {
                JobState::Completed => "Online",
                JobState::Failed { .. } => "Inaccessible",
                _ => "Restoring",
            };
            Json(json!({"name": j.job.db, "type": "Microsoft.Sql/managedInstances/databases", "location": inst.location,
                "properties": {"collation": j.job.collation, "status": status, "creationDate": iso(j.created)}}))
            .into_response()
        }
        None => err(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.Sql/managedInstances/{}/databases/{}' was not found.",
                inst.name, p.db
            ),
        ),
    }
}

async fn delete_db(
    State(s): State<Arc<LrsService>>,
    Path(p): Path<DbPath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
) -> Response {
    let (api, inst) = match s.check_served(&headers, &p, &q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let removed = s
        .jobs
        .lock()
        .ok()
        .and_then(|mut j| j.remove(&job_key(&inst.name, &p.db)));
    match removed {
        Some(_) => s.accepted(
            StatusCode::ACCEPTED,
            &job_key(&inst.name, &p.db),
            "delete",
            &api,
            Value::Null,
        ),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct DetailsPath {
    sub: String,
    rg: String,
    mi: String,
    db: String,
    name: String,
}

async fn get_details(
    State(s): State<Arc<LrsService>>,
    Path(dp): Path<DetailsPath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
) -> Response {
    let p = DbPath {
        sub: dp.sub,
        rg: dp.rg,
        mi: dp.mi,
        db: dp.db,
    };
    let (api, inst) = match s.check_served(&headers, &p, &q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !dp.name.eq_ignore_ascii_case("Default") {
        return err(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "restoreDetails '{}' not found: the only valid name is 'Default'.",
                dp.name
            ),
        );
    }
    let cfg = s.cfg();
    let (container, folder, db) = {
        let Ok(jobs) = s.jobs.lock() else {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "state lock poisoned",
            );
        };
        match jobs.get(&job_key(&inst.name, &p.db)) {
            Some(j) => (j.container.clone(), j.folder.clone(), j.job.db.clone()),
            None => {
                return err(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!(
                        "No restore details: database '{}' has no Log Replay Service restore.",
                        p.db
                    ),
                );
            }
        }
    };
    let v = s.folder_view(&container, &folder, &db);
    let Ok(jobs) = s.jobs.lock() else {
        return err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "state lock poisoned",
        );
    };
    let Some(j) = jobs.get(&job_key(&inst.name, &p.db)) else {
        return err(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "The database was dropped.",
        );
    };
    let props = j.job.details(&v, detailed_shape(&api));
    Json(json!({
        "properties": props,
        "id": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/databases/{}/restoreDetails/current", cfg.subscription, inst.resource_group, inst.name, p.db),
        "name": "current",
        "type": "Microsoft.Sql/managedInstances/databases/restoreDetails",
    }))
    .into_response()
}

async fn post_complete(
    State(s): State<Arc<LrsService>>,
    Path(p): Path<DbPath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (api, inst) = match s.check_served(&headers, &p, &q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let last = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("lastBackupName")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let Some(last) = last.filter(|l| !l.is_empty()) else {
        return err(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "lastBackupName must be provided.",
        );
    };
    let result = {
        let Ok(mut jobs) = s.jobs.lock() else {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "state lock poisoned",
            );
        };
        match jobs.get_mut(&job_key(&inst.name, &p.db)) {
            Some(j) => j.job.complete(&last, OffsetDateTime::now_utc()),
            None => Err((
                404,
                "ExternalBackupRestoreHasNotBeenStarted",
                format!(
                    "No Log Replay Service restore of database '{}' has been started.",
                    p.db
                ),
            )),
        }
    };
    match result {
        Ok(()) => s.accepted(
            StatusCode::ACCEPTED,
            &job_key(&inst.name, &p.db),
            "complete",
            &api,
            Value::Null,
        ),
        Err((st, code, m)) => err(
            StatusCode::from_u16(st).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            m,
        ),
    }
}

#[derive(serde::Deserialize)]
struct OpPath {
    sub: String,
    #[allow(dead_code)]
    loc: String,
    id: String,
}

async fn get_operation(
    State(s): State<Arc<LrsService>>,
    Path(op): Path<OpPath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
) -> Response {
    let cfg = s.cfg();
    let p = DbPath {
        sub: op.sub,
        rg: cfg.resource_group.clone(),
        mi: cfg.managed_instance.clone(),
        db: String::new(),
    };
    if let Err(r) = s.check_served(&headers, &p, &q) {
        return r;
    }
    let (db, kind, started) = {
        let Ok(ops) = s.ops.lock() else {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "state lock poisoned",
            );
        };
        match ops.get(&op.id) {
            Some(o) => (o.db.clone(), o.kind, o.started),
            None => {
                return err(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!("Operation '{}' not found.", op.id),
                );
            }
        }
    };
    let now = OffsetDateTime::now_utc();
    let state = s
        .jobs
        .lock()
        .ok()
        .and_then(|j| j.get(&db).map(|j| j.job.state.clone()));
    let status = match kind {
        "start" if now - started >= time::Duration::milliseconds(500) => "Succeeded",
        "delete" if state.is_none() => "Succeeded",
        "complete" => match state {
            Some(JobState::Completed) => "Succeeded",
            Some(JobState::Failed { .. }) | None => "Failed",
            _ => "InProgress",
        },
        _ => "InProgress",
    };
    let mut body = json!({"name": op.id, "status": status, "startTime": iso(started)});
    if status == "Failed" {
        body["error"] = json!({"code": "OperationFailed", "message": "The operation failed."});
    }
    Json(body).into_response()
}
