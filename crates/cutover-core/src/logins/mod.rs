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
pub mod statements;

pub use finding::LoginFinding;
pub use inventory::{
    DatabaseUser, LoginInventory, LoginKind, PasswordHash, Sid, SourceLogin, SqlLoginDetails,
};
pub use mapping::{EntraMap, EntraMapping};
pub use orphans::{OrphanedUser, orphaned_users};
pub use plan::{LoginAction, LoginPlan, TargetLogin, TargetLogins, plan_logins};
pub use statements::SqlStatement;
