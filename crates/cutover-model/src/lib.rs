//! cutover-model: what the UIs and the engine exchange: the snapshots the
//! engine publishes, the commands the UIs send, findings and their severity, the choices a cutover
//! step carries, the source databases the wizard lists, and the endpoint values the wizard checks.
//! Plain data and pure reads: no I/O, no client, no UI type. The root crate re-exports it as
//! `cutover::model`; the TUI imports only it (and its own modules): the root crate's
//! `tests/architecture.rs` holds it to that.
//!
//! Types with logic elsewhere keep their logic there, as traits of the root crate:
//! `DatabaseState`'s state machine is `engine::state::StateMachine` (`apply`), `StopTraffic`'s SQL
//! `source::tail::StopTrafficSql`; their old paths re-export the types.

pub mod azure;
pub mod command;
pub mod cutover;
pub mod database;
pub mod endpoint;
pub mod finding;
pub mod login;
pub mod snapshot;
pub mod source;

pub use azure::{
    AzureCheck, AzureContainer, AzureInstance, AzureStorageAccount, AzureSubscription,
    TargetDatabaseReport,
};
pub use command::{EngineCommand, StopTraffic, TailMode};
pub use cutover::{ChecklistItem, CutoverChecklist, CutoverStatements};
pub use database::{
    BackupFile, BackupType, DatabaseState, FileStatus, IgnoredFile, Lsn, Phase, TailState,
};
pub use endpoint::{DEFAULT_ARM_ENDPOINT, is_local_endpoint, is_loopback};
pub use finding::{Code, Finding, Severity};
pub use login::{LoginRow, LoginStatus};
pub use snapshot::{DatabaseSnapshot, EventLine, MigrationSnapshot, SourceAccess};
pub use source::{SourceDatabase, TRUST_CERTIFICATE_WARNING};
