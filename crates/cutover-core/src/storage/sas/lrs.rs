//! The SAS rules of the Log Replay Service: what the managed instance needs to read the backups
//! (a signed, ad hoc, container- or blob-service-wide SAS granting exactly Read and List, not
//! expired), and the risks worth a warning (expiry during the migration, clock skew, IP limits).

use std::fmt;

use time::{Duration, OffsetDateTime};

use super::parse::describe_resource;
use super::times::{human_duration, iso};
use super::{SasError, SasPermissions, parse_sas};

/// How far in the future a start time (`st`) may be before [`check_lrs_sas`] suspects clock skew.
pub const CLOCK_SKEW_TOLERANCE: Duration = Duration::minutes(5);

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
