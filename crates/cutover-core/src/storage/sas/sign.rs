//! Creating SAS tokens: a container service SAS and an account SAS signed with the account key,
//! and a container user delegation SAS signed with a key from Get User Delegation Key.

use time::OffsetDateTime;

use super::encoding::Query;
use super::mac::{self, decode_key};
use super::string_to_sign::{
    ServiceParams, UserDelegationParams, service_string_to_sign, user_delegation_string_to_sign,
};
use super::times::{format_time, parse_time, truncate};
use super::{SAS_VERSION, SasError, SasPermissions, SasToken, UserDelegationKey};

/// Signs a container-level (`sr=c`) service SAS with the storage account key. `start` may be
/// `None` (valid at once); times are truncated to whole seconds. No protocol (`spr`) or IP (`sip`)
/// restriction is set. Returns the query string without a leading '?'.
pub fn service_sas_for_container(
    account: &str,
    account_key_b64: &str,
    container: &str,
    permissions: &SasPermissions,
    start: Option<OffsetDateTime>,
    expiry: OffsetDateTime,
) -> Result<SasToken, SasError> {
    check_account(account)?;
    check_container(container)?;
    let key = decode_key(account_key_b64, "account key")?;
    let fields = SignedFields::new(permissions, start, expiry)?;
    let resource = format!("/blob/{account}/{container}");
    let sts = service_string_to_sign(&ServiceParams {
        permissions: &fields.sp,
        start: &fields.st,
        expiry: &fields.se,
        canonical_resource: &resource,
        identifier: "",
        ip: "",
        protocol: "",
        version: SAS_VERSION,
        resource: "c",
        snapshot: "",
        encryption_scope: "",
        overrides: ["", "", "", "", ""],
    });
    let sig = mac::sign(&key, "account key", &sts)?;
    let mut q = Query::default();
    q.push("sv", SAS_VERSION);
    q.push_opt("st", &fields.st);
    q.push("se", &fields.se);
    q.push("sr", "c");
    q.push("sp", &fields.sp);
    q.push("sig", &sig);
    Ok(q.into_token())
}

/// Signs an account SAS for the Blob service (`ss=b`) over the given resource types (`srt`, e.g.
/// "sc" to create a container). Used only where a service SAS cannot act: creating the container.
pub fn account_sas_for_blob_service(
    account: &str,
    account_key_b64: &str,
    resource_types: &str,
    permissions: &SasPermissions,
    start: Option<OffsetDateTime>,
    expiry: OffsetDateTime,
) -> Result<SasToken, SasError> {
    check_account(account)?;
    let key = decode_key(account_key_b64, "account key")?;
    let fields = SignedFields::new(permissions, start, expiry)?;
    // Account SAS string-to-sign (2020-12-06 and later): nine fields and a final newline.
    let sts = [
        account,
        &fields.sp,
        "b",
        resource_types,
        &fields.st,
        &fields.se,
        "",
        "",
        SAS_VERSION,
        "",
        "",
    ]
    .join("\n");
    let sig = mac::sign(&key, "account key", &sts)?;
    let mut q = Query::default();
    q.push("sv", SAS_VERSION);
    q.push("ss", "b");
    q.push("srt", resource_types);
    q.push_opt("st", &fields.st);
    q.push("se", &fields.se);
    q.push("sp", &fields.sp);
    q.push("sig", &sig);
    Ok(q.into_token())
}

/// Signs a container-level (`sr=c`) user delegation SAS with a key from Get User Delegation Key.
/// The SAS must expire no later than the key.
pub fn user_delegation_sas_for_container(
    account: &str,
    container: &str,
    permissions: &SasPermissions,
    start: Option<OffsetDateTime>,
    expiry: OffsetDateTime,
    key: &UserDelegationKey,
) -> Result<SasToken, SasError> {
    check_account(account)?;
    check_container(container)?;
    for (field, value) in [
        ("signed_oid", &key.signed_oid),
        ("signed_tid", &key.signed_tid),
        ("signed_start", &key.signed_start),
        ("signed_expiry", &key.signed_expiry),
        ("signed_service", &key.signed_service),
        ("signed_version", &key.signed_version),
        ("value", &key.value_b64),
    ] {
        if value.trim().is_empty() {
            return Err(SasError::IncompleteDelegationKey { field });
        }
    }
    parse_time("skt", &key.signed_start)?;
    let key_expiry = parse_time("ske", &key.signed_expiry)?;
    let secret = decode_key(&key.value_b64, "user delegation key value")?;
    let fields = SignedFields::new(permissions, start, expiry)?;
    if expiry > key_expiry {
        return Err(SasError::ExpiryAfterKeyExpiry {
            sas_expiry: expiry,
            key_expiry,
        });
    }
    let resource = format!("/blob/{account}/{container}");
    let sts = user_delegation_string_to_sign(&UserDelegationParams {
        permissions: &fields.sp,
        start: &fields.st,
        expiry: &fields.se,
        canonical_resource: &resource,
        key_oid: &key.signed_oid,
        key_tid: &key.signed_tid,
        key_start: &key.signed_start,
        key_expiry: &key.signed_expiry,
        key_service: &key.signed_service,
        key_version: &key.signed_version,
        authorized_oid: "",
        unauthorized_oid: "",
        correlation_id: "",
        delegated_user: None,
        ip: "",
        protocol: "",
        version: SAS_VERSION,
        resource: "c",
        snapshot: "",
        encryption_scope: "",
        overrides: ["", "", "", "", ""],
    });
    let sig = mac::sign(&secret, "user delegation key value", &sts)?;
    let mut q = Query::default();
    q.push("sv", SAS_VERSION);
    q.push_opt("st", &fields.st);
    q.push("se", &fields.se);
    q.push("sr", "c");
    q.push("sp", &fields.sp);
    q.push("skoid", &key.signed_oid);
    q.push("sktid", &key.signed_tid);
    q.push("skt", &key.signed_start);
    q.push("ske", &key.signed_expiry);
    q.push("sks", &key.signed_service);
    q.push("skv", &key.signed_version);
    q.push("sig", &sig);
    Ok(q.into_token())
}

fn check_account(account: &str) -> Result<(), SasError> {
    let bad = |reason: &str| SasError::InvalidName {
        field: "account",
        value: account.to_string(),
        reason: reason.to_string(),
    };
    if account.is_empty() {
        return Err(bad(
            "it is empty; give the storage account name (the first label of its host name)",
        ));
    }
    if !account
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(bad(
            "use the storage account name: lowercase letters and digits, as in \
             https://NAME.blob.core.windows.net",
        ));
    }
    Ok(())
}

fn check_container(container: &str) -> Result<(), SasError> {
    crate::storage::layout::validate_azure_container_name(container).map_err(|e| {
        SasError::InvalidName {
            field: "container",
            value: container.to_string(),
            reason: e.to_string(),
        }
    })
}

/// The signed times and permissions of a SAS being created, formatted once.
struct SignedFields {
    sp: String,
    st: String,
    se: String,
}

impl SignedFields {
    fn new(
        permissions: &SasPermissions,
        start: Option<OffsetDateTime>,
        expiry: OffsetDateTime,
    ) -> Result<Self, SasError> {
        if permissions.is_empty() {
            return Err(SasError::NoPermissions);
        }
        if let Some(start) = start
            && truncate(expiry) <= truncate(start)
        {
            return Err(SasError::ExpiryNotAfterStart { start, expiry });
        }
        let st = match start {
            Some(s) => format_time("st", s)?,
            None => String::new(),
        };
        Ok(SignedFields {
            sp: permissions.to_string(),
            st,
            se: format_time("se", expiry)?,
        })
    }
}
