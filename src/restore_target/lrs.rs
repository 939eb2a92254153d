//! The Log Replay Service client: start (continuous mode), follow long-running operations, read
//! restoreDetails, complete, cancel; Azure Resource Manager REST with tokens from `azure_identity`.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use serde::Serialize;
use serde_json::Value;

use super::codes::explain;
use super::details::{RestoreDetails, RestoreDetailsResource};
use super::names::check_target_name;
use crate::storage::container::is_loopback;

/// The api-version cutover speaks (stable; restoreDetails also parses the preview shape).
pub const API_VERSION: &str = "2023-08-01";
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";

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
    http: reqwest::Client,
    endpoint: String,
    /// The endpoint's scheme, host and port: the only place the bearer token is sent to.
    origin: url::Origin,
    /// The token's scope, `<origin>/.default`: a token issued for the endpoint and nothing else.
    scope: String,
    credential: Arc<dyn TokenCredential>,
    pub instance: InstanceRef,
    /// Delay between polls of a long-running operation when the service gives no Retry-After.
    pub poll_interval: Duration,
    /// Attempts for 429/5xx/network failures.
    pub max_attempts: u32,
}

impl LrsClient {
    pub fn new(
        endpoint: &str,
        credential: Arc<dyn TokenCredential>,
        instance: InstanceRef,
    ) -> Result<Self, LrsError> {
        let origin = arm_origin(endpoint)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| LrsError::Refused(format!("cannot build the HTTP client: {e}")))?;
        Ok(LrsClient {
            http,
            endpoint: endpoint.trim().trim_end_matches('/').to_string(),
            scope: format!("{}/.default", origin.ascii_serialization()),
            origin,
            credential,
            instance,
            poll_interval: Duration::from_secs(5),
            max_attempts: 6,
        })
    }

    /// Refuses a URL outside the ARM endpoint (another host, port or scheme, e.g. an operation URL a
    /// response pointed to): the bearer token is only ever sent where it was issued for.
    fn check_same_origin(&self, op: &'static str, db: &str, url: &str) -> Result<(), LrsError> {
        let target = url::Url::parse(url).map(|u| u.origin()).ok();
        if target.as_ref() == Some(&self.origin) {
            return Ok(());
        }
        let shown = target.map_or_else(|| url.to_string(), |o| o.ascii_serialization());
        Err(LrsError::Refused(format!(
            "{op} {db}: the service pointed cutover to {shown}, which is not the ARM endpoint {}: refusing to send the Azure AD token there; check --arm-endpoint / [target] arm_endpoint, or follow the operation in the Azure portal",
            self.origin.ascii_serialization()
        )))
    }

    /// `.../managedInstances/{mi}` (names percent-encoded).
    pub fn instance_url(&self) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}",
            self.endpoint,
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

    async fn token(&self) -> Result<String, LrsError> {
        self.credential
            .get_token(&[&self.scope], None)
            .await
            .map(|t| t.token.secret().to_string())
            .map_err(|e| LrsError::Token(e.to_string()))
    }

    /// One HTTP call with retries on 429/5xx/network errors (honouring Retry-After).
    async fn call(
        &self,
        op: &'static str,
        db: &str,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Value), LrsError> {
        self.check_same_origin(op, db, url)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.token().await?;
            let mut req = self.http.request(method.clone(), url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let result = req.send().await;
            let (status, headers, text) = match result {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let headers = r.headers().clone();
                    let text = r.text().await.unwrap_or_default();
                    (status, headers, text)
                }
                Err(e) if attempt < self.max_attempts => {
                    tracing::warn!(op, db, attempt, error = %e, "LRS call failed, retrying");
                    tokio::time::sleep(backoff(attempt, None)).await;
                    continue;
                }
                Err(e) => {
                    return Err(LrsError::Network {
                        op,
                        db: db.to_string(),
                        endpoint: self.endpoint.clone(),
                        message: e.to_string(),
                    });
                }
            };
            if (status == 429 || status >= 500) && attempt < self.max_attempts {
                let ra = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                tracing::warn!(
                    op,
                    db,
                    attempt,
                    status,
                    "LRS call throttled or failed, retrying"
                );
                tokio::time::sleep(backoff(attempt, ra)).await;
                continue;
            }
            let json: Value = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
            };
            if status >= 400 {
                return Err(service_error(op, db, status, &json));
            }
            return Ok((status, headers, json));
        }
    }

    /// Follows a long-running operation from its first response until it ends.
    async fn follow(
        &self,
        op: &'static str,
        db: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: Value,
    ) -> Result<Value, LrsError> {
        if status != 201 && status != 202 {
            return Ok(body);
        }
        let async_op = headers
            .get("azure-asyncoperation")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(poll_url) = async_op.clone().or(location.clone()) else {
            return Ok(body);
        };
        loop {
            let wait = headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(self.poll_interval);
            tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
            let (st, _h, v) = self
                .call(op, db, reqwest::Method::GET, &poll_url, None)
                .await?;
            if async_op.is_some() {
                match v.get("status").and_then(Value::as_str) {
                    Some(s) if s.eq_ignore_ascii_case("Succeeded") => return Ok(v),
                    Some(s)
                        if s.eq_ignore_ascii_case("Failed")
                            || s.eq_ignore_ascii_case("Canceled") =>
                    {
                        let err = v.get("error");
                        let code = err
                            .and_then(|e| e.get("code"))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        let msg = err
                            .and_then(|e| e.get("message"))
                            .and_then(Value::as_str)
                            .unwrap_or(s)
                            .to_string();
                        let message = match code.as_deref().and_then(explain) {
                            Some((what, fix)) => format!("{what}. {fix}. (service said: {msg})"),
                            None => msg,
                        };
                        return Err(LrsError::OperationFailed {
                            op,
                            db: db.to_string(),
                            code,
                            message,
                        });
                    }
                    _ => continue,
                }
            } else if st == 200 || st == 204 {
                return Ok(v);
            }
        }
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

/// A name as one URL path segment (percent-encoded, spaces as %20).
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = Duration::from_millis(500)
        .saturating_mul(1 << attempt.min(6))
        .min(Duration::from_secs(30));
    let jittered = exp.mul_f64(rand::random::<f64>().clamp(0.2, 1.0));
    retry_after.map_or(jittered, |ra| ra.max(Duration::from_millis(100)))
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

/// A fixed bearer token: the sandbox accepts any token, so local runs need no Azure AD.
#[derive(Debug)]
pub struct StaticToken(pub String);

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        Ok(azure_core::credentials::AccessToken::new(
            azure_core::credentials::Secret::new(self.0.clone()),
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
}

/// True for an ARM endpoint on a loopback address (the sandbox), where a static token is used.
pub fn is_local_endpoint(endpoint: &str) -> bool {
    url::Url::parse(endpoint.trim())
        .ok()
        .and_then(|u| u.host_str().map(is_loopback))
        .unwrap_or(false)
}

/// The ARM endpoint's origin, refused (before any request) unless it is https, or http on a
/// loopback address (the sandbox): the bearer token and the storage SAS must never travel in clear.
fn arm_origin(endpoint: &str) -> Result<url::Origin, LrsError> {
    let url = url::Url::parse(endpoint.trim()).map_err(|_| {
        LrsError::Refused(format!(
            "the ARM endpoint '{endpoint}' is not a URL; give e.g. {DEFAULT_ARM_ENDPOINT} (--arm-endpoint / [target] arm_endpoint)"
        ))
    })?;
    let loopback = url.host_str().is_some_and(is_loopback);
    match url.scheme() {
        "https" => Ok(url.origin()),
        "http" if loopback => Ok(url.origin()),
        scheme => Err(LrsError::Refused(format!(
            "the ARM endpoint '{}' uses {scheme}://, which would send the Azure AD token and the storage SAS in clear text; use https:// (e.g. {DEFAULT_ARM_ENDPOINT}; http:// only for a local sandbox on a loopback address) (--arm-endpoint / [target] arm_endpoint)",
            url.origin().ascii_serialization()
        ))),
    }
}
