//! Text for sizes, rates, durations, phases and file statuses (humansize, binary units).

use ratatui::style::Style;

use super::theme::Theme;
use cutover_model::BackupType;
use cutover_model::{BackupFile, FileStatus, Phase};

/// `1.50 GiB`.
pub fn bytes(n: u64) -> String {
    humansize::format_size(n, humansize::BINARY)
}

/// `12.3 MiB/s` (a negative or non-finite rate shows as 0).
pub fn rate(bytes_per_sec: f64) -> String {
    let r = if bytes_per_sec.is_finite() && bytes_per_sec > 0.0 {
        bytes_per_sec as u64
    } else {
        0
    };
    format!("{}/s", humansize::format_size(r, humansize::BINARY))
}

/// `45s`, `3m20s`, `1h02m`, `2d03h`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".to_string();
    }
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// `01:02:03` (hours grow past 99).
pub fn clock(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Percentage of `done` in `total`, 100 when there is nothing to do.
pub fn percent(done: u64, total: u64) -> u64 {
    if total == 0 {
        100
    } else {
        ((done.min(total) as u128 * 100) / total as u128) as u64
    }
}

/// DMS-like state names, upper case, at most 11 characters ([`Phase::label`], shared with the
/// engine's events and the summaries).
pub fn phase_badge(p: Phase) -> &'static str {
    p.label()
}

pub fn phase_style(p: Phase, t: Theme) -> Style {
    match p {
        Phase::Preflight | Phase::Canceled => t.dim(),
        Phase::UploadingFullBackup | Phase::Restoring | Phase::CatchingUp => t.busy(),
        Phase::ReadyForCutover | Phase::Completed => t.ok(),
        Phase::CuttingOver | Phase::Completing => t.accent(),
        Phase::Failed | Phase::Blocked => t.error(),
    }
}

/// DMS's file statuses: a file not in the restore plan is "Ignored".
pub fn file_status(s: FileStatus) -> &'static str {
    match s {
        FileStatus::Arrived => "Arrived",
        FileStatus::Retrying => "Retrying",
        FileStatus::Uploading => "Uploading",
        FileStatus::Uploaded => "Uploaded",
        FileStatus::Restoring => "Restoring",
        FileStatus::Restored => "Restored",
        FileStatus::Skipped => "Ignored",
        FileStatus::Unrestorable => "Unrestorable",
    }
}

/// A file's status as the chain shows it: "Queued" while it waits for the uploader (no byte sent
/// yet), "Uploading 40%" while bytes go out, DMS's status words otherwise.
pub fn file_progress(f: &BackupFile) -> String {
    match f.status {
        FileStatus::Uploading if f.uploaded_bytes == 0 => "Queued".to_string(),
        FileStatus::Uploading => format!("Uploading {}%", percent(f.uploaded_bytes, f.size)),
        s => file_status(s).to_string(),
    }
}

pub fn file_status_style(s: FileStatus, t: Theme) -> Style {
    match s {
        FileStatus::Arrived | FileStatus::Uploaded => t.normal(),
        FileStatus::Retrying => t.warn(),
        FileStatus::Uploading | FileStatus::Restoring => t.busy(),
        FileStatus::Restored => t.ok(),
        FileStatus::Skipped => t.dim(),
        FileStatus::Unrestorable => t.error(),
    }
}

pub fn backup_type(b: BackupType) -> &'static str {
    match b {
        BackupType::Full => "FULL",
        BackupType::Diff => "DIFF",
        BackupType::Log => "LOG",
        BackupType::File => "FILE",
        BackupType::FileDiff => "FDIF",
        BackupType::Partial => "PART",
        BackupType::PartialDiff => "PDIF",
    }
}

/// The spinner frame for a tick.
pub fn spinner(tick: u64) -> &'static str {
    const FRAMES: [&str; 4] = ["|", "/", "-", "\\"];
    FRAMES[(tick % 4) as usize]
}

/// Cuts `s` to `max` characters, ending with `…` when cut (`we]ird 'na…`).
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// `14:02:05`: the time of day of a Unix time at `offset` (UTC when unknown).
pub fn time_of_day(unix_secs: i64, offset: Option<time::UtcOffset>) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset.unwrap_or(time::UtcOffset::UTC));
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// When an event happened: `14:02:05` today, `03-01 14:02:05` on another day than `now_unix`'s
/// (a migration runs for days); the time of day alone when `now_unix` is not known (0).
pub fn event_time(unix_secs: i64, now_unix: i64, offset: Option<time::UtcOffset>) -> String {
    let day = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map(|d| d.to_offset(offset.unwrap_or(time::UtcOffset::UTC)).date())
            .ok()
    };
    if now_unix <= 0 || day(unix_secs) == day(now_unix) {
        return time_of_day(unix_secs, offset);
    }
    let full = date_time(unix_secs, offset);
    full.get(5..).unwrap_or(&full).to_string()
}

/// `2026-03-01 14:02:05`: date and time of a Unix time at `offset` (UTC when unknown).
pub fn date_time(unix_secs: i64, offset: Option<time::UtcOffset>) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset.unwrap_or(time::UtcOffset::UTC));
    format!(
        "{:04}-{:02}-{:02} {}",
        t.year(),
        t.month() as u8,
        t.day(),
        time_of_day(unix_secs, offset)
    )
}

/// A URL without its query string (a SAS in a container URL is a secret: never shown).
pub fn without_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(u, _)| u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(5.0), "5s");
        assert_eq!(duration(200.0), "3m20s");
        assert_eq!(duration(3725.0), "1h02m");
        assert_eq!(duration(2.0 * 86400.0 + 3.0 * 3600.0), "2d03h");
        assert_eq!(duration(f64::NAN), "-");
    }

    #[test]
    fn percent_and_truncate() {
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(0, 0), 100);
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("we]ird 'name", 11), "we]ird 'na…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn wall_clock_times_at_an_offset() {
        let t = 1_772_323_200 + 3600 + 125; // 2026-03-01 01:02:05 UTC
        assert_eq!(time_of_day(t, None), "01:02:05");
        let cet = time::UtcOffset::from_hms(1, 0, 0).ok();
        assert_eq!(time_of_day(t, cet), "02:02:05");
        assert_eq!(date_time(t, cet), "2026-03-01 02:02:05");
        // Events of another day carry their date.
        assert_eq!(event_time(t, t + 60, cet), "02:02:05");
        assert_eq!(event_time(t, t + 86_400, cet), "03-01 02:02:05");
        assert_eq!(event_time(t, 0, cet), "02:02:05");
    }

    #[test]
    fn a_sas_in_a_url_is_never_shown() {
        assert_eq!(
            without_query("https://a.blob.core.windows.net/c?sv=1&sig=x"),
            "https://a.blob.core.windows.net/c"
        );
        assert_eq!(without_query("https://a/c"), "https://a/c");
    }
}
