//! The service SAS of the Blob service as "Create a service SAS" publishes it: the string-to-sign
//! for signed versions 2018-11-09 and later (`sp`, `st`, `se`, the canonicalized resource
//! `/blob/{account}/{container}[/{blob}]`, `si`, `sip`, `spr`, `sv`, `sr`, the snapshot time,
//! from 2020-12-06 `ses`, then `rscc`, `rscd`, `rsce`, `rscl`, `rsct`; joined by newlines),
//! signed with HMAC-SHA256 under the account key. The sandbox signs its own container SAS with it
//! and verifies the SAS clients send.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::token::SasFields;

type HmacSha256 = Hmac<Sha256>;

/// Oldest signed version whose layout (with `sr` and the snapshot time line) is verified here.
const MIN_VERSION: &str = "2018-11-09";
/// First signed version with the encryption scope (`ses`) line.
const ENCRYPTION_SCOPE_VERSION: &str = "2020-12-06";
/// The version the sandbox signs its own tokens with.
const SIGN_VERSION: &str = "2022-11-02";

/// Why a service SAS does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceSasError {
    #[error("the SAS has no signature (sig=)")]
    NoSignature,
    #[error("sv={0} is not a service SAS version verified here (2018-11-09 or later, YYYY-MM-DD)")]
    Version(String),
    #[error("sr={0} is not a container (c) or blob (b) SAS")]
    Resource(String),
    #[error("the SAS is for one blob (sr=b) and the request names no blob")]
    NoBlob,
    #[error("the account key is not base64")]
    Key,
    #[error(
        "the signature does not match: the SAS was altered, or signed for another container, blob, \
         account or key"
    )]
    Mismatch,
}

fn is_version(v: &str) -> bool {
    v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// The string-to-sign of a service SAS whose fields are `f`, for `canonical` resource.
fn string_to_sign(f: &SasFields, canonical: &str) -> String {
    let version = f.line("sv");
    let mut lines = vec![
        f.line("sp"),
        f.line("st"),
        f.line("se"),
        canonical,
        f.line("si"),
        f.line("sip"),
        f.line("spr"),
        version,
        f.line("sr"),
        f.line("sst"),
    ];
    if version >= ENCRYPTION_SCOPE_VERSION {
        lines.push(f.line("ses"));
    }
    for o in ["rscc", "rscd", "rsce", "rscl", "rsct"] {
        lines.push(f.line(o));
    }
    lines.join("\n")
}

fn mac(key: &[u8], text: &str) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(key).ok()?;
    m.update(text.as_bytes());
    Some(m)
}

/// Verifies a service SAS (`sr=c` or `sr=b`) for `container` (and `blob`, for a request on one),
/// in constant time. Time, protocol and permissions are checked by the caller.
pub fn verify_service_sas(
    query: &str,
    account: &str,
    key_b64: &str,
    container: &str,
    blob: Option<&str>,
) -> Result<(), ServiceSasError> {
    let f = SasFields::parse(query);
    let sig = f
        .get("sig")
        .filter(|s| !s.is_empty())
        .ok_or(ServiceSasError::NoSignature)?;
    let version = f.line("sv");
    if !is_version(version) || version < MIN_VERSION {
        return Err(ServiceSasError::Version(version.to_string()));
    }
    let canonical = match (f.line("sr"), blob) {
        ("c", _) => format!("/blob/{account}/{container}"),
        ("b", Some(b)) => format!("/blob/{account}/{container}/{b}"),
        ("b", None) => return Err(ServiceSasError::NoBlob),
        (other, _) => return Err(ServiceSasError::Resource(other.to_string())),
    };
    let key = BASE64
        .decode(key_b64.trim())
        .map_err(|_| ServiceSasError::Key)?;
    let sig = BASE64
        .decode(sig.trim())
        .map_err(|_| ServiceSasError::Mismatch)?;
    let m = mac(&key, &string_to_sign(&f, &canonical)).ok_or(ServiceSasError::Key)?;
    m.verify_slice(&sig).map_err(|_| ServiceSasError::Mismatch)
}

/// Percent-encodes a query value (unreserved characters kept).
pub(super) fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Signs a container SAS (`sr=c`) with the account key: `permissions` as letters (e.g. "rl"),
/// valid until `expiry`. Returns the query string (without '?').
pub fn sign_container_sas(
    account: &str,
    key_b64: &str,
    container: &str,
    permissions: &str,
    expiry: OffsetDateTime,
) -> Result<String, ServiceSasError> {
    let se = expiry
        .replace_nanosecond(0)
        .unwrap_or(expiry)
        .format(&Rfc3339)
        .map_err(|_| ServiceSasError::Version(SIGN_VERSION.into()))?;
    let query = format!(
        "sv={SIGN_VERSION}&sr=c&sp={}&se={}",
        encode(permissions),
        encode(&se)
    );
    let f = SasFields::parse(&query);
    let key = BASE64
        .decode(key_b64.trim())
        .map_err(|_| ServiceSasError::Key)?;
    let m = mac(
        &key,
        &string_to_sign(&f, &format!("/blob/{account}/{container}")),
    )
    .ok_or(ServiceSasError::Key)?;
    let sig = BASE64.encode(m.finalize().into_bytes());
    Ok(format!("{query}&sig={}", encode(&sig)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{DEV_ACCOUNT, DEV_KEY};
    use time::macros::datetime;

    /// A blob SAS signed independently with Python's hmac over the 2019-12-12 layout: read on
    /// c1/db/x.bak until 2024-01-31.
    #[test]
    fn verifies_an_independently_signed_blob_sas() {
        let token = "sv=2019-12-12&se=2024-01-31T00%3A00%3A00Z&sr=b&sp=r\
                     &sig=vSNDEBfHbZzqKZXWFyigGKZyC3XtHa71kyd2kD3DKdM%3D";
        verify_service_sas(token, DEV_ACCOUNT, DEV_KEY, "c1", Some("db/x.bak")).unwrap();
        assert_eq!(
            verify_service_sas(token, DEV_ACCOUNT, DEV_KEY, "c1", Some("db/y.bak")),
            Err(ServiceSasError::Mismatch)
        );
        assert_eq!(
            verify_service_sas(token, DEV_ACCOUNT, DEV_KEY, "c1", None),
            Err(ServiceSasError::NoBlob)
        );
    }

    #[test]
    fn signs_what_it_verifies() {
        let exp = datetime!(2024-02-01 00:00 UTC);
        let q = sign_container_sas(DEV_ACCOUNT, DEV_KEY, "box1", "rl", exp).unwrap();
        assert!(q.starts_with("sv=2022-11-02&sr=c&sp=rl&se=2024-02-01T00%3A00%3A00Z&sig="));
        verify_service_sas(&q, DEV_ACCOUNT, DEV_KEY, "box1", Some("x")).unwrap();
        assert_eq!(
            verify_service_sas(&q, DEV_ACCOUNT, DEV_KEY, "box2", None),
            Err(ServiceSasError::Mismatch)
        );
        let tampered = q.replace("sp=rl", "sp=rwl");
        assert_eq!(
            verify_service_sas(&tampered, DEV_ACCOUNT, DEV_KEY, "box1", None),
            Err(ServiceSasError::Mismatch)
        );
        let old = q.replace("sv=2022-11-02", "sv=2015-04-05");
        assert!(matches!(
            verify_service_sas(&old, DEV_ACCOUNT, DEV_KEY, "box1", None),
            Err(ServiceSasError::Version(_))
        ));
    }
}
