//! What `cutover azure ...` prints: one flat row per subscription, instance, storage account or
//! container (the JSON keys scripts read), and the 80-column tables.

use serde::Serialize;

use crate::arm::discovery::DiscoveryFinding;
use crate::arm::discovery::types::{BlobContainer, ManagedInstance, StorageAccount, Subscription};

#[derive(Debug, Serialize)]
pub struct SubscriptionRow {
    pub subscription_id: String,
    pub display_name: String,
    pub state: Option<String>,
    pub tenant_id: Option<String>,
    /// The one `--subscription` defaults to (AZURE_SUBSCRIPTION_ID or the Azure CLI's default).
    pub is_default: bool,
}

impl SubscriptionRow {
    pub fn new(s: &Subscription, default: Option<&str>) -> Self {
        SubscriptionRow {
            subscription_id: s.subscription_id.clone(),
            display_name: s.display_name.clone(),
            state: s.state.clone(),
            tenant_id: s.tenant_id.clone(),
            is_default: default.is_some_and(|d| d.eq_ignore_ascii_case(&s.subscription_id)),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct InstanceRow {
    pub subscription_id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub state: Option<String>,
    /// GeneralPurpose, BusinessCritical.
    pub tier: Option<String>,
    pub sku: Option<String>,
    /// Hardware generation (Gen5, G8IM, ...).
    pub hardware: Option<String>,
    pub vcores: Option<u32>,
    /// Reserved storage (ARM does not give the storage used: the instance's SQL side does).
    pub storage_max_gb: Option<u32>,
    pub fqdn: Option<String>,
    pub public_endpoint: Option<bool>,
    pub database_format: Option<String>,
    pub collation: Option<String>,
    /// The managed identity's principal ID (what a storage role is granted to).
    pub identity_principal_id: Option<String>,
    pub id: String,
}

impl InstanceRow {
    pub fn new(sub: &str, i: &ManagedInstance) -> Self {
        InstanceRow {
            subscription_id: sub.to_string(),
            name: i.name.clone(),
            resource_group: i.resource_group().to_string(),
            location: i.location.clone(),
            state: i.properties.state.clone(),
            tier: i.sku.tier.clone(),
            sku: i.sku.name.clone(),
            hardware: i.sku.family.clone(),
            vcores: i.properties.v_cores.or(i.sku.capacity),
            storage_max_gb: i.properties.storage_size_in_gb,
            fqdn: i.properties.fully_qualified_domain_name.clone(),
            public_endpoint: i.properties.public_data_endpoint_enabled,
            database_format: i.properties.database_format.clone(),
            collation: i.properties.collation.clone(),
            identity_principal_id: i.identity_principal().map(str::to_string),
            id: i.id.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AccountRow {
    pub subscription_id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub kind: Option<String>,
    pub sku: Option<String>,
    /// Hierarchical namespace (Data Lake Gen2).
    pub hns: bool,
    /// Allow (no firewall) or Deny.
    pub firewall_default_action: String,
    pub public_network_access: String,
    pub blob_endpoint: Option<String>,
    pub id: String,
}

impl AccountRow {
    pub fn new(sub: &str, a: &StorageAccount) -> Self {
        AccountRow {
            subscription_id: sub.to_string(),
            name: a.name.clone(),
            resource_group: a.resource_group().to_string(),
            location: a.location.clone(),
            kind: a.kind.clone(),
            sku: a.sku.name.clone(),
            hns: a.properties.is_hns_enabled.unwrap_or(false),
            firewall_default_action: if a.firewall_denies() { "Deny" } else { "Allow" }.into(),
            public_network_access: a
                .properties
                .public_network_access
                .clone()
                .unwrap_or_else(|| "Enabled".into()),
            blob_endpoint: a.blob_endpoint().map(str::to_string),
            id: a.id.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ContainerRow {
    pub name: String,
    pub last_modified: Option<String>,
    pub public_access: Option<String>,
    pub lease_state: Option<String>,
}

impl ContainerRow {
    pub fn new(c: &BlobContainer) -> Self {
        ContainerRow {
            name: c.name.clone(),
            last_modified: c.properties.last_modified_time.clone(),
            public_access: c.properties.public_access.clone(),
            lease_state: c.properties.lease_state.clone(),
        }
    }
}

fn cut(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('~');
    out
}

fn or_dash<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".into(), ToString::to_string)
}

pub fn print_subscriptions(rows: &[SubscriptionRow]) {
    println!("{:<36}  {:<30}  {:<8}  ", "SUBSCRIPTION", "NAME", "STATE");
    for r in rows {
        println!(
            "{:<36}  {:<30}  {:<8}  {}",
            r.subscription_id,
            cut(&r.display_name, 30),
            or_dash(&r.state),
            if r.is_default { "*" } else { "" }
        );
    }
    println!("{} subscription(s); * = the default", rows.len());
}

fn short_tier(t: &Option<String>) -> String {
    match t.as_deref() {
        Some("GeneralPurpose") => "GP".into(),
        Some("BusinessCritical") => "BC".into(),
        other => or_dash(&other.map(str::to_string)),
    }
}

pub fn print_instances(rows: &[InstanceRow]) {
    println!(
        "{:<22} {:<16} {:<13} {:<4} {:<5} {:>3} {:>6} {:<8} PUB",
        "INSTANCE", "RESOURCE GROUP", "REGION", "TIER", "HW", "VC", "GB", "STATE"
    );
    for r in rows {
        println!(
            "{:<22} {:<16} {:<13} {:<4} {:<5} {:>3} {:>6} {:<8} {}",
            cut(&r.name, 22),
            cut(&r.resource_group, 16),
            cut(&r.location, 13),
            short_tier(&r.tier),
            cut(&or_dash(&r.hardware), 5),
            or_dash(&r.vcores),
            or_dash(&r.storage_max_gb),
            cut(&or_dash(&r.state), 8),
            if r.public_endpoint == Some(true) {
                "yes"
            } else {
                "no"
            }
        );
    }
    println!("{} instance(s); GB = reserved storage", rows.len());
}

pub fn print_accounts(rows: &[AccountRow]) {
    println!(
        "{:<24} {:<16} {:<13} {:<16} {:<3} {:<8}",
        "ACCOUNT", "RESOURCE GROUP", "REGION", "KIND", "HNS", "FIREWALL"
    );
    for r in rows {
        println!(
            "{:<24} {:<16} {:<13} {:<16} {:<3} {:<8}",
            cut(&r.name, 24),
            cut(&r.resource_group, 16),
            cut(&r.location, 13),
            cut(&or_dash(&r.kind), 16),
            if r.hns { "yes" } else { "no" },
            if r.public_network_access.eq_ignore_ascii_case("Disabled") {
                "private"
            } else if r.firewall_default_action == "Deny" {
                "on"
            } else {
                "off"
            }
        );
    }
    println!("{} storage account(s)", rows.len());
}

pub fn print_containers(rows: &[ContainerRow]) {
    println!("{:<40} {:<22} PUBLIC", "CONTAINER", "LAST MODIFIED");
    for r in rows {
        println!(
            "{:<40} {:<22} {}",
            cut(&r.name, 40),
            cut(&or_dash(&r.last_modified), 22),
            or_dash(&r.public_access)
        );
    }
    println!("{} container(s)", rows.len());
}

pub fn print_findings(findings: &[DiscoveryFinding]) {
    for f in findings {
        println!(
            "{}: {} [{}] {}",
            f.severity.as_str(),
            f.code,
            f.subject,
            f.message
        );
        if !f.fix.is_empty() {
            println!("    fix: {}", f.fix);
        }
    }
}
