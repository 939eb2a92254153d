//! The sandbox's Azure estate as the ARM control plane lists it: subscriptions (one listable but
//! unreadable), managed instances in two regions and tiers, storage accounts with and without a
//! firewall, containers and role assignments. Plain data; `shapes` renders it as the published
//! JSON and `handlers` serves it.

use std::collections::BTreeSet;

/// The built-in role "Storage Blob Data Reader" (a fact about Azure: its role definition ID).
pub const STORAGE_BLOB_DATA_READER: &str = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";

/// The sandbox's tenant (one tenant for every subscription).
pub const TENANT: &str = "72f988bf-0000-4000-8000-00000000c0de";

/// A subscription the credential can list.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub display_name: String,
    /// Listed by `GET /subscriptions`, but every read inside it answers 403 AuthorizationFailed
    /// (the credential has no role on it).
    pub forbidden: bool,
    pub instances: Vec<Instance>,
    pub accounts: Vec<Account>,
}

/// A managed instance.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub resource_group: String,
    pub location: String,
    /// e.g. `GP_Gen5`, `BC_G8IM`.
    pub sku_name: String,
    /// `GeneralPurpose` or `BusinessCritical`.
    pub tier: String,
    /// Hardware: `Gen5`, `G8IM` (premium-series, memory optimized), ...
    pub family: String,
    pub vcores: u32,
    pub storage_gb: u32,
    /// `Ready`, `Stopped`, ...
    pub state: String,
    pub public_endpoint: bool,
    /// The system-assigned managed identity's principal ID (none: no identity).
    pub principal_id: Option<String>,
    pub subnet_id: String,
    pub dns_zone: String,
}

/// A storage account.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub resource_group: String,
    pub location: String,
    /// `StorageV2`, `BlockBlobStorage`, `Storage`, ...
    pub kind: String,
    /// e.g. `Standard_LRS`, `Premium_LRS`.
    pub sku: String,
    pub hns: bool,
    /// `Allow` (no firewall) or `Deny`.
    pub default_action: String,
    /// Allowed public IP ranges (the firewall's IP rules).
    pub ip_rules: Vec<String>,
    /// Allowed subnets (virtual network rules): full subnet resource IDs.
    pub subnet_rules: Vec<String>,
    /// The blob endpoint, with a trailing `/`.
    pub blob_endpoint: String,
    /// Its containers live in the sandbox Blob service (the one account the sandbox serves).
    pub served: bool,
    /// Containers of an account the sandbox does not serve.
    pub containers: BTreeSet<String>,
    /// Role assignments at the account's scope.
    pub roles: Vec<RoleAssignment>,
    /// Seed of the fake keys of an account the sandbox does not serve.
    pub key_seed: u64,
}

/// A role assignment at an account's scope.
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    /// The assignment's GUID (its name).
    pub name: String,
    pub principal_id: String,
    /// `ServicePrincipal`, `User`, `Group`.
    pub principal_type: String,
    /// The role definition's GUID.
    pub role: String,
}

/// What the estate is built around: the instance and account the rest of the sandbox serves.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// The LRS instance's subscription, resource group, name and region.
    pub subscription: String,
    pub resource_group: String,
    pub managed_instance: String,
    pub location: String,
    /// The sandbox Blob service's account and endpoint.
    pub account: String,
    pub blob_endpoint: String,
}

/// The principal ID of the LRS instance's managed identity in the sandbox.
pub const SANDBOX_MI_PRINCIPAL: &str = "5a1d0b0e-0000-4000-8000-00000000a001";

/// The estate: three subscriptions (the sandbox's, a second one in another region, one without
/// rights), four instances (General Purpose and Business Critical, two regions, one stopped),
/// four storage accounts (the served one without firewall and with the instance's reader role,
/// one behind a firewall, one with a hierarchical namespace in the other region, one in the second
/// subscription).
pub fn sandbox_world(c: &WorldConfig) -> Vec<Subscription> {
    let other_region = if c.location.eq_ignore_ascii_case("northeurope") {
        "westeurope"
    } else {
        "northeurope"
    };
    let subnet = |sub: &str, rg: &str, vnet: &str| {
        format!(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/ManagedInstance"
        )
    };
    let gp = |name: &str, rg: &str, loc: &str, sub: &str, principal: Option<&str>| Instance {
        name: name.into(),
        resource_group: rg.into(),
        location: loc.into(),
        sku_name: "GP_Gen5".into(),
        tier: "GeneralPurpose".into(),
        family: "Gen5".into(),
        vcores: 4,
        storage_gb: 256,
        state: "Ready".into(),
        public_endpoint: false,
        principal_id: principal.map(str::to_string),
        subnet_id: subnet(sub, rg, &format!("vnet-{loc}")),
        dns_zone: "0123456789ab".into(),
    };
    let account = |name: &str, rg: &str, loc: &str, seed: u64| Account {
        name: name.into(),
        resource_group: rg.into(),
        location: loc.into(),
        kind: "StorageV2".into(),
        sku: "Standard_LRS".into(),
        hns: false,
        default_action: "Allow".into(),
        ip_rules: Vec::new(),
        subnet_rules: Vec::new(),
        blob_endpoint: format!("https://{name}.blob.core.windows.net/"),
        served: false,
        containers: BTreeSet::new(),
        roles: Vec::new(),
        key_seed: seed,
    };
    let sub1 = &c.subscription;
    let rg1 = &c.resource_group;
    let mut lrs_mi = gp(
        &c.managed_instance,
        rg1,
        &c.location,
        sub1,
        Some(SANDBOX_MI_PRINCIPAL),
    );
    lrs_mi.dns_zone = "5a0db0c0ffee".into();
    let mut bc = gp(
        &format!("{}-bc", c.managed_instance),
        rg1,
        other_region,
        sub1,
        Some("5a1d0b0e-0000-4000-8000-00000000a002"),
    );
    bc.sku_name = "BC_G8IM".into();
    bc.tier = "BusinessCritical".into();
    bc.family = "G8IM".into();
    bc.vcores = 8;
    bc.storage_gb = 1024;
    bc.public_endpoint = true;
    let mut stopped = gp(
        &format!("{}-stopped", c.managed_instance),
        "cutover-sandbox-dev",
        &c.location,
        sub1,
        None,
    );
    stopped.state = "Stopped".into();

    let mut served = account(&c.account, rg1, &c.location, 0);
    served.served = true;
    served.blob_endpoint = format!("{}/", c.blob_endpoint.trim_end_matches('/'));
    served.roles.push(RoleAssignment {
        name: "0b5fe924-0000-4000-8000-00000000b001".into(),
        principal_id: SANDBOX_MI_PRINCIPAL.into(),
        principal_type: "ServicePrincipal".into(),
        role: STORAGE_BLOB_DATA_READER.into(),
    });
    let mut locked = account("sbxlocked", rg1, &c.location, 1);
    locked.default_action = "Deny".into();
    locked.ip_rules.push("203.0.113.0/24".into());
    locked.containers.insert("migration".into());
    let mut lake = account("sbxlake", rg1, other_region, 2);
    lake.kind = "BlockBlobStorage".into();
    lake.sku = "Premium_LRS".into();
    lake.hns = true;
    lake.subnet_rules.push(bc.subnet_id.clone());

    let sub2 = "11111111-1111-4111-8111-111111111111";
    let mi2 = gp("sandbox-mi-neu", "cutover-neu", other_region, sub2, None);
    let other = account("sbxother", "cutover-neu", other_region, 3);
    vec![
        Subscription {
            id: sub1.clone(),
            display_name: "cutover sandbox".into(),
            forbidden: false,
            instances: vec![lrs_mi, bc, stopped],
            accounts: vec![served, locked, lake],
        },
        Subscription {
            id: sub2.into(),
            display_name: "cutover sandbox (second)".into(),
            forbidden: false,
            instances: vec![mi2],
            accounts: vec![other],
        },
        Subscription {
            id: "22222222-2222-4222-8222-222222222222".into(),
            display_name: "cutover sandbox (no rights)".into(),
            forbidden: true,
            instances: Vec::new(),
            accounts: Vec::new(),
        },
    ]
}
