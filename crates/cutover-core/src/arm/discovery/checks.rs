//! What discovery judges, as findings with a stable code and a fix: the instance's managed
//! identity has a role that reads blobs on the storage account, the storage firewall lets the
//! instance in, and a subscription that can be listed but not read (a partial right, reported and
//! passed over, never a failure of the whole listing).

use serde::Serialize;

pub use cutover_model::finding::Severity;

use super::client::DiscoveryClient;
use super::error::DiscoveryError;
use super::types::{ManagedInstance, RoleAssignment, StorageAccount, Subscription};

/// Built-in roles (facts about Azure: role definition GUIDs) that let a principal read blobs.
pub const STORAGE_BLOB_DATA_READER: &str = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";
pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
pub const STORAGE_BLOB_DATA_OWNER: &str = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";

/// A discovery finding: stable code, severity, what it is about, what happened, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveryFinding {
    pub code: &'static str,
    pub severity: Severity,
    pub subject: String,
    pub message: String,
    pub fix: String,
}

/// Codes (their text never changes once released: scripts match on them).
pub mod codes {
    pub const SUBSCRIPTION_NOT_READABLE: &str = "SUBSCRIPTION_NOT_READABLE";
    pub const MI_NO_IDENTITY: &str = "MI_NO_IDENTITY";
    pub const MI_STORAGE_ROLE_MISSING: &str = "MI_STORAGE_ROLE_MISSING";
    pub const MI_STORAGE_ROLE_OK: &str = "MI_STORAGE_ROLE_OK";
    pub const ROLE_ASSIGNMENTS_NOT_READABLE: &str = "ROLE_ASSIGNMENTS_NOT_READABLE";
    pub const STORAGE_FIREWALL_BLOCKS_INSTANCE: &str = "STORAGE_FIREWALL_BLOCKS_INSTANCE";
    pub const STORAGE_PUBLIC_ACCESS_DISABLED: &str = "STORAGE_PUBLIC_ACCESS_DISABLED";
    pub const STORAGE_FIREWALL_OPEN: &str = "STORAGE_FIREWALL_OPEN";
    pub const STORAGE_OTHER_REGION: &str = "STORAGE_OTHER_REGION";
}

/// Whether the instance's managed identity can read the account's blobs, judged from the role
/// assignments read for that principal at the account's scope.
pub fn judge_reader_role(
    instance: &ManagedInstance,
    account: &StorageAccount,
    assignments: &[RoleAssignment],
) -> DiscoveryFinding {
    let subject = format!("{} -> {}", instance.name, account.name);
    let Some(principal) = instance.identity_principal() else {
        return DiscoveryFinding {
            code: codes::MI_NO_IDENTITY,
            severity: Severity::Error,
            subject,
            message: format!(
                "the managed instance {} has no managed identity, so it cannot read the backups with one",
                instance.name
            ),
            fix: format!(
                "give it a system-assigned identity (az sql mi update -g {} -n {} --assign-identity), or use a SAS",
                instance.resource_group(),
                instance.name
            ),
        };
    };
    let readers = [
        STORAGE_BLOB_DATA_READER,
        STORAGE_BLOB_DATA_CONTRIBUTOR,
        STORAGE_BLOB_DATA_OWNER,
    ];
    let granted = assignments.iter().find(|a| {
        a.properties.principal_id.eq_ignore_ascii_case(principal)
            && readers
                .iter()
                .any(|r| a.role_guid().eq_ignore_ascii_case(r))
    });
    match granted {
        Some(a) => DiscoveryFinding {
            code: codes::MI_STORAGE_ROLE_OK,
            severity: Severity::Info,
            subject,
            message: format!(
                "the instance's identity {principal} may read blobs on {} (role {})",
                account.name,
                a.role_guid()
            ),
            fix: String::new(),
        },
        None => DiscoveryFinding {
            code: codes::MI_STORAGE_ROLE_MISSING,
            severity: Severity::Error,
            subject,
            message: format!(
                "the instance's identity {principal} has no Storage Blob Data Reader role on {}: LRS would stop with ManagedIdentityIssueDetected",
                account.name
            ),
            fix: format!(
                "az role assignment create --assignee-object-id {principal} --assignee-principal-type ServicePrincipal --role \"Storage Blob Data Reader\" --scope {} (roles take a few minutes to apply), or use a SAS",
                account.id
            ),
        },
    }
}

/// Whether the storage firewall lets the instance in: no firewall, or the instance's subnet is
/// allowed. Public network access turned off needs a private endpoint in the instance's network.
pub fn judge_firewall(instance: &ManagedInstance, account: &StorageAccount) -> DiscoveryFinding {
    let subject = format!("{} -> {}", instance.name, account.name);
    if account.public_access_disabled() {
        return DiscoveryFinding {
            code: codes::STORAGE_PUBLIC_ACCESS_DISABLED,
            severity: Severity::Warning,
            subject,
            message: format!(
                "{} accepts no public network traffic: the instance reaches it only through a private endpoint",
                account.name
            ),
            fix: format!(
                "check that a private endpoint of {} (blob) is reachable from the instance's virtual network, or enable public access from selected networks",
                account.name
            ),
        };
    }
    if !account.firewall_denies() {
        return DiscoveryFinding {
            code: codes::STORAGE_FIREWALL_OPEN,
            severity: Severity::Info,
            subject,
            message: format!("{} has no firewall (default action Allow)", account.name),
            fix: String::new(),
        };
    }
    let subnet = instance.properties.subnet_id.as_deref().unwrap_or_default();
    let allowed = account.properties.network_acls.as_ref().is_some_and(|n| {
        n.virtual_network_rules
            .iter()
            .any(|r| !subnet.is_empty() && r.id.eq_ignore_ascii_case(subnet))
    });
    if allowed {
        return DiscoveryFinding {
            code: codes::STORAGE_FIREWALL_OPEN,
            severity: Severity::Info,
            subject,
            message: format!("{}'s firewall allows the instance's subnet", account.name),
            fix: String::new(),
        };
    }
    DiscoveryFinding {
        code: codes::STORAGE_FIREWALL_BLOCKS_INSTANCE,
        severity: Severity::Error,
        subject,
        message: format!(
            "{}'s firewall denies by default and does not allow the instance's subnet: LRS would fail with BlobStorageFailure",
            account.name
        ),
        fix: if subnet.is_empty() {
            format!(
                "allow the instance's subnet on {} (Networking > Firewalls and virtual networks), or use a private endpoint",
                account.name
            )
        } else {
            format!(
                "az storage account network-rule add -g {} --account-name {} --subnet {subnet} (the subnet needs the Microsoft.Storage service endpoint), or use a private endpoint",
                account.resource_group(),
                account.name
            )
        },
    }
}

/// A storage account in another region than the instance (slower restores, egress costs).
pub fn judge_region(
    instance: &ManagedInstance,
    account: &StorageAccount,
) -> Option<DiscoveryFinding> {
    if instance.location.eq_ignore_ascii_case(&account.location) {
        return None;
    }
    Some(DiscoveryFinding {
        code: codes::STORAGE_OTHER_REGION,
        severity: Severity::Warning,
        subject: format!("{} -> {}", instance.name, account.name),
        message: format!(
            "{} is in {}, the instance in {}: restores read across regions (slower, billed egress)",
            account.name, account.location, instance.location
        ),
        fix: format!("prefer a storage account in {}", instance.location),
    })
}

/// The role check against the service: reads the assignments of the instance's identity at the
/// account's scope; a credential that may not read them gets a warning, not a failure.
pub async fn check_reader_role(
    client: &DiscoveryClient,
    instance: &ManagedInstance,
    account: &StorageAccount,
) -> Result<DiscoveryFinding, DiscoveryError> {
    let Some(principal) = instance.identity_principal() else {
        return Ok(judge_reader_role(instance, account, &[]));
    };
    match client.role_assignments(&account.id, principal).await {
        Ok(a) => Ok(judge_reader_role(instance, account, &a)),
        Err(e) if e.is_forbidden() => Ok(DiscoveryFinding {
            code: codes::ROLE_ASSIGNMENTS_NOT_READABLE,
            severity: Severity::Warning,
            subject: format!("{} -> {}", instance.name, account.name),
            message: format!(
                "cannot read the role assignments on {}, so cutover cannot tell whether the instance's identity may read it",
                account.name
            ),
            fix: format!(
                "ask for Reader on {} (it includes Microsoft.Authorization/roleAssignments/read), or check in the portal that {principal} has Storage Blob Data Reader there",
                account.id
            ),
        }),
        Err(e) => Err(e),
    }
}

/// The subscriptions' items gathered by `list` (e.g. their instances): a subscription the
/// credential may not read becomes a `SUBSCRIPTION_NOT_READABLE` warning and the others are kept.
pub async fn across_subscriptions<T, F, Fut>(
    subscriptions: &[Subscription],
    what: &str,
    list: F,
) -> Result<(Vec<(String, T)>, Vec<DiscoveryFinding>), DiscoveryError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, DiscoveryError>>,
{
    let mut items = Vec::new();
    let mut findings = Vec::new();
    for s in subscriptions {
        match list(s.subscription_id.clone()).await {
            Ok(v) => items.extend(v.into_iter().map(|i| (s.subscription_id.clone(), i))),
            Err(e) if e.is_forbidden() => findings.push(DiscoveryFinding {
                code: codes::SUBSCRIPTION_NOT_READABLE,
                severity: Severity::Warning,
                subject: format!("{} ({})", s.display_name, s.subscription_id),
                message: format!(
                    "the credential can list subscription '{}' but may not read its {what}",
                    s.display_name
                ),
                fix: format!(
                    "ask for the Reader role on /subscriptions/{} if the target is there",
                    s.subscription_id
                ),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok((items, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(identity: bool) -> ManagedInstance {
        let mut v = serde_json::json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi1",
            "name": "mi1", "location": "westeurope",
            "properties": {"subnetId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/mi"}
        });
        if identity {
            v["identity"] = serde_json::json!({"principalId": "P1", "type": "SystemAssigned"});
        }
        serde_json::from_value(v).expect("instance")
    }

    fn account(acls: serde_json::Value, location: &str) -> StorageAccount {
        serde_json::from_value(serde_json::json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1",
            "name": "sa1", "location": location, "properties": {"networkAcls": acls}
        }))
        .expect("account")
    }

    fn assignment(principal: &str, role: &str) -> RoleAssignment {
        serde_json::from_value(serde_json::json!({
            "id": "x", "name": "x",
            "properties": {"roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"), "principalId": principal}
        }))
        .expect("assignment")
    }

    #[test]
    fn the_reader_role_is_found_for_the_instance_identity_only() {
        let sa = account(serde_json::json!({"defaultAction": "Allow"}), "westeurope");
        let ok = judge_reader_role(
            &instance(true),
            &sa,
            &[assignment("P1", STORAGE_BLOB_DATA_READER)],
        );
        assert_eq!(ok.code, codes::MI_STORAGE_ROLE_OK);
        // Another principal's role, or another role, does not count.
        let other = judge_reader_role(
            &instance(true),
            &sa,
            &[
                assignment("P2", STORAGE_BLOB_DATA_READER),
                assignment("P1", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
            ],
        );
        assert_eq!(
            (other.code, other.severity),
            (codes::MI_STORAGE_ROLE_MISSING, Severity::Error)
        );
        assert!(other.fix.contains("--assignee-object-id P1") && other.fix.contains(&sa.id));
        let none = judge_reader_role(&instance(false), &sa, &[]);
        assert_eq!(none.code, codes::MI_NO_IDENTITY);
    }

    #[test]
    fn the_firewall_lets_the_instance_in_or_says_how() {
        let mi = instance(true);
        let open = judge_firewall(
            &mi,
            &account(serde_json::json!({"defaultAction": "Allow"}), "westeurope"),
        );
        assert_eq!(open.code, codes::STORAGE_FIREWALL_OPEN);
        let closed = judge_firewall(
            &mi,
            &account(
                serde_json::json!({"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}]}),
                "westeurope",
            ),
        );
        assert_eq!(closed.code, codes::STORAGE_FIREWALL_BLOCKS_INSTANCE);
        assert!(closed.fix.contains("network-rule add") && closed.fix.contains("subnets/mi"));
        let subnet = mi.properties.subnet_id.clone().expect("subnet");
        let allowed = judge_firewall(
            &mi,
            &account(
                serde_json::json!({"defaultAction": "Deny", "virtualNetworkRules": [{"id": subnet}]}),
                "westeurope",
            ),
        );
        assert_eq!(allowed.code, codes::STORAGE_FIREWALL_OPEN);
        assert!(judge_region(&mi, &account(serde_json::json!({}), "westeurope")).is_none());
        let far =
            judge_region(&mi, &account(serde_json::json!({}), "eastus")).expect("other region");
        assert_eq!(far.code, codes::STORAGE_OTHER_REGION);
    }
}
