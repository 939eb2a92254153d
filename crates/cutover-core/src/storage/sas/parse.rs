//! Reading a SAS token: [`RawSas`] (the decoded parameters, signature included, never printed),
//! [`SasInfo`] (what the token says about itself, no secret) and [`parse_sas`].

use time::OffsetDateTime;

use super::encoding::percent_decode;
use super::times::parse_time;
use super::{SasError, SasPermissions};

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

/// Reads a SAS token (with or without a leading '?', or a whole URL with a query), percent-decoding
/// its values. Checks the syntax of `sp`, `st` and `se`, not the signature.
pub fn parse_sas(token: &str) -> Result<SasInfo, SasError> {
    let raw = RawSas::parse(token)?;
    raw.info()
}

/// What an `sr` value scopes, in words ("a single blob" for `b`).
pub(super) fn describe_resource(sr: &str) -> &'static str {
    match sr {
        "c" => "a container",
        "b" => "a single blob",
        "bs" => "a blob snapshot",
        "bv" => "a blob version",
        "d" => "a directory",
        _ => "an unknown scope",
    }
}

/// A token split into decoded parameters, in order. Holds the signature: never printed.
pub(super) struct RawSas {
    params: Vec<(String, String)>,
}

impl RawSas {
    pub(super) fn parse(token: &str) -> Result<Self, SasError> {
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

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn nonempty(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub(super) fn signature(&self) -> Result<String, SasError> {
        self.nonempty("sig").ok_or(SasError::MissingSignature)
    }

    pub(super) fn version(&self) -> Result<String, SasError> {
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

    pub(super) fn overrides(&self) -> [&str; 5] {
        ["rscc", "rscd", "rsce", "rscl", "rsct"].map(|n| self.get(n).unwrap_or(""))
    }

    pub(super) fn info(&self) -> Result<SasInfo, SasError> {
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
