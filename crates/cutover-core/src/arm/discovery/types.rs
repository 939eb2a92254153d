//! The ARM resources discovery reads, as typed serde structs of the published shapes
//! (`../shared/reference/arm-examples/`, checked by `tests/contract_arm.rs`): what the client needs
//! is typed, anything else ARM sends is ignored (ARM adds fields over time); a required field
//! missing or of another JSON type is a parse error naming it.

use std::fmt;

use serde::Deserialize;

/// One page of an ARM list: `{"value": [...], "nextLink": "..."}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "nextLink", default)]
    pub next_link: Option<String>,
}

/// Subscriptions_List item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub subscription_id: String,
    #[serde(default)]
    pub display_name: String,
    /// Enabled, Warned, PastDue, Disabled, Deleted.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A managed identity (`identity` of a resource; `servicePrincipal` of an instance).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// SystemAssigned, UserAssigned, "SystemAssigned,UserAssigned", None.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// A resource's SKU (`capacity`: vCores for an instance).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sku {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default)]
    pub family: Option<String>,
}

/// ManagedInstances_List / _Get item.
#[derive(Debug, Clone, Deserialize)]
pub struct ManagedInstance {
    pub id: String,
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub sku: Sku,
    #[serde(default)]
    pub properties: InstanceProperties,
    #[serde(default)]
    pub identity: Option<Identity>,
}

/// A managed instance's properties (those cutover uses).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceProperties {
    #[serde(default)]
    pub fully_qualified_domain_name: Option<String>,
    #[serde(default)]
    pub administrator_login: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    /// Ready, Stopped, Starting, ...
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub provisioning_state: Option<String>,
    #[serde(default)]
    pub v_cores: Option<u32>,
    #[serde(default, rename = "storageSizeInGB")]
    pub storage_size_in_gb: Option<u32>,
    #[serde(default)]
    pub collation: Option<String>,
    #[serde(default)]
    pub public_data_endpoint_enabled: Option<bool>,
    #[serde(default)]
    pub dns_zone: Option<String>,
    /// SQLServer2022, AlwaysUpToDate (2025-01-01 and later).
    #[serde(default)]
    pub database_format: Option<String>,
    #[serde(default)]
    pub service_principal: Option<Identity>,
    /// With `$expand=administrators/activedirectory`.
    #[serde(default)]
    pub administrators: Option<InstanceAdministrator>,
}

/// The instance's Entra administrator (`properties.administrators`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceAdministrator {
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// True: SQL logins are refused (Entra only).
    #[serde(default, rename = "azureADOnlyAuthentication")]
    pub azure_ad_only_authentication: Option<bool>,
}

/// ManagedInstanceAdministrators_Get / _ListByInstance item.
#[derive(Debug, Clone, Deserialize)]
pub struct AdministratorResource {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub properties: AdministratorProperties,
}

/// An administrator's properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdministratorProperties {
    #[serde(default)]
    pub administrator_type: Option<String>,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// ManagedInstanceAzureADOnlyAuthentications_Get.
#[derive(Debug, Clone, Deserialize)]
pub struct AzureAdOnlyAuthentication {
    pub id: String,
    #[serde(default)]
    pub properties: AzureAdOnlyProperties,
}

/// Whether SQL logins are refused.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AzureAdOnlyProperties {
    #[serde(default, rename = "azureADOnlyAuthentication")]
    pub azure_ad_only_authentication: Option<bool>,
}

/// ManagedDatabases_Get / _ListByInstance item (a name already taken on the instance).
#[derive(Debug, Clone, Deserialize)]
pub struct ManagedDatabaseResource {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub properties: ManagedDatabaseProperties,
}

/// A managed database's properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDatabaseProperties {
    /// Online, Restoring, Inaccessible, ...
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub collation: Option<String>,
    #[serde(default)]
    pub creation_date: Option<String>,
}

/// ManagedInstanceOperations_ListByManagedInstance item (an update in progress blocks restores).
#[derive(Debug, Clone, Deserialize)]
pub struct InstanceOperation {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub properties: InstanceOperationProperties,
}

/// A management operation's state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceOperationProperties {
    #[serde(default)]
    pub operation: Option<String>,
    /// Pending, InProgress, Succeeded, Failed, CancelInProgress, Cancelled.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub percent_complete: Option<u32>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// ManagedInstanceEncryptionProtectors_Get (TDE with a customer key: the certificate question).
#[derive(Debug, Clone, Deserialize)]
pub struct EncryptionProtector {
    pub id: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub properties: EncryptionProtectorProperties,
}

/// Which key protects the instance's TDE.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionProtectorProperties {
    #[serde(default)]
    pub server_key_type: Option<String>,
    #[serde(default)]
    pub server_key_name: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// StorageAccounts_List / _GetProperties item.
#[derive(Debug, Clone, Deserialize)]
pub struct StorageAccount {
    pub id: String,
    pub name: String,
    pub location: String,
    /// StorageV2, BlockBlobStorage, Storage, BlobStorage, ...
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub sku: Sku,
    #[serde(default)]
    pub properties: StorageProperties,
}

/// A storage account's properties (those cutover uses).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageProperties {
    #[serde(default)]
    pub is_hns_enabled: Option<bool>,
    #[serde(default)]
    pub primary_endpoints: Option<Endpoints>,
    #[serde(default)]
    pub network_acls: Option<NetworkAcls>,
    /// Enabled, Disabled, SecuredByPerimeter (absent: Enabled).
    #[serde(default)]
    pub public_network_access: Option<String>,
    /// False: keys and account SAS are refused (Entra only).
    #[serde(default)]
    pub allow_shared_key_access: Option<bool>,
    #[serde(default)]
    pub provisioning_state: Option<String>,
}

/// An account's service endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Endpoints {
    #[serde(default)]
    pub blob: Option<String>,
    #[serde(default)]
    pub dfs: Option<String>,
}

/// The storage firewall.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkAcls {
    /// AzureServices, Logging, Metrics, None (comma-separated).
    #[serde(default)]
    pub bypass: Option<String>,
    /// Allow (no firewall) or Deny.
    #[serde(default)]
    pub default_action: Option<String>,
    #[serde(default)]
    pub ip_rules: Vec<IpRule>,
    #[serde(default)]
    pub virtual_network_rules: Vec<VirtualNetworkRule>,
    #[serde(default)]
    pub resource_access_rules: Vec<ResourceAccessRule>,
}

/// A public IP range the firewall lets in.
#[derive(Debug, Clone, Deserialize)]
pub struct IpRule {
    pub value: String,
    #[serde(default)]
    pub action: Option<String>,
}

/// A subnet the firewall lets in.
#[derive(Debug, Clone, Deserialize)]
pub struct VirtualNetworkRule {
    pub id: String,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

/// A resource instance the firewall lets in.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAccessRule {
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub resource_id: Option<String>,
}

/// BlobContainers_List item / _Create answer.
#[derive(Debug, Clone, Deserialize)]
pub struct BlobContainer {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub properties: ContainerProperties,
}

/// A container's properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProperties {
    #[serde(default)]
    pub last_modified_time: Option<String>,
    #[serde(default)]
    pub lease_state: Option<String>,
    /// None, Container, Blob.
    #[serde(default)]
    pub public_access: Option<String>,
    #[serde(default)]
    pub has_legal_hold: Option<bool>,
    #[serde(default)]
    pub has_immutability_policy: Option<bool>,
}

/// StorageAccounts_ListKeys answer.
#[derive(Clone, Deserialize)]
pub struct AccountKeys {
    #[serde(default)]
    pub keys: Vec<AccountKey>,
}

/// One account key; its value is never printed by `Debug`.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountKey {
    pub key_name: String,
    #[serde(default)]
    pub permissions: Option<String>,
    pub value: String,
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKey")
            .field("key_name", &self.key_name)
            .field("permissions", &self.permissions)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKeys")
            .field("keys", &self.keys)
            .finish()
    }
}

/// StorageAccounts_ListServiceSAS answer (a SAS: never printed by `Debug`).
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSasAnswer {
    pub service_sas_token: String,
}

/// StorageAccounts_ListAccountSAS answer (a SAS: never printed by `Debug`).
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSasAnswer {
    pub account_sas_token: String,
}

impl fmt::Debug for ServiceSasAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceSasAnswer(<redacted>)")
    }
}

impl fmt::Debug for AccountSasAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountSasAnswer(<redacted>)")
    }
}

/// RoleAssignments_ListForScope item.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleAssignment {
    pub id: String,
    pub name: String,
    pub properties: RoleAssignmentProperties,
}

/// Who has which role where.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    /// `.../providers/Microsoft.Authorization/roleDefinitions/{guid}`.
    pub role_definition_id: String,
    pub principal_id: String,
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl RoleAssignment {
    /// The role definition's GUID (the last segment of `roleDefinitionId`).
    pub fn role_guid(&self) -> &str {
        self.properties
            .role_definition_id
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }
}

/// RoleDefinitions_Get / _GetById.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleDefinition {
    pub id: String,
    pub name: String,
    pub properties: RoleDefinitionProperties,
}

/// A role's name and permissions.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    pub role_name: String,
    #[serde(default)]
    pub permissions: Vec<RolePermission>,
    #[serde(default)]
    pub assignable_scopes: Vec<String>,
}

/// A role's actions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolePermission {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
}

/// ResourceGroups_Get.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceGroup {
    pub id: String,
    pub name: String,
    pub location: String,
}

/// The resource group named in a resource ID (`/subscriptions/S/resourceGroups/RG/...`), any case.
pub fn resource_group_of(id: &str) -> Option<&str> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().filter(|s| !s.is_empty());
        }
    }
    None
}

impl ManagedInstance {
    /// The resource group from the ID.
    pub fn resource_group(&self) -> &str {
        resource_group_of(&self.id).unwrap_or_default()
    }

    /// The system-assigned (or first) managed identity's principal ID: the one a storage role is
    /// granted to.
    pub fn identity_principal(&self) -> Option<&str> {
        self.identity
            .as_ref()
            .and_then(|i| i.principal_id.as_deref())
    }
}

impl StorageAccount {
    /// The resource group from the ID.
    pub fn resource_group(&self) -> &str {
        resource_group_of(&self.id).unwrap_or_default()
    }

    /// The blob endpoint (`https://ACCOUNT.blob.core.windows.net/`).
    pub fn blob_endpoint(&self) -> Option<&str> {
        self.properties
            .primary_endpoints
            .as_ref()
            .and_then(|e| e.blob.as_deref())
    }

    /// The firewall's default action: `Allow` unless the account says `Deny`.
    pub fn firewall_denies(&self) -> bool {
        self.properties
            .network_acls
            .as_ref()
            .and_then(|n| n.default_action.as_deref())
            .is_some_and(|a| a.eq_ignore_ascii_case("Deny"))
    }

    /// Public network access turned off (private endpoints only).
    pub fn public_access_disabled(&self) -> bool {
        self.properties
            .public_network_access
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("Disabled"))
    }
}
