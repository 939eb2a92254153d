//! Server logins the migrated databases need on the Managed Instance: the source's inventory
//! (`inventory`: SQL logins with SID and password hash, Windows logins and groups, server roles, the
//! database users mapped to each), the T-SQL that recreates them (`statements`: same SID, same hash,
//! identifiers quoted as QUOTENAME does), the Windows-to-Entra mapping the operator gives
//! (`mapping`), the plan per login against what the target already has (`plan`), and the orphaned
//! users left after a cutover (`orphans`). Pure: the queries live in `source::logins`, the target
//! connection in `source::target`. A password hash is a secret: it is redacted in `Debug`, never
//! serialized, and leaves this module only inside a statement sent to the target.

pub mod finding;
pub mod inventory;
pub mod mapping;
pub mod orphans;
pub mod plan;
pub mod selection;
pub mod statements;

pub use finding::LoginFinding;
pub use inventory::{
    DatabaseUser, LoginInventory, LoginKind, PasswordHash, Sid, SourceLogin, SqlLoginDetails,
};
pub use mapping::{EntraMap, EntraMapping};
pub use orphans::{OrphanedUser, orphaned_users};
pub use plan::{LoginAction, LoginPlan, TargetLogin, TargetLogins, plan_logins};
pub use selection::LoginSelection;
pub use statements::SqlStatement;

/// What a run does with logins (`[logins]`, with a source connection and the instance's SQL
/// endpoint): which it migrates and the Windows-to-Entra mapping.
#[derive(Debug, Clone, Default)]
pub struct LoginsRun {
    pub select: LoginSelection,
    pub map: EntraMapping,
    /// After a database's cutover, map each orphaned user whose login was migrated (a Windows
    /// user to its Entra login) with ALTER USER ... WITH LOGIN (`[logins] remap_users`).
    pub remap_users: bool,
}
