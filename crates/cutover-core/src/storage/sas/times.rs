//! SAS times: formatting as Azure signs them (`YYYY-MM-DDThh:mm:ssZ`), parsing the forms Azure
//! accepts, and the short forms messages use (ISO 8601, "3d 4h").

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use super::SasError;

pub(super) fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Formats a time as Azure signs it: `YYYY-MM-DDThh:mm:ssZ`, UTC, whole seconds.
pub(super) fn format_time(field: &'static str, t: OffsetDateTime) -> Result<String, SasError> {
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
pub(super) fn parse_time(field: &'static str, value: &str) -> Result<OffsetDateTime, SasError> {
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

pub(super) fn iso(t: &OffsetDateTime) -> String {
    let utc = truncate(t.to_offset(UtcOffset::UTC));
    utc.format(&Rfc3339).unwrap_or_else(|_| format!("{utc}"))
}

/// "3d 4h", "2h 5m", "45m", "30s".
pub(super) fn human_duration(d: Duration) -> String {
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
