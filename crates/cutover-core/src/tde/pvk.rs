//! Microsoft's PVK private key file, as `BACKUP CERTIFICATE ... WITH PRIVATE KEY (FILE = ...,
//! ENCRYPTION BY PASSWORD = ...)` writes it, read as far as a TDE certificate needs: an RSA key.
//!
//! Layout (little-endian): a 24-byte header (magic `0xB0B5F11E`, reserved, key spec, encrypted
//! flag, salt length, key blob length), the salt, then the key blob: an 8-byte BLOBHEADER (type 7 =
//! PRIVATEKEYBLOB, version 2, reserved, algorithm id) and the rest, RC4-encrypted when the flag is
//! set: `RSA2` magic, bit length, public exponent, then modulus (n/8 bytes), prime1, prime2,
//! exponent1, exponent2, coefficient (n/16 bytes each) and the private exponent (n/8), each
//! little-endian. The RC4 key is the first 16 bytes of SHA-1(salt || password) ("strong"), or its
//! first 5 bytes followed by 11 zeros ("weak", old export-grade files); the right one decrypts to
//! the `RSA2` magic.

use der::Encode;
use der::asn1::{OctetStringRef, UintRef};
use rc4::{KeyInit, Rc4, StreamCipher};
use sha1::{Digest, Sha1};

use super::secret::{SecretBytes, SecretText};

const MAGIC: u32 = 0xB0B5_F11E;
const PRIVATEKEYBLOB: u8 = 0x07;
const RSA2: u32 = 0x3241_5352;
const DSS2: u32 = 0x3253_5344;

/// Why a PVK file could not be read (the caller names the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PvkError {
    #[error(
        "not a PVK file (magic {0:#010x}, expected 0xb0b5f11e); give the .pvk BACKUP CERTIFICATE wrote"
    )]
    NotPvk(u32),
    #[error("the PVK file is cut short ({0}); it may still be being written, or was copied partly")]
    Truncated(&'static str),
    #[error("the PVK key blob is not a private key blob (type {0:#04x})")]
    NotPrivateKey(u8),
    #[error("the PVK file holds a DSS key; Managed Instance TDE certificates are RSA")]
    Dss,
    #[error(
        "the PVK password does not decrypt the key (neither the 128-bit nor the 40-bit RC4 key gives an RSA private key)"
    )]
    WrongPassword,
    #[error("the PVK file is encrypted but no password was given")]
    PasswordNeeded,
    #[error("the PVK RSA key has an unusable bit length ({0})")]
    BitLength(u32),
    #[error("the RSA key could not be encoded as PKCS#8: {0}")]
    Encode(String),
}

fn u32_at(b: &[u8], at: usize, what: &'static str) -> Result<u32, PvkError> {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_le_bytes)
        .ok_or(PvkError::Truncated(what))
}

fn rc4(key: &[u8], data: &mut [u8]) {
    // A 16-byte key is always within RC4's 1..=256 bytes.
    if let Ok(mut c) = Rc4::new_from_slice(key) {
        c.apply_keystream(data);
    }
}

/// The PKCS#8 (DER) encoding of the RSA private key in a PVK file.
pub fn pvk_to_pkcs8(pvk: &[u8], password: Option<&SecretText>) -> Result<SecretBytes, PvkError> {
    let magic = u32_at(pvk, 0, "header")?;
    if magic != MAGIC {
        return Err(PvkError::NotPvk(magic));
    }
    let encrypted = u32_at(pvk, 12, "header")? != 0;
    let salt_len = u32_at(pvk, 16, "header")? as usize;
    let key_len = u32_at(pvk, 20, "header")? as usize;
    let salt = pvk
        .get(24..24 + salt_len)
        .ok_or(PvkError::Truncated("salt"))?;
    let blob = pvk
        .get(24 + salt_len..24 + salt_len + key_len)
        .ok_or(PvkError::Truncated("key blob"))?;
    if blob.len() < 20 {
        return Err(PvkError::Truncated("key blob"));
    }
    if blob[0] != PRIVATEKEYBLOB {
        return Err(PvkError::NotPrivateKey(blob[0]));
    }
    let body: SecretBytes = if encrypted && salt_len > 0 {
        let password = password.ok_or(PvkError::PasswordNeeded)?;
        let mut h = Sha1::new();
        h.update(salt);
        h.update(password.expose().as_bytes());
        let digest = SecretBytes::new(h.finalize().to_vec());
        let mut strong = SecretBytes::new(blob[8..].to_vec());
        rc4(&digest.expose()[..16], plain(&mut strong));
        if u32_at(strong.expose(), 0, "key")? == RSA2 {
            strong
        } else {
            let mut weak_key = [0u8; 16];
            weak_key[..5].copy_from_slice(&digest.expose()[..5]);
            let mut weak = SecretBytes::new(blob[8..].to_vec());
            rc4(&weak_key, plain(&mut weak));
            weak_key.fill(0);
            if u32_at(weak.expose(), 0, "key")? != RSA2 {
                return Err(PvkError::WrongPassword);
            }
            weak
        }
    } else {
        SecretBytes::new(blob[8..].to_vec())
    };
    rsa2_to_pkcs8(body.expose())
}

/// The mutable bytes of a secret buffer (decrypted in place).
fn plain(s: &mut SecretBytes) -> &mut [u8] {
    s.bytes_mut()
}

fn uint(s: &[u8]) -> Result<UintRef<'_>, PvkError> {
    let first = s
        .iter()
        .position(|x| *x != 0)
        .unwrap_or(s.len().saturating_sub(1));
    UintRef::new(&s[first..]).map_err(|e| PvkError::Encode(e.to_string()))
}

/// Reads `RSA2`, bit length, exponent and the little-endian parts; encodes PKCS#1 inside PKCS#8.
fn rsa2_to_pkcs8(b: &[u8]) -> Result<SecretBytes, PvkError> {
    match u32_at(b, 0, "key")? {
        RSA2 => {}
        DSS2 => return Err(PvkError::Dss),
        _ => return Err(PvkError::WrongPassword),
    }
    let bits = u32_at(b, 4, "key")?;
    if !(512..=16384).contains(&bits) {
        return Err(PvkError::BitLength(bits));
    }
    let e = u32_at(b, 8, "key")?;
    let n_len = (bits as usize).div_ceil(8);
    let h_len = (bits as usize).div_ceil(16);
    let mut at = 12;
    let mut take = |len: usize| -> Result<SecretBytes, PvkError> {
        let s = b
            .get(at..at + len)
            .ok_or(PvkError::Truncated("RSA key parts"))?;
        at += len;
        let mut be = s.to_vec();
        be.reverse();
        Ok(SecretBytes::new(be))
    };
    let n = take(n_len)?;
    let p = take(h_len)?;
    let q = take(h_len)?;
    let dp = take(h_len)?;
    let dq = take(h_len)?;
    let qinv = take(h_len)?;
    let d = take(n_len)?;
    let e_be = e.to_be_bytes();
    let key = pkcs1::RsaPrivateKey {
        modulus: uint(n.expose())?,
        public_exponent: uint(&e_be)?,
        private_exponent: uint(d.expose())?,
        prime1: uint(p.expose())?,
        prime2: uint(q.expose())?,
        exponent1: uint(dp.expose())?,
        exponent2: uint(dq.expose())?,
        coefficient: uint(qinv.expose())?,
        other_prime_infos: None,
    };
    let pkcs1_der = SecretBytes::new(key.to_der().map_err(|e| PvkError::Encode(e.to_string()))?);
    let octets =
        OctetStringRef::new(pkcs1_der.expose()).map_err(|e| PvkError::Encode(e.to_string()))?;
    let info = pkcs8::PrivateKeyInfoRef::new(pkcs1::ALGORITHM_ID, octets);
    info.to_der()
        .map(SecretBytes::new)
        .map_err(|e| PvkError::Encode(e.to_string()))
}
