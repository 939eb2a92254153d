//! The strings Azure signs for a service SAS and a user delegation SAS, line by line, and the
//! signed versions whose layouts differ. Fields are joined by `\n`, empty fields kept as empty
//! lines, no trailing newline.

/// Oldest signed version whose service SAS layout (with `sr` and the snapshot time) we know.
pub(super) const MIN_SERVICE_VERSION: &str = "2018-11-09";
/// First signed version whose string-to-sign has the encryption scope (`ses`) line.
pub(super) const ENCRYPTION_SCOPE_VERSION: &str = "2020-12-06";
/// Oldest signed version whose user delegation layout (with `saoid`, `suoid`, `scid`) we know.
pub(super) const MIN_USER_DELEGATION_VERSION: &str = "2020-02-10";
/// First signed version whose user delegation layout has `skdutid` and `sduoid`.
pub(super) const DELEGATED_USER_VERSION: &str = "2025-07-05";
/// First signed version whose user delegation layout adds request headers and query parameters
/// (`srh`, `srq`), which this module does not verify.
pub(super) const REQUEST_BINDING_VERSION: &str = "2026-04-06";

/// A marker for "this line does not exist in this version's layout" (as opposed to an empty line).
pub(super) const NO_LINE: &str = "\u{0}no-line";

pub(super) struct ServiceParams<'a> {
    pub(super) permissions: &'a str,
    pub(super) start: &'a str,
    pub(super) expiry: &'a str,
    pub(super) canonical_resource: &'a str,
    pub(super) identifier: &'a str,
    pub(super) ip: &'a str,
    pub(super) protocol: &'a str,
    pub(super) version: &'a str,
    pub(super) resource: &'a str,
    pub(super) snapshot: &'a str,
    pub(super) encryption_scope: &'a str,
    /// rscc, rscd, rsce, rscl, rsct.
    pub(super) overrides: [&'a str; 5],
}

/// The service SAS string-to-sign (version 2018-11-09 and later; the encryption scope line from
/// 2020-12-06): 16 lines for [`SAS_VERSION`](super::SAS_VERSION).
pub(super) fn service_string_to_sign(p: &ServiceParams<'_>) -> String {
    let mut lines = vec![
        p.permissions,
        p.start,
        p.expiry,
        p.canonical_resource,
        p.identifier,
        p.ip,
        p.protocol,
        p.version,
        p.resource,
        p.snapshot,
        p.encryption_scope,
    ];
    lines.extend_from_slice(&p.overrides);
    lines.retain(|l| *l != NO_LINE);
    lines.join("\n")
}

pub(super) struct UserDelegationParams<'a> {
    pub(super) permissions: &'a str,
    pub(super) start: &'a str,
    pub(super) expiry: &'a str,
    pub(super) canonical_resource: &'a str,
    pub(super) key_oid: &'a str,
    pub(super) key_tid: &'a str,
    pub(super) key_start: &'a str,
    pub(super) key_expiry: &'a str,
    pub(super) key_service: &'a str,
    pub(super) key_version: &'a str,
    pub(super) authorized_oid: &'a str,
    pub(super) unauthorized_oid: &'a str,
    pub(super) correlation_id: &'a str,
    /// skdutid and sduoid, present from 2025-07-05.
    pub(super) delegated_user: Option<(&'a str, &'a str)>,
    pub(super) ip: &'a str,
    pub(super) protocol: &'a str,
    pub(super) version: &'a str,
    pub(super) resource: &'a str,
    pub(super) snapshot: &'a str,
    pub(super) encryption_scope: &'a str,
    pub(super) overrides: [&'a str; 5],
}

/// The user delegation SAS string-to-sign (version 2020-02-10 and later): 24 lines for
/// [`SAS_VERSION`](super::SAS_VERSION).
pub(super) fn user_delegation_string_to_sign(p: &UserDelegationParams<'_>) -> String {
    let mut lines = vec![
        p.permissions,
        p.start,
        p.expiry,
        p.canonical_resource,
        p.key_oid,
        p.key_tid,
        p.key_start,
        p.key_expiry,
        p.key_service,
        p.key_version,
        p.authorized_oid,
        p.unauthorized_oid,
        p.correlation_id,
    ];
    if let Some((tenant, user)) = p.delegated_user {
        lines.push(tenant);
        lines.push(user);
    }
    lines.extend_from_slice(&[
        p.ip,
        p.protocol,
        p.version,
        p.resource,
        p.snapshot,
        p.encryption_scope,
    ]);
    lines.extend_from_slice(&p.overrides);
    lines.retain(|l| *l != NO_LINE);
    lines.join("\n")
}
