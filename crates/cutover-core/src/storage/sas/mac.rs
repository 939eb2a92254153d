//! HMAC-SHA256 over a string-to-sign: signing, verifying in constant time, and decoding the
//! base64 keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::SasError;

type HmacSha256 = Hmac<Sha256>;

/// A MAC keyed with `key` (HMAC accepts any key length, so this only fails in theory).
fn new_mac(key: &[u8], what: &'static str) -> Result<HmacSha256, SasError> {
    HmacSha256::new_from_slice(key).map_err(|_| SasError::InvalidKey { what })
}

/// The base64 HMAC-SHA256 of the string-to-sign.
pub(super) fn sign(
    key: &[u8],
    what: &'static str,
    string_to_sign: &str,
) -> Result<String, SasError> {
    let mut mac = new_mac(key, what)?;
    mac.update(string_to_sign.as_bytes());
    Ok(BASE64.encode(mac.finalize().into_bytes()))
}

/// Compares the signature with the one recomputed, in constant time.
pub(super) fn verify(
    key: &[u8],
    what: &'static str,
    string_to_sign: &str,
    sig_b64: &str,
) -> Result<(), SasError> {
    let Ok(sig) = BASE64.decode(sig_b64) else {
        return Err(SasError::SignatureMismatch);
    };
    let mut mac = new_mac(key, what)?;
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| SasError::SignatureMismatch)
}

pub(super) fn decode_key(b64: &str, what: &'static str) -> Result<Vec<u8>, SasError> {
    match BASE64.decode(b64.trim()) {
        Ok(k) if !k.is_empty() => Ok(k),
        _ => Err(SasError::InvalidKey { what }),
    }
}
