//! HTTP plumbing of the sandbox Blob service: reading a request (the addressed container and blob,
//! the query, the operation, headers such as Content-MD5, ranges and conditions) and writing a
//! response (headers, XML, blob bodies streamed from disk, request bodies streamed to disk).
//! Every malformed input becomes a [`BlobError`] with Azure's code; nothing here panics on
//! request data.

use axum::body::Body;
use axum::http::header::{HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::StreamExt;
use md5::{Digest, Md5};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::blob_auth::{Access, Grant};
use super::blob_store::{BlobMeta, HttpProps, check_container_name};
use super::blob_xml::element;
use super::{
    BlobError, ErrorCode, MAX_BLOB_NAME_CHARS, MAX_BLOCK_ID_BYTES, MAX_RESULTS, READ_CHUNK,
    bad_header, bad_query, from_ns, http_date, internal, not_implemented, parse_http_date,
    percent_decode_lossy, percent_decode_strict,
};

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) container: Option<String>,
    pub(super) blob: Option<String>,
}

pub(super) fn parse_target(raw_path: &str, account: &str) -> Result<Target, BlobError> {
    let invalid = |reason: String| BlobError::new(ErrorCode::InvalidUri).with("Reason", reason);
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let (acct, rest) = path.split_once('/').unwrap_or((path, ""));
    let acct = percent_decode_strict(acct).unwrap_or_default();
    if acct != account {
        return Err(invalid(format!(
            "this sandbox serves path-style URLs of the account '{account}' only: \
             http://HOST:PORT/{account}/CONTAINER/BLOB"
        )));
    }
    if rest.is_empty() {
        return Ok(Target {
            container: None,
            blob: None,
        });
    }
    let (container, blob) = match rest.split_once('/') {
        Some((c, b)) => (c, Some(b)),
        None => (rest, None),
    };
    let Some(container) = percent_decode_strict(container) else {
        return Err(invalid(
            "the container name is not valid percent-encoded UTF-8".into(),
        ));
    };
    check_container_name(&container)?;
    let blob = match blob.filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => {
            let Some(name) = percent_decode_strict(b) else {
                return Err(invalid(
                    "the blob name is not valid percent-encoded UTF-8".into(),
                ));
            };
            let n = name.chars().count();
            if n > MAX_BLOB_NAME_CHARS {
                return Err(BlobError::new(ErrorCode::InvalidResourceName).with(
                    "Reason",
                    format!("the blob name has {n} characters, at most {MAX_BLOB_NAME_CHARS} are allowed"),
                ));
            }
            Some(name)
        }
    };
    Ok(Target {
        container: Some(container),
        blob,
    })
}

/// Decoded query parameters (names lowercased; the first of repeated names wins).
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(raw: &str) -> Query {
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (n, v) = p.split_once('=').unwrap_or((p, ""));
                    (
                        percent_decode_lossy(n).to_ascii_lowercase(),
                        percent_decode_lossy(v),
                    )
                })
                .collect(),
        )
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The operations served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    ListContainers,
    CreateContainer,
    GetContainerProperties,
    DeleteContainer,
    ListBlobs,
    PutBlob,
    PutBlock,
    PutBlockList,
    GetBlockList,
    GetBlob,
    GetBlobProperties,
    DeleteBlob,
}

impl Op {
    pub(super) fn access(self) -> Access {
        match self {
            Op::ListContainers => Access::ListContainers,
            Op::CreateContainer => Access::CreateContainer,
            Op::GetContainerProperties => Access::ReadContainer,
            Op::DeleteContainer => Access::DeleteContainer,
            Op::ListBlobs => Access::ListBlobs,
            Op::PutBlob => Access::PutBlob,
            Op::PutBlock | Op::PutBlockList => Access::WriteBlocks,
            Op::GetBlockList | Op::GetBlob | Op::GetBlobProperties => Access::ReadBlob,
            Op::DeleteBlob => Access::DeleteBlob,
        }
    }
}

pub(super) fn route(
    method: &Method,
    target: &Target,
    q: &Query,
    headers: &HeaderMap,
) -> Result<Op, BlobError> {
    let verb =
        || BlobError::new(ErrorCode::UnsupportedHttpVerb).with("Reason", format!("{method}"));
    let comp = q.get("comp");
    let restype = q.get("restype");
    match (&target.container, &target.blob) {
        (None, _) => match (method, comp) {
            (&Method::GET, Some("list")) => Ok(Op::ListContainers),
            _ => Err(not_implemented(
                "account-level operations other than List Containers (GET ?comp=list)",
            )),
        },
        (Some(_), None) => match restype {
            Some("container") => match (method, comp) {
                (&Method::PUT, None) => Ok(Op::CreateContainer),
                (&Method::GET | &Method::HEAD, None) => Ok(Op::GetContainerProperties),
                (&Method::DELETE, None) => Ok(Op::DeleteContainer),
                (&Method::GET, Some("list")) => Ok(Op::ListBlobs),
                (_, None | Some("list")) => Err(verb()),
                (_, Some(other)) => Err(not_implemented(format!(
                    "the container operation comp={other}"
                ))),
            },
            Some(other) => Err(bad_query(
                "restype",
                other,
                "only restype=container is served",
            )),
            None => Err(BlobError::new(ErrorCode::MissingRequiredQueryParameter)
                .with("QueryParameterName", "restype")
                .with(
                    "Reason",
                    "container operations need restype=container (blobs of the $root container \
                     are not emulated)",
                )),
        },
        (Some(_), Some(_)) => {
            for p in ["snapshot", "versionid"] {
                if q.get(p).is_some() {
                    return Err(not_implemented(format!("blob {p}s")));
                }
            }
            match (method, comp) {
                (&Method::PUT, None) => {
                    if headers.contains_key("x-ms-copy-source") {
                        return Err(not_implemented("Copy Blob"));
                    }
                    Ok(Op::PutBlob)
                }
                (&Method::GET, None) => Ok(Op::GetBlob),
                (&Method::HEAD, None) => Ok(Op::GetBlobProperties),
                (&Method::DELETE, None) => Ok(Op::DeleteBlob),
                (&Method::PUT, Some("block")) => {
                    if headers.contains_key("x-ms-copy-source") {
                        return Err(not_implemented("Put Block From URL"));
                    }
                    Ok(Op::PutBlock)
                }
                (&Method::PUT, Some("blocklist")) => Ok(Op::PutBlockList),
                (&Method::GET, Some("blocklist")) => Ok(Op::GetBlockList),
                (_, None | Some("block") | Some("blocklist")) => Err(verb()),
                (_, Some(other)) => {
                    Err(not_implemented(format!("the blob operation comp={other}")))
                }
            }
        }
    }
}

/// A header's value as text (`None` if absent; non-ASCII bytes make it an InvalidHeaderValue).
pub(super) fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, BlobError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_string()))
            .map_err(|_| bad_header(name, "", "the value is not ASCII text")),
    }
}

pub(super) fn md5_header(headers: &HeaderMap, name: &str) -> Result<Option<[u8; 16]>, BlobError> {
    let Some(v) = header_text(headers, name)? else {
        return Ok(None);
    };
    if v.is_empty() {
        return Ok(None);
    }
    BASE64
        .decode(&v)
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .map(Some)
        .ok_or_else(|| {
            BlobError::new(ErrorCode::InvalidMd5)
                .with("HeaderName", name)
                .with("HeaderValue", v)
        })
}

pub(super) fn content_length(headers: &HeaderMap, limit: u64) -> Result<u64, BlobError> {
    let Some(v) = header_text(headers, "content-length")? else {
        return Err(BlobError::new(ErrorCode::MissingContentLengthHeader));
    };
    let n: u64 = v
        .parse()
        .map_err(|_| bad_header("Content-Length", &v, "not a number of bytes"))?;
    if n > limit {
        return Err(
            BlobError::new(ErrorCode::RequestBodyTooLarge).with("MaxLimit", limit.to_string())
        );
    }
    Ok(n)
}

/// The blob HTTP properties of Put Blob (standard headers, overridden by `x-ms-blob-*`) or Put
/// Block List (`x-ms-blob-*` only), and the `x-ms-meta-*` metadata.
pub(super) fn blob_props(
    headers: &HeaderMap,
    standard: bool,
) -> Result<(HttpProps, Vec<(String, String)>), BlobError> {
    let pick = |ms: &str, std_name: &str| -> Result<Option<String>, BlobError> {
        match header_text(headers, ms)? {
            Some(v) => Ok(Some(v)),
            None if standard => header_text(headers, std_name),
            None => Ok(None),
        }
    };
    let http = HttpProps {
        content_type: pick("x-ms-blob-content-type", "content-type")?
            .filter(|v| !v.is_empty())
            .or_else(|| Some("application/octet-stream".into())),
        content_encoding: pick("x-ms-blob-content-encoding", "content-encoding")?,
        content_language: pick("x-ms-blob-content-language", "content-language")?,
        cache_control: pick("x-ms-blob-cache-control", "cache-control")?,
        content_disposition: pick("x-ms-blob-content-disposition", "content-disposition")?,
        content_md5: md5_header(headers, "x-ms-blob-content-md5")?,
    };
    let mut metadata = Vec::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix("x-ms-meta-") else {
            continue;
        };
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(BlobError::new(ErrorCode::InvalidMetadata).with(
                "Reason",
                format!("'{key}' is not a valid metadata name (a C# identifier)"),
            ));
        }
        let value = value.to_str().map_err(|_| {
            BlobError::new(ErrorCode::InvalidMetadata)
                .with("Reason", format!("the value of '{key}' is not ASCII"))
        })?;
        metadata.push((key.to_string(), value.trim().to_string()));
    }
    Ok((http, metadata))
}

/// Conditional headers, checked against the blob as it is (`None`: it does not exist).
#[derive(Debug, Clone, Default)]
pub(super) struct Conditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<OffsetDateTime>,
    if_unmodified_since: Option<OffsetDateTime>,
}

impl Conditions {
    pub(super) fn parse(headers: &HeaderMap) -> Result<Conditions, BlobError> {
        let date = |name: &str| -> Result<Option<OffsetDateTime>, BlobError> {
            match header_text(headers, name)? {
                None => Ok(None),
                Some(v) => parse_http_date(&v)
                    .map(Some)
                    .ok_or_else(|| bad_header(name, &v, "not an RFC 1123 date")),
            }
        };
        Ok(Conditions {
            if_match: header_text(headers, "if-match")?,
            if_none_match: header_text(headers, "if-none-match")?,
            if_modified_since: date("if-modified-since")?,
            if_unmodified_since: date("if-unmodified-since")?,
        })
    }

    pub(super) fn etag_matches(list: &str, etag: &str) -> bool {
        list.split(',').any(|t| {
            let t = t.trim();
            let t = t.strip_prefix("W/").unwrap_or(t);
            t == "*" || t.trim_matches('"') == etag
        })
    }

    /// For writes: 412 ConditionNotMet, or 409 BlobAlreadyExists for `If-None-Match: *` on an
    /// existing blob.
    pub(super) fn check_write(&self, current: Option<&BlobMeta>) -> Result<(), BlobError> {
        let failed = || Err(BlobError::new(ErrorCode::ConditionNotMet));
        match current {
            None => {
                if self.if_match.is_some() || self.if_unmodified_since.is_some() {
                    return failed();
                }
            }
            Some(m) => {
                let modified = from_ns(m.modified_ns)
                    .replace_nanosecond(0)
                    .unwrap_or(from_ns(m.modified_ns));
                if let Some(list) = &self.if_match
                    && !Self::etag_matches(list, &m.etag)
                {
                    return failed();
                }
                if let Some(list) = &self.if_none_match
                    && Self::etag_matches(list, &m.etag)
                {
                    if list.trim() == "*" {
                        return Err(BlobError::new(ErrorCode::BlobAlreadyExists));
                    }
                    return failed();
                }
                if let Some(t) = self.if_modified_since
                    && modified <= t
                {
                    return failed();
                }
                if let Some(t) = self.if_unmodified_since
                    && modified > t
                {
                    return failed();
                }
            }
        }
        Ok(())
    }

    /// For reads of an existing blob: 412 for If-Match / If-Unmodified-Since, 304 for
    /// If-None-Match / If-Modified-Since.
    pub(super) fn check_read(&self, m: &BlobMeta) -> Result<(), BlobError> {
        let modified = from_ns(m.modified_ns)
            .replace_nanosecond(0)
            .unwrap_or(from_ns(m.modified_ns));
        if let Some(list) = &self.if_match
            && !Self::etag_matches(list, &m.etag)
        {
            return Err(BlobError::new(ErrorCode::ConditionNotMet));
        }
        if let Some(t) = self.if_unmodified_since
            && modified > t
        {
            return Err(BlobError::new(ErrorCode::ConditionNotMet));
        }
        if let Some(list) = &self.if_none_match
            && Self::etag_matches(list, &m.etag)
        {
            return Err(BlobError::new(ErrorCode::ConditionNotMet).with_status(304));
        }
        if let Some(t) = self.if_modified_since
            && modified <= t
        {
            return Err(BlobError::new(ErrorCode::ConditionNotMet).with_status(304));
        }
        Ok(())
    }
}

/// The precheck of a write: conditions, and whether a Create-only SAS may replace the blob.
pub(super) fn write_precheck(
    conditions: Conditions,
    grant: Grant,
) -> impl Fn(Option<&BlobMeta>) -> Result<(), BlobError> + Sync {
    move |current| {
        conditions.check_write(current)?;
        if current.is_some() && !grant.may_overwrite {
            return Err(BlobError::new(ErrorCode::AuthorizationPermissionMismatch).with(
                "Reason",
                "the SAS grants Create (c) but not Write (w): it may create blobs, not replace one",
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

/// A response being built. Header values that cannot be sent are dropped (with a warning).
pub(super) struct Reply {
    status: StatusCode,
    headers: HeaderMap,
}

impl Reply {
    pub(super) fn new(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
        }
    }

    pub(super) fn header(mut self, name: &str, value: impl AsRef<str>) -> Reply {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.as_ref()),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => tracing::warn!("sandbox blob service: cannot send the header {name}"),
        }
        self
    }

    pub(super) fn opt(self, name: &str, value: Option<&str>) -> Reply {
        match value {
            Some(v) => self.header(name, v),
            None => self,
        }
    }

    pub(super) fn body(self, body: Body) -> Response {
        let mut r = Response::new(body);
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        r
    }

    pub(super) fn empty(self) -> Response {
        self.header("content-length", "0").body(Body::empty())
    }

    pub(super) fn bytes(self, data: impl Into<Bytes>) -> Response {
        let data: Bytes = data.into();
        self.header("content-length", data.len().to_string())
            .body(Body::from(data))
    }

    pub(super) fn xml(self, xml: String) -> Response {
        self.header("content-type", "application/xml").bytes(xml)
    }

    /// ETag, Last-Modified.
    pub(super) fn versioned(self, etag: &str, modified_ns: i64) -> Reply {
        self.header("etag", format!("\"{etag}\""))
            .header("last-modified", http_date(from_ns(modified_ns)))
    }

    /// The properties Get Blob and Get Blob Properties return.
    pub(super) fn blob_headers(mut self, m: &BlobMeta) -> Reply {
        self = self
            .versioned(&m.etag, m.modified_ns)
            .header("x-ms-creation-time", http_date(from_ns(m.created_ns)))
            .header("x-ms-blob-type", "BlockBlob")
            .header("x-ms-lease-status", "unlocked")
            .header("x-ms-lease-state", "available")
            .header("x-ms-server-encrypted", "true")
            .header("accept-ranges", "bytes")
            .opt("content-type", m.http.content_type.as_deref())
            .opt("content-encoding", m.http.content_encoding.as_deref())
            .opt("content-language", m.http.content_language.as_deref())
            .opt("cache-control", m.http.cache_control.as_deref())
            .opt("content-disposition", m.http.content_disposition.as_deref());
        if !m.blocks.is_empty() {
            self = self.header(
                "x-ms-blob-committed-block-count",
                m.blocks.len().to_string(),
            );
        }
        for (k, v) in &m.metadata {
            self = self.header(&format!("x-ms-meta-{k}"), v);
        }
        self
    }
}

pub(super) fn decode_block_id(text: &str) -> Result<Vec<u8>, BlobError> {
    let bad = |reason: &str| {
        BlobError::new(ErrorCode::InvalidBlockId)
            .with("QueryParameterName", "blockid")
            .with("QueryParameterValue", text)
            .with("Reason", reason)
    };
    let id = BASE64
        .decode(text.as_bytes())
        .map_err(|_| bad("the block id is not base64"))?;
    if id.is_empty() {
        return Err(bad("the block id is empty"));
    }
    if id.len() > MAX_BLOCK_ID_BYTES {
        return Err(bad("the block id is longer than 64 bytes before encoding"));
    }
    Ok(id)
}

/// `prefix`, `marker` (decoded) and `maxresults` of a List request.
pub(super) fn list_params(q: &Query) -> Result<(String, Option<String>, usize), BlobError> {
    let prefix = q.get("prefix").unwrap_or("").to_string();
    let marker = match q.get("marker").filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => Some(decode_marker(m).ok_or_else(|| {
            bad_query(
                "marker",
                m,
                "not a marker this service returned as NextMarker",
            )
        })?),
    };
    let max = match q.get("maxresults") {
        None => MAX_RESULTS,
        Some(v) => {
            let n: i64 = v
                .parse()
                .map_err(|_| bad_query("maxresults", v, "not a number"))?;
            if n <= 0 {
                return Err(BlobError::new(ErrorCode::OutOfRangeQueryParameterValue)
                    .with("QueryParameterName", "maxresults")
                    .with("QueryParameterValue", v)
                    .with("MinimumAllowed", "1")
                    .with("MaximumAllowed", MAX_RESULTS.to_string()));
            }
            usize::try_from(n).unwrap_or(MAX_RESULTS).min(MAX_RESULTS)
        }
    };
    Ok((prefix, marker, max))
}

pub(super) fn echo_list_params(xml: &mut String, q: &Query) {
    for (param, tag) in [
        ("prefix", "Prefix"),
        ("marker", "Marker"),
        ("maxresults", "MaxResults"),
    ] {
        if let Some(v) = q.get(param) {
            element(xml, tag, v);
        }
    }
}

/// Markers are opaque to clients: the name to resume at, base64 (URL-safe alphabet).
pub(super) fn encode_marker(name: String) -> String {
    format!(
        "2!{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name.as_bytes())
    )
}

pub(super) fn decode_marker(m: &str) -> Option<String> {
    let raw = m.strip_prefix("2!")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The range asked for: `x-ms-range` (a bad one is an error) or else `Range` (a bad one is
/// ignored, as HTTP says). `bytes=START-` or `bytes=START-END`.
pub(super) fn requested_range(
    headers: &HeaderMap,
) -> Result<Option<(u64, Option<u64>)>, BlobError> {
    fn parse(v: &str) -> Option<(u64, Option<u64>)> {
        let spec = v.trim().strip_prefix("bytes=")?;
        let (a, b) = spec.split_once('-')?;
        let start: u64 = a.trim().parse().ok()?;
        let end = match b.trim() {
            "" => None,
            e => Some(e.parse::<u64>().ok()?),
        };
        match end {
            Some(e) if e < start => None,
            _ => Some((start, end)),
        }
    }
    if let Some(v) = header_text(headers, "x-ms-range")? {
        return parse(&v).map(Some).ok_or_else(|| {
            bad_header(
                "x-ms-range",
                &v,
                "use bytes=START-END or bytes=START- (START <= END)",
            )
        });
    }
    Ok(header_text(headers, "range")?.and_then(|v| parse(&v)))
}

/// Streams a request body into `path`, at most `limit` bytes; returns its size and MD5.
pub(super) async fn receive_body(
    body: Body,
    path: &std::path::Path,
    limit: u64,
) -> Result<(u64, [u8; 16], u64), BlobError> {
    let file = tokio::fs::File::create(path)
        .await
        .map_err(|e| internal("cannot create a temporary file", e))?;
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut stream = body.into_data_stream();
    let mut hasher = Md5::new();
    let mut crc = crc64fast_nvme::Digest::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| BlobError::new(ErrorCode::IncompleteBody).with("Reason", e.to_string()))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(
                BlobError::new(ErrorCode::RequestBodyTooLarge).with("MaxLimit", limit.to_string())
            );
        }
        hasher.update(&chunk);
        crc.write(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| internal("cannot write a temporary file", e))?;
    }
    file.flush()
        .await
        .map_err(|e| internal("cannot write a temporary file", e))?;
    let mut inner = file.into_inner();
    inner
        .flush()
        .await
        .map_err(|e| internal("cannot write a temporary file", e))?;
    Ok((size, hasher.finalize().into(), crc.sum64()))
}

/// The `x-ms-content-crc64` header (base64 of 8 little-endian bytes), if present.
pub(super) fn crc64_header(headers: &HeaderMap) -> Result<Option<u64>, BlobError> {
    let Some(v) = headers.get("x-ms-content-crc64") else {
        return Ok(None);
    };
    let bytes = v
        .to_str()
        .ok()
        .and_then(|t| {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, t.trim()).ok()
        })
        .filter(|b| b.len() == 8)
        .ok_or_else(|| {
            BlobError::new(ErrorCode::InvalidHeaderValue).with("HeaderName", "x-ms-content-crc64")
        })?;
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes);
    Ok(Some(u64::from_le_bytes(a)))
}

/// Reads and discards a body, at most `limit` bytes for at most `time` (then gives up: the
/// connection will close).
pub(super) async fn drain_body(body: Body, limit: u64, time: std::time::Duration) {
    let drain = async {
        let mut stream = body.into_data_stream();
        let mut n = 0u64;
        while let Some(Ok(chunk)) = stream.next().await {
            n += chunk.len() as u64;
            if n > limit {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(time, drain).await;
}

/// Reads a small request body into memory (RequestBodyTooLarge beyond `limit`).
pub(super) async fn read_small_body(body: Body, limit: u64) -> Result<Vec<u8>, BlobError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| BlobError::new(ErrorCode::IncompleteBody).with("Reason", e.to_string()))?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(
                BlobError::new(ErrorCode::RequestBodyTooLarge).with("MaxLimit", limit.to_string())
            );
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A response body reading `len` bytes of `file` from `start`, in chunks.
pub(super) fn file_body(file: std::fs::File, start: u64, len: u64) -> Body {
    let stream = futures::stream::try_unfold(
        (None::<tokio::fs::File>, Some(file), len),
        move |(open, std_file, remaining)| async move {
            if remaining == 0 {
                return Ok(None);
            }
            let mut f = match (open, std_file) {
                (Some(f), _) => f,
                (None, Some(sf)) => {
                    let mut f = tokio::fs::File::from_std(sf);
                    tokio::io::AsyncSeekExt::seek(&mut f, std::io::SeekFrom::Start(start)).await?;
                    f
                }
                (None, None) => return Ok(None),
            };
            let want = remaining.min(READ_CHUNK as u64) as usize;
            let mut buf = vec![0u8; want];
            let n = f.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the blob file is shorter than its recorded size",
                ));
            }
            buf.truncate(n);
            Ok::<_, std::io::Error>(Some((
                Bytes::from(buf),
                (Some(f), None, remaining - n as u64),
            )))
        },
    );
    Body::from_stream(stream)
}
