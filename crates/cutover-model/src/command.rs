//! What the UIs send the engine ([`EngineCommand`]) and the choices a command carries: how traffic
//! is stopped ([`StopTraffic`]) and how the tail-log backup is obtained ([`TailMode`]).

use serde::{Deserialize, Serialize};

/// How traffic to the source database is stopped before the tail-log backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopTraffic {
    /// `SET READ_ONLY WITH ROLLBACK IMMEDIATE`: connections stay, writes fail.
    ReadOnly,
    /// `SET RESTRICTED_USER WITH ROLLBACK IMMEDIATE`: only db_owner/sysadmin sessions stay.
    RestrictedUser,
}

/// How the tail-log backup is obtained at cutover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TailMode {
    /// cutover takes it through the source connection.
    Take,
    /// The operator takes it; cutover waits until it lands in the folder.
    Wait,
    /// The operator asserts no more backups will come (data-loss risk if wrong).
    Skip,
}

/// Commands the UI (or the headless runner) sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineCommand {
    PauseUploads,
    ResumeUploads,
    Retry {
        database: String,
    },
    Cancel {
        database: String,
    },
    /// Start the cutover of a database; `stop_traffic` is done first if given (source connected).
    BeginCutover {
        database: String,
        stop_traffic: Option<StopTraffic>,
    },
    /// Take the tail-log backup through the source connection.
    TakeTail {
        database: String,
    },
    /// The operator takes the tail-log backup: the next log backup that lands in the folder is it.
    WaitForTail {
        database: String,
    },
    /// The operator says no more backups will come.
    ConfirmNoMoreBackups {
        database: String,
    },
    /// Complete (the engine's guard decides; refused with the reason otherwise).
    Complete {
        database: String,
    },
    /// Abandon the cutover: undo what can be undone (traffic), back to catching up.
    AbandonCutover {
        database: String,
    },
    /// Stop the engine, leaving a resumable state.
    Shutdown,
}
