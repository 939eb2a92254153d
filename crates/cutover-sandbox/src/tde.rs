//! TDE on the sandbox, from the published formats: a server certificate with its RSA private key
//! (made with `rcgen`), the files `BACKUP CERTIFICATE ... TO FILE ... WITH PRIVATE KEY (FILE ...,
//! ENCRYPTION BY PASSWORD ...)` writes (the DER `.cer`, and Microsoft's PVK `.pvk`: header, salt,
//! PRIVATEKEYBLOB with the part after its 8-byte header RC4-encrypted under the first 16 bytes of
//! SHA-1(salt || password)), and the Managed Instance's check of an uploaded PKCS#12: it must open
//! with the given password and hold one certificate with its matching private key; its thumbprint
//! is the SHA-1 of the certificate's DER.

use pkcs8::der::Decode;
use rc4::{KeyInit, Rc4, StreamCipher};
use sha1::{Digest, Sha1};

/// A certificate in master with its private key (kept by the instance, as SQL Server keeps it
/// encrypted by the master key).
#[derive(Clone)]
pub struct ServerCertificate {
    pub name: String,
    pub subject: String,
    pub der: Vec<u8>,
    /// PKCS#8 DER.
    key_pkcs8: Vec<u8>,
    pub thumbprint: [u8; 20],
    pub expiry: time::PrimitiveDateTime,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("name", &self.name)
            .field("thumbprint", &hex(&self.thumbprint))
            .finish_non_exhaustive()
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

pub fn sha1(b: &[u8]) -> [u8; 20] {
    Sha1::digest(b).into()
}

impl ServerCertificate {
    /// `CREATE CERTIFICATE [name] WITH SUBJECT = 'subject'`: a new 2048-bit RSA key and a self-signed
    /// certificate valid for a year (SQL Server's default).
    pub fn create(name: &str, subject: &str) -> Result<ServerCertificate, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .map_err(|e| format!("RSA key generation: {e}"))?;
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, subject);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        let der = cert.der().to_vec();
        let expiry = params.not_after;
        Ok(ServerCertificate {
            name: name.into(),
            subject: subject.into(),
            thumbprint: sha1(&der),
            der,
            key_pkcs8: key.serialize_der(),
            expiry: time::PrimitiveDateTime::new(expiry.date(), expiry.time()),
        })
    }

    /// The private key (PKCS#8 DER): for tests that look for it where it must not be.
    pub fn private_key_der(&self) -> &[u8] {
        &self.key_pkcs8
    }

    /// The `.pvk` BACKUP CERTIFICATE writes for this key, encrypted by `password`.
    pub fn pvk(&self, password: &str) -> Result<Vec<u8>, String> {
        write_pvk(&self.key_pkcs8, password)
    }
}

/// Little-endian bytes of a big-endian unsigned integer, padded to `len`.
fn le(be: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let trimmed: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    if trimmed.len() > len {
        return Err(format!(
            "RSA part of {} bytes does not fit {len}",
            trimmed.len()
        ));
    }
    let mut out: Vec<u8> = trimmed.into_iter().rev().collect();
    out.resize(len, 0);
    Ok(out)
}

/// Microsoft's PVK of an RSA PKCS#8 key, RC4-encrypted (128-bit key) with a random 16-byte salt.
pub fn write_pvk(key_pkcs8: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(key_pkcs8).map_err(|e| e.to_string())?;
    let rsa = pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes())
        .map_err(|e| e.to_string())?;
    let n = rsa.modulus.as_bytes();
    let bits = (n.len() * 8) as u32;
    let nb = n.len();
    let hb = nb.div_ceil(2);
    let e = rsa.public_exponent.as_bytes();
    let mut e32 = [0u8; 4];
    let el = le(e, 4)?;
    e32.copy_from_slice(&el);
    let mut body = Vec::new();
    body.extend_from_slice(b"RSA2");
    body.extend_from_slice(&bits.to_le_bytes());
    body.extend_from_slice(&e32);
    body.extend(le(n, nb)?);
    body.extend(le(rsa.prime1.as_bytes(), hb)?);
    body.extend(le(rsa.prime2.as_bytes(), hb)?);
    body.extend(le(rsa.exponent1.as_bytes(), hb)?);
    body.extend(le(rsa.exponent2.as_bytes(), hb)?);
    body.extend(le(rsa.coefficient.as_bytes(), hb)?);
    body.extend(le(rsa.private_exponent.as_bytes(), nb)?);
    let salt: [u8; 16] = rand::random();
    let mut h = Sha1::new();
    h.update(salt);
    h.update(password.as_bytes());
    let k = h.finalize();
    let mut c = Rc4::new_from_slice(&k[..16]).map_err(|e| e.to_string())?;
    c.apply_keystream(&mut body);
    let mut blob = vec![0x07, 0x02, 0, 0];
    blob.extend_from_slice(&0xA400u32.to_le_bytes()); // CALG_RSA_KEYX
    blob.extend(body);
    let mut out = Vec::new();
    for v in [
        0xB0B5_F11Eu32,
        0,
        1,
        1,
        salt.len() as u32,
        blob.len() as u32,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&salt);
    out.extend(blob);
    Ok(out)
}

/// Why the instance refuses an uploaded certificate (code, message), as ARM answers 400.
pub type Refusal = (&'static str, String);

/// Opens a PKCS#12 with `password` and returns its certificate's thumbprint and subject, refusing
/// a file that does not open, holds no certificate with a private key, or whose key is not the
/// certificate's.
pub fn check_pfx(pfx: &[u8], password: &str) -> Result<([u8; 20], String), Refusal> {
    let bad = |m: String| ("InvalidPrivateBlobOrPassword", m);
    let store = p12_keystore::KeyStore::from_pkcs12(
        pfx,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|e| {
        bad(format!(
            "The certificate private blob could not be opened with the given password: {e}"
        ))
    })?;
    let (_, chain) = store.private_key_chain().ok_or_else(|| {
        bad("The certificate private blob holds no certificate with its private key.".into())
    })?;
    let cert = chain.certs().first().ok_or_else(|| {
        bad("The certificate private blob holds a key but no certificate.".into())
    })?;
    let (_, x509) = x509_parser::parse_x509_certificate(cert.as_der()).map_err(|e| {
        bad(format!(
            "The certificate is not a valid X.509 certificate: {e}"
        ))
    })?;
    let cert_n = match x509.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(r)) => r
            .modulus
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect::<Vec<u8>>(),
        _ => {
            return Err(bad(
                "The certificate's key is not RSA; TDE certificates are RSA.".into(),
            ));
        }
    };
    let info = pkcs8::PrivateKeyInfoRef::from_der(chain.key().as_der())
        .map_err(|e| bad(format!("The private key is not PKCS#8: {e}")))?;
    let rsa = pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes())
        .map_err(|e| bad(format!("The private key is not an RSA key: {e}")))?;
    let key_n: Vec<u8> = rsa
        .modulus
        .as_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    if key_n != cert_n {
        return Err(bad(
            "The private key in the blob does not belong to its certificate.".into(),
        ));
    }
    Ok((sha1(cert.as_der()), cert.subject().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_and_its_pvk() {
        let c = ServerCertificate::create("TDECert", "TDE test").unwrap();
        assert_eq!(c.thumbprint, sha1(&c.der));
        let pvk = c.pvk("pw").unwrap();
        assert_eq!(&pvk[..4], &0xB0B5_F11Eu32.to_le_bytes());
        // 2048-bit key: 8 + 12 + 256 + 5*128 + 256 bytes of blob.
        assert_eq!(pvk.len(), 24 + 16 + 8 + 12 + 256 * 2 + 128 * 5);
        assert!(check_pfx(b"not a pfx", "pw").is_err());
    }
}
