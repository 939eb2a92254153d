//! What the UIs and the engine exchange (the future `cutover-model` crate): the snapshots the
//! engine publishes, the commands the UIs send, findings and their severity, the choices a cutover
//! step carries, the source databases the wizard lists, and the endpoint values the wizard checks.
//! Plain data and pure reads: no I/O, no client, no UI type. The TUI imports only this module (and
//! its own); `tests/architecture.rs` holds it to that.
//!
//! Types with logic elsewhere keep their logic there: `DatabaseState`'s state machine (`apply`) is
//! in `engine::state`, `StopTraffic`'s SQL in `source::tail`; their old paths re-export them.

pub mod command;
pub mod cutover;
pub mod database;
pub mod endpoint;
pub mod finding;
pub mod snapshot;
pub mod source;

pub use command::{EngineCommand, StopTraffic, TailMode};
pub use cutover::{ChecklistItem, CutoverChecklist, CutoverStatements};
pub use database::{
    BackupFile, BackupType, DatabaseState, FileStatus, IgnoredFile, Lsn, Phase, TailState,
};
pub use endpoint::{DEFAULT_ARM_ENDPOINT, is_local_endpoint, is_loopback};
pub use finding::{Code, Finding, Severity};
pub use snapshot::{DatabaseSnapshot, EventLine, MigrationSnapshot, SourceAccess};
pub use source::{SourceDatabase, TRUST_CERTIFICATE_WARNING};
