//! What the TUI knows about its surroundings that is not in the engine's snapshot.

use super::theme::Theme;
use cutover_model::StopTraffic;

/// Facts given by the caller (not part of the snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuiContext {
    /// cutover holds a connection to the source SQL Server: stopping traffic and taking the tail-log
    /// backup are offered only then.
    pub source_connected: bool,
    /// How applications reach the target once cut over (shown after completion), e.g.
    /// `Server=mi1.abc123.database.windows.net;Database=db1;...`. `{database}` is replaced by the
    /// target database name.
    pub target_connection: String,
    /// Colours or none (`NO_COLOR`).
    pub theme: Theme,
    /// The configuration's `stop_traffic`: the cutover dialog preselects it (None: "don't stop")
    /// and never another choice.
    pub stop_traffic: Option<StopTraffic>,
    /// The local time zone's offset from UTC, for the header clock and the event times; None shows
    /// UTC only.
    pub local_offset: Option<time::UtcOffset>,
    /// What quitting before the end leaves for a next run, as the quit dialog says it (None: the
    /// state is kept and the same command re-attaches). The demo in temporary folders keeps nothing.
    pub quit_note: Option<String>,
}

impl TuiContext {
    /// A context whose theme honours `NO_COLOR` from the environment, with the machine's time zone
    /// and no traffic stop preselected.
    pub fn new(source_connected: bool, target_connection: impl Into<String>) -> Self {
        TuiContext {
            source_connected,
            target_connection: target_connection.into(),
            theme: Theme::from_env(),
            stop_traffic: None,
            local_offset: local_offset(),
            quit_note: None,
        }
    }

    /// What the quit dialog says stays for a next run, when it is not "the state is kept".
    pub fn with_quit_note(mut self, note: impl Into<String>) -> Self {
        self.quit_note = Some(note.into());
        self
    }

    /// Preselects the configuration's way of stopping traffic in the cutover dialog.
    pub fn with_stop_traffic(mut self, stop: Option<StopTraffic>) -> Self {
        self.stop_traffic = stop;
        self
    }

    /// The connection details for one database.
    pub fn connection_for(&self, database: &str) -> String {
        self.target_connection.replace("{database}", database)
    }
}

/// The local offset from UTC as `date +%z` prints it (`+0100`). The `time` crate cannot read it
/// safely once threads run, so it is asked once, before the dashboard starts; None when `date` is
/// not there (the UI then shows UTC only).
pub fn local_offset() -> Option<time::UtcOffset> {
    let out = std::process::Command::new("date")
        .arg("+%z")
        .output()
        .ok()?;
    parse_offset(String::from_utf8_lossy(&out.stdout).trim())
}

/// `+0100` / `-0530` -> the offset.
pub fn parse_offset(s: &str) -> Option<time::UtcOffset> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i8 = digits[..2].parse().ok()?;
    let m: i8 = digits[2..].parse().ok()?;
    time::UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_as_date_prints_them() {
        assert_eq!(parse_offset("+0100").map(|o| o.whole_minutes()), Some(60));
        assert_eq!(parse_offset("-0530").map(|o| o.whole_minutes()), Some(-330));
        assert_eq!(parse_offset("+0000").map(|o| o.whole_minutes()), Some(0));
        assert_eq!(parse_offset("UTC"), None);
        assert_eq!(parse_offset("+01"), None);
    }
}
