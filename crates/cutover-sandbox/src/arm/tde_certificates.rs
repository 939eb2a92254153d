//! `POST {mi}/tdeCertificates?api-version=...` (ManagedInstanceTdeCertificates_Create, body
//! `{"properties": {"privateBlob": <base64 PKCS#12>, "certPassword": <its password>}}`, 200 with an
//! empty body): the instance keeps the certificate only if the blob opens with the password and
//! holds a certificate with its private key (`tde::check_pfx`); its thumbprint (SHA-1 of the DER)
//! is what a TDE backup's restore needs. Until it is there, a restore of a backup whose header
//! carries that thumbprint is blocked with LRS's MissingThumbprint.

use std::collections::BTreeMap;

use base64::Engine;

use super::*;
use crate::tde::{check_pfx, hex};

#[derive(serde::Deserialize)]
pub(super) struct InstancePath {
    sub: String,
    rg: String,
    mi: String,
}

/// The instance's TDE certificates: thumbprint -> subject.
pub(super) type TdeCertificates = Mutex<(BTreeMap<[u8; 20], String>, Vec<String>)>;

impl LrsService {
    /// The thumbprints of the TDE certificates uploaded to the instance, with their subjects.
    pub fn tde_certificates(&self) -> Vec<([u8; 20], String)> {
        self.tde
            .lock()
            .map(|m| m.0.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default()
    }

    /// The certPassword texts uploads carried (for tests that look for them where they must
    /// not be).
    pub fn tde_passwords_seen(&self) -> Vec<String> {
        self.tde.lock().map(|m| m.1.clone()).unwrap_or_default()
    }

    fn has_tde_certificate(&self, t: &[u8; 20]) -> bool {
        self.tde.lock().is_ok_and(|m| m.0.contains_key(t))
    }

    /// Blocks a folder whose planned backups are encrypted by a certificate the instance lacks.
    pub(super) fn tde_block(&self, files: &[FolderFile], v: &mut FolderView) {
        if v.block.is_some() {
            return;
        }
        for f in files {
            let Ok(sets) = &f.sets else { continue };
            if !v
                .plan
                .iter()
                .any(|p| p.stripes.iter().any(|s| s == &f.name) || p.file == f.name)
            {
                continue;
            }
            for s in sets {
                let Some(t) = s
                    .tde_thumbprint
                    .as_deref()
                    .and_then(|t| t.strip_prefix("0x"))
                    .and_then(parse_hex20)
                else {
                    continue;
                };
                if !self.has_tde_certificate(&t) {
                    v.block = Some((
                        "MissingThumbprint".into(),
                        format!(
                            "The backup set in '{}' of database '{}' is encrypted with TDE by a certificate with thumbprint 0x{}, which is not present on the managed instance. Upload the certificate (tdeCertificates) and the restore continues.",
                            f.name,
                            s.database_name,
                            hex(&t)
                        ),
                    ));
                    return;
                }
            }
        }
    }
}

fn parse_hex20(s: &str) -> Option<[u8; 20]> {
    if s.len() != 40 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

pub(super) async fn post_tde_certificate(
    State(s): State<Arc<LrsService>>,
    Path(p): Path<InstancePath>,
    Query(q): Query<ApiVersion>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = DbPath {
        sub: p.sub,
        rg: p.rg,
        mi: p.mi,
        db: String::new(),
    };
    if let Err(r) = s.check_served(&headers, &path, &q) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return err(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let props = v.get("properties").cloned().unwrap_or(Value::Null);
    let Some(blob) = props.get("privateBlob").and_then(Value::as_str) else {
        return err(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "properties.privateBlob is required: the base64 PKCS#12 of the certificate with its private key.",
        );
    };
    let Ok(pfx) = base64::engine::general_purpose::STANDARD.decode(blob.trim()) else {
        return err(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "properties.privateBlob is not base64.",
        );
    };
    let password = props
        .get("certPassword")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Ok(mut m) = s.tde.lock() {
        m.1.push(password.to_string());
    }
    match check_pfx(&pfx, password) {
        Ok((thumbprint, subject)) => {
            if let Ok(mut m) = s.tde.lock() {
                m.0.insert(thumbprint, subject);
            }
            (StatusCode::OK, "").into_response()
        }
        Err((code, message)) => err(StatusCode::BAD_REQUEST, code, message),
    }
}
