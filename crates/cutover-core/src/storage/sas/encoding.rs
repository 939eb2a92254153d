//! Query strings: [`Query`] builds the `name=value&...` of a SAS being created (values
//! percent-encoded), and percent-decoding reads the values of a token handed to us.

use super::{SasError, SasToken};

/// A query string being built: `name=value` pairs, values percent-encoded.
#[derive(Default)]
pub(super) struct Query(String);

impl Query {
    pub(super) fn push(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        self.0.push_str(name);
        self.0.push('=');
        self.0.push_str(&percent_encode(value));
    }

    pub(super) fn push_opt(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.push(name, value);
        }
    }

    /// The finished query string as a token.
    pub(super) fn into_token(self) -> SasToken {
        SasToken(self.0)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so '+', '/', '=' and ':' are
/// encoded, as Azure's SDKs do).
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes. A '+' stays a '+' (a base64 signature pasted unencoded still works).
pub(super) fn percent_decode(name: &str, s: &str) -> Result<String, SasError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(v) = hex else {
                return Err(SasError::Malformed {
                    reason: format!(
                        "the value of '{name}' has a '%' not followed by two hex digits"
                    ),
                });
            };
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| SasError::Malformed {
        reason: format!("the value of '{name}' does not decode to UTF-8 text"),
    })
}
