//! Authorization for the sandbox Blob service, as Blob Storage does it: a SAS in the query string
//! (service SAS `sr=c`/`sr=b` checked with the sandbox's own [`verify_service_sas`], account SAS `ss`/`srt` checked
//! here with the "Create an account SAS" string-to-sign) or `Authorization: SharedKey` (the
//! "Authorize with Shared Key" string-to-sign for the Blob service, version 2015-02-21 and later).
//!
//! Order of checks, as Azure reports them: the signature (else 403 AuthenticationFailed), the
//! validity window (AuthenticationFailed), protocol and source IP
//! (AuthorizationProtocolMismatch / AuthorizationSourceIPMismatch), the service and resource
//! type of an account SAS (AuthorizationServiceMismatch / AuthorizationResourceTypeMismatch), then
//! the permission letters (AuthorizationPermissionMismatch). Error details name what is wrong and
//! never quote a signature or the key.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use super::{BlobError, ErrorCode, parse_http_date, percent_decode_lossy};
use crate::sas::{SasFields, redact_sig, verify_service_sas};

type HmacSha256 = Hmac<Sha256>;

/// How far a Shared Key request's date may be from the server's clock (Azure: 15 minutes).
const SHARED_KEY_SKEW: Duration = Duration::minutes(15);
/// First account SAS version whose string-to-sign has the encryption scope line.
const ACCOUNT_SAS_SCOPE_VERSION: &str = "2020-12-06";
/// Oldest account SAS version (account SAS appeared in 2015-04-05).
const MIN_ACCOUNT_SAS_VERSION: &str = "2015-04-05";

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Create Container.
    CreateContainer,
    /// Get Container Properties.
    ReadContainer,
    /// Delete Container.
    DeleteContainer,
    /// List Blobs.
    ListBlobs,
    /// List Containers.
    ListContainers,
    /// Get Blob, Get Blob Properties, Get Block List.
    ReadBlob,
    /// Put Block, Put Block List.
    WriteBlocks,
    /// Put Blob.
    PutBlob,
    /// Delete Blob.
    DeleteBlob,
}

impl Access {
    /// The account SAS resource type (`srt` letter) the operation needs.
    fn resource_type(self) -> char {
        match self {
            Access::ListContainers => 's',
            Access::CreateContainer
            | Access::ReadContainer
            | Access::DeleteContainer
            | Access::ListBlobs => 'c',
            Access::ReadBlob | Access::WriteBlocks | Access::PutBlob | Access::DeleteBlob => 'o',
        }
    }

    /// Permission letters of which one suffices, for an account SAS.
    fn account_letters(self) -> &'static [char] {
        match self {
            Access::CreateContainer => &['c', 'w'],
            Access::ReadContainer | Access::ReadBlob => &['r'],
            Access::DeleteContainer | Access::DeleteBlob => &['d'],
            Access::ListBlobs | Access::ListContainers => &['l'],
            Access::WriteBlocks | Access::PutBlob => &['w', 'c'],
        }
    }

    /// Permission letters of which one suffices, for a service SAS; empty if a service SAS can
    /// never do it.
    fn service_letters(self) -> &'static [char] {
        match self {
            Access::CreateContainer | Access::ListContainers => &[],
            Access::ReadContainer | Access::ReadBlob => &['r'],
            Access::DeleteContainer | Access::DeleteBlob => &['d'],
            Access::ListBlobs => &['l'],
            Access::WriteBlocks | Access::PutBlob => &['w', 'c'],
        }
    }
}

/// What the credential allows beyond the operation itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// False when only Create (`c`) was granted: a write may create a blob, not replace one.
    pub may_overwrite: bool,
}

/// The account the service holds and its key.
pub(crate) struct Credentials<'a> {
    pub account: &'a str,
    /// The key as base64 (for [`verify_service_sas`]).
    pub key_b64: &'a str,
    /// The decoded key.
    pub key: &'a [u8],
}

/// The parts of a request authorization looks at.
pub(crate) struct RequestView<'a> {
    pub method: &'a str,
    pub headers: &'a HeaderMap,
    /// The path as sent (still percent-encoded).
    pub raw_path: &'a str,
    /// The query as sent, without '?'.
    pub raw_query: &'a str,
    /// Decoded container name, if the request addresses one.
    pub container: Option<&'a str>,
    /// Decoded blob name, if the request addresses one.
    pub blob: Option<&'a str>,
    /// The client's address, when known.
    pub peer: Option<IpAddr>,
    /// The time of the check.
    pub now: OffsetDateTime,
}

fn auth_failed(detail: impl Into<String>) -> BlobError {
    BlobError::new(ErrorCode::AuthenticationFailed).with("AuthenticationErrorDetail", detail)
}

/// Authorizes a request for `access`.
pub(crate) fn authorize(
    creds: &Credentials<'_>,
    req: &RequestView<'_>,
    access: Access,
) -> Result<Grant, BlobError> {
    if query_has(req.raw_query, "sig") {
        return authorize_sas(creds, req, access);
    }
    match req.headers.get("authorization") {
        Some(value) => {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            authorize_shared_key(creds, req, &value)?;
            Ok(Grant {
                may_overwrite: true,
            })
        }
        None => Err(auth_failed(
            "the request carries no credentials: sign it with the account key \
             (Authorization: SharedKey) or add a SAS to the query string",
        )),
    }
}

fn query_has(raw_query: &str, name: &str) -> bool {
    raw_query.split('&').any(|p| {
        let n = p.split_once('=').map_or(p, |(n, _)| n);
        percent_decode_lossy(n).eq_ignore_ascii_case(name)
    })
}

// ---------------------------------------------------------------------------------------------
// SAS

fn authorize_sas(
    creds: &Credentials<'_>,
    req: &RequestView<'_>,
    access: Access,
) -> Result<Grant, BlobError> {
    let info = SasFields::parse(req.raw_query);
    if info.is_user_delegation() {
        return Err(auth_failed(
            "user delegation SAS (skoid=...) are not accepted here: the sandbox has no Azure AD; \
             sign a service or account SAS with the account key",
        ));
    }
    if let Some(si) = info.get("si") {
        return Err(auth_failed(format!(
            "the stored access policy si={si} does not exist on this container"
        )));
    }
    if info.is_account_sas() {
        verify_account_sas(creds, req.raw_query)?;
    } else {
        let Some(container) = req.container else {
            return Err(auth_failed(
                "a service SAS (sr=c or sr=b) cannot authorize an account-level request: use an \
                 account SAS (ss=b&srt=s...)",
            ));
        };
        verify_service_sas(
            req.raw_query,
            creds.account,
            creds.key_b64,
            container,
            req.blob,
        )
        .map_err(|e| auth_failed(format!("Signature did not match: {e}")))?;
    }
    match info.expiry() {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(auth_failed(
                "the SAS has no expiry (se=): an ad hoc SAS must have one",
            ));
        }
        Err(e) => return Err(auth_failed(e)),
    }
    info.check_time(req.now).map_err(|e| {
        auth_failed(format!(
            "Signature not valid in the specified time frame: {e}"
        ))
    })?;
    check_protocol_and_ip(&info, req.peer)?;

    let perms = info.permissions();
    let letters =
        if info.is_account_sas() {
            let ss = info.line("ss");
            if !ss.contains('b') {
                return Err(BlobError::new(ErrorCode::AuthorizationServiceMismatch).with(
                "Reason",
                format!("the account SAS has ss={ss}, which does not include the blob service (b)"),
            ));
            }
            let srt = info.line("srt");
            let needed = access.resource_type();
            if !srt.contains(needed) {
                return Err(
                BlobError::new(ErrorCode::AuthorizationResourceTypeMismatch).with(
                    "Reason",
                    format!(
                        "this operation needs the resource type '{needed}' ({}), the account SAS \
                         has srt={srt}",
                        match needed {
                            's' => "service",
                            'c' => "container",
                            _ => "object",
                        }
                    ),
                ),
            );
            }
            access.account_letters()
        } else {
            access.service_letters()
        };
    if !letters.iter().any(|c| perms.contains(*c)) {
        let reason = if letters.is_empty() {
            "a service SAS cannot do this: use an account SAS or Shared Key".to_string()
        } else {
            format!(
                "this operation needs one of the permissions '{}', the SAS grants sp={perms}",
                letters.iter().collect::<String>()
            )
        };
        return Err(
            BlobError::new(ErrorCode::AuthorizationPermissionMismatch).with("Reason", reason)
        );
    }
    Ok(Grant {
        may_overwrite: perms.contains('w'),
    })
}

fn check_protocol_and_ip(info: &SasFields, peer: Option<IpAddr>) -> Result<(), BlobError> {
    if let Some(spr) = info.get("spr")
        && !spr.split(',').any(|p| p.trim() == "http")
    {
        return Err(
            BlobError::new(ErrorCode::AuthorizationProtocolMismatch).with(
                "Reason",
                format!("the SAS allows spr={spr} only and this request came over http"),
            ),
        );
    }
    if let Some(sip) = info.get("sip") {
        let (low, high) = match sip.split_once('-') {
            Some((a, b)) => (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>()),
            None => (sip.trim().parse::<IpAddr>(), sip.trim().parse::<IpAddr>()),
        };
        let (Ok(low), Ok(high)) = (low, high) else {
            return Err(auth_failed(format!(
                "sip={sip} is not an IP address or range"
            )));
        };
        if let Some(peer) = peer {
            let peer = match peer {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
                v4 => v4,
            };
            if peer < low || peer > high {
                return Err(
                    BlobError::new(ErrorCode::AuthorizationSourceIPMismatch).with(
                        "Reason",
                        format!("the SAS allows sip={sip}, the request came from {peer}"),
                    ),
                );
            }
        }
    }
    Ok(())
}

/// Decoded query parameters, names lowercased, values in order of appearance.
fn query_params(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode_lossy(n).to_ascii_lowercase(),
                percent_decode_lossy(v),
            )
        })
        .collect()
}

/// Verifies an account SAS signature ("Create an account SAS": account, sp, ss, srt, st, se, sip,
/// spr, sv and, from 2020-12-06, ses; each followed by a newline).
fn verify_account_sas(creds: &Credentials<'_>, raw_query: &str) -> Result<(), BlobError> {
    let params = query_params(raw_query);
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let sv = get("sv");
    let well_formed = sv.len() == 10
        && sv.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed || sv < MIN_ACCOUNT_SAS_VERSION {
        return Err(auth_failed(format!(
            "sv={sv} is not a signed version of an account SAS (2015-04-05 or later, YYYY-MM-DD)"
        )));
    }
    let mut fields = vec![
        creds.account,
        get("sp"),
        get("ss"),
        get("srt"),
        get("st"),
        get("se"),
        get("sip"),
        get("spr"),
        sv,
    ];
    if sv >= ACCOUNT_SAS_SCOPE_VERSION {
        fields.push(get("ses"));
    }
    let mut sts = String::new();
    for f in fields {
        sts.push_str(f);
        sts.push('\n');
    }
    let sig = get("sig");
    if !check_signature(creds.key, &sts, sig) {
        return Err(auth_failed(
            "Signature did not match: the account SAS was altered, or signed for another account \
             or with another key",
        ));
    }
    Ok(())
}

/// Compares a base64 signature with the HMAC-SHA256 of `sts`, in constant time.
fn check_signature(key: &[u8], sts: &str, sig_b64: &str) -> bool {
    let Ok(sig) = BASE64.decode(sig_b64.trim()) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(sts.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

// ---------------------------------------------------------------------------------------------
// Shared Key

fn authorize_shared_key(
    creds: &Credentials<'_>,
    req: &RequestView<'_>,
    authorization: &str,
) -> Result<(), BlobError> {
    let Some(rest) = authorization.trim().strip_prefix("SharedKey ") else {
        let scheme = authorization.split_whitespace().next().unwrap_or("");
        return Err(auth_failed(format!(
            "the Authorization scheme '{scheme}' is not supported here: use SharedKey or a SAS"
        )));
    };
    let Some((account, sig)) = rest.trim().split_once(':') else {
        return Err(auth_failed(
            "the Authorization header is not 'SharedKey account:signature'",
        ));
    };
    if account != creds.account {
        return Err(auth_failed(format!(
            "the request is signed for the account '{account}', this is '{}'",
            creds.account
        )));
    }
    let date_text = header(req.headers, "x-ms-date");
    let date_text = if date_text.is_empty() {
        header(req.headers, "date")
    } else {
        date_text
    };
    if date_text.is_empty() {
        return Err(auth_failed(
            "a Shared Key request needs an x-ms-date (or Date) header",
        ));
    }
    let Some(date) = parse_http_date(&date_text) else {
        return Err(auth_failed(format!(
            "the request date '{date_text}' is not an RFC 1123 date"
        )));
    };
    if (req.now - date).abs() > SHARED_KEY_SKEW {
        return Err(auth_failed(format!(
            "Request date header too old or too far in the future: '{date_text}' (the server's \
             clock and the request's may differ by 15 minutes at most)"
        )));
    }
    let sts = shared_key_string_to_sign(req, creds.account, HeaderOrder::Azure);
    if check_signature(creds.key, &sts, sig) {
        return Ok(());
    }
    let ordinal = shared_key_string_to_sign(req, creds.account, HeaderOrder::Ordinal);
    if ordinal != sts && check_signature(creds.key, &ordinal, sig) {
        return Ok(());
    }
    Err(auth_failed(format!(
        "The MAC signature found in the HTTP request is not the same as any computed signature. \
         Server used following string to sign: '{}'.",
        shown_string_to_sign(&sts)
    )))
}

/// The string-to-sign as an error detail may show it: newlines as `\n`, values of headers that
/// carry secrets (customer-provided keys, copy sources with a SAS) replaced.
fn shown_string_to_sign(sts: &str) -> String {
    const SECRET_HEADERS: [&str; 3] = [
        "x-ms-encryption-key:",
        "x-ms-copy-source-authorization:",
        "x-ms-copy-source:",
    ];
    sts.split('\n')
        .map(
            |line| match SECRET_HEADERS.iter().find(|h| line.starts_with(**h)) {
                Some(h) => format!("{h}REDACTED"),
                None => redact_sig(line),
            },
        )
        .collect::<Vec<_>>()
        .join("\\n")
}

fn header(headers: &HeaderMap, name: &str) -> String {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
        .collect();
    values.join(",")
}

/// How the `x-ms-` headers are sorted in the string-to-sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderOrder {
    /// The service's collation (what Azure and its SDKs use).
    Azure,
    /// Plain byte order (what the documentation describes; some clients use it).
    Ordinal,
}

/// The Shared Key string-to-sign of a Blob service request (version 2015-02-21 and later).
pub(crate) fn shared_key_string_to_sign(
    req: &RequestView<'_>,
    account: &str,
    order: HeaderOrder,
) -> String {
    let mut sts = String::new();
    sts.push_str(&req.method.to_ascii_uppercase());
    sts.push('\n');
    for name in [
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-type",
        "date",
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    ] {
        let v = header(req.headers, name);
        if !(name == "content-length" && v == "0") {
            sts.push_str(&v);
        }
        sts.push('\n');
    }
    let mut ms: Vec<(String, String)> = req
        .headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-ms-"))
        .map(|k| (k.as_str().to_string(), header(req.headers, k.as_str())))
        .collect();
    match order {
        HeaderOrder::Azure => ms.sort_by(|a, b| azure_collation(&a.0, &b.0)),
        HeaderOrder::Ordinal => ms.sort(),
    }
    for (n, v) in ms {
        sts.push_str(&n);
        sts.push(':');
        sts.push_str(&v);
        sts.push('\n');
    }
    sts.push('/');
    sts.push_str(account);
    sts.push_str(req.raw_path);
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, v) in query_params(req.raw_query) {
        params.entry(n).or_default().push(v);
    }
    for (n, mut vs) in params {
        vs.sort();
        sts.push('\n');
        sts.push_str(&n);
        sts.push(':');
        sts.push_str(&vs.join(","));
    }
    sts
}

// The service's header-name collation: two levels of weights for ASCII, as published in the
// Azure Storage SDKs (azure-storage-blob's `_shared/authentication.py`), where '-' weighs nothing
// at the first level.
const COLLATION_LEVEL0: [u16; 128] = [
    0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
    0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x71c, 0x0, 0x71f, 0x721,
    0x723, 0x725, 0x0, 0x0, 0x0, 0x72d, 0x803, 0x0, 0x0, 0x733, 0x0, 0xd03, 0xd1a, 0xd1c, 0xd1e,
    0xd20, 0xd22, 0xd24, 0xd26, 0xd28, 0xd2a, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0xe02, 0xe09,
    0xe0a, 0xe1a, 0xe21, 0xe23, 0xe25, 0xe2c, 0xe32, 0xe35, 0xe36, 0xe48, 0xe51, 0xe70, 0xe7c,
    0xe7e, 0xe89, 0xe8a, 0xe91, 0xe99, 0xe9f, 0xea2, 0xea4, 0xea6, 0xea7, 0xea9, 0x0, 0x0, 0x0,
    0x743, 0x744, 0x748, 0xe02, 0xe09, 0xe0a, 0xe1a, 0xe21, 0xe23, 0xe25, 0xe2c, 0xe32, 0xe35,
    0xe36, 0xe48, 0xe51, 0xe70, 0xe7c, 0xe7e, 0xe89, 0xe8a, 0xe91, 0xe99, 0xe9f, 0xea2, 0xea4,
    0xea6, 0xea7, 0xea9, 0x0, 0x74c, 0x0, 0x750, 0x0,
];
const COLLATION_LEVEL4: [u16; 128] = [
    0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
    0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
    0x0, 0x8012, 0x0, 0x0, 0x0, 0x0, 0x0, 0x8212, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
    0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
    0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
    0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
    0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
];

/// Compares two header names as the service does (a port of the SDKs' two-level comparison).
/// Names outside ASCII compare by bytes.
pub(crate) fn azure_collation(lhs: &str, rhs: &str) -> Ordering {
    if !lhs.is_ascii() || !rhs.is_ascii() {
        return lhs.cmp(rhs);
    }
    let (l, r) = (lhs.as_bytes(), rhs.as_bytes());
    let tables = [&COLLATION_LEVEL0, &COLLATION_LEVEL4];
    let (mut level, mut i, mut j) = (0usize, 0usize, 0usize);
    while level < tables.len() {
        if level == tables.len() - 1 && i != j {
            return if i > j {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let table = tables[level];
        let w1 = l.get(i).map_or(1, |&c| table[usize::from(c & 0x7f)]);
        let w2 = r.get(j).map_or(1, |&c| table[usize::from(c & 0x7f)]);
        if w1 == 1 && w2 == 1 {
            i = 0;
            j = 0;
            level += 1;
        } else if w1 == w2 {
            i += 1;
            j += 1;
        } else if w1 == 0 {
            i += 1;
        } else if w2 == 0 {
            j += 1;
        } else {
            return w1.cmp(&w2);
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{DEV_ACCOUNT, DEV_KEY};
    use crate::sas::{sign_account_sas, sign_container_sas};
    use axum::http::HeaderValue;
    use time::macros::datetime;

    fn key() -> Vec<u8> {
        BASE64.decode(DEV_KEY).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(n.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    struct Req {
        method: &'static str,
        headers: HeaderMap,
        path: &'static str,
        query: String,
        container: Option<&'static str>,
        blob: Option<&'static str>,
        now: OffsetDateTime,
        peer: Option<IpAddr>,
    }

    impl Req {
        fn new(method: &'static str, path: &'static str, query: &str) -> Req {
            Req {
                method,
                headers: HeaderMap::new(),
                path,
                query: query.to_string(),
                container: Some("c1"),
                blob: None,
                now: datetime!(2024-01-15 10:00 UTC),
                peer: Some("127.0.0.1".parse().unwrap()),
            }
        }

        fn check(&self, access: Access) -> Result<Grant, BlobError> {
            let k = key();
            let creds = Credentials {
                account: DEV_ACCOUNT,
                key_b64: DEV_KEY,
                key: &k,
            };
            let view = RequestView {
                method: self.method,
                headers: &self.headers,
                raw_path: self.path,
                raw_query: &self.query,
                container: self.container,
                blob: self.blob,
                peer: self.peer,
                now: self.now,
            };
            authorize(&creds, &view, access)
        }
    }

    fn boxed(mut r: Req) -> Req {
        r.container = Some("box1");
        r
    }

    fn code(r: Result<Grant, BlobError>) -> ErrorCode {
        r.unwrap_err().code
    }

    /// Signatures computed by the Python SDK's own SharedKeyCredentialPolicy (azure-storage-blob
    /// 12.31.1) for these exact requests.
    #[test]
    fn shared_key_matches_the_python_sdk() {
        let date = "Mon, 15 Jan 2024 10:00:00 GMT";
        let mut r = Req::new(
            "PUT",
            "/devstoreaccount1/c1/db%20x/a.bak",
            "comp=blocklist&timeout=30",
        );
        r.blob = Some("db x/a.bak");
        r.headers = headers(&[
            ("x-ms-date", date),
            ("x-ms-version", "2025-11-05"),
            ("x-ms-blob-content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("x-ms-meta-ab", "1"),
            ("x-ms-meta-a-c", "2"),
            ("x-ms-client-request-id", "abc"),
            ("content-length", "120"),
            ("content-type", "application/xml"),
            ("if-none-match", "*"),
            (
                "authorization",
                "SharedKey devstoreaccount1:AzI0w/fGAar49KTNkJTy9Ch11uuotc9LZH/cSOheJHs=",
            ),
        ]);
        assert_eq!(
            r.check(Access::WriteBlocks).unwrap(),
            Grant {
                may_overwrite: true
            }
        );
        // The service's collation puts x-ms-meta-ab before x-ms-meta-a-c (byte order would not).
        assert_eq!(
            azure_collation("x-ms-meta-ab", "x-ms-meta-a-c"),
            Ordering::Less
        );
        assert_eq!(azure_collation("x-ms-date", "x-ms-version"), Ordering::Less);
        assert_eq!(
            azure_collation("x-ms-blob-type", "x-ms-blob-type"),
            Ordering::Equal
        );

        let mut r = Req::new(
            "GET",
            "/devstoreaccount1/c1",
            "restype=container&comp=list&prefix=db%2F&maxresults=2",
        );
        r.headers = headers(&[
            ("x-ms-date", date),
            ("x-ms-version", "2025-11-05"),
            (
                "authorization",
                "SharedKey devstoreaccount1:xMiXBqtj3U7KEbOI4Iblx/1RNAbS5rGC4M0qwrD9JB0=",
            ),
        ]);
        r.check(Access::ListBlobs).unwrap();
        // Another query: the signature no longer matches, and the detail shows the server's
        // string-to-sign, never the signature.
        r.query = "restype=container&comp=list&prefix=db%2F&maxresults=3".into();
        let err = r.check(Access::ListBlobs).unwrap_err();
        assert_eq!(err.code, ErrorCode::AuthenticationFailed);
        let detail = &err.details[0].1;
        assert!(detail.contains("maxresults:3"), "{detail}");
        assert!(!detail.contains("xMiXBqtj"), "{detail}");

        let mut r = Req::new("GET", "/devstoreaccount1/c1/x", "");
        r.blob = Some("x");
        r.headers = headers(&[
            ("x-ms-date", date),
            ("x-ms-version", "2025-11-05"),
            ("content-length", "0"),
            ("x-ms-range", "bytes=0-99"),
            (
                "authorization",
                "SharedKey devstoreaccount1:wO3PLnPm9M6xwJll0/wmowaZuivpzP9xPEUFOY3UH+M=",
            ),
        ]);
        r.check(Access::ReadBlob).unwrap();
        // The same request 20 minutes later: too old.
        r.now = datetime!(2024-01-15 10:20 UTC);
        let err = r.check(Access::ReadBlob).unwrap_err();
        assert_eq!(err.code, ErrorCode::AuthenticationFailed);
        assert!(err.details[0].1.contains("too old"), "{err}");
    }

    #[test]
    fn shared_key_refusals() {
        let mut r = Req::new("GET", "/devstoreaccount1/c1", "restype=container");
        assert_eq!(
            code(r.check(Access::ReadContainer)),
            ErrorCode::AuthenticationFailed
        );
        for auth in [
            "Bearer abc",
            "SharedKey nocolon",
            "SharedKey otheraccount:AAAA",
            "SharedKey devstoreaccount1:!!notbase64",
            "SharedKeyLite devstoreaccount1:AAAA",
        ] {
            r.headers = headers(&[
                ("x-ms-date", "Mon, 15 Jan 2024 10:00:00 GMT"),
                ("authorization", auth),
            ]);
            assert_eq!(
                code(r.check(Access::ReadContainer)),
                ErrorCode::AuthenticationFailed,
                "{auth}"
            );
        }
        // The detail shows the string-to-sign, without values that carry secrets.
        r.headers = headers(&[
            ("x-ms-date", "Mon, 15 Jan 2024 10:00:00 GMT"),
            ("x-ms-encryption-key", "c2VjcmV0LWtleQ=="),
            ("x-ms-meta-link", "https://a/b?sv=1&sig=c2VjcmV0"),
            ("authorization", "SharedKey devstoreaccount1:AAAA"),
        ]);
        let err = r.check(Access::ReadContainer).unwrap_err();
        let detail = &err.details[0].1;
        assert!(detail.contains("x-ms-encryption-key:REDACTED"), "{detail}");
        assert!(!detail.contains("c2VjcmV0"), "{detail}");
        assert!(detail.contains("GET\\n"), "{detail}");
        // No date at all.
        r.headers = headers(&[("authorization", "SharedKey devstoreaccount1:AAAA")]);
        let err = r.check(Access::ReadContainer).unwrap_err();
        assert!(err.details[0].1.contains("x-ms-date"), "{err}");
    }

    /// Account SAS made by the Python SDK's generate_account_sas (sv=2026-10-06).
    #[test]
    fn account_sas_matches_the_python_sdk() {
        let token = "st=2024-01-01T00%3A00%3A00Z&se=2024-01-31T00%3A00%3A00Z&sp=rlc&sv=2026-10-06\
                     &ss=b&srt=co&sig=1bGy8mig3OcHx9axUdVKBpsnltlQaK3rdEdf%2BEWDkBk%3D";
        let r = Req::new(
            "GET",
            "/devstoreaccount1/c1",
            &format!("restype=container&comp=list&{token}"),
        );
        r.check(Access::ListBlobs).unwrap();
        // Create-only for blobs: may create, not overwrite.
        let mut b = Req::new("PUT", "/devstoreaccount1/c1/x", token);
        b.blob = Some("x");
        assert_eq!(
            b.check(Access::PutBlob).unwrap(),
            Grant {
                may_overwrite: false
            }
        );
        assert_eq!(
            code(b.check(Access::DeleteBlob)),
            ErrorCode::AuthorizationPermissionMismatch
        );
        // srt=co has no service type.
        let mut s = Req::new("GET", "/devstoreaccount1", &format!("comp=list&{token}"));
        s.container = None;
        assert_eq!(
            code(s.check(Access::ListContainers)),
            ErrorCode::AuthorizationResourceTypeMismatch
        );
        // Tampered: another permission.
        let t = r.query.replace("sp=rlc", "sp=rlcw");
        let r2 = Req::new("GET", "/devstoreaccount1/c1", &t);
        assert_eq!(
            code(r2.check(Access::ListBlobs)),
            ErrorCode::AuthenticationFailed
        );
        // Expired, not yet valid.
        let mut late = Req::new("GET", "/devstoreaccount1/c1", &r.query);
        late.now = datetime!(2024-02-01 00:00 UTC);
        assert_eq!(
            code(late.check(Access::ListBlobs)),
            ErrorCode::AuthenticationFailed
        );
        late.now = datetime!(2023-12-31 00:00 UTC);
        assert_eq!(
            code(late.check(Access::ListBlobs)),
            ErrorCode::AuthenticationFailed
        );

        // sip and spr: 127.0.0.1 and https,http are fine; another address is refused.
        let token = "se=2024-01-31T00%3A00%3A00Z&sp=rw&sip=127.0.0.1&spr=https%2Chttp\
                     &sv=2026-10-06&ss=b&srt=sco&sig=YylH4DEYuO93FFSVF2YPt2fv%2BFovffI4ZBDzt/KfP/E%3D";
        let mut r = Req::new("GET", "/devstoreaccount1/c1/x", token);
        r.blob = Some("x");
        r.check(Access::ReadBlob).unwrap();
        r.peer = Some("10.1.2.3".parse().unwrap());
        assert_eq!(
            code(r.check(Access::ReadBlob)),
            ErrorCode::AuthorizationSourceIPMismatch
        );
        r.peer = Some("::ffff:127.0.0.1".parse().unwrap());
        r.check(Access::ReadBlob).unwrap();
    }

    #[test]
    fn account_sas_scopes_and_protocol() {
        let exp = datetime!(2024-02-01 00:00 UTC);
        // What `cutover upload --create-container` signs: srt=sc, sp=rcwl.
        let t = sign_account_sas(DEV_ACCOUNT, DEV_KEY, "sc", "rcwl", exp).unwrap();
        let r = Req::new(
            "PUT",
            "/devstoreaccount1/c1",
            &format!("restype=container&{}", &t),
        );
        r.check(Access::CreateContainer).unwrap();
        let mut b = Req::new("PUT", "/devstoreaccount1/c1/x", &t);
        b.blob = Some("x");
        assert_eq!(
            code(b.check(Access::PutBlob)),
            ErrorCode::AuthorizationResourceTypeMismatch
        );
        let t = sign_account_sas(DEV_ACCOUNT, DEV_KEY, "c", "r", exp).unwrap();
        let r = Req::new(
            "PUT",
            "/devstoreaccount1/c1",
            &format!("restype=container&{}", &t),
        );
        assert_eq!(
            code(r.check(Access::CreateContainer)),
            ErrorCode::AuthorizationPermissionMismatch
        );
        // A hand-signed account SAS for the queue service only (ss=q).
        let sts = format!("{DEV_ACCOUNT}\nr\nq\nc\n\n2024-02-01T00:00:00Z\n\n\n2022-11-02\n\n");
        let mut mac = HmacSha256::new_from_slice(&key()).unwrap();
        mac.update(sts.as_bytes());
        let sig = BASE64
            .encode(mac.finalize().into_bytes())
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let q = format!("sv=2022-11-02&ss=q&srt=c&sp=r&se=2024-02-01T00%3A00%3A00Z&sig={sig}");
        let r = Req::new(
            "GET",
            "/devstoreaccount1/c1",
            &format!("restype=container&{q}"),
        );
        assert_eq!(
            code(r.check(Access::ReadContainer)),
            ErrorCode::AuthorizationServiceMismatch
        );
        // https only, over http.
        let sts =
            format!("{DEV_ACCOUNT}\nr\nb\nc\n\n2024-02-01T00:00:00Z\n\nhttps\n2022-11-02\n\n");
        let mut mac = HmacSha256::new_from_slice(&key()).unwrap();
        mac.update(sts.as_bytes());
        let sig = BASE64
            .encode(mac.finalize().into_bytes())
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let q = format!(
            "sv=2022-11-02&ss=b&srt=c&sp=r&spr=https&se=2024-02-01T00%3A00%3A00Z&sig={sig}"
        );
        let r = Req::new(
            "GET",
            "/devstoreaccount1/c1",
            &format!("restype=container&{q}"),
        );
        assert_eq!(
            code(r.check(Access::ReadContainer)),
            ErrorCode::AuthorizationProtocolMismatch
        );
    }

    #[test]
    fn service_sas_permissions_per_operation() {
        let exp = datetime!(2024-02-01 00:00 UTC);
        let sas =
            |perms: &str| sign_container_sas(DEV_ACCOUNT, DEV_KEY, "box1", perms, exp).unwrap();
        let blob_req = |q: &str| {
            let mut r = Req::new("PUT", "/devstoreaccount1/box1/db/x.bak", q);
            r.container = Some("box1");
            r.blob = Some("db/x.bak");
            r
        };
        let rl = sas("rl");
        boxed(Req::new(
            "GET",
            "/devstoreaccount1/box1",
            &format!("restype=container&comp=list&{rl}"),
        ))
        .check(Access::ListBlobs)
        .unwrap();
        blob_req(&rl).check(Access::ReadBlob).unwrap();
        for access in [Access::WriteBlocks, Access::PutBlob, Access::DeleteBlob] {
            assert_eq!(
                code(blob_req(&rl).check(access)),
                ErrorCode::AuthorizationPermissionMismatch,
                "{access:?}"
            );
        }
        // A container SAS never creates containers.
        assert_eq!(
            code(
                boxed(Req::new("PUT", "/devstoreaccount1/box1", &sas("racwdl")))
                    .check(Access::CreateContainer)
            ),
            ErrorCode::AuthorizationPermissionMismatch
        );
        // What the uploader signs (racwl): writes, may overwrite.
        assert_eq!(
            blob_req(&sas("racwl")).check(Access::WriteBlocks).unwrap(),
            Grant {
                may_overwrite: true
            }
        );
        assert_eq!(
            blob_req(&sas("c")).check(Access::WriteBlocks).unwrap(),
            Grant {
                may_overwrite: false
            }
        );
        assert_eq!(
            code(blob_req(&sas("a")).check(Access::WriteBlocks)),
            ErrorCode::AuthorizationPermissionMismatch
        );
        blob_req(&sas("d")).check(Access::DeleteBlob).unwrap();
        // Another container's SAS, expiry, a stored policy, a user delegation SAS.
        let other = sign_container_sas(DEV_ACCOUNT, DEV_KEY, "box2", "rl", exp).unwrap();
        assert_eq!(
            code(blob_req(&other).check(Access::ReadBlob)),
            ErrorCode::AuthenticationFailed
        );
        let mut late = blob_req(&rl);
        late.now = exp;
        assert_eq!(
            code(late.check(Access::ReadBlob)),
            ErrorCode::AuthenticationFailed
        );
        assert_eq!(
            code(blob_req(&format!("{rl}&si=policy")).check(Access::ReadBlob)),
            ErrorCode::AuthenticationFailed
        );
        assert_eq!(
            code(blob_req(&format!("{rl}&skoid=x")).check(Access::ReadBlob)),
            ErrorCode::AuthenticationFailed
        );
        // A service SAS on an account-level request.
        let mut acct = Req::new("GET", "/devstoreaccount1", &format!("comp=list&{rl}"));
        acct.container = None;
        assert_eq!(
            code(acct.check(Access::ListContainers)),
            ErrorCode::AuthenticationFailed
        );
        // Malformed tokens never panic.
        for q in [
            "sig=",
            "sig=%zz",
            "sv=x&sig=a",
            "sr=c&sp=q&sig=a",
            "ss=b&sig=a&se=bad",
        ] {
            assert_eq!(
                code(blob_req(q).check(Access::ReadBlob)),
                ErrorCode::AuthenticationFailed,
                "{q}"
            );
        }
    }

    #[test]
    fn blob_sas_covers_one_blob() {
        // A blob SAS (sr=b) signed independently with Python's hmac over the 2019-12-12 layout
        // (also in sas::service tests): read on c1/db/x.bak until 2024-01-31.
        let token = "sv=2019-12-12&se=2024-01-31T00%3A00%3A00Z&sr=b&sp=r\
                     &sig=vSNDEBfHbZzqKZXWFyigGKZyC3XtHa71kyd2kD3DKdM%3D";
        let mut r = Req::new("GET", "/devstoreaccount1/c1/db/x.bak", token);
        r.blob = Some("db/x.bak");
        r.check(Access::ReadBlob).unwrap();
        r.blob = Some("db/y.bak");
        assert_eq!(
            code(r.check(Access::ReadBlob)),
            ErrorCode::AuthenticationFailed
        );
        let r = Req::new(
            "GET",
            "/devstoreaccount1/c1",
            &format!("restype=container&comp=list&{token}"),
        );
        assert_eq!(
            code(r.check(Access::ListBlobs)),
            ErrorCode::AuthenticationFailed
        );
    }
}
