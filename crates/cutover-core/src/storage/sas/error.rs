//! [`SasError`]: every way creating, reading, checking or verifying a SAS can fail. Messages
//! name the parameter and value at fault, never a signature or key, and say what to do.

use time::OffsetDateTime;

use super::times::iso;

/// Errors from creating, reading, checking or verifying a SAS. Messages name the parameter and
/// value at fault (never a signature or key) and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    /// The account key (or user delegation key value) is not usable base64.
    #[error(
        "the {what} is not valid base64: copy it again (for an account key: key1 or key2 from the \
         storage account's \"Access keys\" page)"
    )]
    InvalidKey {
        /// Which key: "account key" or "user delegation key value".
        what: &'static str,
    },
    /// An account or container name that cannot appear in a canonical resource.
    #[error("{field} '{value}' is not valid: {reason}")]
    InvalidName {
        /// "account" or "container".
        field: &'static str,
        /// The name given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A permission letter Azure does not define.
    #[error(
        "sp='{sp}' has the unknown permission '{letter}': use letters from \"racwdxyltfmeopiu\" \
         (LRS needs sp=rl)"
    )]
    UnknownPermission {
        /// The unknown letter.
        letter: char,
        /// The whole `sp` value.
        sp: String,
    },
    /// No permission at all.
    #[error("the SAS grants no permission (sp is empty or missing): generate one with sp=rl")]
    NoPermissions,
    /// Expiry not after start.
    #[error("the SAS expiry se={} is not after its start st={}: pick an expiry later than the start", iso(.expiry), iso(.start))]
    ExpiryNotAfterStart {
        /// The start asked for.
        start: OffsetDateTime,
        /// The expiry asked for.
        expiry: OffsetDateTime,
    },
    /// A time that cannot be written as `YYYY-MM-DDThh:mm:ssZ`.
    #[error("{field} {} cannot be written in a SAS: use a time between years 0000 and 9999", iso(.value))]
    TimeOutOfRange {
        /// The parameter ("st", "se", ...).
        field: &'static str,
        /// The time given.
        value: OffsetDateTime,
    },
    /// A time parameter in a token that is not ISO 8601 UTC.
    #[error(
        "{field}='{value}' is not a time Azure accepts: use YYYY-MM-DD, YYYY-MM-DDThh:mmZ or \
         YYYY-MM-DDThh:mm:ssZ (UTC)"
    )]
    InvalidTime {
        /// The parameter ("st", "se", "skt", ...).
        field: &'static str,
        /// The value found.
        value: String,
    },
    /// The user delegation key expires before the SAS it would sign.
    #[error(
        "the SAS would expire at {} but its user delegation key expires at {}: request a key valid \
         until the SAS expiry (Get User Delegation Key allows up to 7 days) or shorten the SAS",
        iso(.sas_expiry), iso(.key_expiry)
    )]
    ExpiryAfterKeyExpiry {
        /// The SAS expiry asked for.
        sas_expiry: OffsetDateTime,
        /// The user delegation key's expiry.
        key_expiry: OffsetDateTime,
    },
    /// A field of the user delegation key that is empty.
    #[error(
        "the user delegation key has an empty {field}: pass the key exactly as Get User Delegation \
         Key returned it"
    )]
    IncompleteDelegationKey {
        /// The empty field.
        field: &'static str,
    },
    /// The token text is not a query string we can read.
    #[error("the SAS token is malformed: {reason}; paste the part after '?' of the SAS URL")]
    Malformed {
        /// What is wrong (names the parameter, never a signature).
        reason: String,
    },
    /// A parameter appears twice.
    #[error("the SAS token has the parameter '{name}' twice: keep one")]
    DuplicateParameter {
        /// The repeated parameter.
        name: String,
    },
    /// A required parameter is missing.
    #[error("the SAS token has no '{name}' parameter: {hint}")]
    MissingParameter {
        /// The missing parameter.
        name: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// The token carries no signature.
    #[error(
        "the SAS token has no signature (sig=): copy the whole token, up to and including sig=..."
    )]
    MissingSignature,
    /// The SAS is not scoped to a whole container.
    #[error(
        "the SAS is scoped to sr={resource} ({what}): LRS needs a container SAS (sr=c) or an \
         account SAS for the blob service; generate a container SAS with sp=rl"
    )]
    NotContainerScoped {
        /// The `sr` value found.
        resource: String,
        /// What that scope means.
        what: &'static str,
    },
    /// An account SAS that does not cover the blob service, or not containers and objects.
    #[error("the account SAS has {field}={value}: {hint}")]
    AccountSasScope {
        /// "ss" or "srt".
        field: &'static str,
        /// The value found.
        value: String,
        /// What to do.
        hint: &'static str,
    },
    /// Permissions beyond Read and List.
    #[error(
        "SAS grants {extra}: LRS needs Read and List only; generate one with sp=rl (found sp={sp})"
    )]
    ExtraPermissions {
        /// The extra letters, comma separated ("w, d").
        extra: String,
        /// The `sp` value found.
        sp: String,
    },
    /// Read or List missing.
    #[error(
        "SAS lacks {missing}: LRS needs Read and List; generate one with sp=rl (found sp={sp})"
    )]
    MissingPermissions {
        /// The missing permissions ("List (l)").
        missing: String,
        /// The `sp` value found.
        sp: String,
    },
    /// The SAS refers to a stored access policy.
    #[error(
        "the SAS uses the stored access policy si={identifier}: LRS does not accept those; \
         generate an ad hoc SAS with sp=rl and an explicit expiry instead"
    )]
    StoredAccessPolicy {
        /// The policy name.
        identifier: String,
    },
    /// The SAS has expired.
    #[error("the SAS expired at {} (now {}): generate a new one with a later se=", iso(.expiry), iso(.now))]
    Expired {
        /// Its expiry.
        expiry: OffsetDateTime,
        /// The time of the check.
        now: OffsetDateTime,
    },
    /// The SAS is not valid yet.
    #[error(
        "the SAS is not valid before {} (now {}): wait, or generate one with an earlier st= \
         (check this machine's clock)",
        iso(.start), iso(.now)
    )]
    NotYetValid {
        /// Its start.
        start: OffsetDateTime,
        /// The time of the check.
        now: OffsetDateTime,
    },
    /// The kind of SAS does not suit the operation (e.g. verifying an account SAS).
    #[error("{0}")]
    WrongKind(String),
    /// A signed version whose string-to-sign this module does not know.
    #[error("sv={version} is not supported here: {reason}")]
    UnsupportedVersion {
        /// The `sv` found.
        version: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The resource the caller asked to verify against does not fit the token.
    #[error("cannot verify the SAS for resource '{resource}': {reason}")]
    ResourceMismatch {
        /// The resource given.
        resource: String,
        /// What does not fit.
        reason: String,
    },
    /// The recomputed signature differs.
    #[error(
        "the SAS signature does not match: the token was altered, or signed for another resource \
         or with another key"
    )]
    SignatureMismatch,
}
