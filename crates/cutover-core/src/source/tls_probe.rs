//! After a TLS failure with an unknown issuer, one more connection that only looks at the certificate
//! the server presents (never trusting it: the handshake is aborted at the certificate) to tell a
//! self-signed certificate from one issued by a CA this machine does not know. TLS travels inside
//! TDS PRELOGIN packets during the handshake, as SQL Server expects.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

const PRELOGIN: u8 = 0x12;
const HEADER_LEN: usize = 8;

/// Records the server's certificate and refuses it (so nothing is ever sent over this connection).
#[derive(Debug)]
struct Capture {
    seen: Arc<Mutex<Option<Vec<u8>>>>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.as_ref().to_vec());
        }
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("diagnosis only".into()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("diagnosis only".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// A TDS packet of `ty` holding `payload` (one packet: handshake flights are small).
fn packet(ty: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + HEADER_LEN).unwrap_or(u16::MAX);
    let mut out = vec![ty, 0x01];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0, 0, 1, 0]);
    out.extend_from_slice(payload);
    out
}

/// A PRELOGIN asking for encryption: VERSION (6 bytes), ENCRYPTION = ON, terminator.
fn prelogin_request() -> Vec<u8> {
    let mut p = vec![0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xFF];
    p.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    p.push(0x01);
    packet(PRELOGIN, &p)
}

async fn read_packet(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut header = [0u8; HEADER_LEN];
    s.read_exact(&mut header).await?;
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut payload = vec![0u8; len.saturating_sub(HEADER_LEN)];
    s.read_exact(&mut payload).await?;
    Ok(payload)
}

/// The DER of the certificate the server presents on `tcp` (a fresh connection), or `None`.
pub async fn presented_certificate(
    mut tcp: TcpStream,
    host: &str,
    timeout: Duration,
) -> Option<Vec<u8>> {
    tokio::time::timeout(timeout, async {
        tcp.write_all(&prelogin_request()).await.ok()?;
        read_packet(&mut tcp).await.ok()?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let seen = Arc::new(Mutex::new(None));
        let verifier = Capture {
            seen: seen.clone(),
            schemes: provider
                .signature_verification_algorithms
                .supported_schemes(),
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
            .map(|n| n.to_owned())
            .or_else(|_| ServerName::try_from("sqlserver.invalid").map(|n| n.to_owned()))
            .ok()?;
        let mut tls = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
        // At most a few flights: the certificate comes in the server's first one.
        for _ in 0..8 {
            if tls.wants_write() {
                let mut out = Vec::new();
                tls.write_tls(&mut out).ok()?;
                tcp.write_all(&packet(PRELOGIN, &out)).await.ok()?;
            }
            let payload = read_packet(&mut tcp).await.ok()?;
            tls.read_tls(&mut payload.as_slice()).ok()?;
            let done = tls.process_new_packets().is_err();
            if let Some(der) = seen.lock().ok().and_then(|s| s.clone()) {
                return Some(der);
            }
            if done {
                return None;
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// One DER element at `pos`: (tag, the whole element's range, its content's start).
fn element(der: &[u8], pos: usize) -> Option<(u8, usize, usize, usize)> {
    let tag = *der.get(pos)?;
    let first = *der.get(pos + 1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*der.get(pos + 2 + i)?);
        }
        (len, 2 + n)
    };
    let content = pos + header;
    let end = content.checked_add(len)?;
    (end <= der.len()).then_some((tag, pos, content, end))
}

/// True when the certificate's issuer and subject are the same name: a self-signed certificate.
pub fn is_self_signed(der: &[u8]) -> bool {
    issuer_and_subject(der).is_some_and(|(i, s)| i == s)
}

fn issuer_and_subject(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, _, cert, _) = element(der, 0)?;
    let (_, _, tbs, tbs_end) = element(der, cert)?;
    let mut pos = tbs;
    let mut fields = Vec::new();
    while pos < tbs_end && fields.len() < 6 {
        let (tag, start, _, end) = element(der, pos)?;
        // [0] EXPLICIT version is optional: skip it so the fields line up.
        if !(fields.is_empty() && tag == 0xA0) {
            fields.push(&der[start..end]);
        }
        pos = end;
    }
    // serialNumber, signature, issuer, validity, subject.
    Some((fields.get(2)?, fields.get(4)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny DER certificate shape: SEQ { SEQ tbs { [0]{INT 2}, INT, SEQ alg, issuer, SEQ validity, subject } }.
    fn cert(issuer: &[u8], subject: &[u8]) -> Vec<u8> {
        let seq = |tag: u8, body: &[u8]| {
            let mut v = vec![tag, u8::try_from(body.len()).expect("short")];
            v.extend_from_slice(body);
            v
        };
        let name = |cn: &[u8]| seq(0x30, &seq(0x31, &seq(0x30, &seq(0x0c, cn))));
        let mut tbs = seq(0xA0, &[0x02, 0x01, 0x02]);
        tbs.extend(seq(0x02, &[7]));
        tbs.extend(seq(0x30, &[0x06, 0x01, 0x2a]));
        tbs.extend(name(issuer));
        tbs.extend(seq(0x30, &[]));
        tbs.extend(name(subject));
        seq(0x30, &seq(0x30, &tbs))
    }

    #[test]
    fn issuer_equal_to_subject_is_self_signed() {
        assert!(is_self_signed(&cert(b"sql01", b"sql01")));
        assert!(!is_self_signed(&cert(b"Corp CA", b"sql01")));
        assert!(!is_self_signed(&[0x30, 0x82, 0xff]));
        assert!(!is_self_signed(&[]));
    }

    #[test]
    fn the_prelogin_asks_for_encryption() {
        let p = prelogin_request();
        assert_eq!(p[0], PRELOGIN);
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
        assert_eq!(p[HEADER_LEN + 17], 0x01, "ENCRYPT_ON");
    }
}
