//! What the TUI knows about its surroundings that is not in the engine's snapshot.

use super::theme::Theme;

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
}

impl TuiContext {
    /// A context whose theme honours `NO_COLOR` from the environment.
    pub fn new(source_connected: bool, target_connection: impl Into<String>) -> Self {
        TuiContext {
            source_connected,
            target_connection: target_connection.into(),
            theme: Theme::from_env(),
        }
    }

    /// The connection details for one database.
    pub fn connection_for(&self, database: &str) -> String {
        self.target_connection.replace("{database}", database)
    }
}
