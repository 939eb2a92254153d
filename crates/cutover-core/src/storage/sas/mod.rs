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
//!
//! Files: `sign` (creating tokens), `string_to_sign` (the signed layouts and their versions), `mac`
//! (HMAC-SHA256, keys), `parse` (a token's fields), `encoding` (query strings, percent-encoding),
//! `times`, `permissions`, `token` (the secret-bearing types, redaction), `lrs` (the Log Replay
//! Service's rules), `verify` (as Blob Storage would), `error`; tests in `tests/`.

mod encoding;
mod error;
mod lrs;
mod mac;
mod parse;
mod permissions;
mod sign;
mod string_to_sign;
mod times;
mod token;
mod verify;

#[cfg(test)]
mod tests;

pub use error::SasError;
pub use lrs::{CLOCK_SKEW_TOLERANCE, SasWarning, check_lrs_sas};
pub use parse::{SasInfo, parse_sas};
pub use permissions::SasPermissions;
pub use sign::{
    account_sas_for_blob_service, service_sas_for_container, user_delegation_sas_for_container,
};
pub use token::{SasToken, UserDelegationKey, redact_sas};
pub use verify::{verify_service_sas, verify_user_delegation_sas};

/// The signed version (`sv`) of every SAS this module creates.
pub const SAS_VERSION: &str = "2022-11-02";
