//! What Azure discovery lists, as the wizard shows it (the binary maps ARM's published shapes to
//! these; the TUI picks from them): subscriptions, managed instances, storage accounts,
//! containers, and the storage checks (role assignment, firewall, region) as findings.

use serde::{Deserialize, Serialize};

use crate::finding::Severity;

/// A subscription the credential can list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AzureSubscription {
    pub id: String,
    pub name: String,
    /// `Enabled`, `Disabled`, ... (empty when ARM did not say).
    pub state: String,
}

/// A managed instance of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AzureInstance {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    /// `GeneralPurpose`, `BusinessCritical`, ...
    pub tier: String,
    /// `Gen5`, `G8IM`, ...
    pub hardware: String,
    pub vcores: Option<u32>,
    pub storage_gb: Option<u32>,
    /// `Ready`, `Stopped`, ...
    pub state: String,
    /// The instance's host name (`NAME.ZONE.database.windows.net`), when ARM gave it.
    pub fqdn: Option<String>,
    /// The public data endpoint is enabled (`NAME.public.ZONE...,3342`).
    pub public_endpoint: bool,
    /// The system-assigned identity's principal ID.
    pub identity: Option<String>,
}

impl AzureInstance {
    /// "GeneralPurpose Gen5, 4 vCores, 256 GB, westeurope, Ready".
    pub fn describe(&self) -> String {
        let mut p = vec![
            format!("{} {}", self.tier, self.hardware)
                .trim()
                .to_string(),
        ];
        if let Some(v) = self.vcores {
            p.push(format!("{v} vCores"));
        }
        if let Some(g) = self.storage_gb {
            p.push(format!("{g} GB"));
        }
        p.push(self.location.clone());
        p.push(self.state.clone());
        p.retain(|s| !s.is_empty());
        p.join(", ")
    }

    /// The SQL endpoint the wizard proposes: the VNet-local host name on 1433 (what the
    /// applications use), or None when ARM did not give the host name.
    pub fn sql_endpoint(&self) -> Option<String> {
        self.fqdn
            .as_ref()
            .filter(|f| !f.trim().is_empty())
            .map(|f| format!("{},1433", f.trim()))
    }
}

impl AzureInstance {
    /// The public data endpoint (`NAME.public.ZONE.database.windows.net,3342`) when enabled.
    pub fn public_sql_endpoint(&self) -> Option<String> {
        if !self.public_endpoint {
            return None;
        }
        let fqdn = self.fqdn.as_deref()?.trim();
        let (name, zone) = fqdn.split_once('.')?;
        Some(format!("{name}.public.{zone},3342"))
    }
}

/// A storage account of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AzureStorageAccount {
    /// The resource ID.
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    /// `StorageV2`, `BlockBlobStorage`, ...
    pub kind: String,
    /// "open", "firewall" (default action Deny) or "no public access".
    pub network: String,
    /// Hierarchical namespace (Data Lake Gen2).
    pub hns: bool,
    /// The blob endpoint, without a trailing `/`.
    pub blob_endpoint: String,
}

/// A blob container of a storage account.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AzureContainer {
    pub name: String,
}

/// A storage check's finding (role assignment, firewall, region, container created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureCheck {
    /// A stable code (`MI_STORAGE_ROLE_MISSING`, `STORAGE_FIREWALL_BLOCKS_INSTANCE`, ...).
    pub code: String,
    pub severity: Severity,
    pub message: String,
    /// What to do (empty when nothing).
    pub fix: String,
}

/// The completed database as the managed instance reports it over its SQL endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TargetDatabaseReport {
    /// `ONLINE`, ...; None: the instance has no database of that name.
    pub state: Option<String>,
    pub compatibility_level: Option<i64>,
    pub recovery_model: Option<String>,
    pub collation: Option<String>,
    /// What the applications connect with (no login or password in it).
    pub connection_string: String,
}

/// Why a new container name is refused, before any call: Azure's naming rules (3 to 63 lowercase
/// letters, digits and single hyphens, starting and ending with a letter or digit) and LRS's (no
/// "backup" in the name). Shared by the wizard and `cutover azure containers --create`.
pub fn container_name_problem(name: &str) -> Option<String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(3..=63).contains(&name.len())
        || !ok_chars
        || name.starts_with('-')
        || name.ends_with('-')
        || name.contains("--")
    {
        return Some(format!(
            "Container '{name}': 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit"
        ));
    }
    if name.contains("backup") {
        return Some(format!(
            "Container '{name}': LRS refuses a container whose name contains 'backup'"
        ));
    }
    None
}
