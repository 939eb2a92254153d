//! The sandbox's Blob Storage: a subset of the Azure Blob REST API on 127.0.0.1 that the project's
//! uploader (`azure_storage_blob`) and Microsoft's SDKs (Python `azure-storage-blob`) accept.
//!
//! URLs are path-style, as with Azurite: `http://127.0.0.1:PORT/{account}/{container}[/{blob}]`.
//! Operations: Create Container, Get Container Properties, Delete Container, List Containers,
//! List Blobs (prefix, delimiter, paging, `include=metadata`), Put Blob (block blobs), Put Block,
//! Put Block List, Get Block List, Get Blob (ranges), Get Blob Properties, Delete Blob. Conditional
//! headers (`If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`) apply to the
//! blob operations. Other operations answer 501 `NotImplemented`.
//!
//! Every request is authorized as Blob Storage does it (`blob_auth.rs`): a service or account SAS
//! in the query, or Shared Key. Responses carry `x-ms-request-id`, `x-ms-version`, `Date`, and
//! errors the XML `<Error><Code/><Message/></Error>` body with `x-ms-error-code`. Data lives on
//! disk under the configured root (`blob_store.rs`); bodies are streamed in and out, never held
//! whole. Logs name the method, path, status and error code, never a query string (it holds the
//! signature) or the key.

#[path = "blob_auth.rs"]
mod blob_auth;
#[path = "blob_http.rs"]
mod blob_http;
#[path = "blob_store.rs"]
mod blob_store;
#[path = "blob_xml.rs"]
mod blob_xml;

pub(crate) use blob_store::container_name_problem;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest, Md5};
use time::OffsetDateTime;
use time::macros::format_description;

use blob_auth::{Credentials, Grant, RequestView, authorize};
use blob_http::{
    Conditions, Op, Query, Reply, blob_props, content_length, crc64_header, decode_block_id,
    drain_body, echo_list_params, encode_marker, file_body, header_text, list_params, md5_header,
    parse_target, read_small_body, receive_body, requested_range, route, write_precheck,
};
use blob_store::{ListEntry, NewBlob, Store, check_container_name};
use blob_xml::{element, escape, name_element, parse_block_list};

/// Azurite's (and the Storage Emulator's) account name.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known account key (public; it protects nothing but local test data).
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The `x-ms-version` answered when a request names none.
pub const SERVICE_VERSION: &str = "2025-11-05";

/// Largest Put Block body (Azure, version 2019-12-12 and later: 4000 MiB).
const MAX_BLOCK_BYTES: u64 = 4000 << 20;
/// Largest Put Blob body (Azure, version 2019-12-12 and later: 5000 MiB).
const MAX_PUT_BLOB_BYTES: u64 = 5000 << 20;
/// Largest Put Block List body accepted (50,000 ids of 64 bytes fit in about 6 MiB of XML).
const MAX_BLOCK_LIST_BYTES: u64 = 16 << 20;
/// Largest block id, decoded (Azure: 64 bytes).
const MAX_BLOCK_ID_BYTES: usize = 64;
/// Largest range for which `x-ms-range-get-content-md5` may be asked (Azure: 4 MiB).
const MAX_RANGE_MD5_BYTES: u64 = 4 << 20;
/// Most results of one List page (Azure: 5000).
const MAX_RESULTS: usize = 5000;
/// Longest blob name (Azure: 1024 characters).
const MAX_BLOB_NAME_CHARS: usize = 1024;
/// Most bytes of a refused request's body read and discarded before the error is sent.
const DRAIN_LIMIT: u64 = 256 << 20;
/// Longest time spent reading a refused request's body.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(30);
/// Bytes read from a blob file per chunk of a Get Blob response.
const READ_CHUNK: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors

macro_rules! error_codes {
    ($($name:ident = $status:literal, $message:literal;)*) => {
        /// The Azure Blob Storage error codes the sandbox answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = $message]
                $name,
            )*
        }

        impl ErrorCode {
            /// The code as Azure spells it (`x-ms-error-code`, `<Code>`).
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$name => stringify!($name),)* }
            }

            /// The HTTP status Azure answers the code with.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$name => $status,)* }
            }

            /// Azure's message for the code.
            pub fn message(self) -> &'static str {
                match self { $(ErrorCode::$name => $message,)* }
            }
        }
    };
}

error_codes! {
    AuthenticationFailed = 403, "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";
    AuthorizationPermissionMismatch = 403, "This request is not authorized to perform this operation using this permission.";
    AuthorizationResourceTypeMismatch = 403, "This request is not authorized to perform this operation using this resource type.";
    AuthorizationServiceMismatch = 403, "This request is not authorized to perform this operation using this service.";
    AuthorizationProtocolMismatch = 403, "This request is not authorized to perform this operation using this protocol.";
    AuthorizationSourceIPMismatch = 403, "This request is not authorized to perform this operation using this source IP.";
    BlobAlreadyExists = 409, "The specified blob already exists.";
    BlobNotFound = 404, "The specified blob does not exist.";
    BlockCountExceedsLimit = 409, "The uncommitted block count cannot exceed the maximum limit of 100,000 blocks.";
    BlockListTooLong = 400, "The block list may not contain more than 50,000 blocks.";
    ConditionNotMet = 412, "The condition specified using HTTP conditional header(s) is not met.";
    ContainerAlreadyExists = 409, "The specified container already exists.";
    ContainerNotFound = 404, "The specified container does not exist.";
    IncompleteBody = 400, "The request body is incomplete.";
    InternalError = 500, "The server encountered an internal error. Please retry the request.";
    InvalidBlobOrBlock = 400, "The specified blob or block content is invalid.";
    InvalidBlockId = 400, "The specified block ID is invalid. The block ID must be Base64-encoded.";
    InvalidBlockList = 400, "The specified block list is invalid.";
    InvalidHeaderValue = 400, "The value for one of the HTTP headers is not in the correct format.";
    InvalidMd5 = 400, "The MD5 value specified in the request is invalid. The MD5 value must be 128 bits and Base64-encoded.";
    InvalidMetadata = 400, "The metadata specified is invalid. It has characters that are not permitted.";
    InvalidQueryParameterValue = 400, "Value for one of the query parameters specified in the request URI is invalid.";
    InvalidRange = 416, "The range specified is invalid for the current size of the resource.";
    InvalidResourceName = 400, "The specified resource name contains invalid characters.";
    InvalidUri = 400, "The requested URI does not represent any resource on the server.";
    InvalidXmlDocument = 400, "XML specified is not syntactically valid.";
    Md5Mismatch = 400, "The MD5 value specified in the request did not match with the MD5 value calculated by the server.";
    Crc64Mismatch = 400, "The CRC64 value specified in the request did not match with the CRC64 value calculated by the server.";
    MissingContentLengthHeader = 411, "The Content-Length header was not specified.";
    MissingRequiredHeader = 400, "An HTTP header that's mandatory for this request is not specified.";
    MissingRequiredQueryParameter = 400, "A query parameter that's mandatory for this request is not specified.";
    NotImplemented = 501, "The sandbox Blob service does not implement this operation.";
    OutOfRangeQueryParameterValue = 400, "One of the query parameters specified in the request URI is outside the permissible range.";
    RequestBodyTooLarge = 413, "The request body is too large and exceeds the maximum permissible limit.";
    UnsupportedHttpVerb = 405, "The resource doesn't support the specified HTTP verb.";
}

/// An Azure-style error: the code, the HTTP status (the code's, or 304 for a read whose
/// condition failed) and extra elements of the XML body (`Reason`, `HeaderName`,
/// `AuthenticationErrorDetail`, ...). Never holds a signature or key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError {
    /// The error code.
    pub code: ErrorCode,
    /// The HTTP status.
    pub status: u16,
    /// Extra `<Name>value</Name>` elements of the error body, in order.
    pub details: Vec<(&'static str, String)>,
}

impl BlobError {
    /// The error with the code's status and no details.
    pub fn new(code: ErrorCode) -> Self {
        BlobError {
            code,
            status: code.status(),
            details: Vec::new(),
        }
    }

    /// Adds a detail element.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    fn into_response(self, head_only: bool, request_id: &str) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = Reply::new(status).header("x-ms-error-code", self.code.as_str());
        if head_only || self.status == 304 {
            return r.empty();
        }
        let now = OffsetDateTime::now_utc();
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error>");
        element(&mut xml, "Code", self.code.as_str());
        element(
            &mut xml,
            "Message",
            &format!(
                "{}\nRequestId:{request_id}\nTime:{}",
                self.code.message(),
                iso_time(now)
            ),
        );
        for (name, value) in &self.details {
            element(&mut xml, name, value);
        }
        xml.push_str("</Error>");
        r = r.header(header::CONTENT_TYPE.as_str(), "application/xml");
        r.bytes(xml)
    }
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code.as_str(),
            self.status,
            self.code.message()
        )?;
        for (name, value) in &self.details {
            write!(f, " {name}: {value}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BlobError {}

fn missing_header(name: &str) -> BlobError {
    BlobError::new(ErrorCode::MissingRequiredHeader).with("HeaderName", name)
}

fn bad_header(name: &str, value: &str, reason: impl Into<String>) -> BlobError {
    BlobError::new(ErrorCode::InvalidHeaderValue)
        .with("HeaderName", name)
        .with("HeaderValue", value)
        .with("Reason", reason)
}

fn bad_query(name: &str, value: &str, reason: impl Into<String>) -> BlobError {
    BlobError::new(ErrorCode::InvalidQueryParameterValue)
        .with("QueryParameterName", name)
        .with("QueryParameterValue", value)
        .with("Reason", reason)
}

fn not_implemented(what: impl Into<String>) -> BlobError {
    BlobError::new(ErrorCode::NotImplemented).with("Reason", what)
}

fn internal(what: &str, e: impl fmt::Display) -> BlobError {
    tracing::warn!("sandbox blob service: {what}: {e}");
    BlobError::new(ErrorCode::InternalError).with("Reason", format!("{what}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Public API

/// Where the service keeps its data and which account it serves.
#[derive(Clone)]
pub struct BlobServiceConfig {
    /// Folder for the data (created if missing; reloaded if it holds a previous run's data).
    pub root: PathBuf,
    /// The account name, e.g. [`DEV_ACCOUNT`].
    pub account: String,
    /// The account key, base64 (e.g. [`DEV_KEY`]).
    pub key: String,
}

impl fmt::Debug for BlobServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobServiceConfig")
            .field("root", &self.root)
            .field("account", &self.account)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A committed blob, as the in-process helpers report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    pub last_modified: OffsetDateTime,
    /// The stored Content-MD5, if any.
    pub content_md5: Option<[u8; 16]>,
    /// The ETag, with its quotes (as in the `ETag` header).
    pub etag: String,
}

/// The Blob service: shared state behind an `Arc`, served by [`BlobService::router`].
pub struct BlobService {
    account: String,
    key_b64: String,
    key: Vec<u8>,
    store: Arc<Store>,
    requests: AtomicU64,
    boot: u64,
}

impl fmt::Debug for BlobService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobService")
            .field("account", &self.account)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl BlobService {
    /// Opens the service's data under `cfg.root` (creating it, or reloading a previous run's
    /// containers, blobs and uncommitted blocks). Fails if the key is not base64, the account
    /// name is not lowercase letters and digits, or the folder cannot be used.
    pub fn new(cfg: BlobServiceConfig) -> Result<Arc<Self>, std::io::Error> {
        let invalid =
            |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
        let key = BASE64
            .decode(cfg.key.trim())
            .ok()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| invalid("the account key is not base64"))?;
        if cfg.account.is_empty()
            || !cfg
                .account
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Err(invalid(
                "the account name must be lowercase letters and digits",
            ));
        }
        let store = Store::open(&cfg.root)?;
        let boot = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
        Ok(Arc::new(BlobService {
            account: cfg.account,
            key_b64: cfg.key.trim().to_string(),
            key,
            store: Arc::new(store),
            requests: AtomicU64::new(0),
            boot,
        }))
    }

    /// The account served.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The router serving the REST API; mount it at "/". The client's address (for `sip=` SAS)
    /// is read from `ConnectInfo<SocketAddr>` when the server provides it, as [`Self::serve`] does.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// Serves the API on `listener` until the server fails.
    pub async fn serve(self: &Arc<Self>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }

    /// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
    /// flight.
    pub async fn serve_until(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }

    /// Creates a container (ContainerAlreadyExists if it exists, InvalidResourceName if the name
    /// breaks Azure's rules).
    pub fn create_container(&self, name: &str) -> Result<(), BlobError> {
        self.store.create_container(name).map(|_| ())
    }

    /// The account key, base64 (as Azure's ListKeys shows it).
    pub fn account_key(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.key)
    }

    /// Every container: (name, creation time in Unix nanoseconds, ETag without quotes), in name
    /// order (what the ARM control plane lists for the sandbox's own account).
    pub fn containers(&self) -> Vec<(String, i64, String)> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, next) = self
                .store
                .list_containers("", marker.as_deref(), MAX_RESULTS);
            out.extend(page.into_iter().map(|c| (c.name, c.created_ns, c.etag)));
            match next {
                Some(n) => marker = Some(n),
                None => return out,
            }
        }
    }

    /// The committed blobs of a container whose names start with `prefix`, in name order.
    pub fn list_blobs(&self, container: &str, prefix: &str) -> Result<Vec<BlobInfo>, BlobError> {
        check_container_name(container)?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, next) =
                self.store
                    .list_blobs(container, prefix, None, marker.as_deref(), MAX_RESULTS)?;
            out.extend(page.into_iter().filter_map(|e| match e {
                ListEntry::Blob(m) => Some(BlobInfo {
                    name: m.name,
                    size: m.size,
                    last_modified: from_ns(m.modified_ns),
                    content_md5: m.http.content_md5,
                    etag: format!("\"{}\"", m.etag),
                }),
                ListEntry::Prefix(_) => None,
            }));
            match next {
                Some(n) => marker = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// The file holding a committed blob's bytes (replaced, not modified, by later commits: an
    /// open handle keeps reading the version it opened). `None` if there is no such blob.
    pub fn blob_path(&self, container: &str, blob: &str) -> Option<PathBuf> {
        self.store.blob_path(container, blob)
    }

    fn next_request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let b = self.boot;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (b >> 32) as u32,
            (b >> 16) as u16,
            b as u16,
            (n >> 48) as u16,
            n & 0xffff_ffff_ffff
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Times and encodings

/// RFC 1123 (`Sun, 06 Nov 1994 08:49:37 GMT`), as in `Date`, `Last-Modified` and the XML.
pub(crate) fn http_date(t: OffsetDateTime) -> String {
    let f = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// Parses an RFC 1123 date (the only form Azure accepts in headers).
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let f = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s.trim(), &f)
        .ok()
        .map(|p| p.assume_utc())
}

fn iso_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn from_ns(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn percent_decode_bytes(s: &str) -> (Vec<u8>, bool) {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut ok = true;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
            ok = false;
        }
        out.push(b[i]);
        i += 1;
    }
    (out, ok)
}

/// Decodes `%XX` escapes ('+' stays '+'); bad escapes are kept, bad UTF-8 replaced.
pub(crate) fn percent_decode_lossy(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s).0).into_owned()
}

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode_strict(s: &str) -> Option<String> {
    let (bytes, ok) = percent_decode_bytes(s);
    if !ok {
        return None;
    }
    String::from_utf8(bytes).ok()
}

// ---------------------------------------------------------------------------------------------
// Handler

async fn handle(State(svc): State<Arc<BlobService>>, req: Request) -> Response {
    let request_id = svc.next_request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let version = req
        .headers()
        .get("x-ms-version")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() == 10 && v.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        .unwrap_or(SERVICE_VERSION)
        .to_string();
    let client_id = req.headers().get("x-ms-client-request-id").cloned();
    let head = method == Method::HEAD;
    let (parts, body) = req.into_parts();
    // A declared body larger than the drain limit is not worth reading after a refusal.
    let drainable = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_none_or(|n| n <= DRAIN_LIMIT);
    let mut body = Some(body);
    let (mut resp, code) = match svc.dispatch(parts, &mut body).await {
        Ok(r) => (r, None),
        Err(e) => {
            // Refused before its body was read: read (a bounded amount of) it anyway, so a client
            // that writes the whole body before reading the answer gets the error, not a reset.
            if let Some(b) = body.take()
                && drainable
            {
                drain_body(b, DRAIN_LIMIT, DRAIN_TIME).await;
            }
            let code = e.code;
            (e.into_response(head, &request_id), Some(code))
        }
    };
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-ms-request-id", request_id.as_str()),
        ("x-ms-version", version.as_str()),
        ("server", "cutover-sandbox-blob"),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(OffsetDateTime::now_utc())) {
        h.insert(header::DATE, v);
    }
    if let Some(v) = client_id {
        h.insert(HeaderName::from_static("x-ms-client-request-id"), v);
    }
    match code {
        None => tracing::debug!("sandbox blob: {method} {path} -> {}", resp.status()),
        Some(c) => tracing::debug!(
            "sandbox blob: {method} {path} -> {} {}",
            resp.status(),
            c.as_str()
        ),
    }
    resp
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal("a store task failed", e))?
}

impl BlobService {
    async fn dispatch(
        self: &Arc<Self>,
        parts: axum::http::request::Parts,
        body: &mut Option<Body>,
    ) -> Result<Response, BlobError> {
        let raw_path = parts.uri.path().to_string();
        let raw_query = parts.uri.query().unwrap_or("").to_string();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let target = parse_target(&raw_path, &self.account)?;
        let q = Query::parse(&raw_query);
        let op = route(&parts.method, &target, &q, &parts.headers)?;
        let creds = Credentials {
            account: &self.account,
            key_b64: &self.key_b64,
            key: &self.key,
        };
        let view = RequestView {
            method: parts.method.as_str(),
            headers: &parts.headers,
            raw_path: &raw_path,
            raw_query: &raw_query,
            container: target.container.as_deref(),
            blob: target.blob.as_deref(),
            peer,
            now: OffsetDateTime::now_utc(),
        };
        let grant = authorize(&creds, &view, op.access())?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_string();
        let headers = parts.headers;
        let container = target.container.unwrap_or_default();
        let blob = target.blob.unwrap_or_default();
        match op {
            Op::ListContainers => self.list_containers(&q, &host),
            Op::CreateContainer => self.create_container_op(&container).await,
            Op::GetContainerProperties => {
                let p = self.store.container(&container)?;
                Ok(Reply::new(StatusCode::OK)
                    .versioned(&p.etag, p.created_ns)
                    .header("x-ms-lease-status", "unlocked")
                    .header("x-ms-lease-state", "available")
                    .header("x-ms-has-immutability-policy", "false")
                    .header("x-ms-has-legal-hold", "false")
                    .empty())
            }
            Op::DeleteContainer => {
                let store = self.store.clone();
                blocking(move || store.delete_container(&container)).await?;
                Ok(Reply::new(StatusCode::ACCEPTED).empty())
            }
            Op::ListBlobs => self.list_blobs_op(&container, &q, &host),
            Op::PutBlob => {
                self.put_blob(&container, &blob, &headers, body, grant)
                    .await
            }
            Op::PutBlock => self.put_block(&container, &blob, &q, &headers, body).await,
            Op::PutBlockList => {
                self.put_block_list(&container, &blob, &headers, body, grant)
                    .await
            }
            Op::GetBlockList => self.get_block_list(&container, &blob, &q),
            Op::GetBlob => self.get_blob(&container, &blob, &headers).await,
            Op::GetBlobProperties => {
                let conditions = Conditions::parse(&headers)?;
                let m = self
                    .store
                    .blob(&container, &blob)?
                    .ok_or_else(|| BlobError::new(ErrorCode::BlobNotFound))?;
                conditions.check_read(&m)?;
                Ok(Reply::new(StatusCode::OK)
                    .blob_headers(&m)
                    .header("x-ms-access-tier", "Hot")
                    .header("x-ms-access-tier-inferred", "true")
                    .opt(
                        "content-md5",
                        m.http.content_md5.map(|d| BASE64.encode(d)).as_deref(),
                    )
                    .header("content-length", m.size.to_string())
                    .body(Body::empty()))
            }
            Op::DeleteBlob => {
                let conditions = Conditions::parse(&headers)?;
                let _lock = self.store.lock_blob(&container, &blob).await;
                let store = self.store.clone();
                blocking(move || {
                    store.delete_blob(&container, &blob, &move |cur| {
                        // If-None-Match: * on a delete is a failed condition, not a conflict.
                        conditions.check_write(cur).map_err(|e| {
                            if e.code == ErrorCode::BlobAlreadyExists {
                                BlobError::new(ErrorCode::ConditionNotMet)
                            } else {
                                e
                            }
                        })
                    })
                })
                .await?;
                Ok(Reply::new(StatusCode::ACCEPTED)
                    .header("x-ms-delete-type-permanent", "true")
                    .empty())
            }
        }
    }

    async fn create_container_op(&self, container: &str) -> Result<Response, BlobError> {
        let store = self.store.clone();
        let name = container.to_string();
        let p = blocking(move || store.create_container(&name)).await?;
        Ok(Reply::new(StatusCode::CREATED)
            .versioned(&p.etag, p.created_ns)
            .empty())
    }

    fn list_containers(&self, q: &Query, host: &str) -> Result<Response, BlobError> {
        let (prefix, marker, max) = list_params(q)?;
        let (items, next) = self.store.list_containers(&prefix, marker.as_deref(), max);
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"{}\">",
            escape(&format!("http://{host}/{}/", self.account))
        );
        echo_list_params(&mut xml, q);
        xml.push_str("<Containers>");
        for c in items {
            xml.push_str("<Container>");
            element(&mut xml, "Name", &c.name);
            xml.push_str("<Properties>");
            element(&mut xml, "Last-Modified", &http_date(from_ns(c.created_ns)));
            element(&mut xml, "Etag", &format!("\"{}\"", c.etag));
            xml.push_str(
                "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>\
                 <HasImmutabilityPolicy>false</HasImmutabilityPolicy><HasLegalHold>false</HasLegalHold>",
            );
            xml.push_str("</Properties></Container>");
        }
        xml.push_str("</Containers>");
        element(
            &mut xml,
            "NextMarker",
            &next.map(encode_marker).unwrap_or_default(),
        );
        xml.push_str("</EnumerationResults>");
        Ok(Reply::new(StatusCode::OK).xml(xml))
    }

    fn list_blobs_op(&self, container: &str, q: &Query, host: &str) -> Result<Response, BlobError> {
        let (prefix, marker, max) = list_params(q)?;
        let delimiter = q.get("delimiter").filter(|d| !d.is_empty());
        let mut with_metadata = false;
        if let Some(include) = q.get("include") {
            for item in include.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match item {
                    "metadata" => with_metadata = true,
                    "snapshots"
                    | "uncommittedblobs"
                    | "copy"
                    | "deleted"
                    | "tags"
                    | "versions"
                    | "deletedwithversions"
                    | "immutabilitypolicy"
                    | "legalhold"
                    | "permissions" => {}
                    other => {
                        return Err(bad_query(
                            "include",
                            include,
                            format!("'{other}' is not a List Blobs include value"),
                        ));
                    }
                }
            }
        }
        let (entries, next) =
            self.store
                .list_blobs(container, &prefix, delimiter, marker.as_deref(), max)?;
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"{}\" ContainerName=\"{}\">",
            escape(&format!("http://{host}/{}/", self.account)),
            escape(container)
        );
        echo_list_params(&mut xml, q);
        if let Some(d) = delimiter {
            element(&mut xml, "Delimiter", d);
        }
        xml.push_str("<Blobs>");
        for e in entries {
            match e {
                ListEntry::Prefix(p) => {
                    xml.push_str("<BlobPrefix>");
                    xml.push_str(&name_element(&p));
                    xml.push_str("</BlobPrefix>");
                }
                ListEntry::Blob(m) => {
                    xml.push_str("<Blob>");
                    xml.push_str(&name_element(&m.name));
                    xml.push_str("<Properties>");
                    element(&mut xml, "Creation-Time", &http_date(from_ns(m.created_ns)));
                    element(
                        &mut xml,
                        "Last-Modified",
                        &http_date(from_ns(m.modified_ns)),
                    );
                    element(&mut xml, "Etag", &format!("\"{}\"", m.etag));
                    element(&mut xml, "Content-Length", &m.size.to_string());
                    let h = &m.http;
                    element(
                        &mut xml,
                        "Content-Type",
                        h.content_type.as_deref().unwrap_or(""),
                    );
                    element(
                        &mut xml,
                        "Content-Encoding",
                        h.content_encoding.as_deref().unwrap_or(""),
                    );
                    element(
                        &mut xml,
                        "Content-Language",
                        h.content_language.as_deref().unwrap_or(""),
                    );
                    element(
                        &mut xml,
                        "Content-MD5",
                        &h.content_md5.map(|d| BASE64.encode(d)).unwrap_or_default(),
                    );
                    element(
                        &mut xml,
                        "Cache-Control",
                        h.cache_control.as_deref().unwrap_or(""),
                    );
                    element(
                        &mut xml,
                        "Content-Disposition",
                        h.content_disposition.as_deref().unwrap_or(""),
                    );
                    xml.push_str(
                        "<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier>\
                         <AccessTierInferred>true</AccessTierInferred>\
                         <LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>\
                         <ServerEncrypted>true</ServerEncrypted></Properties>",
                    );
                    if with_metadata {
                        if m.metadata.is_empty() {
                            xml.push_str("<Metadata />");
                        } else {
                            xml.push_str("<Metadata>");
                            for (k, v) in &m.metadata {
                                element(&mut xml, k, v);
                            }
                            xml.push_str("</Metadata>");
                        }
                    }
                    xml.push_str("</Blob>");
                }
            }
        }
        xml.push_str("</Blobs>");
        element(
            &mut xml,
            "NextMarker",
            &next.map(encode_marker).unwrap_or_default(),
        );
        xml.push_str("</EnumerationResults>");
        Ok(Reply::new(StatusCode::OK).xml(xml))
    }

    async fn put_blob(
        &self,
        container: &str,
        blob: &str,
        headers: &HeaderMap,
        body: &mut Option<Body>,
        grant: Grant,
    ) -> Result<Response, BlobError> {
        match header_text(headers, "x-ms-blob-type")? {
            None => return Err(missing_header("x-ms-blob-type")),
            Some(t) if t == "BlockBlob" => {}
            Some(t) if t == "PageBlob" || t == "AppendBlob" => {
                return Err(not_implemented(format!(
                    "{t}s (the sandbox stores block blobs)"
                )));
            }
            Some(t) => {
                return Err(bad_header(
                    "x-ms-blob-type",
                    &t,
                    "use BlockBlob, PageBlob or AppendBlob",
                ));
            }
        }
        let declared = content_length(headers, MAX_PUT_BLOB_BYTES)?;
        let transactional = md5_header(headers, "content-md5")?;
        let (mut http, metadata) = blob_props(headers, true)?;
        let conditions = Conditions::parse(headers)?;
        let precheck = write_precheck(conditions, grant);
        // Refuse early what would be refused after the upload.
        precheck(self.store.blob(container, blob)?.as_ref())?;

        let temp = self.store.temp_file();
        let (size, md5, _crc) =
            receive_body(body.take().unwrap_or_default(), temp.path(), declared).await?;
        for (expected, name) in [
            (transactional, "Content-MD5"),
            (http.content_md5, "x-ms-blob-content-md5"),
        ] {
            if let Some(e) = expected
                && e != md5
            {
                return Err(md5_mismatch(name, &e, &md5));
            }
        }
        http.content_md5 = Some(md5);
        let _lock = self.store.lock_blob(container, blob).await;
        let store = self.store.clone();
        let (c, b) = (container.to_string(), blob.to_string());
        let meta = blocking(move || {
            store.install(
                &c,
                &b,
                temp,
                NewBlob {
                    size,
                    http,
                    metadata,
                    blocks: Vec::new(),
                },
                &precheck,
            )
        })
        .await?;
        Ok(Reply::new(StatusCode::CREATED)
            .versioned(&meta.etag, meta.modified_ns)
            .header("content-md5", BASE64.encode(md5))
            .header("x-ms-request-server-encrypted", "true")
            .empty())
    }

    async fn put_block(
        &self,
        container: &str,
        blob: &str,
        q: &Query,
        headers: &HeaderMap,
        body: &mut Option<Body>,
    ) -> Result<Response, BlobError> {
        let Some(id_text) = q.get("blockid") else {
            return Err(BlobError::new(ErrorCode::MissingRequiredQueryParameter)
                .with("QueryParameterName", "blockid"));
        };
        let id = decode_block_id(id_text)?;
        let declared = content_length(headers, MAX_BLOCK_BYTES)?;
        let transactional = md5_header(headers, "content-md5")?;
        let transactional_crc = crc64_header(headers)?;
        self.store.check_block(container, blob, &id)?;
        let temp = self.store.temp_file();
        let (size, md5, crc) =
            receive_body(body.take().unwrap_or_default(), temp.path(), declared).await?;
        if let Some(e) = transactional
            && e != md5
        {
            return Err(md5_mismatch("Content-MD5", &e, &md5));
        }
        if let Some(e) = transactional_crc
            && e != crc
        {
            return Err(BlobError::new(ErrorCode::Crc64Mismatch)
                .with("HeaderName", "x-ms-content-crc64")
                .with("UserSpecifiedCrc64", BASE64.encode(e.to_le_bytes()))
                .with("ServerCalculatedCrc64", BASE64.encode(crc.to_le_bytes())));
        }
        let store = self.store.clone();
        let (c, b) = (container.to_string(), blob.to_string());
        blocking(move || store.stage_block(&c, &b, &id, temp, size)).await?;
        Ok(Reply::new(StatusCode::CREATED)
            .header("content-md5", BASE64.encode(md5))
            .header("x-ms-request-server-encrypted", "true")
            .empty())
    }

    async fn put_block_list(
        &self,
        container: &str,
        blob: &str,
        headers: &HeaderMap,
        body: &mut Option<Body>,
        grant: Grant,
    ) -> Result<Response, BlobError> {
        let transactional = md5_header(headers, "content-md5")?;
        let (http, metadata) = blob_props(headers, false)?;
        let conditions = Conditions::parse(headers)?;
        let xml = read_small_body(body.take().unwrap_or_default(), MAX_BLOCK_LIST_BYTES).await?;
        if let Some(e) = transactional {
            let got: [u8; 16] = Md5::digest(&xml).into();
            if e != got {
                return Err(md5_mismatch("Content-MD5", &e, &got));
            }
        }
        let entries = parse_block_list(&xml).map_err(|e| {
            BlobError::new(ErrorCode::InvalidXmlDocument).with("Reason", e.to_string())
        })?;
        if entries.len() > blob_store::MAX_COMMITTED_BLOCKS {
            return Err(BlobError::new(ErrorCode::BlockListTooLong));
        }
        let mut list = Vec::with_capacity(entries.len());
        for (kind, text) in entries {
            let id = BASE64
                .decode(text.as_bytes())
                .ok()
                .filter(|id| !id.is_empty() && id.len() <= MAX_BLOCK_ID_BYTES)
                .ok_or_else(|| {
                    BlobError::new(ErrorCode::InvalidBlockList).with(
                        "Reason",
                        format!("'{text}' is not a base64 block id of 1 to 64 bytes"),
                    )
                })?;
            list.push((kind, id));
        }
        let precheck = write_precheck(conditions, grant);
        let _lock = self.store.lock_blob(container, blob).await;
        let store = self.store.clone();
        let (c, b) = (container.to_string(), blob.to_string());
        let meta = blocking(move || {
            let plan = store.plan_commit(&c, &b, &list, &precheck)?;
            let (temp, size, blocks) = store.build_commit(plan)?;
            store.install(
                &c,
                &b,
                temp,
                NewBlob {
                    size,
                    http,
                    metadata,
                    blocks,
                },
                &precheck,
            )
        })
        .await?;
        Ok(Reply::new(StatusCode::CREATED)
            .versioned(&meta.etag, meta.modified_ns)
            .header("x-ms-request-server-encrypted", "true")
            .empty())
    }

    fn get_block_list(
        &self,
        container: &str,
        blob: &str,
        q: &Query,
    ) -> Result<Response, BlobError> {
        let which = q.get("blocklisttype").unwrap_or("committed");
        let (committed, uncommitted) = match which.to_ascii_lowercase().as_str() {
            "committed" => (true, false),
            "uncommitted" => (false, true),
            "all" => (true, true),
            _ => {
                return Err(bad_query(
                    "blocklisttype",
                    which,
                    "use committed, uncommitted or all",
                ));
            }
        };
        let view = self.store.block_list(container, blob)?;
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        if committed {
            xml.push_str("<CommittedBlocks>");
            for b in view.blob.iter().flat_map(|m| m.blocks.iter()) {
                xml.push_str("<Block>");
                element(&mut xml, "Name", &b.id);
                element(&mut xml, "Size", &b.size.to_string());
                xml.push_str("</Block>");
            }
            xml.push_str("</CommittedBlocks>");
        }
        if uncommitted {
            xml.push_str("<UncommittedBlocks>");
            for (id, size) in &view.uncommitted {
                xml.push_str("<Block>");
                element(&mut xml, "Name", &BASE64.encode(id));
                element(&mut xml, "Size", &size.to_string());
                xml.push_str("</Block>");
            }
            xml.push_str("</UncommittedBlocks>");
        }
        xml.push_str("</BlockList>");
        let mut r = Reply::new(StatusCode::OK).header(
            "x-ms-blob-content-length",
            view.blob.as_ref().map_or(0, |m| m.size).to_string(),
        );
        if let Some(m) = &view.blob {
            r = r.versioned(&m.etag, m.modified_ns);
        }
        Ok(r.xml(xml))
    }

    async fn get_blob(
        &self,
        container: &str,
        blob: &str,
        headers: &HeaderMap,
    ) -> Result<Response, BlobError> {
        let conditions = Conditions::parse(headers)?;
        let range = requested_range(headers)?;
        let want_range_md5 = header_text(headers, "x-ms-range-get-content-md5")?
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let store = self.store.clone();
        let (c, b) = (container.to_string(), blob.to_string());
        let (meta, mut file) = blocking(move || store.open_blob(&c, &b)).await?;
        conditions.check_read(&meta)?;
        let stored_md5 = meta.http.content_md5.map(|d| BASE64.encode(d));
        let Some((start, end_req)) = range else {
            if want_range_md5 {
                return Err(bad_header(
                    "x-ms-range-get-content-md5",
                    "true",
                    "it needs a Range or x-ms-range header",
                ));
            }
            let reply = Reply::new(StatusCode::OK)
                .blob_headers(&meta)
                .opt("content-md5", stored_md5.as_deref())
                .header("content-length", meta.size.to_string());
            return Ok(reply.body(file_body(file, 0, meta.size)));
        };
        if start >= meta.size {
            return Err(BlobError::new(ErrorCode::InvalidRange)
                .with("Reason", format!("the blob has {} bytes", meta.size)));
        }
        let end = end_req.map_or(meta.size - 1, |e| e.min(meta.size - 1));
        let len = end - start + 1;
        let mut reply = Reply::new(StatusCode::PARTIAL_CONTENT)
            .blob_headers(&meta)
            .header(
                "content-range",
                format!("bytes {start}-{end}/{}", meta.size),
            )
            .header("content-length", len.to_string())
            .opt("x-ms-blob-content-md5", stored_md5.as_deref());
        if want_range_md5 {
            if len > MAX_RANGE_MD5_BYTES {
                return Err(bad_header(
                    "x-ms-range-get-content-md5",
                    "true",
                    "a range's MD5 can be asked for ranges of 4 MiB at most",
                ));
            }
            let data = blocking(move || {
                use std::io::{Read, Seek, SeekFrom};
                let mut buf = vec![0u8; len as usize];
                file.seek(SeekFrom::Start(start))
                    .and_then(|_| file.read_exact(&mut buf))
                    .map_err(|e| internal("cannot read the blob", e))?;
                Ok(buf)
            })
            .await?;
            let md5: [u8; 16] = Md5::digest(&data).into();
            reply = reply.header("content-md5", BASE64.encode(md5));
            return Ok(reply.body(Body::from(data)));
        }
        Ok(reply.body(file_body(file, start, len)))
    }
}

fn md5_mismatch(header: &str, expected: &[u8; 16], got: &[u8; 16]) -> BlobError {
    BlobError::new(ErrorCode::Md5Mismatch)
        .with("HeaderName", header)
        .with("UserSpecifiedMd5", BASE64.encode(expected))
        .with("ServerCalculatedMd5", BASE64.encode(got))
}

#[cfg(test)]
mod tests {
    use super::blob_http::*;
    use super::*;
    use crate::sas::{sign_account_sas, sign_container_sas};
    use bytes::Bytes;
    use time::Duration;

    /// How a test request authenticates.
    #[derive(Clone)]
    enum Auth {
        SharedKey,
        Sas(String),
        Anonymous,
    }

    struct Sandbox {
        svc: Arc<BlobService>,
        base: String,
        http: reqwest::Client,
        _dir: tempfile::TempDir,
    }

    struct Answer {
        status: u16,
        headers: reqwest::header::HeaderMap,
        body: Vec<u8>,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        /// Asserts an Azure error: status, code header and XML body (for non-HEAD requests).
        #[track_caller]
        fn assert_error(&self, status: u16, code: &str) {
            assert_eq!(self.status, status, "{} {}", self.status, self.text());
            assert_eq!(
                self.header("x-ms-error-code"),
                Some(code),
                "{}",
                self.text()
            );
            if !self.body.is_empty() {
                let t = self.text();
                assert!(t.contains(&format!("<Code>{code}</Code>")), "{t}");
                assert!(t.contains("<Message>") && t.contains("RequestId:"), "{t}");
            }
        }
    }

    fn md5_b64(data: &[u8]) -> String {
        BASE64.encode(Md5::digest(data))
    }

    async fn start() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let svc = BlobService::new(BlobServiceConfig {
            root: dir.path().join("blob"),
            account: DEV_ACCOUNT.into(),
            key: DEV_KEY.into(),
        })
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = svc.clone();
        tokio::spawn(async move { s.serve(listener).await });
        Sandbox {
            svc,
            base: format!("http://{addr}/{DEV_ACCOUNT}"),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    impl Sandbox {
        /// Sends `method base/path` (path may hold a query), with the headers given, the body, and
        /// `x-ms-date` / `x-ms-version`; signs with Shared Key or appends the SAS.
        async fn send(
            &self,
            method: &str,
            path: &str,
            headers: &[(&str, &str)],
            body: Option<Vec<u8>>,
            auth: &Auth,
        ) -> Answer {
            let mut url = format!("{}{path}", self.base);
            if let Auth::Sas(q) = auth {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(q);
            }
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let mut req = self.http.request(method.clone(), &url);
            let mut hm = HeaderMap::new();
            hm.insert(
                "x-ms-date",
                http_date(OffsetDateTime::now_utc()).parse().unwrap(),
            );
            hm.insert("x-ms-version", "2025-11-05".parse().unwrap());
            for (n, v) in headers {
                hm.append(
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            if let Some(b) = &body
                && !hm.contains_key("content-length")
            {
                hm.insert("content-length", b.len().to_string().parse().unwrap());
            }
            if let Auth::SharedKey = auth {
                let parsed = url::Url::parse(&url).unwrap();
                let key = BASE64.decode(DEV_KEY).unwrap();
                let view = RequestView {
                    method: method.as_str(),
                    headers: &hm,
                    raw_path: parsed.path(),
                    raw_query: parsed.query().unwrap_or(""),
                    container: None,
                    blob: None,
                    peer: None,
                    now: OffsetDateTime::now_utc(),
                };
                let sts = blob_auth::shared_key_string_to_sign(
                    &view,
                    DEV_ACCOUNT,
                    blob_auth::HeaderOrder::Azure,
                );
                use hmac::{Hmac, KeyInit, Mac};
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
                mac.update(sts.as_bytes());
                let sig = BASE64.encode(mac.finalize().into_bytes());
                hm.insert(
                    "authorization",
                    format!("SharedKey {DEV_ACCOUNT}:{sig}").parse().unwrap(),
                );
            }
            req = req.headers(hm);
            if let Some(b) = body {
                req = req.body(b);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap().to_vec();
            Answer {
                status,
                headers,
                body,
            }
        }

        async fn sk(
            &self,
            method: &str,
            path: &str,
            headers: &[(&str, &str)],
            body: Option<Vec<u8>>,
        ) -> Answer {
            self.send(method, path, headers, body, &Auth::SharedKey)
                .await
        }

        async fn create(&self, container: &str) {
            let a = self
                .sk("PUT", &format!("/{container}?restype=container"), &[], None)
                .await;
            assert_eq!(a.status, 201, "{}", a.text());
        }

        async fn put_blob(&self, path: &str, data: &[u8]) -> Answer {
            self.sk(
                "PUT",
                path,
                &[("x-ms-blob-type", "BlockBlob")],
                Some(data.to_vec()),
            )
            .await
        }

        async fn put_block(&self, path: &str, id: &str, data: &[u8]) -> Answer {
            let id = BASE64.encode(id);
            let enc = id
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D");
            self.sk(
                "PUT",
                &format!("{path}?comp=block&blockid={enc}"),
                &[("content-md5", &md5_b64(data))],
                Some(data.to_vec()),
            )
            .await
        }

        async fn put_block_list(&self, path: &str, xml: &str, headers: &[(&str, &str)]) -> Answer {
            self.sk(
                "PUT",
                &format!("{path}?comp=blocklist"),
                headers,
                Some(xml.as_bytes().to_vec()),
            )
            .await
        }

        fn container_sas(&self, container: &str, perms: &str, expiry: OffsetDateTime) -> Auth {
            Auth::Sas(sign_container_sas(DEV_ACCOUNT, DEV_KEY, container, perms, expiry).unwrap())
        }
    }

    fn latest(ids: &[&str]) -> String {
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for id in ids {
            x.push_str(&format!("<Latest>{}</Latest>", BASE64.encode(id)));
        }
        x.push_str("</BlockList>");
        x
    }

    fn soon() -> OffsetDateTime {
        OffsetDateTime::now_utc() + Duration::hours(1)
    }

    #[tokio::test]
    async fn containers_create_properties_list_delete() {
        let s = start().await;
        let a = s.sk("PUT", "/alpha?restype=container", &[], None).await;
        assert_eq!(a.status, 201);
        assert!(a.header("etag").is_some_and(|e| e.starts_with("\"0x")));
        assert!(
            a.header("last-modified")
                .is_some_and(|d| d.ends_with(" GMT"))
        );
        assert!(a.header("x-ms-request-id").is_some());
        assert_eq!(a.header("x-ms-version"), Some("2025-11-05"));
        assert!(a.header("date").is_some());
        s.sk("PUT", "/alpha?restype=container", &[], None)
            .await
            .assert_error(409, "ContainerAlreadyExists");
        s.sk("PUT", "/Bad_Name?restype=container", &[], None)
            .await
            .assert_error(400, "InvalidResourceName");
        let a = s.sk("GET", "/alpha?restype=container", &[], None).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("x-ms-lease-state"), Some("available"));
        let a = s.sk("HEAD", "/nothere?restype=container", &[], None).await;
        a.assert_error(404, "ContainerNotFound");
        assert!(a.body.is_empty());
        s.sk("GET", "/nothere?restype=container", &[], None)
            .await
            .assert_error(404, "ContainerNotFound");
        s.create("beta").await;
        let a = s.sk("GET", "/?comp=list&prefix=al", &[], None).await;
        assert_eq!(a.status, 200);
        let t = a.text();
        assert!(
            t.contains("<Name>alpha</Name>") && !t.contains("beta"),
            "{t}"
        );
        let a = s.sk("GET", "?comp=list&maxresults=1", &[], None).await;
        let t = a.text();
        assert!(
            t.contains("<Name>alpha</Name>") && t.contains("<NextMarker>2!"),
            "{t}"
        );
        let a = s.sk("DELETE", "/alpha?restype=container", &[], None).await;
        assert_eq!(a.status, 202);
        s.sk("DELETE", "/alpha?restype=container", &[], None)
            .await
            .assert_error(404, "ContainerNotFound");
        // In-process helper.
        s.svc.create_container("gamma").unwrap();
        assert_eq!(
            s.svc.create_container("gamma").unwrap_err().code,
            ErrorCode::ContainerAlreadyExists
        );
    }

    #[tokio::test]
    async fn put_blob_get_blob_ranges_and_properties() {
        let s = start().await;
        s.create("data").await;
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let md5 = md5_b64(&data);
        let a = s
            .sk(
                "PUT",
                "/data/db/full.bak",
                &[
                    ("x-ms-blob-type", "BlockBlob"),
                    ("content-md5", &md5),
                    ("x-ms-meta-origin", "test"),
                    ("content-type", "application/x-backup"),
                ],
                Some(data.clone()),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text());
        assert_eq!(a.header("content-md5"), Some(md5.as_str()));
        assert_eq!(a.header("x-ms-request-server-encrypted"), Some("true"));
        let etag = a.header("etag").unwrap().to_string();

        let a = s.sk("GET", "/data/db/full.bak", &[], None).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body, data);
        assert_eq!(a.header("content-md5"), Some(md5.as_str()));
        assert_eq!(a.header("content-length"), Some("1000"));
        assert_eq!(a.header("x-ms-blob-type"), Some("BlockBlob"));
        assert_eq!(a.header("content-type"), Some("application/x-backup"));
        assert_eq!(a.header("x-ms-meta-origin"), Some("test"));
        assert_eq!(a.header("etag"), Some(etag.as_str()));

        let a = s
            .sk(
                "GET",
                "/data/db/full.bak",
                &[("x-ms-range", "bytes=10-19")],
                None,
            )
            .await;
        assert_eq!(a.status, 206);
        assert_eq!(a.body, &data[10..20]);
        assert_eq!(a.header("content-range"), Some("bytes 10-19/1000"));
        assert_eq!(a.header("x-ms-blob-content-md5"), Some(md5.as_str()));
        assert_eq!(a.header("content-md5"), None);
        let a = s
            .sk("GET", "/data/db/full.bak", &[("range", "bytes=990-")], None)
            .await;
        assert_eq!(a.status, 206);
        assert_eq!(a.body, &data[990..]);
        let a = s
            .sk(
                "GET",
                "/data/db/full.bak",
                &[("x-ms-range", "bytes=900-5000")],
                None,
            )
            .await;
        assert_eq!(a.header("content-range"), Some("bytes 900-999/1000"));
        assert_eq!(a.body, &data[900..]);
        let a = s
            .sk(
                "GET",
                "/data/db/full.bak",
                &[
                    ("x-ms-range", "bytes=0-99"),
                    ("x-ms-range-get-content-md5", "true"),
                ],
                None,
            )
            .await;
        assert_eq!(
            a.header("content-md5"),
            Some(md5_b64(&data[..100]).as_str())
        );
        s.sk(
            "GET",
            "/data/db/full.bak",
            &[("x-ms-range", "bytes=1000-")],
            None,
        )
        .await
        .assert_error(416, "InvalidRange");
        s.sk(
            "GET",
            "/data/db/full.bak",
            &[("x-ms-range", "bytes=9-2")],
            None,
        )
        .await
        .assert_error(400, "InvalidHeaderValue");
        // An unreadable Range header is ignored: the whole blob.
        let a = s
            .sk("GET", "/data/db/full.bak", &[("range", "lines=1-2")], None)
            .await;
        assert_eq!(a.status, 200);

        let a = s.sk("HEAD", "/data/db/full.bak", &[], None).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("content-length"), Some("1000"));
        assert_eq!(a.header("content-md5"), Some(md5.as_str()));
        assert!(a.header("x-ms-creation-time").is_some());
        assert!(a.body.is_empty());

        // An empty blob: any range is out of it; no range is fine.
        assert_eq!(s.put_blob("/data/empty", b"").await.status, 201);
        s.sk("GET", "/data/empty", &[("x-ms-range", "bytes=0-99")], None)
            .await
            .assert_error(416, "InvalidRange");
        let a = s.sk("GET", "/data/empty", &[], None).await;
        assert_eq!((a.status, a.body.len()), (200, 0));
        assert_eq!(a.header("content-md5"), Some(md5_b64(b"").as_str()));

        // Put Blob errors.
        s.sk(
            "PUT",
            "/data/x",
            &[
                ("x-ms-blob-type", "BlockBlob"),
                ("content-md5", &md5_b64(b"other")),
            ],
            Some(b"data".to_vec()),
        )
        .await
        .assert_error(400, "Md5Mismatch");
        s.sk(
            "PUT",
            "/data/x",
            &[("x-ms-blob-type", "BlockBlob"), ("content-md5", "bm90bWQ1")],
            Some(b"data".to_vec()),
        )
        .await
        .assert_error(400, "InvalidMd5");
        s.sk("PUT", "/data/x", &[], Some(b"data".to_vec()))
            .await
            .assert_error(400, "MissingRequiredHeader");
        s.sk(
            "PUT",
            "/data/x",
            &[("x-ms-blob-type", "PageBlob")],
            Some(vec![]),
        )
        .await
        .assert_error(501, "NotImplemented");
        s.put_blob("/nothere/x", b"data")
            .await
            .assert_error(404, "ContainerNotFound");
        s.sk("GET", "/data/x", &[], None)
            .await
            .assert_error(404, "BlobNotFound");
        let a = s.sk("HEAD", "/data/x", &[], None).await;
        a.assert_error(404, "BlobNotFound");
        // In-process helpers.
        let infos = s.svc.list_blobs("data", "db/").unwrap();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].name, "db/full.bak");
        assert_eq!(infos[0].size, 1000);
        assert_eq!(infos[0].content_md5, Some(Md5::digest(&data).into()));
        assert_eq!(infos[0].etag, etag);
        let path = s.svc.blob_path("data", "db/full.bak").unwrap();
        assert_eq!(std::fs::read(path).unwrap(), data);
        assert_eq!(s.svc.blob_path("data", "db/none"), None);
    }

    #[tokio::test]
    async fn blocks_block_lists_and_their_errors() {
        let s = start().await;
        s.create("blk").await;
        let p = "/blk/db/log 1.trn";
        let ep = "/blk/db/log%201.trn";
        assert_eq!(s.put_block(ep, "id-0001", b"first ").await.status, 201);
        assert_eq!(s.put_block(ep, "id-0002", b"second").await.status, 201);
        // Same id again replaces the block.
        assert_eq!(s.put_block(ep, "id-0002", b"SECOND").await.status, 201);
        s.put_block(ep, "id-03", b"x")
            .await
            .assert_error(400, "InvalidBlobOrBlock");
        let bad = s
            .sk(
                "PUT",
                &format!("{ep}?comp=block&blockid=%21%21"),
                &[],
                Some(b"x".to_vec()),
            )
            .await;
        bad.assert_error(400, "InvalidBlockId");
        let long = BASE64
            .encode([7u8; 65])
            .replace('=', "%3D")
            .replace('+', "%2B")
            .replace('/', "%2F");
        s.sk(
            "PUT",
            &format!("{ep}?comp=block&blockid={long}"),
            &[],
            Some(b"x".to_vec()),
        )
        .await
        .assert_error(400, "InvalidBlockId");
        s.sk("PUT", &format!("{ep}?comp=block"), &[], Some(b"x".to_vec()))
            .await
            .assert_error(400, "MissingRequiredQueryParameter");
        let id = BASE64.encode("id-0004").replace('=', "%3D");
        s.sk(
            "PUT",
            &format!("{ep}?comp=block&blockid={id}"),
            &[("content-md5", &md5_b64(b"not this"))],
            Some(b"data".to_vec()),
        )
        .await
        .assert_error(400, "Md5Mismatch");
        // The CRC64 Azure verifies (CRC-64/NVME, little-endian base64): wrong is refused, right accepted.
        let crc = |d: &[u8]| {
            let mut c = crc64fast_nvme::Digest::new();
            c.write(d);
            BASE64.encode(c.sum64().to_le_bytes())
        };
        // CRC-64/NVME's published check value (the CRC of "123456789").
        assert_eq!(
            crc(b"123456789"),
            BASE64.encode(0xAE8B_1486_0A79_9888u64.to_le_bytes())
        );
        s.sk(
            "PUT",
            &format!("{ep}?comp=block&blockid={id}"),
            &[("x-ms-content-crc64", &crc(b"not this"))],
            Some(b"data".to_vec()),
        )
        .await
        .assert_error(400, "Crc64Mismatch");
        s.sk(
            "PUT",
            &format!("{ep}?comp=block&blockid={id}"),
            &[("x-ms-content-crc64", "not base64!")],
            Some(b"data".to_vec()),
        )
        .await
        .assert_error(400, "InvalidHeaderValue");
        let ok = s
            .sk(
                "PUT",
                &format!("{ep}?comp=block&blockid={id}"),
                &[("x-ms-content-crc64", &crc(b"data"))],
                Some(b"data".to_vec()),
            )
            .await;
        assert_eq!(ok.status, 201, "a block with the right CRC64 is staged");
        s.put_block("/nothere/b", "id-0001", b"x")
            .await
            .assert_error(404, "ContainerNotFound");

        // Only uncommitted blocks: the blob does not exist yet, its block list does.
        s.sk("GET", ep, &[], None)
            .await
            .assert_error(404, "BlobNotFound");
        let a = s
            .sk(
                "GET",
                &format!("{ep}?comp=blocklist&blocklisttype=all"),
                &[],
                None,
            )
            .await;
        assert_eq!(a.status, 200);
        let t = a.text();
        assert!(t.contains("<CommittedBlocks></CommittedBlocks>"), "{t}");
        assert!(
            t.contains(&format!(
                "<Block><Name>{}</Name><Size>6</Size></Block>",
                BASE64.encode("id-0001")
            )),
            "{t}"
        );
        assert_eq!(a.header("x-ms-blob-content-length"), Some("0"));
        s.sk(
            "GET",
            &format!("{ep}?comp=blocklist&blocklisttype=some"),
            &[],
            None,
        )
        .await
        .assert_error(400, "InvalidQueryParameterValue");
        s.sk("GET", "/blk/none?comp=blocklist", &[], None)
            .await
            .assert_error(404, "BlobNotFound");

        // Commit, storing the whole file's MD5.
        let whole = md5_b64(b"first SECOND");
        s.put_block_list(ep, &latest(&["id-0001", "id-0009"]), &[])
            .await
            .assert_error(400, "InvalidBlockList");
        s.put_block_list(ep, "<BlockList><Latest>", &[])
            .await
            .assert_error(400, "InvalidXmlDocument");
        let xml = latest(&["id-0001", "id-0002"]);
        s.put_block_list(ep, &xml, &[("content-md5", &md5_b64(b"nope"))])
            .await
            .assert_error(400, "Md5Mismatch");
        s.put_block_list(ep, &xml, &[("x-ms-blob-content-md5", "short")])
            .await
            .assert_error(400, "InvalidMd5");
        let a = s
            .put_block_list(
                ep,
                &xml,
                &[
                    ("x-ms-blob-content-md5", &whole),
                    ("x-ms-blob-content-type", "application/octet-stream"),
                    ("content-md5", &md5_b64(xml.as_bytes())),
                ],
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text());
        let a = s.sk("GET", ep, &[], None).await;
        assert_eq!(a.body, b"first SECOND");
        assert_eq!(a.header("content-md5"), Some(whole.as_str()));
        assert_eq!(a.header("x-ms-blob-committed-block-count"), Some("2"));
        let a = s
            .sk(
                "GET",
                &format!("{ep}?comp=blocklist&blocklisttype=all"),
                &[],
                None,
            )
            .await;
        let t = a.text();
        assert!(t.contains("<UncommittedBlocks></UncommittedBlocks>"), "{t}");
        assert!(
            t.contains("<Size>6</Size></Block></CommittedBlocks>"),
            "{t}"
        );
        assert_eq!(a.header("x-ms-blob-content-length"), Some("12"));
        assert!(a.header("etag").is_some());

        // Recommit: a committed block, a new one, and an explicit Uncommitted one.
        assert_eq!(s.put_block(ep, "id-0003", b"third ").await.status, 201);
        let xml = format!(
            "<BlockList><Uncommitted>{}</Uncommitted><Committed>{}</Committed></BlockList>",
            BASE64.encode("id-0003"),
            BASE64.encode("id-0002")
        );
        assert_eq!(s.put_block_list(ep, &xml, &[]).await.status, 201);
        let a = s.sk("GET", ep, &[], None).await;
        assert_eq!(a.body, b"third SECOND");
        // No x-ms-blob-content-md5 this time: none stored.
        assert_eq!(a.header("content-md5"), None);
        // The in-process view agrees, through the decoded name.
        assert_eq!(
            s.svc.list_blobs("blk", "db/").unwrap()[0].name,
            p.trim_start_matches("/blk/")
        );
        // A committed block asked for as uncommitted.
        let xml = format!(
            "<BlockList><Uncommitted>{}</Uncommitted></BlockList>",
            BASE64.encode("id-0002")
        );
        s.put_block_list(ep, &xml, &[])
            .await
            .assert_error(400, "InvalidBlockList");
    }

    #[tokio::test]
    async fn list_blobs_prefix_delimiter_paging_metadata() {
        let s = start().await;
        s.create("lst").await;
        for name in [
            "db1/a.bak",
            "db1/b.trn",
            "db2/a.bak",
            "top.txt",
            "z&z<>.bak",
        ] {
            let a = s
                .sk(
                    "PUT",
                    &format!(
                        "/lst/{}",
                        name.replace('&', "%26")
                            .replace('<', "%3C")
                            .replace('>', "%3E")
                    ),
                    &[
                        ("x-ms-blob-type", "BlockBlob"),
                        ("x-ms-meta-kind", "backup"),
                    ],
                    Some(name.as_bytes().to_vec()),
                )
                .await;
            assert_eq!(a.status, 201, "{name}: {}", a.text());
        }
        let a = s
            .sk("GET", "/lst?restype=container&comp=list", &[], None)
            .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("content-type"), Some("application/xml"));
        let t = a.text();
        assert_eq!(t.matches("<Blob>").count(), 5, "{t}");
        assert!(t.contains("<Name>z&amp;z&lt;&gt;.bak</Name>"), "{t}");
        assert!(
            t.contains(&format!(
                "<Content-MD5>{}</Content-MD5>",
                md5_b64(b"top.txt")
            )),
            "{t}"
        );
        assert!(t.contains("<BlobType>BlockBlob</BlobType>"), "{t}");
        assert!(!t.contains("<Metadata>"), "{t}");
        assert!(t.contains("<NextMarker />"), "{t}");

        let a = s
            .sk(
                "GET",
                "/lst?restype=container&comp=list&delimiter=%2F",
                &[],
                None,
            )
            .await;
        let t = a.text();
        assert!(t.contains("<BlobPrefix><Name>db1/</Name></BlobPrefix><BlobPrefix><Name>db2/</Name></BlobPrefix>"), "{t}");
        assert_eq!(t.matches("<Blob>").count(), 2, "{t}");
        assert!(t.contains("<Delimiter>/</Delimiter>"), "{t}");

        let a = s
            .sk(
                "GET",
                "/lst?restype=container&comp=list&prefix=db1%2F&include=metadata",
                &[],
                None,
            )
            .await;
        let t = a.text();
        assert_eq!(t.matches("<Blob>").count(), 2, "{t}");
        assert!(
            t.contains("<Metadata><kind>backup</kind></Metadata>"),
            "{t}"
        );
        assert!(t.contains("<Prefix>db1/</Prefix>"), "{t}");

        // Paging: two at a time.
        let mut names = Vec::new();
        let mut marker = String::new();
        for _ in 0..10 {
            let q = if marker.is_empty() {
                "/lst?restype=container&comp=list&maxresults=2".to_string()
            } else {
                format!("/lst?restype=container&comp=list&maxresults=2&marker={marker}")
            };
            let t = s.sk("GET", &q, &[], None).await.text();
            for part in t.split("<Blob><Name>").skip(1) {
                names.push(part.split("</Name>").next().unwrap().to_string());
            }
            marker = t
                .split("<NextMarker>")
                .nth(1)
                .map(|m| m.split("</NextMarker>").next().unwrap().to_string())
                .unwrap_or_default();
            if marker.is_empty() {
                break;
            }
        }
        assert_eq!(
            names,
            [
                "db1/a.bak",
                "db1/b.trn",
                "db2/a.bak",
                "top.txt",
                "z&amp;z&lt;&gt;.bak"
            ]
        );

        for (q, code) in [
            ("maxresults=0", "OutOfRangeQueryParameterValue"),
            ("maxresults=x", "InvalidQueryParameterValue"),
            ("include=everything", "InvalidQueryParameterValue"),
            ("marker=garbage", "InvalidQueryParameterValue"),
        ] {
            s.sk(
                "GET",
                &format!("/lst?restype=container&comp=list&{q}"),
                &[],
                None,
            )
            .await
            .assert_error(400, code);
        }
        s.sk("GET", "/nothere?restype=container&comp=list", &[], None)
            .await
            .assert_error(404, "ContainerNotFound");
    }

    #[tokio::test]
    async fn delete_and_conditional_headers() {
        let s = start().await;
        s.create("cond").await;
        let a = s.put_blob("/cond/b", b"one").await;
        let etag = a.header("etag").unwrap().to_string();
        let modified = a.header("last-modified").unwrap().to_string();
        // Python's upload_blob(overwrite=False) sends If-None-Match: *.
        s.sk(
            "PUT",
            "/cond/b",
            &[("x-ms-blob-type", "BlockBlob"), ("if-none-match", "*")],
            Some(b"two".to_vec()),
        )
        .await
        .assert_error(409, "BlobAlreadyExists");
        s.sk(
            "PUT",
            "/cond/b",
            &[("x-ms-blob-type", "BlockBlob"), ("if-match", "\"0x1\"")],
            Some(b"two".to_vec()),
        )
        .await
        .assert_error(412, "ConditionNotMet");
        s.sk("GET", "/cond/b", &[("if-match", "\"0x1\"")], None)
            .await
            .assert_error(412, "ConditionNotMet");
        let a = s.sk("GET", "/cond/b", &[("if-match", &etag)], None).await;
        assert_eq!(a.body, b"one");
        let a = s
            .sk("GET", "/cond/b", &[("if-none-match", &etag)], None)
            .await;
        assert_eq!(a.status, 304);
        let a = s
            .sk("GET", "/cond/b", &[("if-modified-since", &modified)], None)
            .await;
        assert_eq!(a.status, 304);
        s.sk(
            "GET",
            "/cond/b",
            &[("if-modified-since", "yesterday")],
            None,
        )
        .await
        .assert_error(400, "InvalidHeaderValue");
        s.sk("DELETE", "/cond/b", &[("if-match", "\"0x1\"")], None)
            .await
            .assert_error(412, "ConditionNotMet");
        s.sk("DELETE", "/cond/b", &[("if-none-match", "*")], None)
            .await
            .assert_error(412, "ConditionNotMet");
        // Uncommitted blocks go with the blob.
        assert_eq!(s.put_block("/cond/b", "b1", b"zz").await.status, 201);
        let a = s
            .sk("DELETE", "/cond/b", &[("if-match", &etag)], None)
            .await;
        assert_eq!(a.status, 202);
        s.sk("GET", "/cond/b", &[], None)
            .await
            .assert_error(404, "BlobNotFound");
        s.sk("GET", "/cond/b?comp=blocklist&blocklisttype=all", &[], None)
            .await
            .assert_error(404, "BlobNotFound");
        s.sk("DELETE", "/cond/b", &[], None)
            .await
            .assert_error(404, "BlobNotFound");
        // If-Match on a blob that does not exist: the write's condition fails.
        s.sk(
            "PUT",
            "/cond/new",
            &[("x-ms-blob-type", "BlockBlob"), ("if-match", &etag)],
            Some(b"x".to_vec()),
        )
        .await
        .assert_error(412, "ConditionNotMet");
    }

    #[tokio::test]
    async fn sas_permissions_expiry_and_missing_credentials() {
        let s = start().await;
        s.create("sas").await;
        assert_eq!(s.put_blob("/sas/x", b"data").await.status, 201);
        let rl = s.container_sas("sas", "rl", soon());
        let a = s
            .send("GET", "/sas?restype=container&comp=list", &[], None, &rl)
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(s.send("GET", "/sas/x", &[], None, &rl).await.body, b"data");
        assert_eq!(s.send("HEAD", "/sas/x", &[], None, &rl).await.status, 200);
        s.send(
            "PUT",
            "/sas/y",
            &[("x-ms-blob-type", "BlockBlob")],
            Some(b"d".to_vec()),
            &rl,
        )
        .await
        .assert_error(403, "AuthorizationPermissionMismatch");
        s.send("DELETE", "/sas/x", &[], None, &rl)
            .await
            .assert_error(403, "AuthorizationPermissionMismatch");
        s.send("PUT", "/sas?restype=container", &[], None, &rl)
            .await
            .assert_error(403, "AuthorizationPermissionMismatch");
        // Read only: no listing.
        let r = s.container_sas("sas", "r", soon());
        s.send("GET", "/sas?restype=container&comp=list", &[], None, &r)
            .await
            .assert_error(403, "AuthorizationPermissionMismatch");
        // Expired, or for another container.
        let old = s.container_sas(
            "sas",
            "rl",
            OffsetDateTime::now_utc() - Duration::minutes(1),
        );
        let a = s.send("GET", "/sas/x", &[], None, &old).await;
        a.assert_error(403, "AuthenticationFailed");
        assert!(
            a.text().contains("<AuthenticationErrorDetail>"),
            "{}",
            a.text()
        );
        let other = s.container_sas("other", "rl", soon());
        s.send("GET", "/sas/x", &[], None, &other)
            .await
            .assert_error(403, "AuthenticationFailed");
        // No credentials at all.
        s.send("GET", "/sas/x", &[], None, &Auth::Anonymous)
            .await
            .assert_error(403, "AuthenticationFailed");
        // Create-only SAS: a new blob yes, replacing one no.
        let c = s.container_sas("sas", "c", soon());
        let a = s
            .send(
                "PUT",
                "/sas/new",
                &[("x-ms-blob-type", "BlockBlob")],
                Some(b"n".to_vec()),
                &c,
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text());
        s.send(
            "PUT",
            "/sas/new",
            &[("x-ms-blob-type", "BlockBlob")],
            Some(b"m".to_vec()),
            &c,
        )
        .await
        .assert_error(403, "AuthorizationPermissionMismatch");
        // The account SAS the uploader signs to create containers.
        let acct = Auth::Sas(sign_account_sas(DEV_ACCOUNT, DEV_KEY, "sc", "rcwl", soon()).unwrap());
        assert_eq!(
            s.send("PUT", "/made-by-sas?restype=container", &[], None, &acct)
                .await
                .status,
            201
        );
        s.send("PUT", "/made-by-sas?restype=container", &[], None, &acct)
            .await
            .assert_error(409, "ContainerAlreadyExists");
        s.send("GET", "/sas/x", &[], None, &acct)
            .await
            .assert_error(403, "AuthorizationResourceTypeMismatch");
        // Write + delete with a container SAS.
        let rwd = s.container_sas("sas", "rwd", soon());
        assert_eq!(
            s.send("DELETE", "/sas/new", &[], None, &rwd).await.status,
            202
        );
    }

    #[tokio::test]
    async fn errors_before_a_large_body_is_read_still_reach_the_client() {
        let s = start().await;
        s.create("big").await;
        let data = vec![7u8; 24 << 20];
        // The container does not exist: refused before the body is read.
        s.put_block("/nothere/b", "id-1", &data)
            .await
            .assert_error(404, "ContainerNotFound");
        // No permission: refused before the body is read.
        let rl = s.container_sas("big", "rl", soon());
        s.send(
            "PUT",
            "/big/x",
            &[("x-ms-blob-type", "BlockBlob")],
            Some(data.clone()),
            &rl,
        )
        .await
        .assert_error(403, "AuthorizationPermissionMismatch");
        // And the connection pool still works afterwards.
        assert_eq!(s.put_block("/big/b", "id-1", &data).await.status, 201);
    }

    #[tokio::test]
    async fn malformed_requests_get_azure_errors() {
        let s = start().await;
        s.create("misc").await;
        s.sk("GET", "/misc?restype=container&comp=acl", &[], None)
            .await
            .assert_error(501, "NotImplemented");
        s.sk("POST", "/misc/x", &[], Some(vec![]))
            .await
            .assert_error(405, "UnsupportedHttpVerb");
        s.sk("GET", "/misc?comp=list", &[], None)
            .await
            .assert_error(400, "MissingRequiredQueryParameter");
        s.sk("GET", "/misc?restype=directory", &[], None)
            .await
            .assert_error(400, "InvalidQueryParameterValue");
        s.sk("GET", "/misc/x?comp=tags", &[], None)
            .await
            .assert_error(501, "NotImplemented");
        s.sk("GET", "/misc/x?snapshot=2024-01-01T00:00:00Z", &[], None)
            .await
            .assert_error(501, "NotImplemented");
        s.sk("GET", "/misc/%FF", &[], None)
            .await
            .assert_error(400, "InvalidUri");
        let long = "a".repeat(1025);
        s.sk("GET", &format!("/misc/{long}"), &[], None)
            .await
            .assert_error(400, "InvalidResourceName");
        // Another account in the path.
        let url = s.base.replace(DEV_ACCOUNT, "someoneelse");
        let a = s.http.get(format!("{url}/misc")).send().await.unwrap();
        assert_eq!(a.status().as_u16(), 400);
        assert_eq!(
            a.headers()
                .get("x-ms-error-code")
                .and_then(|v| v.to_str().ok()),
            Some("InvalidUri")
        );
        // A body sent without Content-Length (chunked).
        let stream =
            futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(b"abc"))]);
        let a = s
            .http
            .put(format!(
                "{}/misc/x?{}",
                s.base,
                match s.container_sas("misc", "rwl", soon()) {
                    Auth::Sas(q) => q,
                    _ => unreachable!(),
                }
            ))
            .header("x-ms-blob-type", "BlockBlob")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .unwrap();
        assert_eq!(a.status().as_u16(), 411);
        // Too large a declared body is refused before it is read.
        s.sk(
            "PUT",
            "/misc/x",
            &[
                ("x-ms-blob-type", "BlockBlob"),
                ("content-length", "5368709121"),
            ],
            None,
        )
        .await
        .assert_error(413, "RequestBodyTooLarge");
        // Bad metadata names.
        s.sk(
            "PUT",
            "/misc/x",
            &[("x-ms-blob-type", "BlockBlob"), ("x-ms-meta-1bad", "v")],
            Some(b"x".to_vec()),
        )
        .await
        .assert_error(400, "InvalidMetadata");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn parallel_clients_and_restart() {
        let s = Arc::new(start().await);
        s.create("par").await;
        let mut tasks = Vec::new();
        for i in 0..8u8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("/par/db/file{i}.bak");
                let mut expected = Vec::new();
                let mut ids = Vec::new();
                for b in 0..6u8 {
                    let data = vec![i.wrapping_mul(31).wrapping_add(b); 64 * 1024 + usize::from(b)];
                    let id = format!("blk-{b:04}");
                    let a = s.put_block(&name, &id, &data).await;
                    assert_eq!(a.status, 201, "{}", a.text());
                    expected.extend_from_slice(&data);
                    ids.push(id);
                }
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                let a = s
                    .put_block_list(
                        &name,
                        &latest(&ids),
                        &[("x-ms-blob-content-md5", &md5_b64(&expected))],
                    )
                    .await;
                assert_eq!(a.status, 201, "{}", a.text());
                let got = s.sk("GET", &name, &[], None).await;
                assert_eq!(got.body, expected);
                // Racing writers on one blob: every read sees one whole version.
                let shared = "/par/shared.bin";
                let a = s.put_blob(shared, &vec![i; 100_000]).await;
                assert_eq!(a.status, 201);
                let got = s.sk("GET", shared, &[], None).await.body;
                assert_eq!(got.len(), 100_000);
                assert!(got.iter().all(|b| *b == got[0]));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let infos = s.svc.list_blobs("par", "").unwrap();
        assert_eq!(infos.len(), 9);
        // A new service on the same folder sees the same blobs.
        let again = BlobService::new(BlobServiceConfig {
            root: s._dir.path().join("blob"),
            account: DEV_ACCOUNT.into(),
            key: DEV_KEY.into(),
        })
        .unwrap();
        assert_eq!(again.list_blobs("par", "").unwrap(), infos);
    }

    #[test]
    fn config_and_service_redact_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BlobServiceConfig {
            root: dir.path().to_path_buf(),
            account: DEV_ACCOUNT.into(),
            key: DEV_KEY.into(),
        };
        assert!(!format!("{cfg:?}").contains(&DEV_KEY[..10]));
        let svc = BlobService::new(cfg.clone()).unwrap();
        assert!(!format!("{svc:?}").contains(&DEV_KEY[..10]));
        let bad = BlobServiceConfig {
            key: "not base64!".into(),
            ..cfg.clone()
        };
        assert!(BlobService::new(bad).is_err());
        let bad = BlobServiceConfig {
            account: "Dev_Account".into(),
            ..cfg
        };
        assert!(BlobService::new(bad).is_err());
    }

    proptest::proptest! {
        /// Whatever the path, query and headers, reading a request never panics.
        #[test]
        fn arbitrary_requests_never_panic(
            path in "(/|%|[0-9A-Fa-f]{1,3}|[a-z]{1,8}|\\PC){0,30}",
            query in "([a-z]{1,9}=[%A-Za-z0-9+/=,:-]{0,12}&?){0,6}",
            range in "(bytes=)?[0-9-]{0,12}",
        ) {
            let q = Query::parse(&query);
            let _ = parse_target(&path, DEV_ACCOUNT);
            let _ = list_params(&q);
            let _ = decode_block_id(q.get("blockid").unwrap_or(""));
            let _ = decode_marker(&query);
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&range) {
                h.insert("x-ms-range", v.clone());
                h.insert("if-modified-since", v.clone());
                h.insert("content-md5", v);
            }
            let _ = requested_range(&h);
            let _ = Conditions::parse(&h);
            let _ = md5_header(&h, "content-md5");
            let target = Target { container: Some("abc".into()), blob: Some("x".into()) };
            for m in [Method::GET, Method::PUT, Method::HEAD, Method::DELETE, Method::POST] {
                let _ = route(&m, &target, &q, &h);
            }
        }
    }

    #[test]
    fn dates_round_trip() {
        let t = time::macros::datetime!(2024-01-15 10:00:05 UTC);
        assert_eq!(http_date(t), "Mon, 15 Jan 2024 10:00:05 GMT");
        assert_eq!(parse_http_date("Mon, 15 Jan 2024 10:00:05 GMT"), Some(t));
        assert_eq!(parse_http_date("2024-01-15"), None);
    }
}
