//! A certificate's thumbprint: SHA-1 of its DER encoding, as SQL Server keeps it
//! (`sys.certificates.thumbprint`, `sys.dm_database_encryption_keys.encryptor_thumbprint`) and
//! shows it (`0x` and upper-case hex).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::{Digest, Sha1};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thumbprint(pub [u8; 20]);

impl Thumbprint {
    /// The thumbprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Thumbprint {
        Thumbprint(Sha1::digest(der).into())
    }

    /// From the bytes a catalog view returns; `None` unless exactly 20 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Thumbprint> {
        <[u8; 20]>::try_from(b).ok().map(Thumbprint)
    }

    /// From `0x...` or plain hex (case-insensitive), as SQL Server or openssl print it (colons
    /// allowed).
    pub fn parse(s: &str) -> Option<Thumbprint> {
        let t = s.trim();
        let t = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        let hex: String = t.chars().filter(|c| *c != ':').collect();
        if hex.len() != 40 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Thumbprint(out))
    }

    /// Upper-case hex without a prefix (openssl's fingerprint without colons).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", self.hex())
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Thumbprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Thumbprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Thumbprint::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a 20-byte thumbprint: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints_and_refuses_other_lengths() {
        let t = Thumbprint::of_der(b"certificate");
        assert_eq!(Thumbprint::parse(&t.to_string()), Some(t));
        assert_eq!(Thumbprint::parse(&t.hex().to_lowercase()), Some(t));
        assert_eq!(Thumbprint::parse("0x1234"), None);
        assert_eq!(Thumbprint::from_bytes(&[1; 19]), None);
        assert_eq!(Thumbprint::from_bytes(&t.0), Some(t));
    }
}
