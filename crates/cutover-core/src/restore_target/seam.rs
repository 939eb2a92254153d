//! The seam for restore targets: [`RestoreTarget`] is what the engine drives — start a restore,
//! read its status, read the target database, complete (cut over), cancel. The Log Replay Service
//! client ([`LrsClient`], Azure SQL Managed Instance) implements it; another target (e.g. SQL
//! Server on an Azure VM restoring from URL) implements the same trait, and the engine holds an
//! `Arc<dyn RestoreTarget>`.
//!
//! Errors are the LRS client's [`LrsError`] for now: the engine reads its HTTP status (404 = no
//! restore; a 4xx start refusal started nothing) and service code (why a completion failed), and
//! the operator's messages come from it unchanged. A second target will bring a target error enum
//! with those two questions as methods.

use async_trait::async_trait;

use super::details::RestoreDetails;
use super::lrs::{LrsClient, LrsError, ManagedDatabase, StartRequest, StartedRestore};

/// What a target says about its room: its tier and hardware (ARM's `sku.tier`, `sku.family`) and
/// the databases it holds now (the engine derives its limit on restores at once from them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFacts {
    pub tier: Option<String>,
    pub family: Option<String>,
    pub databases: Vec<String>,
    /// The databases restoring on the target now (this activity's among them).
    pub restoring: Vec<String>,
    /// Restores running on the subscription's other instances (`Err`: not readable; why).
    pub restoring_elsewhere: Result<usize, String>,
}

impl Default for TargetFacts {
    fn default() -> Self {
        TargetFacts {
            tier: None,
            family: None,
            databases: Vec::new(),
            restoring: Vec::new(),
            restoring_elsewhere: Ok(0),
        }
    }
}

/// A place databases are restored to from the uploaded backups, one restore per database.
#[async_trait]
pub trait RestoreTarget: Send + Sync {
    /// What identifies the target in the activity's index (`subscription/resource group/instance`
    /// for a managed instance): another activity on the same target is refused by it.
    fn identity(&self) -> String;

    /// The target as messages name it (the managed instance's name).
    fn name(&self) -> &str;

    /// Starts the restore of database `db` and says what identifies the restore the target
    /// accepted.
    async fn start(&self, db: &str, req: &StartRequest) -> Result<StartedRestore, LrsError>;

    /// The restore's progress (restoreDetails); a 404 when there is no restore.
    async fn status(&self, db: &str) -> Result<RestoreDetails, LrsError>;

    /// The target database named `db` (`None`: there is none).
    async fn database(&self, db: &str) -> Result<Option<ManagedDatabase>, LrsError>;

    /// Completes (cuts over): restores up to `last_backup_name` and brings the database online.
    async fn complete(&self, db: &str, last_backup_name: &str) -> Result<(), LrsError>;

    /// Cancels a restore in progress (drops the restoring database; never an online one).
    async fn cancel(&self, db: &str) -> Result<(), LrsError>;

    /// The target's tier and databases (`None`: the target does not say).
    async fn facts(&self) -> Result<Option<TargetFacts>, LrsError> {
        Ok(None)
    }
}

#[async_trait]
impl RestoreTarget for LrsClient {
    fn identity(&self) -> String {
        let i = &self.instance;
        format!(
            "{}/{}/{}",
            i.subscription, i.resource_group, i.managed_instance
        )
    }

    fn name(&self) -> &str {
        &self.instance.managed_instance
    }

    async fn start(&self, db: &str, req: &StartRequest) -> Result<StartedRestore, LrsError> {
        LrsClient::start_identified(self, db, req)
            .await
            .map(|(started, _)| started)
    }

    async fn status(&self, db: &str) -> Result<RestoreDetails, LrsError> {
        LrsClient::status(self, db).await
    }

    async fn database(&self, db: &str) -> Result<Option<ManagedDatabase>, LrsError> {
        LrsClient::database(self, db).await
    }

    async fn complete(&self, db: &str, last_backup_name: &str) -> Result<(), LrsError> {
        LrsClient::complete(self, db, last_backup_name)
            .await
            .map(|_| ())
    }

    async fn cancel(&self, db: &str) -> Result<(), LrsError> {
        LrsClient::cancel(self, db).await
    }

    async fn facts(&self) -> Result<Option<TargetFacts>, LrsError> {
        let v = LrsClient::instance(self).await?;
        let text = |p: &str| {
            v.pointer(p)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let (databases, restoring, restoring_elsewhere) =
            LrsClient::databases_and_restores(self).await?;
        Ok(Some(TargetFacts {
            tier: text("/sku/tier"),
            family: text("/sku/family"),
            databases,
            restoring,
            restoring_elsewhere,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::restore_target::lrs::{InstanceRef, StaticToken};

    #[test]
    fn the_lrs_client_is_a_target_named_by_its_instance() {
        let lrs = LrsClient::new(
            "https://management.azure.com",
            Arc::new(StaticToken("t".into())),
            InstanceRef {
                subscription: "s".into(),
                resource_group: "rg".into(),
                managed_instance: "mi".into(),
            },
        )
        .unwrap();
        let target: Arc<dyn RestoreTarget> = Arc::new(lrs);
        assert_eq!(target.identity(), "s/rg/mi");
        assert_eq!(target.name(), "mi");
    }
}
