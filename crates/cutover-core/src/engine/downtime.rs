//! Downtime as a DBA measures it: from the moment traffic to the source stopped (or the cutover began,
//! when traffic was not stopped) to Completed; and durations in the words events and summaries use.

/// Milliseconds since the Unix epoch, UTC (downtime is measured finer than the contract's seconds: a
/// fast cutover takes under a second).
pub fn now_unix_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    now.unix_timestamp() * 1000 + i64::from(now.millisecond())
}

/// The downtime so far (`completed_ms` None: still down) or in all, in seconds; None before it began.
pub fn downtime_secs(
    started_ms: Option<i64>,
    completed_ms: Option<i64>,
    now_ms: i64,
) -> Option<f64> {
    let start = started_ms?;
    let end = completed_ms.unwrap_or(now_ms);
    Some((end - start).max(0) as f64 / 1000.0)
}

/// A duration as people say it: `0.8 s` (under ten seconds), `45 s`, `2 min 13 s`, `1 h 05 min`.
pub fn words(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    if secs < 10.0 {
        return format!("{secs:.1} s");
    }
    let whole = secs.round() as u64;
    match whole {
        0..=59 => format!("{whole} s"),
        60..=3599 => format!("{} min {} s", whole / 60, whole % 60),
        _ => format!("{} h {:02} min", whole / 3600, (whole % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downtime_runs_until_completed_then_stays() {
        assert_eq!(downtime_secs(None, None, 5_000), None);
        assert_eq!(downtime_secs(Some(1_000), None, 3_500), Some(2.5));
        assert_eq!(downtime_secs(Some(1_000), Some(2_000), 99_000), Some(1.0));
        assert_eq!(
            downtime_secs(Some(5_000), None, 1_000),
            Some(0.0),
            "clock moved back"
        );
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(words(0.84), "0.8 s");
        assert_eq!(words(45.2), "45 s");
        assert_eq!(words(133.0), "2 min 13 s");
        assert_eq!(words(3600.0 + 5.0 * 60.0 + 20.0), "1 h 05 min");
        assert_eq!(words(f64::NAN), "0.0 s");
    }
}
