//! LRS cancels a restore job 30 days after it started (and drops the restoring database): how long
//! a database has left, and the finding the dashboard and the headless output show as the limit
//! nears. Pure functions of the start and the clock, tested without waiting a month.

use crate::catalog::{Code, Finding, Severity};

/// LRS's limit on one restore job.
pub const JOB_LIMIT_SECS: i64 = 30 * 86_400;
/// From this much left on, a warning.
pub const WARN_SECS: i64 = 5 * 86_400;
/// From this much left on, an error: cut over today.
pub const URGENT_SECS: i64 = 86_400;

/// Seconds until LRS cancels a job started at `started_unix` (negative: past the limit).
pub fn seconds_left(started_unix: i64, now_unix: i64) -> i64 {
    started_unix
        .saturating_add(JOB_LIMIT_SECS)
        .saturating_sub(now_unix)
}

/// The severity for `left` seconds: none while more than [`WARN_SECS`] remain.
pub fn severity(left: i64) -> Option<Severity> {
    if left <= URGENT_SECS {
        Some(Severity::Error)
    } else if left <= WARN_SECS {
        Some(Severity::Warning)
    } else {
        None
    }
}

fn utc(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{unix} (Unix time)"))
}

fn days_hours(secs: i64) -> String {
    let h = secs.max(0) / 3600;
    match (h / 24, h % 24) {
        (0, h) => format!("{h} h"),
        (d, h) => format!("{d} d {h} h"),
    }
}

/// The finding for a job started at `started_unix`, once it is within [`WARN_SECS`] of the limit.
pub fn finding(started_unix: i64, now_unix: i64) -> Option<Finding> {
    let left = seconds_left(started_unix, now_unix);
    let severity = severity(left)?;
    let end = utc(started_unix.saturating_add(JOB_LIMIT_SECS));
    let message = if left > 0 {
        format!(
            "LRS cancels this restore at {end}, {} from now (30 days after it started at {})",
            days_hours(left),
            utc(started_unix)
        )
    } else {
        format!(
            "the Log Replay Service restore started {} is past its 30-day limit ({end}): the managed instance cancels it and drops the restoring database",
            utc(started_unix)
        )
    };
    let fix = if left > 0 {
        "cut over before then (c on the dashboard, or cutover run --cutover when-ready); after it the migration starts again from a new full backup"
    } else {
        "retry (r, or cutover run --retry-failed) restores everything again from the full backup in the container; or take a new full backup and start a new activity"
    };
    Some(Finding::new(
        Code::LrsJobTimeLimit,
        severity,
        None,
        message,
        fix,
    ))
}

/// What a restore-status read that found no restore (HTTP 404) means, for a job started at
/// `started_unix` (if known) read at `now_unix`.
pub fn restore_gone(target: &str, started_unix: Option<i64>, now_unix: i64) -> String {
    let why = match started_unix {
        Some(s) if seconds_left(s, now_unix) <= 0 => format!(
            "the Log Replay Service cancelled it: it started {} and a restore may run 30 days",
            utc(s)
        ),
        Some(s) => format!(
            "it started {} (not yet 30 days ago): someone dropped the database or stopped the restore",
            utc(s)
        ),
        None => "LRS cancels a restore 30 days after it started, or someone dropped the database or stopped the restore".to_string(),
    };
    format!(
        "the managed instance has no restore of {target} any more ({why}); retry (r, or cutover run --retry-failed) starts it again from the full backup in the container and replays every log backup, or take a new full backup and start a new activity"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_764_000_000; // 2025-11-24 16:00 UTC

    #[test]
    fn nothing_is_said_until_five_days_are_left() {
        assert_eq!(seconds_left(START, START), JOB_LIMIT_SECS);
        assert!(finding(START, START).is_none());
        assert!(finding(START, START + JOB_LIMIT_SECS - WARN_SECS - 1).is_none());
        let f = finding(START, START + JOB_LIMIT_SECS - WARN_SECS).expect("warned at 5 days");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.code.as_str(), "LRS_JOB_TIME_LIMIT");
        assert!(f.message.contains("5 d 0 h from now"), "{}", f.message);
        assert!(
            f.message.contains("started at 2025-11-24 16:00 UTC"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("restore at 2025-12-24 16:00 UTC"),
            "{}",
            f.message
        );
        assert!(f.fix.contains("cut over before then"), "{}", f.fix);
    }

    #[test]
    fn the_last_day_is_an_error_and_past_the_limit_says_it_is_cancelled() {
        let f = finding(START, START + JOB_LIMIT_SECS - 3 * 3600).expect("urgent");
        assert_eq!(f.severity, Severity::Error);
        assert!(f.message.contains("3 h from now"), "{}", f.message);
        let f = finding(START, START + JOB_LIMIT_SECS + 60).expect("past");
        assert_eq!(f.severity, Severity::Error);
        assert!(f.message.contains("past its 30-day limit"), "{}", f.message);
        assert!(f.fix.contains("new full backup"), "{}", f.fix);
    }

    #[test]
    fn a_vanished_restore_is_explained_by_what_is_known() {
        let past = restore_gone("Sales", Some(START), START + JOB_LIMIT_SECS + 1);
        assert!(past.contains("cancelled it"), "{past}");
        let early = restore_gone("Sales", Some(START), START + 86_400);
        assert!(early.contains("someone dropped"), "{early}");
        let unknown = restore_gone("Sales", None, START);
        assert!(unknown.contains("30 days"), "{unknown}");
        for m in [past, early, unknown] {
            assert!(m.contains("Sales") && m.contains("new full backup"), "{m}");
        }
    }

    #[test]
    fn extreme_starts_do_not_overflow() {
        assert!(seconds_left(i64::MAX, 0) > 0);
        assert!(finding(i64::MIN, 0).is_some());
        assert_eq!(seconds_left(0, i64::MIN), i64::MAX);
        let f = finding(i64::MAX - 1, i64::MAX).expect("past the limit");
        assert!(f.message.contains("(Unix time)"), "{}", f.message);
    }
}
