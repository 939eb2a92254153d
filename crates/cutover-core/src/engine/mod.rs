//! The migration engine (no UI imports): the per-database state machine, the cutover guard and the
//! LRS time limit as pure functions, so that every rule is testable without I/O; the one async task
//! that feeds them (folder scans, uploads, LRS polling, the source client, persistence) in `runner`.

pub mod activities;
pub mod downtime;
pub mod error;
pub mod folder_scan;
pub mod guard;
pub mod in_flight;
pub mod liveness;
pub mod lock;
pub mod lrs_limit;
pub mod lrs_view;
pub mod persist;
pub mod reattach;
pub mod reattach_preflight;
pub mod runner;
pub mod snapshot;
pub mod state;

pub use error::Error;
pub use guard::{Refusal, may_complete};
pub use snapshot::{
    DatabaseSnapshot, EngineCommand, EventLine, MigrationSnapshot, SourceAccess, TailMode,
};
pub use state::{
    Action, BackupFile, Command, DatabaseState, Event, FileStatus, LrsFileStatus, LrsStatus, Phase,
    StateMachine, TailState,
};
