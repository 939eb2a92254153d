//! The PKCS#12 (PFX) Managed Instance's TDE certificate API takes: the certificate (DER X.509, the
//! `.cer` BACKUP CERTIFICATE writes) and its private key (PKCS#8, from the `.pvk`), built with the
//! `p12-keystore` crate (PBES2 AES-256-CBC for the key and the certificate, HMAC-SHA256 MAC,
//! 10,000 iterations: what OpenSSL 3 and Windows Server 2019+ write by default).

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};

use super::secret::{SecretBytes, SecretText};
use super::thumbprint::Thumbprint;

/// Why the PFX could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PfxError {
    #[error("the .cer file is not a DER X.509 certificate: {0}")]
    Certificate(String),
    #[error("the private key is not a PKCS#8 key: {0}")]
    Key(String),
    #[error("the private key does not belong to the certificate (their RSA moduli differ)")]
    Mismatch,
    #[error("the PKCS#12 file could not be written: {0}")]
    Write(String),
}

/// A built PFX with the thumbprint of the certificate it carries.
#[derive(Debug)]
pub struct Pfx {
    pub bytes: SecretBytes,
    pub thumbprint: Thumbprint,
    pub subject: String,
}

/// The RSA modulus (big-endian, no leading zeros) of a PKCS#8 RSA key.
fn key_modulus(pkcs8_der: &[u8]) -> Result<Vec<u8>, PfxError> {
    let info =
        pkcs8::PrivateKeyInfoRef::try_from(pkcs8_der).map_err(|e| PfxError::Key(e.to_string()))?;
    let rsa = pkcs1::RsaPrivateKeyRef::try_from(info.private_key.as_bytes())
        .map_err(|e| PfxError::Key(e.to_string()))?;
    Ok(rsa.modulus.as_bytes().to_vec())
}

/// The RSA modulus in a DER certificate's public key.
fn cert_modulus(cert_der: &[u8]) -> Result<Vec<u8>, PfxError> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| PfxError::Certificate(e.to_string()))?;
    match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            let m = rsa.modulus;
            let first = m.iter().position(|b| *b != 0).unwrap_or(m.len());
            Ok(m[first..].to_vec())
        }
        Ok(_) => Err(PfxError::Certificate(
            "its public key is not RSA; Managed Instance TDE certificates are RSA".into(),
        )),
        Err(e) => Err(PfxError::Certificate(e.to_string())),
    }
}

/// Builds the PFX of `cert_der` and `key_pkcs8`, protected by `password`; refuses a key that is not
/// the certificate's.
pub fn build_pfx(
    cert_der: &[u8],
    key_pkcs8: &SecretBytes,
    password: &SecretText,
    alias: &str,
) -> Result<Pfx, PfxError> {
    let cert = Certificate::from_der(cert_der).map_err(|e| PfxError::Certificate(e.to_string()))?;
    if key_modulus(key_pkcs8.expose())? != cert_modulus(cert_der)? {
        return Err(PfxError::Mismatch);
    }
    let key = PrivateKey::from_der(key_pkcs8.expose()).map_err(|e| PfxError::Key(e.to_string()))?;
    let thumbprint = Thumbprint::of_der(cert_der);
    let subject = cert.subject().to_string();
    let chain = PrivateKeyChain::new(thumbprint.0.to_vec(), key, vec![cert]);
    let mut store = KeyStore::new();
    store.add_entry(alias, KeyStoreEntry::PrivateKeyChain(chain));
    let bytes = store
        .writer(password.expose())
        .write()
        .map_err(|e| PfxError::Write(e.to_string()))?;
    Ok(Pfx {
        bytes: SecretBytes::new(bytes),
        thumbprint,
        subject,
    })
}
