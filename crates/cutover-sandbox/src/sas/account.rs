//! Signing an account SAS for the Blob service as "Create an account SAS" publishes it: the
//! string-to-sign is the account name, `sp`, `ss`, `srt`, `st`, `se`, `sip`, `spr`, `sv` and (from
//! 2020-12-06) `ses`, each followed by a newline. The sandbox's tests sign their tokens with it;
//! requests are verified in `blob::blob_auth`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::service::{ServiceSasError, encode};

/// The version the sandbox signs account SAS with.
const SIGN_VERSION: &str = "2022-11-02";

/// Signs an account SAS for the Blob service (`ss=b`) with resource types `srt` (e.g. "sco") and
/// permissions `sp`, valid until `expiry`. Returns the query string (without '?').
pub fn sign_account_sas(
    account: &str,
    key_b64: &str,
    srt: &str,
    sp: &str,
    expiry: OffsetDateTime,
) -> Result<String, ServiceSasError> {
    let se = expiry
        .replace_nanosecond(0)
        .unwrap_or(expiry)
        .format(&Rfc3339)
        .map_err(|_| ServiceSasError::Version(SIGN_VERSION.into()))?;
    // account, sp, ss, srt, st, se, sip, spr, sv, ses.
    let sts = format!("{account}\n{sp}\nb\n{srt}\n\n{se}\n\n\n{SIGN_VERSION}\n\n");
    let key = BASE64
        .decode(key_b64.trim())
        .map_err(|_| ServiceSasError::Key)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| ServiceSasError::Key)?;
    mac.update(sts.as_bytes());
    let sig = BASE64.encode(mac.finalize().into_bytes());
    Ok(format!(
        "sv={SIGN_VERSION}&ss=b&srt={}&sp={}&se={}&sig={}",
        encode(srt),
        encode(sp),
        encode(&se),
        encode(&sig)
    ))
}
