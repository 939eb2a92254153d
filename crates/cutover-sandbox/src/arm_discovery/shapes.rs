//! The estate rendered in the published ARM shapes (`../shared/reference/arm-examples/`): only
//! fields the examples show, plus a managed instance's top-level `identity` (the REST
//! specification's `ResourceIdentity`, which the examples leave out; the storage account examples
//! show the same shape).

use serde_json::{Value, json};

use super::world::{Account, Instance, RoleAssignment, Subscription, TENANT};

/// `{sa}`: an account's resource ID.
pub fn account_id(sub: &str, a: &Account) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        a.resource_group, a.name
    )
}

/// Subscriptions_List item (GetSubscriptions.json).
pub fn subscription(s: &Subscription) -> Value {
    json!({
        "authorizationSource": "RoleBased",
        "displayName": s.display_name,
        "id": format!("/subscriptions/{}", s.id),
        "managedByTenants": [],
        "state": "Enabled",
        "subscriptionId": s.id,
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off"
        },
        "tags": {},
        "tenantId": TENANT,
    })
}

/// ManagedInstances_List item (ManagedInstanceList.json).
pub fn instance(sub: &str, i: &Instance) -> Value {
    let mut v = json!({
        "location": i.location,
        "id": format!("/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}", i.resource_group, i.name),
        "name": i.name,
        "type": "Microsoft.Sql/managedInstances",
        "sku": {"name": i.sku_name, "tier": i.tier, "capacity": i.vcores, "family": i.family},
        "properties": {
            "fullyQualifiedDomainName": format!("{}.{}.database.windows.net", i.name, i.dns_zone),
            "administratorLogin": "sandboxadmin",
            "subnetId": i.subnet_id,
            "state": i.state,
            "provisioningState": "Succeeded",
            "vCores": i.vcores,
            "storageSizeInGB": i.storage_gb,
            "licenseType": "LicenseIncluded",
            "collation": "SQL_Latin1_General_CP1_CI_AS",
            "publicDataEndpointEnabled": i.public_endpoint,
            "proxyOverride": "Default",
            "minimalTlsVersion": "1.2",
            "dnsZone": i.dns_zone,
            "currentBackupStorageRedundancy": "Geo",
            "requestedBackupStorageRedundancy": "Geo"
        }
    });
    if let Some(p) = &i.principal_id {
        v["identity"] = json!({"principalId": p, "tenantId": TENANT, "type": "SystemAssigned"});
    }
    v
}

/// StorageAccounts_List / GetProperties item (StorageAccountList.json, StorageAccountGetProperties.json).
pub fn account(sub: &str, a: &Account) -> Value {
    let dfs = if a.served {
        a.blob_endpoint.clone()
    } else {
        a.blob_endpoint.replace(".blob.", ".dfs.")
    };
    json!({
        "id": account_id(sub, a),
        "kind": a.kind,
        "location": a.location,
        "name": a.name,
        "properties": {
            "isHnsEnabled": a.hns,
            "creationTime": "2026-01-05T08:00:00.0000000Z",
            "networkAcls": {
                "bypass": "AzureServices",
                "defaultAction": a.default_action,
                "ipRules": a.ip_rules.iter().map(|r| json!({"value": r, "action": "Allow"})).collect::<Vec<_>>(),
                "virtualNetworkRules": a.subnet_rules.iter().map(|r| json!({"id": r, "action": "Allow", "state": "Succeeded"})).collect::<Vec<_>>(),
            },
            "primaryEndpoints": {"blob": a.blob_endpoint, "dfs": dfs},
            "primaryLocation": a.location,
            "provisioningState": "Succeeded",
            "statusOfPrimary": "available",
            "supportsHttpsTrafficOnly": !a.served,
        },
        "sku": {"name": a.sku, "tier": if a.sku.starts_with("Premium") { "Premium" } else { "Standard" }},
        "tags": {},
        "type": "Microsoft.Storage/storageAccounts",
    })
}

/// BlobContainers_List item (BlobContainersList.json).
pub fn container(sub: &str, a: &Account, name: &str, modified: &str, etag: &str) -> Value {
    json!({
        "name": name,
        "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
        "etag": format!("\"{etag}\""),
        "id": format!("{}/blobServices/default/containers/{name}", account_id(sub, a)),
        "properties": {
            "hasImmutabilityPolicy": false,
            "hasLegalHold": false,
            "lastModifiedTime": modified,
            "leaseState": "Available",
            "leaseStatus": "Unlocked",
            "publicAccess": "None"
        }
    })
}

/// BlobContainers_Create answer (BlobContainersPut.json).
pub fn created_container(sub: &str, a: &Account, name: &str) -> Value {
    json!({
        "name": name,
        "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
        "id": format!("{}/blobServices/default/containers/{name}", account_id(sub, a)),
    })
}

/// RoleAssignments_ListForScope item (RoleAssignments_ListForScope.json).
pub fn role_assignment(scope: &str, r: &RoleAssignment) -> Value {
    json!({
        "properties": {
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", r.role),
            "principalId": r.principal_id,
            "principalType": r.principal_type,
            "scope": scope,
        },
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{}", r.name),
        "type": "Microsoft.Authorization/roleAssignments",
        "name": r.name,
    })
}

/// StorageAccounts_ListKeys answer (StorageAccountListKeys.json).
pub fn keys(key1: &str, key2: &str) -> Value {
    json!({"keys": [
        {"keyName": "key1", "permissions": "Full", "value": key1},
        {"keyName": "key2", "permissions": "Full", "value": key2},
    ]})
}
