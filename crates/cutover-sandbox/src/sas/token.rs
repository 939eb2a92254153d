//! A SAS token's fields, read from its query string (names as Azure documents them: `sv`, `sr`,
//! `sp`, `st`, `se`, `si`, `sip`, `spr`, `ss`, `srt`, `skoid`, `sig`, ...). Values are
//! percent-decoded; the first occurrence of a name counts.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::blob::percent_decode_lossy;

/// The fields of a SAS token.
#[derive(Debug, Clone, Default)]
pub struct SasFields {
    /// Decoded `(name, value)` pairs, names lowercased, in order.
    params: Vec<(String, String)>,
}

impl SasFields {
    /// Reads a query string (with or without a leading '?').
    pub fn parse(query: &str) -> SasFields {
        let query = query.strip_prefix('?').unwrap_or(query);
        let params = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (
                    percent_decode_lossy(n).to_ascii_lowercase(),
                    percent_decode_lossy(v),
                )
            })
            .collect();
        SasFields { params }
    }

    /// A field's decoded value, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field's value, or "" when absent (how a string-to-sign writes a missing field).
    pub fn line(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// An account SAS carries the signed services and resource types (`ss`, `srt`).
    pub fn is_account_sas(&self) -> bool {
        self.get("ss").is_some() || self.get("srt").is_some()
    }

    /// A user delegation SAS carries the signing key's object id (`skoid`).
    pub fn is_user_delegation(&self) -> bool {
        self.get("skoid").is_some()
    }

    /// The permission letters (`sp`), as sent.
    pub fn permissions(&self) -> &str {
        self.line("sp")
    }

    /// The start time (`st`): `Ok(None)` when absent, `Err` when not an ISO 8601 UTC time.
    pub fn start(&self) -> Result<Option<OffsetDateTime>, String> {
        self.time("st")
    }

    /// The expiry (`se`): `Ok(None)` when absent, `Err` when not an ISO 8601 UTC time.
    pub fn expiry(&self) -> Result<Option<OffsetDateTime>, String> {
        self.time("se")
    }

    fn time(&self, name: &str) -> Result<Option<OffsetDateTime>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => parse_sas_time(v)
                .map(Some)
                .ok_or_else(|| format!("{name}={v} is not an ISO 8601 UTC time")),
        }
    }

    /// Checks the validity window: valid from `st` (if given) until before `se`.
    pub fn check_time(&self, now: OffsetDateTime) -> Result<(), String> {
        if let Some(st) = self.start()?
            && now < st
        {
            return Err(format!("the SAS is valid from {st}, it is {now}"));
        }
        if let Some(se) = self.expiry()?
            && now >= se
        {
            return Err(format!("the SAS expired at {se}, it is {now}"));
        }
        Ok(())
    }
}

/// The time forms Azure accepts in `st`/`se`: `YYYY-MM-DD`, `YYYY-MM-DDThh:mmZ`,
/// `YYYY-MM-DDThh:mm:ssZ` and with fractional seconds (UTC).
fn parse_sas_time(v: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Some(t);
    }
    if let Some(hm) = v.strip_suffix('Z')
        && let Ok(t) = PrimitiveDateTime::parse(
            hm,
            format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        )
    {
        return Some(t.assume_utc());
    }
    Date::parse(v, format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// `text` with every `sig=` value replaced, so a signature is never shown.
pub fn redact_sig(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.to_ascii_lowercase().find("sig=") {
        let value_start = i + 4;
        out.push_str(&rest[..value_start]);
        out.push_str("REDACTED");
        let after = &rest[value_start..];
        let end = after
            .find(|c: char| c == '&' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn fields_times_and_redaction() {
        let f = SasFields::parse(
            "?sv=2022-11-02&SR=c&sp=rl&st=2024-01-01&se=2024-01-31T00%3A00%3A00Z&sig=abc%2B",
        );
        assert_eq!(f.get("sr"), Some("c"));
        assert_eq!(f.get("sig"), Some("abc+"));
        assert_eq!(f.start().unwrap(), Some(datetime!(2024-01-01 00:00 UTC)));
        assert!(f.check_time(datetime!(2024-01-15 00:00 UTC)).is_ok());
        assert!(f.check_time(datetime!(2024-01-31 00:00 UTC)).is_err());
        assert!(f.check_time(datetime!(2023-12-31 23:59 UTC)).is_err());
        assert!(!f.is_account_sas() && !f.is_user_delegation());
        assert!(SasFields::parse("se=bad").expiry().is_err());
        assert_eq!(
            SasFields::parse("se=2024-01-31T10:30Z").expiry().unwrap(),
            Some(datetime!(2024-01-31 10:30 UTC))
        );
        assert_eq!(
            redact_sig("https://a/b?sv=1&sig=c2VjcmV0&sp=r and sig=x"),
            "https://a/b?sv=1&sig=REDACTED&sp=r and sig=REDACTED"
        );
    }
}
