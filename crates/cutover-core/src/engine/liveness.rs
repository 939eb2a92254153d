//! What proves the engine is alive and its figures current: when the managed instance last answered a
//! restore-status read, since when reads fail (the "stale" warning), and the data lag computed in UTC
//! from the backups' start times, which SQL Server writes in the server's local time.

/// Restore-status reads of one database: the last answer, and the failures in a row since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollHealth {
    /// Unix seconds of the last read the managed instance answered.
    pub last_ok_unix: Option<i64>,
    /// Unix seconds of the first failure of the current run of failures (None: the last read
    /// was answered).
    pub failing_since_unix: Option<i64>,
    /// Failures in a row.
    pub failures: u32,
    /// What the last failure said.
    pub last_error: Option<String>,
}

impl PollHealth {
    pub fn answered(&mut self, now_unix: i64) {
        self.last_ok_unix = Some(now_unix);
        self.failing_since_unix = None;
        self.failures = 0;
        self.last_error = None;
    }

    pub fn failed(&mut self, now_unix: i64, error: &str) {
        self.failing_since_unix.get_or_insert(now_unix);
        self.failures = self.failures.saturating_add(1);
        self.last_error = Some(error.to_string());
    }
}

/// The newest answered read over all databases.
pub fn last_poll_unix<'a>(polls: impl IntoIterator<Item = &'a PollHealth>) -> Option<i64> {
    polls.into_iter().filter_map(|p| p.last_ok_unix).max()
}

/// The "stale" warning while restore-status reads fail in a row: which database(s), since when (UTC),
/// how many tries and what the last one said. None when every database's last read was answered.
pub fn stale_message<'a>(
    polls: impl IntoIterator<Item = (&'a str, &'a PollHealth)>,
) -> Option<String> {
    let failing: Vec<(&str, &PollHealth)> = polls
        .into_iter()
        .filter(|(_, p)| p.failing_since_unix.is_some())
        .collect();
    let (name, first) = failing
        .iter()
        .min_by_key(|(_, p)| p.failing_since_unix)
        .copied()?;
    let since = first.failing_since_unix.map(utc_clock).unwrap_or_default();
    let others = match failing.len() {
        1 => String::new(),
        n => format!(" and {} other database(s)", n - 1),
    };
    Some(format!(
        "restore status of {name}{others} not read since {since} UTC ({} failed tries, last: {})",
        first.failures,
        first.last_error.as_deref().unwrap_or("no answer")
    ))
}

/// `HH:MM:SS` of a Unix time, UTC.
fn utc_clock(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// How far the target is behind: from the start of the newest restored backup to `at_ms` (now, or
/// the completion: lag stops there). `backup_start` is the header's BackupStartDate
/// (`YYYY-MM-DDTHH:MM:SS`, the server's local time); with the server's offset from UTC (minutes, as
/// `DATEDIFF(MINUTE, GETUTCDATE(), GETDATE())` gives it) it is read in UTC, without it as if UTC.
pub fn data_lag_secs(
    backup_start: &str,
    utc_offset_minutes: Option<i32>,
    at_ms: i64,
) -> Option<f64> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let local = time::PrimitiveDateTime::parse(backup_start, fmt).ok()?;
    let offset = time::UtcOffset::from_whole_seconds(utc_offset_minutes.unwrap_or(0) * 60).ok()?;
    let start_ms = local.assume_offset(offset).unix_timestamp() * 1000;
    Some(((at_ms - start_ms) as f64 / 1000.0).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_names_the_database_since_when_and_the_error_then_clears() {
        let mut sales = PollHealth::default();
        let mut hr = PollHealth::default();
        sales.answered(1_000);
        hr.answered(1_010);
        assert_eq!(last_poll_unix([&sales, &hr]), Some(1_010));
        assert_eq!(stale_message([("Sales", &sales), ("HR", &hr)]), None);
        // 1970-01-01 00:20:00 UTC = 1200.
        sales.failed(1_200, "connection refused");
        sales.failed(1_230, "timed out");
        hr.failed(1_220, "timed out");
        let m = stale_message([("Sales", &sales), ("HR", &hr)]).expect("stale");
        assert!(m.contains("Sales and 1 other database(s)"), "{m}");
        assert!(m.contains("since 00:20:00 UTC"), "{m}");
        assert!(m.contains("2 failed tries, last: timed out"), "{m}");
        assert_eq!(
            last_poll_unix([&sales, &hr]),
            Some(1_010),
            "failures keep the last answer"
        );
        sales.answered(1_300);
        hr.answered(1_300);
        assert_eq!(stale_message([("Sales", &sales), ("HR", &hr)]), None);
    }

    #[test]
    fn lag_is_read_in_utc_with_the_servers_offset() {
        // 2026-03-01 12:00:00 UTC in milliseconds.
        let noon_utc_ms = 1_772_366_400_000;
        // A server at UTC-5 wrote 06:50 local for a backup that started at 11:50 UTC: 10 minutes.
        let lag = data_lag_secs("2026-03-01T06:50:00", Some(-300), noon_utc_ms);
        assert_eq!(lag, Some(600.0));
        // Read as UTC (offset unknown) it would be 5 h 10 min.
        assert_eq!(
            data_lag_secs("2026-03-01T06:50:00", None, noon_utc_ms),
            Some(18_600.0)
        );
        // A server east of UTC: never negative.
        assert_eq!(
            data_lag_secs("2026-03-01T13:55:00", Some(120), noon_utc_ms),
            Some(300.0)
        );
        assert_eq!(
            data_lag_secs("2026-03-01T13:55:00", None, noon_utc_ms),
            Some(0.0)
        );
        assert_eq!(data_lag_secs("yesterday", Some(0), noon_utc_ms), None);
    }
}
