//! Shared Access Signatures (SAS) for Azure Blob Storage: signing container SAS tokens with an
//! account key or a user delegation key, reading any SAS a user hands us, checking a SAS against the
//! rules the Log Replay Service (LRS) enforces, and verifying a service SAS (for the local emulator).
//!
//! The string-to-sign follows Azure's "Create a service SAS" and "Create a user delegation SAS"
//! references for signed version [`SAS_VERSION`] (the 2020-12-06 layout, which holds until
//! 2025-07-05 for user delegation SAS and to date for service SAS): fields joined by `\n`, empty
//! fields kept as empty lines, no trailing newline.
//!
//! Secrets never reach `Display` or `Debug`: [`SasToken`] and [`UserDelegationKey`] redact
//! themselves, errors never quote a signature or key, and [`redact_sas`] scrubs `sig=` values out
//! of any text (an HTTP error message quoting a URL, for instance).

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// The signed version (`sv`) of every SAS this module creates.
pub const SAS_VERSION: &str = "2022-11-02";

/// How far in the future a start time (`st`) may be before [`check_lrs_sas`] suspects clock skew.
pub const CLOCK_SKEW_TOLERANCE: Duration = Duration::minutes(5);

/// What replaces a signature in redacted output.
const REDACTED: &str = "REDACTED";

/// Oldest signed version whose service SAS layout (with `sr` and the snapshot time) we know.
const MIN_SERVICE_VERSION: &str = "2018-11-09";
/// First signed version whose string-to-sign has the encryption scope (`ses`) line.
const ENCRYPTION_SCOPE_VERSION: &str = "2020-12-06";
/// Oldest signed version whose user delegation layout (with `saoid`, `suoid`, `scid`) we know.
const MIN_USER_DELEGATION_VERSION: &str = "2020-02-10";
/// First signed version whose user delegation layout has `skdutid` and `sduoid`.
const DELEGATED_USER_VERSION: &str = "2025-07-05";
/// First signed version whose user delegation layout adds request headers and query parameters
/// (`srh`, `srq`), which this module does not verify.
const REQUEST_BINDING_VERSION: &str = "2026-04-06";

type HmacSha256 = Hmac<Sha256>;

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

/// A non-fatal finding of [`check_lrs_sas`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SasWarning {
    /// The SAS expires before the migration is expected to end.
    ExpiresDuringMigration {
        /// When the SAS expires.
        expiry: OffsetDateTime,
        /// How long it stays valid from the time of the check.
        remaining: Duration,
    },
    /// The start time is far enough in the future to suspect clock skew.
    StartsInFuture {
        /// The SAS start.
        start: OffsetDateTime,
        /// How far ahead of the check it is.
        ahead: Duration,
    },
    /// The SAS only works from some IP addresses: LRS reads from the managed instance's addresses.
    IpRestricted {
        /// The `sip` value.
        ip: String,
    },
}

impl fmt::Display for SasWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SasWarning::ExpiresDuringMigration { expiry, remaining } => write!(
                f,
                "the SAS expires at {} (in {}), before the migration is expected to finish: \
                 generate one with a later se= or LRS will stop reading backups",
                iso(expiry),
                human_duration(*remaining)
            ),
            SasWarning::StartsInFuture { start, ahead } => write!(
                f,
                "the SAS starts at {} ({} from now): check the clocks, or generate one with an \
                 earlier st= (or none)",
                iso(start),
                human_duration(*ahead)
            ),
            SasWarning::IpRestricted { ip } => write!(
                f,
                "the SAS only works from sip={ip}: LRS reads from the managed instance's \
                 addresses, so include them or generate one without sip="
            ),
        }
    }
}

/// The permission letters in the order Azure wants them in `sp` for a service SAS, with names.
/// `u` (Update) only exists in account SAS; it is printed last.
const PERMISSIONS: [(char, &str); 16] = [
    ('r', "Read"),
    ('a', "Add"),
    ('c', "Create"),
    ('w', "Write"),
    ('d', "Delete"),
    ('x', "Delete version"),
    ('y', "Permanent delete"),
    ('l', "List"),
    ('t', "Tags"),
    ('f', "Filter by tags"),
    ('m', "Move"),
    ('e', "Execute"),
    ('o', "Ownership"),
    ('p', "Permissions/Process"),
    ('i', "Set immutability policy"),
    ('u', "Update"),
];

fn permission_bit(letter: char) -> Option<u16> {
    PERMISSIONS
        .iter()
        .position(|(c, _)| *c == letter)
        .map(|i| 1u16 << i)
}

/// A set of SAS permissions (`sp`). Parses letters in any order; prints them in Azure's canonical
/// order (`racwdxyltfmeopi`, then `u`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SasPermissions {
    bits: u16,
}

impl SasPermissions {
    /// No permission.
    pub const fn empty() -> Self {
        SasPermissions { bits: 0 }
    }

    /// Read and List: what LRS needs.
    pub const fn read_list() -> Self {
        SasPermissions {
            bits: bit('r') | bit('l'),
        }
    }

    /// Parses an `sp` value: letters in any order, repeats allowed, unknown letters refused.
    pub fn parse(sp: &str) -> Result<Self, SasError> {
        let mut bits = 0u16;
        for letter in sp.chars() {
            bits |= permission_bit(letter).ok_or_else(|| SasError::UnknownPermission {
                letter,
                sp: sp.to_string(),
            })?;
        }
        Ok(SasPermissions { bits })
    }

    /// Adds a permission letter.
    pub fn insert(&mut self, letter: char) -> Result<(), SasError> {
        self.bits |= permission_bit(letter).ok_or_else(|| SasError::UnknownPermission {
            letter,
            sp: letter.to_string(),
        })?;
        Ok(())
    }

    /// True if the letter is granted.
    pub fn contains(&self, letter: char) -> bool {
        permission_bit(letter).is_some_and(|b| self.bits & b != 0)
    }

    /// True if nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// True if exactly Read and List are granted, as LRS requires.
    pub fn is_read_list_only(&self) -> bool {
        self.bits == bit('r') | bit('l')
    }

    /// The granted letters in canonical order.
    pub fn letters(&self) -> Vec<char> {
        PERMISSIONS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.bits & (1 << i) != 0)
            .map(|(_, (c, _))| *c)
            .collect()
    }

    /// The granted letters other than Read and List, in canonical order.
    pub fn beyond_read_list(&self) -> Vec<char> {
        self.letters()
            .into_iter()
            .filter(|c| *c != 'r' && *c != 'l')
            .collect()
    }

    /// The English name of a permission letter ("List" for 'l').
    pub fn name_of(letter: char) -> Option<&'static str> {
        PERMISSIONS
            .iter()
            .find(|(c, _)| *c == letter)
            .map(|(_, n)| *n)
    }
}

const fn bit(letter: char) -> u16 {
    let mut i = 0;
    while i < PERMISSIONS.len() {
        if PERMISSIONS[i].0 == letter {
            return 1 << i;
        }
        i += 1;
    }
    0
}

impl fmt::Display for SasPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.letters() {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl FromStr for SasPermissions {
    type Err = SasError;
    fn from_str(s: &str) -> Result<Self, SasError> {
        SasPermissions::parse(s)
    }
}

/// A SAS token: the query string (no leading '?'). `Display` and `Debug` show it with the
/// signature replaced by `REDACTED`; [`SasToken::as_query`] gives the real string.
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken(String);

impl SasToken {
    /// Wraps a token, dropping a leading '?' if there is one. Does not check it: see [`parse_sas`].
    pub fn new(query: impl Into<String>) -> Self {
        let q: String = query.into();
        match q.strip_prefix('?') {
            Some(rest) => SasToken(rest.to_string()),
            None => SasToken(q),
        }
    }

    /// The real query string, signature included: put it in URLs, never in logs.
    pub fn as_query(&self) -> &str {
        &self.0
    }

    /// The real query string, consuming the token.
    pub fn into_query(self) -> String {
        self.0
    }
}

impl fmt::Display for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_sas(&self.0))
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SasToken({:?})", redact_sas(&self.0))
    }
}

/// A user delegation key, as returned by Blob Storage's Get User Delegation Key. Times are kept as
/// the exact strings the service returned, since they are signed as they are. `Debug` redacts the
/// key value.
#[derive(Clone, PartialEq, Eq)]
pub struct UserDelegationKey {
    /// `SignedOid`: the Entra object ID the key was issued to.
    pub signed_oid: String,
    /// `SignedTid`: the Entra tenant ID.
    pub signed_tid: String,
    /// `SignedStart`, e.g. "2024-01-01T00:00:00Z".
    pub signed_start: String,
    /// `SignedExpiry`, e.g. "2024-01-08T00:00:00Z".
    pub signed_expiry: String,
    /// `SignedService`: "b" for Blob Storage.
    pub signed_service: String,
    /// `SignedVersion`: the service version that issued the key.
    pub signed_version: String,
    /// `Value`: the base64 key itself (secret).
    pub value_b64: String,
}

impl fmt::Debug for UserDelegationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserDelegationKey")
            .field("signed_oid", &self.signed_oid)
            .field("signed_tid", &self.signed_tid)
            .field("signed_start", &self.signed_start)
            .field("signed_expiry", &self.signed_expiry)
            .field("signed_service", &self.signed_service)
            .field("signed_version", &self.signed_version)
            .field("value_b64", &REDACTED)
            .finish()
    }
}

/// What a SAS token says about itself (read by [`parse_sas`]). Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasInfo {
    /// `sv`.
    pub version: Option<String>,
    /// `sp`, parsed (empty if the token has none).
    pub permissions: SasPermissions,
    /// `st`.
    pub start: Option<OffsetDateTime>,
    /// `se`.
    pub expiry: Option<OffsetDateTime>,
    /// `sr` (service and user delegation SAS): "c" container, "b" blob, "d" directory...
    pub resource: Option<String>,
    /// `si`: the stored access policy the SAS refers to.
    pub signed_identifier: Option<String>,
    /// True for an account SAS (it has `ss` or `srt`).
    pub is_account_sas: bool,
    /// `ss` (account SAS): the services, e.g. "b".
    pub services: Option<String>,
    /// `srt` (account SAS): the resource types, e.g. "sco".
    pub resource_types: Option<String>,
    /// True for a user delegation SAS (it has `skoid`).
    pub is_user_delegation: bool,
    /// `spr`: "https" or "https,http".
    pub protocol: Option<String>,
    /// `sip`: an address or range.
    pub ip: Option<String>,
    /// `ses`: the encryption scope.
    pub encryption_scope: Option<String>,
    /// True if the token carries a `sig`.
    pub has_signature: bool,
}

impl SasInfo {
    /// Checks the validity period at `now`: not before `st`, before `se`.
    pub fn check_time(&self, now: OffsetDateTime) -> Result<(), SasError> {
        if let Some(start) = self.start
            && start > now
        {
            return Err(SasError::NotYetValid { start, now });
        }
        if let Some(expiry) = self.expiry
            && expiry <= now
        {
            return Err(SasError::Expired { expiry, now });
        }
        Ok(())
    }
}

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
    let sig = sign(&key, "account key", &sts)?;
    let mut q = Query::default();
    q.push("sv", SAS_VERSION);
    q.push_opt("st", &fields.st);
    q.push("se", &fields.se);
    q.push("sr", "c");
    q.push("sp", &fields.sp);
    q.push("sig", &sig);
    Ok(SasToken(q.0))
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
    let sig = sign(&key, "account key", &sts)?;
    let mut q = Query::default();
    q.push("sv", SAS_VERSION);
    q.push("ss", "b");
    q.push("srt", resource_types);
    q.push_opt("st", &fields.st);
    q.push("se", &fields.se);
    q.push("sp", &fields.sp);
    q.push("sig", &sig);
    Ok(SasToken(q.0))
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
    let sig = sign(&secret, "user delegation key value", &sts)?;
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
    Ok(SasToken(q.0))
}

/// Reads a SAS token (with or without a leading '?', or a whole URL with a query), percent-decoding
/// its values. Checks the syntax of `sp`, `st` and `se`, not the signature.
pub fn parse_sas(token: &str) -> Result<SasInfo, SasError> {
    let raw = RawSas::parse(token)?;
    raw.info()
}

/// Checks a SAS against what LRS accepts, at time `now`, for a migration expected to last
/// `expected_migration`. Errors are what makes LRS fail to start or stop reading (no signature,
/// stored access policy, wrong scope, permissions other than exactly Read + List, expired);
/// warnings are risks (expiry during the migration, start time in the future, IP restriction).
pub fn check_lrs_sas(
    token: &str,
    now: OffsetDateTime,
    expected_migration: Duration,
) -> Result<Vec<SasWarning>, SasError> {
    let info = parse_sas(token)?;
    if !info.has_signature {
        return Err(SasError::MissingSignature);
    }
    if let Some(si) = &info.signed_identifier {
        return Err(SasError::StoredAccessPolicy {
            identifier: si.clone(),
        });
    }
    if info.is_account_sas {
        let ss = info.services.clone().unwrap_or_default();
        if !ss.contains('b') {
            return Err(SasError::AccountSasScope {
                field: "ss",
                value: ss,
                hint: "it does not include the blob service (b); generate one with ss=b, or a \
                       container SAS with sp=rl",
            });
        }
        let srt = info.resource_types.clone().unwrap_or_default();
        if !(srt.contains('c') && srt.contains('o')) {
            return Err(SasError::AccountSasScope {
                field: "srt",
                value: srt,
                hint: "LRS lists the container (c) and reads blobs (o); generate one with srt=co, \
                       or a container SAS with sp=rl",
            });
        }
    } else {
        match info.resource.as_deref() {
            Some("c") => {}
            Some(other) => {
                return Err(SasError::NotContainerScoped {
                    resource: other.to_string(),
                    what: describe_resource(other),
                });
            }
            None => {
                return Err(SasError::MissingParameter {
                    name: "sr",
                    hint: "LRS needs a container SAS (sr=c) or an account SAS (ss=b&srt=co); \
                           generate a container SAS with sp=rl",
                });
            }
        }
    }
    let perms = info.permissions;
    let sp = perms.to_string();
    if perms.is_empty() {
        return Err(SasError::NoPermissions);
    }
    let extra = perms.beyond_read_list();
    if !extra.is_empty() {
        return Err(SasError::ExtraPermissions {
            extra: extra
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            sp,
        });
    }
    let missing: Vec<String> = ['r', 'l']
        .into_iter()
        .filter(|c| !perms.contains(*c))
        .map(|c| format!("{} ({c})", SasPermissions::name_of(c).unwrap_or("?")))
        .collect();
    if !missing.is_empty() {
        return Err(SasError::MissingPermissions {
            missing: missing.join(" and "),
            sp,
        });
    }
    let Some(expiry) = info.expiry else {
        return Err(SasError::MissingParameter {
            name: "se",
            hint: "an ad hoc SAS needs an expiry; generate one with se= set past the end of the \
                   migration",
        });
    };
    if expiry <= now {
        return Err(SasError::Expired { expiry, now });
    }
    let mut warnings = Vec::new();
    let remaining = expiry - now;
    if remaining < expected_migration {
        warnings.push(SasWarning::ExpiresDuringMigration { expiry, remaining });
    }
    if let Some(start) = info.start
        && start - now > CLOCK_SKEW_TOLERANCE
    {
        warnings.push(SasWarning::StartsInFuture {
            start,
            ahead: start - now,
        });
    }
    if let Some(ip) = info.ip {
        warnings.push(SasWarning::IpRestricted { ip });
    }
    Ok(warnings)
}

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
    verify(&key, "account key", &sts, &sig)?;
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
    verify(&secret, "user delegation key value", &sts, &sig)?;
    Ok(info)
}

/// Replaces the value of every `sig=` parameter in `text` (a token, a URL, or a message quoting
/// one) with `REDACTED`. Everything else is kept.
pub fn redact_sas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || matches!(bytes[i - 1], b'?' | b'&' | b';') || {
            let prev = bytes[i - 1];
            prev.is_ascii_whitespace() || prev == b'"' || prev == b'\''
        };
        if at_boundary && bytes.len() - i >= 4 && bytes[i..i + 4].eq_ignore_ascii_case(b"sig=") {
            out.push_str(&text[i..i + 4]);
            i += 4;
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || matches!(bytes[i], b'+' | b'/' | b'=' | b'%' | b'-' | b'_'))
            {
                i += 1;
            }
            if i > start {
                out.push_str(REDACTED);
            }
            continue;
        }
        // Copy one whole UTF-8 character.
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// String-to-sign

/// A marker for "this line does not exist in this version's layout" (as opposed to an empty line).
const NO_LINE: &str = "\u{0}no-line";

struct ServiceParams<'a> {
    permissions: &'a str,
    start: &'a str,
    expiry: &'a str,
    canonical_resource: &'a str,
    identifier: &'a str,
    ip: &'a str,
    protocol: &'a str,
    version: &'a str,
    resource: &'a str,
    snapshot: &'a str,
    encryption_scope: &'a str,
    /// rscc, rscd, rsce, rscl, rsct.
    overrides: [&'a str; 5],
}

/// The service SAS string-to-sign (version 2018-11-09 and later; the encryption scope line from
/// 2020-12-06): 16 lines for [`SAS_VERSION`].
fn service_string_to_sign(p: &ServiceParams<'_>) -> String {
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

struct UserDelegationParams<'a> {
    permissions: &'a str,
    start: &'a str,
    expiry: &'a str,
    canonical_resource: &'a str,
    key_oid: &'a str,
    key_tid: &'a str,
    key_start: &'a str,
    key_expiry: &'a str,
    key_service: &'a str,
    key_version: &'a str,
    authorized_oid: &'a str,
    unauthorized_oid: &'a str,
    correlation_id: &'a str,
    /// skdutid and sduoid, present from 2025-07-05.
    delegated_user: Option<(&'a str, &'a str)>,
    ip: &'a str,
    protocol: &'a str,
    version: &'a str,
    resource: &'a str,
    snapshot: &'a str,
    encryption_scope: &'a str,
    overrides: [&'a str; 5],
}

/// The user delegation SAS string-to-sign (version 2020-02-10 and later): 24 lines for
/// [`SAS_VERSION`].
fn user_delegation_string_to_sign(p: &UserDelegationParams<'_>) -> String {
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

/// A MAC keyed with `key` (HMAC accepts any key length, so this only fails in theory).
fn new_mac(key: &[u8], what: &'static str) -> Result<HmacSha256, SasError> {
    HmacSha256::new_from_slice(key).map_err(|_| SasError::InvalidKey { what })
}

/// The base64 HMAC-SHA256 of the string-to-sign.
fn sign(key: &[u8], what: &'static str, string_to_sign: &str) -> Result<String, SasError> {
    let mut mac = new_mac(key, what)?;
    mac.update(string_to_sign.as_bytes());
    Ok(BASE64.encode(mac.finalize().into_bytes()))
}

/// Compares the signature with the one recomputed, in constant time.
fn verify(
    key: &[u8],
    what: &'static str,
    string_to_sign: &str,
    sig_b64: &str,
) -> Result<(), SasError> {
    let Ok(sig) = BASE64.decode(sig_b64) else {
        return Err(SasError::SignatureMismatch);
    };
    let mut mac = new_mac(key, what)?;
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| SasError::SignatureMismatch)
}

fn decode_key(b64: &str, what: &'static str) -> Result<Vec<u8>, SasError> {
    match BASE64.decode(b64.trim()) {
        Ok(k) if !k.is_empty() => Ok(k),
        _ => Err(SasError::InvalidKey { what }),
    }
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

fn describe_resource(sr: &str) -> &'static str {
    match sr {
        "c" => "a container",
        "b" => "a single blob",
        "bs" => "a blob snapshot",
        "bv" => "a blob version",
        "d" => "a directory",
        _ => "an unknown scope",
    }
}

// ---------------------------------------------------------------------------------------------
// Names and times

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
    super::layout::validate_azure_container_name(container).map_err(|e| SasError::InvalidName {
        field: "container",
        value: container.to_string(),
        reason: e.to_string(),
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

fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Formats a time as Azure signs it: `YYYY-MM-DDThh:mm:ssZ`, UTC, whole seconds.
fn format_time(field: &'static str, t: OffsetDateTime) -> Result<String, SasError> {
    let utc = truncate(t.to_offset(UtcOffset::UTC));
    utc.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .ok()
    .filter(|s| s.len() == 20)
    .ok_or(SasError::TimeOutOfRange { field, value: t })
}

/// Parses the time formats Azure accepts in a SAS: `YYYY-MM-DD`, `YYYY-MM-DDThh:mmZ`,
/// `YYYY-MM-DDThh:mm:ssZ` (fractional seconds and numeric offsets tolerated).
fn parse_time(field: &'static str, value: &str) -> Result<OffsetDateTime, SasError> {
    let bad = || SasError::InvalidTime {
        field,
        value: value.to_string(),
    };
    if value.len() == 10 {
        let date =
            Date::parse(value, format_description!("[year]-[month]-[day]")).map_err(|_| bad())?;
        return Ok(date.midnight().assume_utc());
    }
    // "YYYY-MM-DDThh:mm" followed by a zone: add the seconds RFC 3339 requires.
    let full = match (value.get(..16), value.get(16..)) {
        (Some(head), Some(zone)) if !zone.is_empty() && !zone.starts_with(':') => {
            format!("{head}:00{zone}")
        }
        _ => value.to_string(),
    };
    OffsetDateTime::parse(&full, &Rfc3339)
        .map(|t| t.to_offset(UtcOffset::UTC))
        .map_err(|_| bad())
}

fn iso(t: &OffsetDateTime) -> String {
    let utc = truncate(t.to_offset(UtcOffset::UTC));
    utc.format(&Rfc3339).unwrap_or_else(|_| format!("{utc}"))
}

/// "3d 4h", "2h 5m", "45m", "30s".
fn human_duration(d: Duration) -> String {
    let s = d.whole_seconds().max(0);
    let (days, hours, mins) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m")
    } else {
        format!("{s}s")
    }
}

// ---------------------------------------------------------------------------------------------
// Query strings

/// A query string being built: `name=value` pairs, values percent-encoded.
#[derive(Default)]
struct Query(String);

impl Query {
    fn push(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        self.0.push_str(name);
        self.0.push('=');
        self.0.push_str(&percent_encode(value));
    }

    fn push_opt(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.push(name, value);
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so '+', '/', '=' and ':' are
/// encoded, as Azure's SDKs do).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes. A '+' stays a '+' (a base64 signature pasted unencoded still works).
fn percent_decode(name: &str, s: &str) -> Result<String, SasError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(v) = hex else {
                return Err(SasError::Malformed {
                    reason: format!(
                        "the value of '{name}' has a '%' not followed by two hex digits"
                    ),
                });
            };
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| SasError::Malformed {
        reason: format!("the value of '{name}' does not decode to UTF-8 text"),
    })
}

/// A token split into decoded parameters, in order. Holds the signature: never printed.
struct RawSas {
    params: Vec<(String, String)>,
}

impl RawSas {
    fn parse(token: &str) -> Result<Self, SasError> {
        let token = token.trim();
        // Accept a whole URL: keep what follows the first '?'.
        let query = match token.split_once('?') {
            Some((_, q)) => q,
            None => token,
        };
        let query = query.split('#').next().unwrap_or("");
        if query.is_empty() {
            return Err(SasError::Malformed {
                reason: "it is empty".into(),
            });
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = percent_decode("a parameter name", name)?.to_ascii_lowercase();
            if name.is_empty() {
                return Err(SasError::Malformed {
                    reason: "a parameter has no name (a '=' right after '&' or '?')".into(),
                });
            }
            let value = percent_decode(&name, value)?;
            if params.iter().any(|(n, _)| *n == name) {
                return Err(SasError::DuplicateParameter { name });
            }
            params.push((name, value));
        }
        Ok(RawSas { params })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn nonempty(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_string)
    }

    fn signature(&self) -> Result<String, SasError> {
        self.nonempty("sig").ok_or(SasError::MissingSignature)
    }

    fn version(&self) -> Result<String, SasError> {
        let v = self.nonempty("sv").ok_or(SasError::MissingParameter {
            name: "sv",
            hint: "every SAS has a signed version; copy the whole token",
        })?;
        let well_formed = v.len() == 10
            && v.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !well_formed {
            return Err(SasError::UnsupportedVersion {
                version: v,
                reason: "a signed version looks like YYYY-MM-DD".into(),
            });
        }
        Ok(v)
    }

    fn overrides(&self) -> [&str; 5] {
        ["rscc", "rscd", "rsce", "rscl", "rsct"].map(|n| self.get(n).unwrap_or(""))
    }

    fn info(&self) -> Result<SasInfo, SasError> {
        let permissions = SasPermissions::parse(self.get("sp").unwrap_or(""))?;
        let time = |field: &'static str| -> Result<Option<OffsetDateTime>, SasError> {
            match self.get(field) {
                Some(v) if !v.is_empty() => parse_time(field, v).map(Some),
                _ => Ok(None),
            }
        };
        let start = time("st")?;
        let expiry = time("se")?;
        let services = self.nonempty("ss");
        let resource_types = self.nonempty("srt");
        Ok(SasInfo {
            version: self.nonempty("sv"),
            permissions,
            start,
            expiry,
            resource: self.nonempty("sr"),
            signed_identifier: self.nonempty("si"),
            is_account_sas: services.is_some() || resource_types.is_some(),
            services,
            resource_types,
            is_user_delegation: self.nonempty("skoid").is_some(),
            protocol: self.nonempty("spr"),
            ip: self.nonempty("sip"),
            encryption_scope: self.nonempty("ses"),
            has_signature: self.nonempty("sig").is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Azurite's well-known development account.
    const DEV_ACCOUNT: &str = "devstoreaccount1";
    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn rl() -> SasPermissions {
        SasPermissions::read_list()
    }

    fn dev_token(start: Option<OffsetDateTime>) -> SasToken {
        service_sas_for_container(
            DEV_ACCOUNT,
            DEV_KEY,
            "migration",
            &rl(),
            start,
            datetime!(2024-01-31 00:00 UTC),
        )
        .unwrap()
    }

    fn test_udk() -> UserDelegationKey {
        UserDelegationKey {
            signed_oid: "11111111-2222-3333-4444-555555555555".into(),
            signed_tid: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
            signed_start: "2024-01-01T00:00:00Z".into(),
            signed_expiry: "2024-02-01T00:00:00Z".into(),
            signed_service: "b".into(),
            signed_version: "2022-11-02".into(),
            // base64 of the bytes 0, 1, ..., 31.
            value_b64: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
        }
    }

    fn sig_of(token: &str) -> String {
        let raw = RawSas::parse(token).unwrap();
        raw.get("sig").unwrap().to_string()
    }

    // ---- permissions

    #[test]
    fn permissions_print_in_canonical_order() {
        let p: SasPermissions = "lwr".parse().unwrap();
        assert_eq!(p.to_string(), "rwl");
        let all: SasPermissions = "uipoemftlyxdwcar".parse().unwrap();
        assert_eq!(all.to_string(), "racwdxyltfmeopiu");
        assert_eq!(SasPermissions::parse("rrll").unwrap().to_string(), "rl");
        assert_eq!(SasPermissions::empty().to_string(), "");
    }

    #[test]
    fn permissions_reject_unknown_letters() {
        let err = SasPermissions::parse("rlZ").unwrap_err();
        assert_eq!(
            err,
            SasError::UnknownPermission {
                letter: 'Z',
                sp: "rlZ".into()
            }
        );
        assert!(err.to_string().contains("'Z'"));
        assert!(SasPermissions::parse("R").is_err(), "letters are lowercase");
        let mut p = SasPermissions::empty();
        assert!(p.insert('q').is_err());
        p.insert('l').unwrap();
        assert!(p.contains('l') && !p.contains('r'));
    }

    #[test]
    fn read_list_only() {
        assert!(rl().is_read_list_only());
        assert!(SasPermissions::parse("lr").unwrap().is_read_list_only());
        assert!(!SasPermissions::parse("r").unwrap().is_read_list_only());
        assert!(!SasPermissions::parse("rwl").unwrap().is_read_list_only());
        assert!(!SasPermissions::empty().is_read_list_only());
        assert_eq!(
            SasPermissions::parse("racwdl").unwrap().beyond_read_list(),
            vec!['a', 'c', 'w', 'd']
        );
        assert_eq!(SasPermissions::name_of('l'), Some("List"));
        assert_eq!(SasPermissions::name_of('z'), None);
    }

    // ---- known answers

    /// Expected signatures computed independently, once, with Python 3's standard library over
    /// the string-to-sign written out by hand from Azure's "Create a service SAS" layout:
    ///
    /// ```text
    /// key = base64.b64decode(DEV_KEY)
    /// sts = "\n".join(["rl", "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z",
    ///                  "/blob/devstoreaccount1/migration", "", "", "", "2022-11-02", "c",
    ///                  "", "", "", "", "", "", ""])          # 16 fields
    /// base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest())
    /// ```
    ///
    /// and confirmed with the official azure-storage-blob 12.31.1 for Python
    /// (`generate_container_sas` with its version pinned to 2022-11-02), which produced the same
    /// string-to-sign and signatures.
    #[test]
    fn service_sas_known_answer() {
        let token = dev_token(Some(datetime!(2024-01-01 00:00 UTC)));
        assert_eq!(
            token.as_query(),
            "sv=2022-11-02&st=2024-01-01T00%3A00%3A00Z&se=2024-01-31T00%3A00%3A00Z&sr=c&sp=rl\
             &sig=qqcKpTSbKFnktIbExvWP285ZqU6UTRAM4OizBEUHHFo%3D"
        );
        // Without a start time the line stays, empty.
        let token = dev_token(None);
        assert_eq!(
            sig_of(token.as_query()),
            "Y+XyInxBZFsc4jYlUa5lfTaqAxVHFJMZtP73QXuG9jo="
        );
        assert!(!token.as_query().contains("st="));
    }

    #[test]
    fn service_string_to_sign_layout() {
        let sts = service_string_to_sign(&ServiceParams {
            permissions: "rl",
            start: "S",
            expiry: "E",
            canonical_resource: "/blob/a/c",
            identifier: "",
            ip: "",
            protocol: "",
            version: SAS_VERSION,
            resource: "c",
            snapshot: "",
            encryption_scope: "",
            overrides: ["", "", "", "", ""],
        });
        assert_eq!(
            sts,
            "rl\nS\nE\n/blob/a/c\n\n\n\n2022-11-02\nc\n\n\n\n\n\n\n"
        );
        assert_eq!(sts.split('\n').count(), 16);
        assert!(!sts.ends_with("\n\n\n\n\n\n\n\n"), "no trailing newline");
    }

    /// Computed independently with Python 3 over the 24-field user delegation layout for
    /// versions 2020-12-06 to 2025-07-05 ("Create a user delegation SAS"):
    ///
    /// ```text
    /// sts = "\n".join(["rl", "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z",
    ///                  "/blob/devstoreaccount1/migration",
    ///                  "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    ///                  "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "b", "2022-11-02",
    ///                  "", "", "",  "", "",  "2022-11-02", "c", "", "",  "", "", "", "", ""])
    /// base64.b64encode(hmac.new(bytes(range(32)), sts.encode(), hashlib.sha256).digest())
    /// ```
    ///
    /// (The Python SDK always signs the newest 28-field layout, so it cannot confirm this one;
    /// the JavaScript SDK's version-gated code uses these 24 fields below 2025-07-05.)
    #[test]
    fn user_delegation_sas_known_answer() {
        let token = user_delegation_sas_for_container(
            DEV_ACCOUNT,
            "migration",
            &rl(),
            Some(datetime!(2024-01-01 00:00 UTC)),
            datetime!(2024-01-31 00:00 UTC),
            &test_udk(),
        )
        .unwrap();
        assert_eq!(
            sig_of(token.as_query()),
            "679BoPHAxVp9+o4oXUCbbMEL4zJkhb3C8DXLKS+0W2k="
        );
        let info = parse_sas(token.as_query()).unwrap();
        assert!(info.is_user_delegation);
        assert_eq!(info.resource.as_deref(), Some("c"));
        let raw = RawSas::parse(token.as_query()).unwrap();
        assert_eq!(
            raw.get("skoid"),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(raw.get("ske"), Some("2024-02-01T00:00:00Z"));
        assert_eq!(raw.get("sks"), Some("b"));
        assert_eq!(raw.get("skv"), Some("2022-11-02"));
    }

    // ---- creation errors

    #[test]
    fn creation_refuses_bad_input() {
        let exp = datetime!(2024-01-31 00:00 UTC);
        let err = service_sas_for_container(DEV_ACCOUNT, "not base64!", "c1x", &rl(), None, exp)
            .unwrap_err();
        assert_eq!(
            err,
            SasError::InvalidKey {
                what: "account key"
            }
        );
        assert!(!err.to_string().contains("not base64!"));
        assert!(matches!(
            service_sas_for_container(DEV_ACCOUNT, "", "abc", &rl(), None, exp),
            Err(SasError::InvalidKey { .. })
        ));
        assert!(matches!(
            service_sas_for_container(DEV_ACCOUNT, DEV_KEY, "Bad_Name", &rl(), None, exp),
            Err(SasError::InvalidName {
                field: "container",
                ..
            })
        ));
        assert!(matches!(
            service_sas_for_container("", DEV_KEY, "abc", &rl(), None, exp),
            Err(SasError::InvalidName {
                field: "account",
                ..
            })
        ));
        assert!(matches!(
            service_sas_for_container("a/b", DEV_KEY, "abc", &rl(), None, exp),
            Err(SasError::InvalidName {
                field: "account",
                ..
            })
        ));
        assert_eq!(
            service_sas_for_container(
                DEV_ACCOUNT,
                DEV_KEY,
                "abc",
                &SasPermissions::empty(),
                None,
                exp
            )
            .unwrap_err(),
            SasError::NoPermissions
        );
        let err = service_sas_for_container(DEV_ACCOUNT, DEV_KEY, "abc", &rl(), Some(exp), exp)
            .unwrap_err();
        assert!(matches!(err, SasError::ExpiryNotAfterStart { .. }));
        assert!(err.to_string().contains("2024-01-31T00:00:00Z"));
        // A container named "backups" is valid for Azure: only LRS refuses it (see layout).
        assert!(
            service_sas_for_container(DEV_ACCOUNT, DEV_KEY, "backups", &rl(), None, exp).is_ok()
        );
    }

    #[test]
    fn times_are_utc_whole_seconds() {
        let start = datetime!(2024-01-01 02:00:00.75 +02:00);
        let token = service_sas_for_container(
            DEV_ACCOUNT,
            DEV_KEY,
            "migration",
            &rl(),
            Some(start),
            datetime!(2024-01-31 00:00 UTC),
        )
        .unwrap();
        // 02:00:00.75 at +02:00 is midnight UTC, truncated: the same token as the known answer.
        assert_eq!(
            sig_of(token.as_query()),
            "qqcKpTSbKFnktIbExvWP285ZqU6UTRAM4OizBEUHHFo="
        );
    }

    #[test]
    fn user_delegation_refuses_bad_keys() {
        let exp = datetime!(2024-01-31 00:00 UTC);
        let mut k = test_udk();
        k.signed_oid.clear();
        assert_eq!(
            user_delegation_sas_for_container(DEV_ACCOUNT, "abc", &rl(), None, exp, &k)
                .unwrap_err(),
            SasError::IncompleteDelegationKey {
                field: "signed_oid"
            }
        );
        let mut k = test_udk();
        k.signed_expiry = "next week".into();
        assert!(matches!(
            user_delegation_sas_for_container(DEV_ACCOUNT, "abc", &rl(), None, exp, &k),
            Err(SasError::InvalidTime { field: "ske", .. })
        ));
        let mut k = test_udk();
        k.value_b64 = "%%%".into();
        assert_eq!(
            user_delegation_sas_for_container(DEV_ACCOUNT, "abc", &rl(), None, exp, &k)
                .unwrap_err(),
            SasError::InvalidKey {
                what: "user delegation key value"
            }
        );
        // The SAS may not outlive its key.
        let err = user_delegation_sas_for_container(
            DEV_ACCOUNT,
            "abc",
            &rl(),
            None,
            datetime!(2024-03-01 00:00 UTC),
            &test_udk(),
        )
        .unwrap_err();
        assert!(matches!(err, SasError::ExpiryAfterKeyExpiry { .. }));
        assert!(err.to_string().contains("2024-02-01T00:00:00Z"));
    }

    // ---- redaction

    #[test]
    fn token_display_and_debug_redact_the_signature() {
        let token = dev_token(None);
        let real_sig = "Y%2BXyInxBZFsc4jYlUa5lfTaqAxVHFJMZtP73QXuG9jo%3D";
        assert!(token.as_query().contains(real_sig));
        for shown in [format!("{token}"), format!("{token:?}")] {
            assert!(!shown.contains("XyInx"), "{shown}");
            assert!(shown.contains("sig=REDACTED"), "{shown}");
            assert!(shown.contains("sp=rl"), "{shown}");
        }
        assert_eq!(SasToken::new("?sv=1&sig=abc").as_query(), "sv=1&sig=abc");
        assert_eq!(SasToken::new("sv=1").into_query(), "sv=1");
    }

    #[test]
    fn delegation_key_debug_redacts_the_value() {
        let shown = format!("{:?}", test_udk());
        assert!(!shown.contains("AAECAwQF"), "{shown}");
        assert!(shown.contains("REDACTED"));
        assert!(shown.contains("11111111-2222"));
    }

    #[test]
    fn redact_sas_in_free_text() {
        assert_eq!(
            redact_sas(
                "GET https://a.blob.core.windows.net/c/x.bak?sv=2022-11-02&sig=ab%2Bc%3D&sp=rl failed"
            ),
            "GET https://a.blob.core.windows.net/c/x.bak?sv=2022-11-02&sig=REDACTED&sp=rl failed"
        );
        assert_eq!(redact_sas("SIG=abc+/="), "SIG=REDACTED");
        assert_eq!(redact_sas("token \"sig=xyz\""), "token \"sig=REDACTED\"");
        // Not a parameter boundary: left alone.
        assert_eq!(redact_sas("mysig=abc"), "mysig=abc");
        assert_eq!(redact_sas("sig="), "sig=");
        assert_eq!(redact_sas("é sig=1 ü"), "é sig=REDACTED ü");
        assert_eq!(redact_sas("a&sig=1&sig=2"), "a&sig=REDACTED&sig=REDACTED");
    }

    #[test]
    fn errors_never_show_the_signature() {
        let token = dev_token(None);
        let tampered = token.as_query().replace("sp=rl", "sp=rwl");
        let err = verify_service_sas(&tampered, DEV_ACCOUNT, DEV_KEY, "migration").unwrap_err();
        assert!(!err.to_string().contains("XyInx"));
        let err = parse_sas("sv=2022-11-02&sig=%ZZsecret").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("'sig'"));
    }

    // ---- parsing

    #[test]
    fn parse_reads_every_field() {
        let info = parse_sas(
            "?sv=2022-11-02&ss=b&srt=co&sp=rl&st=2024-01-01&se=2024-01-31T10%3A30Z\
             &spr=https&sip=10.0.0.1-10.0.0.9&si=policy1&ses=scope&sig=abc%3D",
        )
        .unwrap();
        assert_eq!(info.version.as_deref(), Some("2022-11-02"));
        assert_eq!(info.permissions, rl());
        assert_eq!(info.start, Some(datetime!(2024-01-01 00:00 UTC)));
        assert_eq!(info.expiry, Some(datetime!(2024-01-31 10:30 UTC)));
        assert!(info.is_account_sas);
        assert_eq!(info.services.as_deref(), Some("b"));
        assert_eq!(info.resource_types.as_deref(), Some("co"));
        assert_eq!(info.protocol.as_deref(), Some("https"));
        assert_eq!(info.ip.as_deref(), Some("10.0.0.1-10.0.0.9"));
        assert_eq!(info.signed_identifier.as_deref(), Some("policy1"));
        assert_eq!(info.encryption_scope.as_deref(), Some("scope"));
        assert!(info.has_signature);
        assert!(!info.is_user_delegation);
        assert_eq!(info.resource, None);
    }

    #[test]
    fn parse_accepts_urls_and_azure_time_forms() {
        let info = parse_sas(
            "https://a.blob.core.windows.net/c?sr=c&sp=rl&se=2024-01-31T10:30:15.1234567Z&sig=x",
        )
        .unwrap();
        assert_eq!(
            info.expiry,
            Some(datetime!(2024-01-31 10:30:15.1234567 UTC))
        );
        assert!(!info.is_account_sas);
        let info = parse_sas("se=2024-01-31T12:30:00%2B02:00&sig=x").unwrap();
        assert_eq!(info.expiry, Some(datetime!(2024-01-31 10:30 UTC)));
        let info = parse_sas("sp=rl").unwrap();
        assert!(!info.has_signature);
        assert_eq!(info.expiry, None);
    }

    #[test]
    fn parse_refuses_malformed_tokens() {
        assert!(matches!(parse_sas(""), Err(SasError::Malformed { .. })));
        assert!(matches!(parse_sas("?"), Err(SasError::Malformed { .. })));
        assert!(matches!(
            parse_sas("=x&sp=r"),
            Err(SasError::Malformed { .. })
        ));
        assert_eq!(
            parse_sas("sp=r&SP=l").unwrap_err(),
            SasError::DuplicateParameter { name: "sp".into() }
        );
        let err = parse_sas("se=tomorrow").unwrap_err();
        assert_eq!(
            err,
            SasError::InvalidTime {
                field: "se",
                value: "tomorrow".into()
            }
        );
        assert!(err.to_string().contains("YYYY-MM-DD"));
        assert!(matches!(
            parse_sas("se=2024-13-01"),
            Err(SasError::InvalidTime { .. })
        ));
        assert!(matches!(
            parse_sas("sp=rq"),
            Err(SasError::UnknownPermission { letter: 'q', .. })
        ));
        assert!(matches!(
            parse_sas("sp=r%C3"),
            Err(SasError::Malformed { .. })
        ));
    }

    #[test]
    fn percent_round_trip() {
        let s = "a+b/c=d:e f%g&h?é";
        assert_eq!(percent_decode("x", &percent_encode(s)).unwrap(), s);
        assert_eq!(percent_encode("Ab9-._~"), "Ab9-._~");
        assert_eq!(percent_decode("x", "a+b").unwrap(), "a+b");
    }

    // ---- LRS rules

    fn now() -> OffsetDateTime {
        datetime!(2024-01-10 00:00 UTC)
    }

    fn check(token: &str) -> Result<Vec<SasWarning>, SasError> {
        check_lrs_sas(token, now(), Duration::days(7))
    }

    #[test]
    fn lrs_accepts_a_generated_read_list_sas() {
        let token = dev_token(Some(datetime!(2024-01-01 00:00 UTC)));
        assert_eq!(check(token.as_query()).unwrap(), vec![]);
    }

    #[test]
    fn lrs_refuses_extra_permissions_naming_them() {
        let err = check("sv=2022-11-02&sr=c&sp=rwdl&se=2024-02-01&sig=x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "SAS grants w, d: LRS needs Read and List only; generate one with sp=rl (found sp=rwdl)"
        );
        let err = check("sv=2022-11-02&sr=c&sp=racwdl&se=2024-02-01&sig=x").unwrap_err();
        assert!(
            matches!(err, SasError::ExtraPermissions { ref extra, .. } if extra == "a, c, w, d")
        );
    }

    #[test]
    fn lrs_needs_both_read_and_list() {
        let err = check("sr=c&sp=r&se=2024-02-01&sig=x").unwrap_err();
        assert!(err.to_string().contains("List (l)"), "{err}");
        let err = check("sr=c&sp=l&se=2024-02-01&sig=x").unwrap_err();
        assert!(err.to_string().contains("Read (r)"), "{err}");
        assert_eq!(
            check("sr=c&se=2024-02-01&sig=x").unwrap_err(),
            SasError::NoPermissions
        );
    }

    #[test]
    fn lrs_refuses_stored_policies_and_unsigned_tokens() {
        assert_eq!(
            check("sr=c&sp=rl&se=2024-02-01").unwrap_err(),
            SasError::MissingSignature
        );
        let err = check("sr=c&si=mypolicy&sig=x").unwrap_err();
        assert_eq!(
            err,
            SasError::StoredAccessPolicy {
                identifier: "mypolicy".into()
            }
        );
        assert!(err.to_string().contains("si=mypolicy"));
    }

    #[test]
    fn lrs_needs_container_scope() {
        let err = check("sr=b&sp=rl&se=2024-02-01&sig=x").unwrap_err();
        assert!(
            matches!(err, SasError::NotContainerScoped { ref resource, .. } if resource == "b")
        );
        assert!(err.to_string().contains("sr=c"));
        assert!(matches!(
            check("sp=rl&se=2024-02-01&sig=x").unwrap_err(),
            SasError::MissingParameter { name: "sr", .. }
        ));
        // Account SAS: must cover blobs, containers and objects.
        assert_eq!(
            check("ss=b&srt=co&sp=rl&se=2024-02-01&sig=x").unwrap(),
            vec![]
        );
        assert!(matches!(
            check("ss=q&srt=co&sp=rl&se=2024-02-01&sig=x").unwrap_err(),
            SasError::AccountSasScope { field: "ss", .. }
        ));
        assert!(matches!(
            check("ss=b&srt=o&sp=rl&se=2024-02-01&sig=x").unwrap_err(),
            SasError::AccountSasScope { field: "srt", .. }
        ));
    }

    #[test]
    fn lrs_expiry_rules() {
        let err = check("sr=c&sp=rl&se=2024-01-09&sig=x").unwrap_err();
        assert_eq!(
            err,
            SasError::Expired {
                expiry: datetime!(2024-01-09 00:00 UTC),
                now: now()
            }
        );
        assert!(err.to_string().contains("2024-01-09T00:00:00Z"), "{err}");
        assert!(matches!(
            check("sr=c&sp=rl&sig=x").unwrap_err(),
            SasError::MissingParameter { name: "se", .. }
        ));
        // Valid for 2 more days, migration expected to take 7: a warning.
        let w = check("sr=c&sp=rl&se=2024-01-12&sig=x").unwrap();
        assert_eq!(
            w,
            vec![SasWarning::ExpiresDuringMigration {
                expiry: datetime!(2024-01-12 00:00 UTC),
                remaining: Duration::days(2)
            }]
        );
        assert!(w[0].to_string().contains("in 2d 0h"), "{}", w[0]);
        // Valid for 8 days: fine.
        assert_eq!(check("sr=c&sp=rl&se=2024-01-18&sig=x").unwrap(), vec![]);
    }

    #[test]
    fn lrs_start_time_skew() {
        // 4 minutes ahead: within tolerance.
        assert_eq!(
            check("sr=c&sp=rl&st=2024-01-10T00:04Z&se=2024-02-01&sig=x").unwrap(),
            vec![]
        );
        let w = check("sr=c&sp=rl&st=2024-01-10T01:00Z&se=2024-02-01&sig=x").unwrap();
        assert_eq!(
            w,
            vec![SasWarning::StartsInFuture {
                start: datetime!(2024-01-10 01:00 UTC),
                ahead: Duration::hours(1)
            }]
        );
        assert!(w[0].to_string().contains("1h 0m"));
        let w = check("sr=c&sp=rl&sip=1.2.3.4&se=2024-02-01&sig=x").unwrap();
        assert_eq!(
            w,
            vec![SasWarning::IpRestricted {
                ip: "1.2.3.4".into()
            }]
        );
    }

    #[test]
    fn check_time_window() {
        let info = parse_sas("st=2024-01-05&se=2024-01-20&sig=x").unwrap();
        assert!(info.check_time(now()).is_ok());
        assert!(matches!(
            info.check_time(datetime!(2024-01-04 00:00 UTC)),
            Err(SasError::NotYetValid { .. })
        ));
        assert!(matches!(
            info.check_time(datetime!(2024-01-20 00:00 UTC)),
            Err(SasError::Expired { .. })
        ));
    }

    // ---- verification

    #[test]
    fn verify_round_trips_with_generation() {
        for start in [None, Some(datetime!(2024-01-01 00:00 UTC))] {
            let token = dev_token(start);
            let info =
                verify_service_sas(token.as_query(), DEV_ACCOUNT, DEV_KEY, "migration").unwrap();
            assert_eq!(info.permissions, rl());
            assert_eq!(info.start, start);
            // A container SAS covers any blob of the container, in any resource spelling.
            for resource in [
                "/migration",
                "migration/db1/x.bak",
                "/blob/devstoreaccount1/migration",
                "/blob/devstoreaccount1/migration/db1/LOG_x.trn",
            ] {
                verify_service_sas(token.as_query(), DEV_ACCOUNT, DEV_KEY, resource).unwrap();
            }
            let with_q = format!("?{}", token.as_query());
            verify_service_sas(&with_q, DEV_ACCOUNT, DEV_KEY, "migration").unwrap();
        }
        // Other permission sets and containers too.
        let perms: SasPermissions = "racwl".parse().unwrap();
        let token = service_sas_for_container(
            DEV_ACCOUNT,
            DEV_KEY,
            "other-one",
            &perms,
            None,
            datetime!(2030-01-01 00:00 UTC),
        )
        .unwrap();
        verify_service_sas(token.as_query(), DEV_ACCOUNT, DEV_KEY, "other-one").unwrap();
    }

    #[test]
    fn verify_rejects_tampering() {
        let token = dev_token(Some(datetime!(2024-01-01 00:00 UTC)));
        let q = token.as_query();
        let tampered = [
            q.replace("sp=rl", "sp=rwl"),
            q.replace("se=2024-01-31", "se=2025-01-31"),
            q.replace("st=2024-01-01T00%3A00%3A00Z&", ""),
            format!("{q}&sip=1.2.3.4"),
            format!("{q}&spr=https"),
            format!("{q}&rsct=text%2Fhtml"),
            q.replace("sig=qqcK", "sig=qqcL"),
            q.replace(
                "sig=qqcKpTSbKFnktIbExvWP285ZqU6UTRAM4OizBEUHHFo%3D",
                "sig=!!",
            ),
        ];
        for t in &tampered {
            assert_eq!(
                verify_service_sas(t, DEV_ACCOUNT, DEV_KEY, "migration").unwrap_err(),
                SasError::SignatureMismatch,
                "{t}"
            );
        }
        // Another container, account or key.
        assert_eq!(
            verify_service_sas(q, DEV_ACCOUNT, DEV_KEY, "other").unwrap_err(),
            SasError::SignatureMismatch
        );
        assert!(matches!(
            verify_service_sas(
                q,
                "otheraccount",
                DEV_KEY,
                "/blob/devstoreaccount1/migration"
            ),
            Err(SasError::ResourceMismatch { .. })
        ));
        assert_eq!(
            verify_service_sas(q, "otheraccount", DEV_KEY, "migration").unwrap_err(),
            SasError::SignatureMismatch
        );
        let other_key = BASE64.encode([7u8; 64]);
        assert_eq!(
            verify_service_sas(q, DEV_ACCOUNT, &other_key, "migration").unwrap_err(),
            SasError::SignatureMismatch
        );
    }

    #[test]
    fn verify_refuses_what_it_cannot_check() {
        let q = dev_token(None).into_query();
        assert_eq!(
            verify_service_sas(
                &q.replace("&sig=", "&nosig="),
                DEV_ACCOUNT,
                DEV_KEY,
                "migration"
            )
            .unwrap_err(),
            SasError::MissingSignature
        );
        assert!(matches!(
            verify_service_sas(&format!("{q}&ss=b"), DEV_ACCOUNT, DEV_KEY, "migration"),
            Err(SasError::WrongKind(_))
        ));
        assert!(matches!(
            verify_service_sas(
                &q.replace("sv=2022-11-02", "sv=2015-04-05"),
                DEV_ACCOUNT,
                DEV_KEY,
                "migration"
            ),
            Err(SasError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            verify_service_sas(
                &q.replace("sv=2022-11-02", "sv=latest"),
                DEV_ACCOUNT,
                DEV_KEY,
                "migration"
            ),
            Err(SasError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            verify_service_sas(
                &q.replace("sr=c", "sr=d"),
                DEV_ACCOUNT,
                DEV_KEY,
                "migration"
            ),
            Err(SasError::NotContainerScoped { .. })
        ));
        assert!(matches!(
            verify_service_sas(
                &q.replace("sr=c", "sr=b"),
                DEV_ACCOUNT,
                DEV_KEY,
                "migration"
            ),
            Err(SasError::ResourceMismatch { .. })
        ));
        assert!(matches!(
            verify_service_sas(&q, DEV_ACCOUNT, DEV_KEY, ""),
            Err(SasError::ResourceMismatch { .. })
        ));
    }

    /// A blob SAS (sr=b) of an older version (15 lines: no encryption scope line). Signature
    /// computed independently with Python 3's hmac/hashlib/base64 over
    /// `"\n".join(["r", "", "2024-01-31T00:00:00Z", "/blob/devstoreaccount1/c1/db/x.bak", "", "",
    /// "", "2019-12-12", "b", "", "", "", "", "", ""])` with the Azurite key.
    #[test]
    fn verify_handles_blob_scope_and_older_versions() {
        let token = "sv=2019-12-12&se=2024-01-31T00%3A00%3A00Z&sr=b&sp=r\
                     &sig=vSNDEBfHbZzqKZXWFyigGKZyC3XtHa71kyd2kD3DKdM%3D";
        verify_service_sas(token, DEV_ACCOUNT, DEV_KEY, "c1/db/x.bak").unwrap();
        assert_eq!(
            verify_service_sas(token, DEV_ACCOUNT, DEV_KEY, "c1/db/y.bak").unwrap_err(),
            SasError::SignatureMismatch
        );
    }

    #[test]
    fn verify_user_delegation_round_trip() {
        let key = test_udk();
        let token = user_delegation_sas_for_container(
            DEV_ACCOUNT,
            "migration",
            &rl(),
            None,
            datetime!(2024-01-31 00:00 UTC),
            &key,
        )
        .unwrap();
        let q = token.as_query();
        verify_user_delegation_sas(q, DEV_ACCOUNT, "migration/db/x.bak", &key).unwrap();
        assert_eq!(
            verify_user_delegation_sas(&q.replace("sp=rl", "sp=r"), DEV_ACCOUNT, "migration", &key)
                .unwrap_err(),
            SasError::SignatureMismatch
        );
        let mut other = key.clone();
        other.value_b64 = BASE64.encode([9u8; 32]);
        assert_eq!(
            verify_user_delegation_sas(q, DEV_ACCOUNT, "migration", &other).unwrap_err(),
            SasError::SignatureMismatch
        );
        let mut other = key.clone();
        other.signed_oid = "someone-else".into();
        assert_eq!(
            verify_user_delegation_sas(q, DEV_ACCOUNT, "migration", &other).unwrap_err(),
            SasError::SignatureMismatch
        );
        // The account-key verifier refuses it, and vice versa.
        assert!(matches!(
            verify_service_sas(q, DEV_ACCOUNT, DEV_KEY, "migration"),
            Err(SasError::WrongKind(_))
        ));
        let service = dev_token(None);
        assert!(matches!(
            verify_user_delegation_sas(service.as_query(), DEV_ACCOUNT, "migration", &key),
            Err(SasError::WrongKind(_))
        ));
    }

    #[test]
    fn parse_time_forms() {
        assert_eq!(
            parse_time("se", "2024-02-29").unwrap(),
            datetime!(2024-02-29 00:00 UTC)
        );
        assert_eq!(
            parse_time("se", "2024-02-29T23:59Z").unwrap(),
            datetime!(2024-02-29 23:59 UTC)
        );
        assert_eq!(
            parse_time("se", "2024-02-29T23:59:58Z").unwrap(),
            datetime!(2024-02-29 23:59:58 UTC)
        );
        assert!(parse_time("se", "2023-02-29").is_err());
        assert!(parse_time("se", "2024-02-29T24:00Z").is_err());
        assert!(parse_time("se", "2024-02-29 10:00:00").is_err());
        assert_eq!(
            format_time("se", datetime!(2024-02-29 23:59:58.999 UTC)).unwrap(),
            "2024-02-29T23:59:58Z"
        );
        assert!(matches!(
            format_time("se", datetime!(-0001-01-01 00:00 UTC)),
            Err(SasError::TimeOutOfRange { .. })
        ));
    }

    proptest::proptest! {
        /// Whatever a user pastes, reading and checking it never panics.
        #[test]
        fn arbitrary_tokens_never_panic(token in "\\PC{0,120}|([a-z]{1,5}=[%A-Za-z0-9+/:=-]{0,12}&?){0,8}") {
            let _ = parse_sas(&token);
            let _ = check_lrs_sas(&token, now(), Duration::days(1));
            let _ = verify_service_sas(&token, DEV_ACCOUNT, DEV_KEY, "migration");
            let _ = verify_user_delegation_sas(&token, DEV_ACCOUNT, "migration", &test_udk());
            let _ = redact_sas(&token);
        }

        /// Any signature value, however encoded and wherever the token is quoted, is redacted.
        #[test]
        fn signatures_are_always_redacted(
            sig in "[A-Za-z0-9+/]{8,44}={0,2}",
            prefix in "[ -~]{0,20}",
            encode in proptest::bool::ANY,
        ) {
            let value = if encode { percent_encode(&sig) } else { sig.clone() };
            let text = format!("{prefix} https://a.blob.core.windows.net/c?sv=2022-11-02&sig={value}&sp=rl");
            let shown = redact_sas(&text);
            proptest::prop_assert!(!shown.contains(&value), "{}", shown);
            proptest::prop_assert!(shown.ends_with("&sig=REDACTED&sp=rl"), "{}", shown);
            proptest::prop_assert_eq!(redact_sas(&shown), shown.clone());
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::seconds(30)), "30s");
        assert_eq!(human_duration(Duration::minutes(45)), "45m");
        assert_eq!(human_duration(Duration::minutes(125)), "2h 5m");
        assert_eq!(human_duration(Duration::hours(76)), "3d 4h");
        assert_eq!(human_duration(Duration::seconds(-5)), "0s");
    }
}
