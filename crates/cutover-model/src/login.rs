//! The status of one login's migration, as the UIs show it (Logins panel, `cutover logins migrate`):
//! pending, created, already there, skipped or failed, with the reason.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LoginStatus {
    /// Not migrated yet.
    Pending,
    /// Created on the target by this run.
    Created,
    /// Already on the target with the same SID (or the same Entra name); what it lacked was added.
    Exists,
    /// Left alone on purpose (an unmapped Windows login): the reason says what to do.
    Skipped { reason: String },
    /// Not migrated: a conflict on the target or a statement the target refused.
    Failed { reason: String },
}

impl LoginStatus {
    pub fn label(&self) -> &'static str {
        match self {
            LoginStatus::Pending => "Pending",
            LoginStatus::Created => "Created",
            LoginStatus::Exists => "Exists",
            LoginStatus::Skipped { .. } => "Skipped",
            LoginStatus::Failed { .. } => "Failed",
        }
    }
    pub fn reason(&self) -> Option<&str> {
        match self {
            LoginStatus::Skipped { reason } | LoginStatus::Failed { reason } => Some(reason),
            _ => None,
        }
    }
}

/// One login's row in a UI: its source name, kind, name on the target and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRow {
    pub login: String,
    pub kind: String,
    pub target: String,
    /// The database users that need it (`database.user`), in the migrated databases.
    #[serde(default)]
    pub used_by: Vec<String>,
    #[serde(flatten)]
    pub status: LoginStatus,
}

impl LoginStatus {
    /// Nothing is left to do for it in this run (Created, Exists, Skipped).
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            LoginStatus::Created | LoginStatus::Exists | LoginStatus::Skipped { .. }
        )
    }
}
