//! Verifying a SAS as Blob Storage would (the sandbox's Blob service and the tests): the
//! string-to-sign is recomputed from the token's own values and the signatures compared in
//! constant time.

use super::mac::{self, decode_key};
use super::parse::{RawSas, describe_resource};
use super::string_to_sign::{
    DELEGATED_USER_VERSION, ENCRYPTION_SCOPE_VERSION, MIN_SERVICE_VERSION,
    MIN_USER_DELEGATION_VERSION, NO_LINE, REQUEST_BINDING_VERSION, ServiceParams,
    UserDelegationParams, service_string_to_sign, user_delegation_string_to_sign,
};
use super::{SAS_VERSION, SasError, SasInfo, UserDelegationKey};

/// Verifies a service SAS signed with the account key, as Blob Storage would: recomputes the
/// string-to-sign from the token's own (decoded) values and compares signatures in constant time.
///
/// `canonical_resource` is the resource the request addresses: `container` or `container/blob`
/// (decoded blob name), optionally written in full as `/blob/{account}/container[/blob]`. A
/// container SAS (`sr=c`) is checked against the container alone, so any blob of it may be given;
/// a blob SAS (`sr=b`) needs the blob. Only the signature is checked: use
/// [`SasInfo::check_time`] and the permissions for the rest.
pub fn verify_service_sas(
    token: &str,
    account: &str,
    account_key_b64: &str,
    canonical_resource: &str,
) -> Result<SasInfo, SasError> {
    let raw = RawSas::parse(token)?;
    let info = raw.info()?;
    if info.is_account_sas {
        return Err(SasError::WrongKind(
            "this is an account SAS (it has ss/srt): only service SAS can be verified here".into(),
        ));
    }
    if info.is_user_delegation {
        return Err(SasError::WrongKind(
            "this is a user delegation SAS (it has skoid): verify it with \
             verify_user_delegation_sas and the key that signed it"
                .into(),
        ));
    }
    let sig = raw.signature()?;
    let version = raw.version()?;
    if version.as_str() < MIN_SERVICE_VERSION {
        return Err(SasError::UnsupportedVersion {
            version,
            reason: format!(
                "service SAS older than {MIN_SERVICE_VERSION} are not verified; sign with sv={SAS_VERSION}"
            ),
        });
    }
    let sr = raw.get("sr").unwrap_or("");
    let resource = canonical_for(account, canonical_resource, sr)?;
    let key = decode_key(account_key_b64, "account key")?;
    let sts = service_string_to_sign(&ServiceParams {
        permissions: raw.get("sp").unwrap_or(""),
        start: raw.get("st").unwrap_or(""),
        expiry: raw.get("se").unwrap_or(""),
        canonical_resource: &resource,
        identifier: raw.get("si").unwrap_or(""),
        ip: raw.get("sip").unwrap_or(""),
        protocol: raw.get("spr").unwrap_or(""),
        version: &version,
        resource: sr,
        snapshot: "",
        encryption_scope: if version.as_str() >= ENCRYPTION_SCOPE_VERSION {
            raw.get("ses").unwrap_or("")
        } else {
            NO_LINE
        },
        overrides: raw.overrides(),
    });
    mac::verify(&key, "account key", &sts, &sig)?;
    Ok(info)
}

/// Verifies a user delegation SAS with the key that signed it (for an emulator that issued the
/// key). `canonical_resource` as for [`verify_service_sas`]. The token's `skoid`, `sktid`, `skt`,
/// `ske`, `sks` and `skv` must match the key.
pub fn verify_user_delegation_sas(
    token: &str,
    account: &str,
    canonical_resource: &str,
    key: &UserDelegationKey,
) -> Result<SasInfo, SasError> {
    let raw = RawSas::parse(token)?;
    let info = raw.info()?;
    if !info.is_user_delegation {
        return Err(SasError::WrongKind(
            "this is not a user delegation SAS (it has no skoid): verify it with \
             verify_service_sas and the account key"
                .into(),
        ));
    }
    let sig = raw.signature()?;
    let version = raw.version()?;
    if version.as_str() < MIN_USER_DELEGATION_VERSION || version.as_str() >= REQUEST_BINDING_VERSION
    {
        return Err(SasError::UnsupportedVersion {
            version,
            reason: format!(
                "user delegation SAS are verified for {MIN_USER_DELEGATION_VERSION} <= sv < \
                 {REQUEST_BINDING_VERSION}; sign with sv={SAS_VERSION}"
            ),
        });
    }
    for (name, expected) in [
        ("skoid", &key.signed_oid),
        ("sktid", &key.signed_tid),
        ("skt", &key.signed_start),
        ("ske", &key.signed_expiry),
        ("sks", &key.signed_service),
        ("skv", &key.signed_version),
    ] {
        if raw.get(name).unwrap_or("") != expected.as_str() {
            return Err(SasError::SignatureMismatch);
        }
    }
    let sr = raw.get("sr").unwrap_or("");
    let resource = canonical_for(account, canonical_resource, sr)?;
    let secret = decode_key(&key.value_b64, "user delegation key value")?;
    let delegated_user = (version.as_str() >= DELEGATED_USER_VERSION).then(|| {
        (
            raw.get("skdutid").unwrap_or(""),
            raw.get("sduoid").unwrap_or(""),
        )
    });
    let sts = user_delegation_string_to_sign(&UserDelegationParams {
        permissions: raw.get("sp").unwrap_or(""),
        start: raw.get("st").unwrap_or(""),
        expiry: raw.get("se").unwrap_or(""),
        canonical_resource: &resource,
        key_oid: raw.get("skoid").unwrap_or(""),
        key_tid: raw.get("sktid").unwrap_or(""),
        key_start: raw.get("skt").unwrap_or(""),
        key_expiry: raw.get("ske").unwrap_or(""),
        key_service: raw.get("sks").unwrap_or(""),
        key_version: raw.get("skv").unwrap_or(""),
        authorized_oid: raw.get("saoid").unwrap_or(""),
        unauthorized_oid: raw.get("suoid").unwrap_or(""),
        correlation_id: raw.get("scid").unwrap_or(""),
        delegated_user,
        ip: raw.get("sip").unwrap_or(""),
        protocol: raw.get("spr").unwrap_or(""),
        version: &version,
        resource: sr,
        snapshot: "",
        encryption_scope: if version.as_str() >= ENCRYPTION_SCOPE_VERSION {
            raw.get("ses").unwrap_or("")
        } else {
            NO_LINE
        },
        overrides: raw.overrides(),
    });
    mac::verify(&secret, "user delegation key value", &sts, &sig)?;
    Ok(info)
}

/// The canonical resource for a token scoped `sr`, from what the request addresses.
fn canonical_for(account: &str, resource: &str, sr: &str) -> Result<String, SasError> {
    let mismatch = |reason: String| SasError::ResourceMismatch {
        resource: resource.to_string(),
        reason,
    };
    let path = match resource.strip_prefix("/blob/") {
        Some(rest) => {
            let (acct, path) = rest.split_once('/').unwrap_or((rest, ""));
            if acct != account {
                return Err(mismatch(format!(
                    "it names the account '{acct}', not '{account}'"
                )));
            }
            path
        }
        None => resource.trim_start_matches('/'),
    };
    let (container, blob) = match path.split_once('/') {
        Some((c, b)) => (c, b),
        None => (path, ""),
    };
    if container.is_empty() {
        return Err(mismatch("it names no container".into()));
    }
    match sr {
        "c" => Ok(format!("/blob/{account}/{container}")),
        "b" if !blob.is_empty() => Ok(format!("/blob/{account}/{container}/{blob}")),
        "b" => Err(mismatch(
            "the SAS is for one blob (sr=b) but no blob name was given".into(),
        )),
        "" => Err(SasError::MissingParameter {
            name: "sr",
            hint: "a service SAS names its scope with sr=c (container) or sr=b (blob)",
        }),
        other => Err(SasError::NotContainerScoped {
            resource: other.to_string(),
            what: describe_resource(other),
        }),
    }
}
