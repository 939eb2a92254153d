//! The typed settings: each word the file takes is a serde enum (kebab-case, as written in
//! `config.sample.toml`), each number a checked value. [`word`] reads a word with an error naming
//! the key (and its layer, see `layers`) and the words allowed; [`rate_mbps`], [`seconds`] and
//! [`whole_in`] check numbers the same way. The engine builder and the wizard both use these, so a
//! word or a range is defined once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::TailMode;
use crate::source::tail::StopTraffic;
use crate::storage::auth::AadKind;

/// A setting written as one of a few words.
pub trait Word: Sized + Copy + 'static {
    /// Every value, in the order the error message lists them.
    const ALL: &'static [Self];
    /// The word in the file.
    fn word(self) -> &'static str;
}

/// Reads `value` as one of `T`'s words; the error is `{key} = "value": use "a", "b" or "c"`.
pub fn word<T: Word>(key: &str, value: &str) -> Result<T, String> {
    T::ALL
        .iter()
        .copied()
        .find(|w| w.word() == value)
        .ok_or_else(|| format!("{key} = {value:?}: use {}", one_of(T::ALL)))
}

fn one_of<T: Word>(all: &[T]) -> String {
    let words: Vec<String> = all.iter().map(|w| format!("{:?}", w.word())).collect();
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant),+
        }
        impl Word for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn word(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }
    };
}

words!(
    /// `[migration] cutover`: when the engine cuts over.
    CutoverWhen {
        /// The operator cuts over (the default).
        Never = "never",
        /// Each database by itself once it is ready.
        WhenReady = "when-ready",
    }
);

words!(
    /// `[migration] tail`: how the tail-log backup is obtained.
    Tail {
        Take = "take",
        /// The default.
        Wait = "wait",
        Skip = "skip",
    }
);

words!(
    /// `[migration] stop_traffic`: how traffic is stopped before the tail-log backup.
    StopTrafficSetting {
        ReadOnly = "read-only",
        RestrictedUser = "restricted-user",
        /// The default.
        None = "none",
    }
);

words!(
    /// `[source] authentication`.
    SourceAuthentication {
        /// SQL login and password (the default).
        Sql = "sql",
        /// An Azure AD access token from `token_env`.
        AadToken = "aad-token",
    }
);

words!(
    /// `[target] sql_authentication`: how cutover signs in to the instance's SQL endpoint.
    TargetSqlAuthentication {
        /// `sql_user` and the password in `sql_password_env` (the default).
        Sql = "sql",
        /// Microsoft Entra ID through `[target] credential` (a token asked for at each connection).
        Entra = "entra",
        /// A Microsoft Entra access token from `sql_token_env` (expires: for short runs).
        AadToken = "aad-token",
    }
);

words!(
    /// `[storage] auth`: how cutover uploads.
    StorageAuthSetting {
        Sas = "sas",
        AccountKey = "account-key",
        Aad = "aad",
    }
);

words!(
    /// `[storage] mi_access`: how the managed instance reads the container.
    MiAccessSetting {
        /// A Read + List SAS (the default).
        Sas = "sas",
        ManagedIdentity = "managed-identity",
    }
);

words!(
    /// `[target] credential`: the Azure AD credential for ARM (and `[storage] auth = "aad"`).
    Credential {
        ServicePrincipal = "service-principal",
        AzureCli = "azure-cli",
        ManagedIdentity = "managed-identity",
        WorkloadIdentity = "workload-identity",
        /// The default.
        Auto = "auto",
    }
);

impl From<Tail> for TailMode {
    fn from(t: Tail) -> TailMode {
        match t {
            Tail::Take => TailMode::Take,
            Tail::Wait => TailMode::Wait,
            Tail::Skip => TailMode::Skip,
        }
    }
}

impl From<TailMode> for Tail {
    fn from(t: TailMode) -> Tail {
        match t {
            TailMode::Take => Tail::Take,
            TailMode::Wait => Tail::Wait,
            TailMode::Skip => Tail::Skip,
        }
    }
}

impl StopTrafficSetting {
    /// The engine's value (None: traffic is not stopped).
    pub fn stop_traffic(self) -> Option<StopTraffic> {
        match self {
            StopTrafficSetting::ReadOnly => Some(StopTraffic::ReadOnly),
            StopTrafficSetting::RestrictedUser => Some(StopTraffic::RestrictedUser),
            StopTrafficSetting::None => None,
        }
    }
}

impl From<Credential> for AadKind {
    fn from(c: Credential) -> AadKind {
        match c {
            Credential::ServicePrincipal => AadKind::ServicePrincipal,
            Credential::AzureCli => AadKind::AzureCli,
            Credential::ManagedIdentity => AadKind::ManagedIdentity,
            Credential::WorkloadIdentity => AadKind::WorkloadIdentity,
            Credential::Auto => AadKind::Auto,
        }
    }
}

/// Defaults written once (the sample file documents them).
pub mod defaults {
    /// `[target] arm_endpoint`.
    pub const ARM_ENDPOINT: &str = crate::arm::DEFAULT_ARM_ENDPOINT;
    /// `[target] location`.
    pub const LOCATION: &str = "westeurope";
    /// `[target] collation`.
    pub const COLLATION: &str = "SQL_Latin1_General_CP1_CI_AS";
    /// `[source] password_env`.
    pub const SOURCE_PASSWORD_ENV: &str = "CUTOVER_SOURCE_PASSWORD";
    /// Where the target SQL login's password is read unless `[target] sql_password_env` says.
    pub const TARGET_PASSWORD_ENV: &str = "CUTOVER_TARGET_PASSWORD";
    /// `[storage] sas_env`.
    pub const STORAGE_SAS_ENV: &str = "CUTOVER_STORAGE_SAS";
    /// `[storage] sas_expiry_days`.
    pub const SAS_EXPIRY_DAYS: u32 = 30;
    /// `[migration] scan_seconds`.
    pub const SCAN_SECONDS: f64 = 5.0;
    /// `[migration] poll_seconds`.
    pub const POLL_SECONDS: f64 = 10.0;
    /// The static token the local sandbox takes (`[target] sandbox = true` / `--sandbox` only).
    pub const SANDBOX_TOKEN: &str = "cutover-sandbox";
}

/// A bandwidth cap in megabits per second: a finite number > 0.
pub fn rate_mbps(key: &str, v: f64) -> Result<f64, String> {
    if !v.is_finite() || v <= 0.0 {
        return Err(format!(
            "{key} = {v}: must be > 0 (a positive number of megabits per second)"
        ));
    }
    Ok(v)
}

/// A duration in seconds within `0.05..=3600`.
pub fn seconds(key: &str, v: f64) -> Result<Duration, String> {
    if !(0.05..=3600.0).contains(&v) {
        return Err(format!(
            "{key} = {v}: must be between 0.05 and 3600 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A whole number within `range`; `what` says its unit.
pub fn whole_in<T>(
    key: &str,
    v: T,
    range: std::ops::RangeInclusive<T>,
    what: &str,
) -> Result<T, String>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    if !range.contains(&v) {
        return Err(format!(
            "{key} = {v}: must be {}..{} {what}",
            range.start(),
            range.end()
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_errors_list_them() {
        for c in Credential::ALL {
            assert_eq!(word::<Credential>("k", c.word()), Ok(*c));
        }
        let e = word::<CutoverWhen>("[migration] cutover", "now").unwrap_err();
        assert_eq!(
            e,
            r#"[migration] cutover = "now": use "never" or "when-ready""#
        );
        let e = word::<Tail>("[migration] tail", "later").unwrap_err();
        assert!(e.ends_with(r#"use "take", "wait" or "skip""#), "{e}");
        // serde reads the same words as `word`.
        #[derive(Deserialize)]
        struct T {
            s: StopTrafficSetting,
        }
        let t: T = toml::from_str("s = \"restricted-user\"").unwrap();
        assert_eq!(t.s, StopTrafficSetting::RestrictedUser);
        assert_eq!(t.s.stop_traffic(), Some(StopTraffic::RestrictedUser));
    }

    #[test]
    fn numbers_are_checked_naming_the_key() {
        let e = rate_mbps("[migration] max_mbps (from CUTOVER_MAX_MBPS)", -3.0).unwrap_err();
        assert_eq!(
            e,
            "[migration] max_mbps (from CUTOVER_MAX_MBPS) = -3: must be > 0 (a positive number of megabits per second)"
        );
        assert!(rate_mbps("k", f64::NAN).is_err());
        assert_eq!(rate_mbps("k", 400.0), Ok(400.0));
        assert!(
            seconds("[migration] poll_seconds", 0.0)
                .unwrap_err()
                .contains("poll_seconds")
        );
        assert_eq!(seconds("k", 2.0), Ok(Duration::from_secs(2)));
        assert!(whole_in("[migration] concurrency", 0usize, 1..=64, "files").is_err());
        assert_eq!(whole_in("k", 4usize, 1..=64, "files"), Ok(4));
    }
}
