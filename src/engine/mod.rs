//! The migration engine (no UI imports). Today: the per-database state machine and the cutover guard,
//! as pure functions of events, so that every rule is testable without I/O. The async task that feeds
//! them (uploads, LRS polling, the source client, persistence) builds on these.

pub mod folder_scan;
pub mod guard;
pub mod lrs_view;
pub mod persist;
pub mod runner;
pub mod snapshot;
pub mod state;

pub use guard::{Refusal, may_complete};
pub use snapshot::{DatabaseSnapshot, EngineCommand, EventLine, MigrationSnapshot, TailMode};
pub use state::{
    Action, BackupFile, Command, DatabaseState, Event, FileStatus, LrsFileStatus, LrsStatus, Phase,
    TailState,
};
