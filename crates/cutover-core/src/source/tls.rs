//! TLS with the source: the CA file an operator trusts (`--ca-file` / `[source] ca_file`), and what a
//! failed handshake means in the operator's words (unknown CA, name mismatch, expired, self-signed)
//! instead of the TDS library's advice to developers.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A PEM file of certificates to trust for the source connection, on top of the system's roots: the
/// private CA that issued the server's certificate, or a self-signed server certificate itself.
#[derive(Clone)]
pub struct CaFile {
    pub path: PathBuf,
    pem: Arc<Vec<u8>>,
}

impl fmt::Debug for CaFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaFile({})", self.path.display())
    }
}

const PEM_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

impl CaFile {
    /// Reads and checks the file: it must hold at least one PEM certificate.
    pub fn load(path: &Path) -> Result<CaFile, String> {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "{}: cannot read the CA file: {e}; give the path of a PEM file with the CA's certificate",
                path.display()
            )
        })?;
        if !String::from_utf8_lossy(&pem).contains(PEM_CERTIFICATE) {
            return Err(format!(
                "{}: no PEM certificate ({PEM_CERTIFICATE}) in it; give the CA's certificate in PEM form \
                 (a DER .cer converts with `openssl x509 -inform der -in ca.cer -out ca.pem`)",
                path.display()
            ));
        }
        Ok(CaFile {
            path: path.to_path_buf(),
            pem: Arc::new(pem),
        })
    }

    /// The file's bytes (PEM).
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

/// Why the TLS handshake with the source failed, each with what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// The chain does not lead to a trusted root (a self-signed certificate looks the same).
    UnknownCa,
    /// The certificate is for other names; `detail` lists the names it holds when known.
    NameMismatch { detail: String },
    /// The certificate expired (`on`: when, if known).
    Expired { on: Option<String> },
    /// The certificate is not valid yet: a clock is wrong.
    NotValidYet,
    /// A self-signed certificate (issuer = subject) this machine does not trust.
    SelfSignedUntrusted,
    /// An X.509 v1 certificate, as SQL Server's auto-generated self-signed one is (refused by rustls).
    SelfSignedV1,
    /// A CA certificate presented as the server's own: a self-signed certificate marked CA:TRUE, as
    /// `openssl req -x509` makes by default.
    SelfSignedCa,
    /// The certificate was revoked, badly signed or otherwise refused (the library's words).
    Rejected { detail: String },
    /// Another TLS failure (the library's words, without its advice to developers).
    Other { detail: String },
}

impl TlsProblem {
    /// Classifies the TDS library's TLS error text.
    pub fn from_library(detail: &str) -> TlsProblem {
        let cert = certificate_error(detail);
        let has = |s: &str| cert.contains(s);
        if has("UnsupportedCertVersion") {
            TlsProblem::SelfSignedV1
        } else if has("CaUsedAsEndEntity") {
            TlsProblem::SelfSignedCa
        } else if has("UnknownIssuer") {
            TlsProblem::UnknownCa
        } else if has("not valid for name") || has("NotValidForName") {
            TlsProblem::NameMismatch {
                detail: cert
                    .split_once("; certificate ")
                    .map(|(_, names)| names.to_string())
                    .unwrap_or_default(),
            }
        } else if has("certificate expired") || has("Expired") {
            TlsProblem::Expired {
                on: unix_after(&cert, "not valid after ").map(utc_date),
            }
        } else if has("not valid yet") || has("NotValidYet") {
            TlsProblem::NotValidYet
        } else if detail.contains("rejected during the TLS handshake") {
            TlsProblem::Rejected { detail: cert }
        } else {
            TlsProblem::Other { detail: cert }
        }
    }

    /// The short name of the problem (for tests and logs).
    pub fn kind(&self) -> &'static str {
        match self {
            TlsProblem::UnknownCa => "unknown CA",
            TlsProblem::NameMismatch { .. } => "name mismatch",
            TlsProblem::Expired { .. } => "expired",
            TlsProblem::NotValidYet => "not valid yet",
            TlsProblem::SelfSignedUntrusted
            | TlsProblem::SelfSignedV1
            | TlsProblem::SelfSignedCa => "self-signed",
            TlsProblem::Rejected { .. } => "certificate refused",
            TlsProblem::Other { .. } => "TLS error",
        }
    }
}

const NO_VALIDATION: &str = "--trust-server-certificate connects without validating the certificate \
                             (open to man-in-the-middle attacks)";

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsProblem::UnknownCa => write!(
                f,
                "unknown CA: the server's certificate is not issued by an authority this machine trusts \
                 (or it is self-signed); give that CA's certificate, or the server's own certificate if \
                 it is self-signed, as a PEM file with --ca-file PATH / [source] ca_file; {NO_VALIDATION}"
            ),
            TlsProblem::NameMismatch { detail } => {
                write!(
                    f,
                    "name mismatch: the certificate is not for the name cutover connected to"
                )?;
                if !detail.is_empty() {
                    write!(f, " (it {detail})")?;
                }
                write!(
                    f,
                    "; connect with a name the certificate holds (--server / [source] server), or have \
                     the certificate reissued for this name"
                )
            }
            TlsProblem::Expired { on } => {
                write!(f, "expired: the server's certificate")?;
                match on {
                    Some(on) => write!(f, " expired on {on}")?,
                    None => write!(f, " has expired")?,
                }
                write!(
                    f,
                    "; renew it on the SQL Server instance (then restart the service), or check this \
                     machine's clock"
                )
            }
            TlsProblem::NotValidYet => write!(
                f,
                "not valid yet: the server's certificate starts later than this machine's time; check \
                 the clocks of this machine and the server"
            ),
            TlsProblem::SelfSignedUntrusted => write!(
                f,
                "self-signed: the server presents a self-signed certificate, which this machine does \
                 not trust; export it from the server (its certificate store, Base-64 .cer = PEM) and \
                 give it with --ca-file PATH / [source] ca_file, or install one issued by your CA; \
                 {NO_VALIDATION}"
            ),
            TlsProblem::SelfSignedV1 => write!(
                f,
                "self-signed: the server presents an X.509 v1 certificate, as SQL Server's \
                 auto-generated self-signed certificate is, which cannot be validated (not even with \
                 --ca-file); install a certificate from your CA on the instance; {NO_VALIDATION}"
            ),
            TlsProblem::SelfSignedCa => write!(
                f,
                "self-signed: the server presents a CA certificate as its own (a self-signed \
                 certificate marked CA:TRUE, as `openssl req -x509` makes by default), which cannot be \
                 validated as a server's (not even with --ca-file); re-create it with \
                 basicConstraints CA:FALSE and give it with --ca-file, or install one issued by your \
                 CA; {NO_VALIDATION}"
            ),
            TlsProblem::Rejected { detail } => write!(
                f,
                "certificate refused: the server's certificate is not acceptable ({detail}); check \
                 the certificate installed on the instance"
            ),
            TlsProblem::Other { detail } => write!(
                f,
                "{detail}; check that the address is the SQL Server and that it supports TLS 1.2 or later"
            ),
        }
    }
}

/// The certificate error inside the library's message, without the advice that follows it.
fn certificate_error(detail: &str) -> String {
    let start = detail
        .find("TLS handshake: ")
        .map_or(0, |i| i + "TLS handshake: ".len());
    let rest = &detail[start..];
    let end = [
        ". The SQL Server presented",
        ". To connect anyway",
        " To connect anyway",
    ]
    .iter()
    .filter_map(|m| rest.find(m))
    .min()
    .unwrap_or(rest.len());
    let cut = rest[..end].trim();
    let cut = cut
        .strip_prefix("invalid peer certificate: ")
        .unwrap_or(cut);
    cut.trim_end_matches('.').to_string()
}

/// The UNIX time written after `marker` (rustls: "not valid after 1700000000").
fn unix_after(text: &str, marker: &str) -> Option<i64> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn utc_date(unix: i64) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&f).ok())
        .unwrap_or_else(|| format!("{unix} (UNIX time)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape tiberius 0.13 gives a certificate failure (rustls error, then advice to developers).
    fn library(cert: &str) -> String {
        format!(
            "the server's certificate was rejected during the TLS handshake: {cert}. To connect anyway you can: \
             (1) trust a specific CA certificate with `Config::trust_cert_ca(path)` ... `Encrypt=false`, so this \
             can occur regardless of the encryption setting."
        )
    }

    #[test]
    fn each_certificate_failure_is_named_without_the_library_advice() {
        let cases = [
            ("invalid peer certificate: UnknownIssuer", "unknown CA"),
            (
                "invalid peer certificate: certificate not valid for name \"sql02.corp\"; certificate is only valid for DnsName(\"sql01.corp\")",
                "name mismatch",
            ),
            (
                "invalid peer certificate: certificate expired: verification time 1800000000 (UNIX), but certificate is not valid after 1700000000 (100000000 seconds ago)",
                "expired",
            ),
            (
                "invalid peer certificate: Other(OtherError(UnsupportedCertVersion))",
                "self-signed",
            ),
            ("invalid peer certificate: NotValidYet", "not valid yet"),
            ("invalid peer certificate: Revoked", "certificate refused"),
        ];
        for (cert, kind) in cases {
            let p = TlsProblem::from_library(&library(cert));
            assert_eq!(p.kind(), kind, "{cert}");
            let shown = p.to_string();
            assert!(shown.starts_with(kind), "{shown}");
            for dev in ["Config::", "trust_cert_ca(", "native-tls", "Encrypt=false"] {
                assert!(!shown.contains(dev), "developer advice in: {shown}");
            }
        }
        let expired = TlsProblem::from_library(&library(cases[2].0)).to_string();
        assert!(
            expired.contains("expired on 2023-11-14 22:13 UTC"),
            "{expired}"
        );
        let name = TlsProblem::from_library(&library(cases[1].0)).to_string();
        assert!(name.contains("sql01.corp"), "{name}");
        assert!(
            TlsProblem::UnknownCa.to_string().contains("--ca-file PATH"),
            "the fix is named"
        );
    }

    #[test]
    fn a_ca_file_must_hold_a_pem_certificate() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = CaFile::load(&dir.path().join("nope.pem")).expect_err("missing");
        assert!(
            missing.contains("nope.pem") && missing.contains("cannot read"),
            "{missing}"
        );
        let der = dir.path().join("ca.cer");
        std::fs::write(&der, [0x30, 0x82, 0x01, 0x0a]).expect("write");
        let e = CaFile::load(&der).expect_err("not PEM");
        assert!(
            e.contains("ca.cer") && e.contains("openssl x509 -inform der"),
            "{e}"
        );
        let pem = dir.path().join("ca.crt.txt");
        std::fs::write(
            &pem,
            format!("{PEM_CERTIFICATE}\nMIIB\n-----END CERTIFICATE-----\n"),
        )
        .expect("write");
        let ca = CaFile::load(&pem).expect("pem");
        assert!(format!("{ca:?}").contains("ca.crt.txt"));
    }
}
