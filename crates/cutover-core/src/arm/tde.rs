//! Managed Instance TDE certificates: `POST {mi}/tdeCertificates?api-version=2023-08-01` with
//! `{"properties": {"privateBlob": <base64 PKCS#12>, "certPassword": <its password>}}`
//! (ManagedInstanceTdeCertificates_Create; 200, or 202 followed to its end). The body holds the
//! private key: it is built here, sent once, and never logged (ArmClient logs only the operation
//! and the status).

use base64::Engine;
use serde_json::json;

use super::{ArmClient, ArmError};
use crate::restore_target::lrs::InstanceRef;
use crate::tde::{Pfx, SecretText};

pub const TDE_API_VERSION: &str = "2023-08-01";

/// The request body: the PKCS#12 in base64 and its password (a secret: build it, send it, drop it).
pub fn tde_certificate_body(pfx: &[u8], password: &str) -> serde_json::Value {
    json!({"properties": {
        "privateBlob": base64::engine::general_purpose::STANDARD.encode(pfx),
        "certPassword": password,
    }})
}

/// Uploads `pfx` (protected by `password`) as a TDE certificate of the instance.
pub async fn upload_tde_certificate(
    arm: &ArmClient,
    instance: &InstanceRef,
    pfx: &Pfx,
    password: &SecretText,
) -> Result<(), ArmError> {
    let url = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/tdeCertificates?api-version={TDE_API_VERSION}",
        arm.endpoint(),
        instance.subscription,
        instance.resource_group,
        instance.managed_instance
    );
    let subject = pfx.thumbprint.to_string();
    let body = tde_certificate_body(pfx.bytes.expose(), password.expose());
    let (status, headers, answer) = arm
        .call(
            "upload TDE certificate",
            &subject,
            reqwest::Method::POST,
            &url,
            Some(&body),
        )
        .await?;
    drop(body);
    arm.follow("upload TDE certificate", &subject, status, &headers, answer)
        .await
        .map(|_| ())
}
