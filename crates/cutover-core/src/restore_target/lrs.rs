//! The Log Replay Service client: start (continuous mode), read restoreDetails, complete, cancel,
//! on the generic Azure Resource Manager client ([`ArmClient`]: tokens, retries, long-running
//! operations, the endpoint's rules); this file gives the answers their LRS meaning.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use serde::Serialize;
use serde_json::Value;

use super::codes::explain;
use super::details::{RestoreDetails, RestoreDetailsResource};
use super::names::check_target_name;
use crate::arm::endpoint::enc;
/// The ARM endpoint's rules and the sandbox's token, where callers have always found them.
pub use crate::arm::{ARM_SCOPE, DEFAULT_ARM_ENDPOINT, StaticToken, is_local_endpoint};
use crate::arm::{ArmClient, ArmError};

/// The api-version cutover speaks: the stable 2025-01-01, whose restoreDetails carry the backup
/// sets, per-state file counts and unrestorable files (what was preview-only at 2023-08-01);
/// restoreDetails still parses the older stable shape (2021-11-01 / 2023-08-01).
pub const API_VERSION: &str = "2025-01-01";

/// A failed LRS call: the service's code (if any) and the explanation for the operator.
/// (Large on purpose: it carries the whole explanation; failures are rare, so boxing buys nothing.)
#[derive(Debug, Clone, thiserror::Error)]
pub enum LrsError {
    #[error("{op} {db}: {code}: {what}. {fix}. (service said: {message})")]
    Service {
        op: &'static str,
        db: String,
        status: u16,
        code: String,
        what: String,
        fix: String,
        message: String,
    },
    #[error("{op} {db}: HTTP {status}: {message}")]
    Http {
        op: &'static str,
        db: String,
        status: u16,
        message: String,
    },
    #[error("{op} {db}: cannot reach {endpoint}: {message}")]
    Network {
        op: &'static str,
        db: String,
        endpoint: String,
        message: String,
    },
    #[error(
        "cannot get an Azure AD token for Azure Resource Manager: {0}; run 'az login' or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
    )]
    Token(String),
    #[error("{op} {db}: the operation failed: {message}")]
    OperationFailed {
        op: &'static str,
        db: String,
        code: Option<String>,
        message: String,
    },
    #[error("{0}")]
    Refused(String),
}

impl LrsError {
    /// The service error code, when the service gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            LrsError::Service { code, .. } => Some(code),
            LrsError::OperationFailed { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status the service answered with, when it answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            LrsError::Service { status, .. } | LrsError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Where the managed instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRef {
    pub subscription: String,
    pub resource_group: String,
    pub managed_instance: String,
}

/// How LRS reaches the storage.
#[derive(Clone)]
pub enum StorageAccess {
    /// A Read + List container SAS.
    Sas(azure_core::credentials::Secret),
    /// The instance's managed identity (needs Storage Blob Data Reader).
    ManagedIdentity,
}

/// A start request.
#[derive(Clone)]
pub struct StartRequest {
    pub location: String,
    /// The database's folder in the container: https://ACCOUNT.blob.core.windows.net/CONTAINER/FOLDER
    pub storage_uri: String,
    pub access: StorageAccess,
    pub collation: String,
    /// Autocomplete: restore up to this file and bring the database online.
    pub last_backup_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StartProps<'a> {
    create_mode: &'static str,
    storage_container_uri: &'a str,
    storage_container_identity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_container_sas_token: Option<&'a str>,
    collation: &'a str,
    auto_complete_restore: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_backup_name: Option<&'a str>,
}

/// The body of a start request (PUT managed database, createMode RestoreExternalBackup), as
/// sent; the contract test compares it with the published example.
pub fn start_body(req: &StartRequest) -> Value {
    let (identity, sas) = match &req.access {
        StorageAccess::Sas(s) => ("SharedAccessSignature", Some(s.secret())),
        StorageAccess::ManagedIdentity => ("ManagedIdentity", None),
    };
    let props = StartProps {
        create_mode: "RestoreExternalBackup",
        storage_container_uri: &req.storage_uri,
        storage_container_identity: identity,
        storage_container_sas_token: sas,
        collation: &req.collation,
        auto_complete_restore: req.last_backup_name.is_some(),
        last_backup_name: req.last_backup_name.as_deref(),
    };
    serde_json::json!({"location": req.location, "properties": props})
}

/// The body of a completeRestore request, as sent.
pub fn complete_body(last_backup_name: &str) -> Value {
    serde_json::json!({"lastBackupName": last_backup_name})
}

/// The Log Replay Service for one managed instance.
#[derive(Clone)]
pub struct LrsClient {
    /// The ARM requests (its `poll_interval` and `max_attempts` may be set).
    pub arm: ArmClient,
    pub instance: InstanceRef,
}

impl LrsClient {
    pub fn new(
        endpoint: &str,
        credential: Arc<dyn TokenCredential>,
        instance: InstanceRef,
    ) -> Result<Self, LrsError> {
        Ok(LrsClient {
            arm: ArmClient::new(endpoint, credential)?,
            instance,
        })
    }

    /// `.../managedInstances/{mi}` (names percent-encoded).
    pub fn instance_url(&self) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}",
            self.arm.endpoint(),
            enc(&self.instance.subscription),
            enc(&self.instance.resource_group),
            enc(&self.instance.managed_instance),
        )
    }

    /// The database's URL, after checking `db` is a name Azure accepts (refused before any request).
    fn checked_database_url(&self, op: &'static str, db: &str) -> Result<String, LrsError> {
        check_target_name("the target database name", db)
            .map_err(|e| LrsError::Refused(format!("{op}: {e}")))?;
        Ok(self.database_url(db))
    }

    /// `.../managedInstances/{mi}/databases/{db}` (names percent-encoded).
    pub fn database_url(&self, db: &str) -> String {
        format!("{}/databases/{}", self.instance_url(), enc(db))
    }

    /// One ARM call (see [`ArmClient::call`]), its failure given its LRS meaning.
    async fn call(
        &self,
        op: &'static str,
        db: &str,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Value), LrsError> {
        Ok(self.arm.call(op, db, method, url, body).await?)
    }

    /// Follows a long-running operation (see [`ArmClient::follow`]).
    async fn follow(
        &self,
        op: &'static str,
        db: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: Value,
    ) -> Result<Value, LrsError> {
        Ok(self.arm.follow(op, db, status, headers, body).await?)
    }

    /// Reads the managed instance itself (one authorised GET): proves that the credential signs
    /// in and may read the instance (the wizard's target test).
    pub async fn instance(&self) -> Result<Value, LrsError> {
        let url = format!("{}?api-version={API_VERSION}", self.instance_url());
        let name = self.instance.managed_instance.clone();
        let (_, _, v) = self
            .call(
                "read the managed instance",
                &name,
                reqwest::Method::GET,
                &url,
                None,
            )
            .await?;
        Ok(v)
    }

    /// The names of the databases on the managed instance (ManagedDatabases_ListByInstance, every
    /// page).
    pub async fn databases(&self) -> Result<Vec<String>, LrsError> {
        let name = self.instance.managed_instance.clone();
        let all = self.databases_at(&self.instance_url(), &name).await?;
        Ok(all.into_iter().map(|(n, _)| n).collect())
    }

    /// The databases of the instance at `instance_url` with their `properties.status` (`Online`,
    /// `Restoring`, ...), every page.
    async fn databases_at(
        &self,
        instance_url: &str,
        name: &str,
    ) -> Result<Vec<(String, Option<String>)>, LrsError> {
        let mut next = Some(format!(
            "{instance_url}/databases?api-version={API_VERSION}"
        ));
        let mut out = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 1000 {
                break;
            }
            let (_, _, v) = self
                .call(
                    "list the managed instance's databases",
                    name,
                    reqwest::Method::GET,
                    &url,
                    None,
                )
                .await?;
            if let Some(items) = v.get("value").and_then(Value::as_array) {
                out.extend(items.iter().filter_map(|d| {
                    let n = d.get("name").and_then(Value::as_str)?;
                    let status = d
                        .pointer("/properties/status")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    Some((n.to_string(), status))
                }));
            }
            next = v
                .get("nextLink")
                .and_then(Value::as_str)
                .filter(|l| !l.is_empty())
                .map(str::to_string);
        }
        Ok(out)
    }

    /// The databases on this instance (names), those of them restoring now, and how many restore on
    /// the subscription's other ready instances (`Err`: the subscription's instances could not be
    /// listed, e.g. no right to list them; the reason). LRS's per-subscription limit counts them
    /// all, whoever started them.
    pub async fn databases_and_restores(
        &self,
    ) -> Result<(Vec<String>, Vec<String>, Result<usize, String>), LrsError> {
        let is_restoring = |s: &Option<String>| {
            s.as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("Restoring"))
        };
        let all = self
            .databases_at(&self.instance_url(), &self.instance.managed_instance)
            .await?;
        let here: Vec<String> = all
            .iter()
            .filter(|(_, s)| is_restoring(s))
            .map(|(n, _)| n.clone())
            .collect();
        let names: Vec<String> = all.into_iter().map(|(n, _)| n).collect();
        let discovery = crate::arm::discovery::DiscoveryClient::new(self.arm.clone());
        let instances = match discovery.instances(&self.instance.subscription).await {
            Ok(i) => i,
            Err(e) => return Ok((names, here, Err(e.to_string()))),
        };
        let own = self.instance_url();
        let mut elsewhere = 0;
        for mi in instances {
            let url = format!("{}{}", self.arm.endpoint().trim_end_matches('/'), mi.id);
            let ready = mi
                .properties
                .state
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("Ready"));
            if url.eq_ignore_ascii_case(&own) || !ready {
                continue;
            }
            match self.databases_at(&url, &mi.name).await {
                Ok(dbs) => elsewhere += dbs.iter().filter(|(_, s)| is_restoring(s)).count(),
                Err(e) => return Ok((names, here, Err(e.to_string()))),
            }
        }
        Ok((names, here, Ok(elsewhere)))
    }

    /// Starts a continuous-mode (or autocomplete) LRS restore of `db`.
    pub async fn start(&self, db: &str, req: &StartRequest) -> Result<Value, LrsError> {
        self.start_identified(db, req).await.map(|(_, v)| v)
    }

    /// [`LrsClient::start`], also returning what identifies the restore LRS accepted: the
    /// operation id (from the `Azure-AsyncOperation` URL) and the database's `creationDate`.
    pub async fn start_identified(
        &self,
        db: &str,
        req: &StartRequest,
    ) -> Result<(StartedRestore, Value), LrsError> {
        if let Some(n) = &req.last_backup_name {
            if n.contains('\n') || n.contains('\r') {
                return Err(LrsError::Refused(
                    "lastBackupName contains a line break; give the file name only".into(),
                ));
            }
            if !n.is_ascii() {
                return Err(LrsError::Refused(
                    "lastBackupName has non-ASCII characters, which LRS refuses".into(),
                ));
            }
        }
        let body = start_body(req);
        let url = format!(
            "{}?api-version={API_VERSION}",
            self.checked_database_url("start", db)?
        );
        let (st, h, v) = self
            .call("start", db, reqwest::Method::PUT, &url, Some(&body))
            .await?;
        let started = StartedRestore {
            operation_id: h
                .get("azure-asyncoperation")
                .and_then(|v| v.to_str().ok())
                .and_then(operation_id),
            creation_date: creation_date(&v),
        };
        let v = self.follow("start", db, st, &h, v).await?;
        Ok((started, v))
    }

    /// The managed database named `db` (`None`: the instance has none of that name).
    pub async fn database(&self, db: &str) -> Result<Option<ManagedDatabase>, LrsError> {
        let url = format!("{}?api-version={API_VERSION}", self.database_url(db));
        match self.call("get", db, reqwest::Method::GET, &url, None).await {
            Ok((_st, _h, v)) => Ok(Some(ManagedDatabase {
                status: v
                    .pointer("/properties/status")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                creation_date: creation_date(&v),
            })),
            Err(e) if e.http_status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The restore's progress.
    pub async fn status(&self, db: &str) -> Result<RestoreDetails, LrsError> {
        let url = format!(
            "{}/restoreDetails/Default?api-version={API_VERSION}",
            self.checked_database_url("status", db)?
        );
        let (_st, _h, v) = self
            .call("status", db, reqwest::Method::GET, &url, None)
            .await?;
        serde_json::from_value::<RestoreDetailsResource>(v)
            .map(|r| r.properties)
            .map_err(|e| {
                LrsError::Refused(format!(
                    "status {db}: unexpected restoreDetails response: {e}"
                ))
            })
    }

    /// Completes (cuts over): restores up to `last_backup_name`, which must be the last restored file.
    pub async fn complete(&self, db: &str, last_backup_name: &str) -> Result<Value, LrsError> {
        let url = format!(
            "{}/completeRestore?api-version={API_VERSION}",
            self.checked_database_url("complete", db)?
        );
        let body = complete_body(last_backup_name);
        let (st, h, v) = self
            .call("complete", db, reqwest::Method::POST, &url, Some(&body))
            .await?;
        self.follow("complete", db, st, &h, v).await
    }

    /// Cancels an LRS restore: drops the restoring database, after checking it is an LRS restore.
    pub async fn cancel(&self, db: &str) -> Result<(), LrsError> {
        let d = self.status(db).await?;
        if !d.is_lrs() {
            return Err(LrsError::Refused(format!(
                "cancel {db}: restoreDetails says type '{}', not an LRS restore: refusing to drop the database",
                d.kind.unwrap_or_default()
            )));
        }
        if d.status.as_deref().is_some_and(|s| {
            s.eq_ignore_ascii_case("Completed") || s.eq_ignore_ascii_case("Online")
        }) {
            return Err(LrsError::Refused(format!(
                "cancel {db}: the restore has completed and the database is online: refusing to drop it"
            )));
        }
        let url = format!("{}?api-version={API_VERSION}", self.database_url(db));
        let (st, h, v) = self
            .call("cancel", db, reqwest::Method::DELETE, &url, None)
            .await?;
        self.follow("cancel", db, st, &h, v).await.map(|_| ())
    }
}

/// What identifies a restore LRS accepted (ARM gives no restore id: the operation id of the start
/// and the database's creation date are what there is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartedRestore {
    pub operation_id: Option<String>,
    pub creation_date: Option<String>,
}

/// A managed database as ARM describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagedDatabase {
    /// Online, Restoring, Inaccessible, ...
    pub status: Option<String>,
    pub creation_date: Option<String>,
}

fn creation_date(v: &Value) -> Option<String> {
    v.pointer("/properties/creationDate")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The last path segment of an `Azure-AsyncOperation` URL: the operation's id.
fn operation_id(url: &str) -> Option<String> {
    let path = url.split('?').next()?;
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An ARM error body `{"error":{"code","message"}}` mapped to what happened and what to do.
fn service_error(op: &'static str, db: &str, status: u16, body: &Value) -> LrsError {
    let err = body.get("error").unwrap_or(body);
    let code = err.get("code").and_then(Value::as_str);
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            body.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| body.to_string())
        });
    match code {
        Some(c) => {
            let (what, fix) = explain(c).unwrap_or((
                "the service refused the request",
                "see the service's message",
            ));
            LrsError::Service {
                op,
                db: db.to_string(),
                status,
                code: c.to_string(),
                what: what.to_string(),
                fix: fix.to_string(),
                message,
            }
        }
        None => LrsError::Http {
            op,
            db: db.to_string(),
            status,
            message,
        },
    }
}

impl From<ArmError> for LrsError {
    /// The same errors the LRS client has always given: service codes explained, messages kept.
    fn from(e: ArmError) -> Self {
        match e {
            ArmError::Status {
                op,
                subject,
                status,
                body,
            } => service_error(op, &subject, status, &body),
            ArmError::Network {
                op,
                subject,
                endpoint,
                message,
            } => LrsError::Network {
                op,
                db: subject,
                endpoint,
                message,
            },
            ArmError::Token(m) => LrsError::Token(m),
            ArmError::OperationFailed {
                op,
                subject,
                code,
                message,
            } => {
                let message = match code.as_deref().and_then(explain) {
                    Some((what, fix)) => format!("{what}. {fix}. (service said: {message})"),
                    None => message,
                };
                LrsError::OperationFailed {
                    op,
                    db: subject,
                    code,
                    message,
                }
            }
            ArmError::Refused(m) => LrsError::Refused(m),
        }
    }
}
