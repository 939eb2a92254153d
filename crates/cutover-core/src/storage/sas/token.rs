//! The secrets of a SAS and how they stay out of output: [`SasToken`] (a token whose `Display`
//! and `Debug` hide the signature), [`UserDelegationKey`] (whose `Debug` hides the key value) and
//! [`redact_sas`] (scrubs `sig=` values out of any text).

use std::fmt;

/// What replaces a signature in redacted output.
const REDACTED: &str = "REDACTED";

/// A SAS token: the query string (no leading '?'). `Display` and `Debug` show it with the
/// signature replaced by `REDACTED`; [`SasToken::as_query`] gives the real string.
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken(pub(super) String);

impl SasToken {
    /// Wraps a token, dropping a leading '?' if there is one. Does not check it: see
    /// [`parse_sas`](super::parse_sas).
    pub fn new(query: impl Into<String>) -> Self {
        let q: String = query.into();
        match q.strip_prefix('?') {
            Some(rest) => SasToken(rest.to_string()),
            None => SasToken(q),
        }
    }

    /// The real query string, signature included: put it in URLs, never in logs.
    pub fn as_query(&self) -> &str {
        &self.0
    }

    /// The real query string, consuming the token.
    pub fn into_query(self) -> String {
        self.0
    }
}

impl fmt::Display for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_sas(&self.0))
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SasToken({:?})", redact_sas(&self.0))
    }
}

/// A user delegation key, as returned by Blob Storage's Get User Delegation Key. Times are kept as
/// the exact strings the service returned, since they are signed as they are. `Debug` redacts the
/// key value.
#[derive(Clone, PartialEq, Eq)]
pub struct UserDelegationKey {
    /// `SignedOid`: the Entra object ID the key was issued to.
    pub signed_oid: String,
    /// `SignedTid`: the Entra tenant ID.
    pub signed_tid: String,
    /// `SignedStart`, e.g. "2024-01-01T00:00:00Z".
    pub signed_start: String,
    /// `SignedExpiry`, e.g. "2024-01-08T00:00:00Z".
    pub signed_expiry: String,
    /// `SignedService`: "b" for Blob Storage.
    pub signed_service: String,
    /// `SignedVersion`: the service version that issued the key.
    pub signed_version: String,
    /// `Value`: the base64 key itself (secret).
    pub value_b64: String,
}

impl fmt::Debug for UserDelegationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserDelegationKey")
            .field("signed_oid", &self.signed_oid)
            .field("signed_tid", &self.signed_tid)
            .field("signed_start", &self.signed_start)
            .field("signed_expiry", &self.signed_expiry)
            .field("signed_service", &self.signed_service)
            .field("signed_version", &self.signed_version)
            .field("value_b64", &REDACTED)
            .finish()
    }
}

/// Replaces the value of every `sig=` parameter in `text` (a token, a URL, or a message quoting
/// one) with `REDACTED`. Everything else is kept.
pub fn redact_sas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || matches!(bytes[i - 1], b'?' | b'&' | b';') || {
            let prev = bytes[i - 1];
            prev.is_ascii_whitespace() || prev == b'"' || prev == b'\''
        };
        if at_boundary && bytes.len() - i >= 4 && bytes[i..i + 4].eq_ignore_ascii_case(b"sig=") {
            out.push_str(&text[i..i + 4]);
            i += 4;
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || matches!(bytes[i], b'+' | b'/' | b'=' | b'%' | b'-' | b'_'))
            {
                i += 1;
            }
            if i > start {
                out.push_str(REDACTED);
            }
            continue;
        }
        // Copy one whole UTF-8 character.
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    out
}
