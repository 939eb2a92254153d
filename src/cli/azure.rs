//! `cutover azure subscriptions|instances|storage-accounts|containers`: what the credential can see
//! in Azure, for picking the target (and for scripts, `--json`). A subscription that can be listed
//! but not read is a warning finding, not a failure. Exit 0 when the lists were read (findings
//! included), 1 when Azure refused or failed, 2 for bad input (endpoint, credential, names).

use crate::model::azure::container_name_problem;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use serde_json::json;

use super::azure_view::{
    AccountRow, ContainerRow, InstanceRow, SubscriptionRow, print_accounts, print_containers,
    print_findings, print_instances, print_subscriptions,
};
use crate::arm::discovery::checks::{check_reader_role, judge_region};
use crate::arm::discovery::types::StorageAccount;
use crate::arm::discovery::{
    DiscoveryClient, DiscoveryError, DiscoveryFinding, across_subscriptions, judge_firewall,
};
use crate::arm::{ArmClient, DEFAULT_ARM_ENDPOINT, StaticToken, is_local_endpoint};
use crate::restore_target::subscription::{azure_cli_profile_path, choose_subscription};
use crate::storage::auth::{AadKind, aad_credential};

#[derive(Debug, clap::Args)]
pub struct AzureArgs {
    /// Azure Resource Manager endpoint (the sandbox's for local runs).
    #[arg(long, value_name = "URL", default_value = DEFAULT_ARM_ENDPOINT, env = "CUTOVER_ARM_ENDPOINT")]
    pub arm_endpoint: String,
    /// Azure AD credential for ARM (ignored for a loopback sandbox endpoint).
    #[arg(long, value_name = "KIND", default_value = "auto")]
    pub aad: AadKind,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SubscriptionArg {
    /// Subscription ID [default: AZURE_SUBSCRIPTION_ID, else the Azure CLI's default subscription,
    /// else every subscription the credential sees].
    #[arg(long, value_name = "ID")]
    pub subscription: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum AzureCommand {
    /// The subscriptions the credential can see (* = the default).
    Subscriptions {
        #[command(flatten)]
        common: AzureArgs,
    },
    /// Managed instances: region, tier, hardware, vCores, storage, state, public endpoint, identity.
    Instances {
        #[command(flatten)]
        common: AzureArgs,
        #[command(flatten)]
        sub: SubscriptionArg,
    },
    /// Storage accounts: region, kind, firewall, hierarchical namespace; with --for-instance, the
    /// instance's region first and whether the instance can read each one.
    StorageAccounts {
        #[command(flatten)]
        common: AzureArgs,
        #[command(flatten)]
        sub: SubscriptionArg,
        /// The managed instance that will read the backups: same-region accounts first, and the
        /// firewall and its identity's Storage Blob Data Reader role checked on each account.
        #[arg(long, value_name = "MI")]
        for_instance: Option<String>,
    },
    /// The containers of a storage account (and --create one).
    Containers {
        #[command(flatten)]
        common: AzureArgs,
        #[command(flatten)]
        sub: SubscriptionArg,
        /// The storage account's name.
        #[arg(long, value_name = "NAME")]
        account: String,
        /// Create this container first (nothing happens if it exists).
        #[arg(long, value_name = "CONTAINER")]
        create: Option<String>,
    },
}

/// How the command failed: the message and the exit code.
struct Failure(String, i32);

impl From<DiscoveryError> for Failure {
    fn from(e: DiscoveryError) -> Self {
        Failure(e.to_string(), 1)
    }
}

fn client(a: &AzureArgs) -> Result<DiscoveryClient, Failure> {
    let cred: Arc<dyn TokenCredential> = if is_local_endpoint(&a.arm_endpoint) {
        Arc::new(StaticToken("cutover-sandbox".into()))
    } else {
        aad_credential(a.aad).map_err(|e| Failure(e, 2))?
    };
    let arm = ArmClient::new(&a.arm_endpoint, cred).map_err(|e| Failure(e.to_string(), 2))?;
    Ok(DiscoveryClient::new(arm))
}

/// `--subscription`, else the environment's or the Azure CLI's default (said on stderr), else
/// `None`: every subscription the credential sees.
fn chosen_subscription(flag: Option<&str>) -> Result<Option<String>, Failure> {
    let env = std::env::var("AZURE_SUBSCRIPTION_ID").ok();
    let profile = azure_cli_profile_path();
    match choose_subscription(flag, env.as_deref(), profile.as_deref()) {
        Ok(c) => {
            if flag.is_none() {
                eprintln!("using subscription {} from {}", c.id, c.source);
            }
            Ok(Some(c.id))
        }
        // A profile that exists but cannot be read is bad input; no default at all is fine.
        Err(e) if e.contains("azureProfile.json") && !e.starts_with("no subscription") => {
            Err(Failure(e, 2))
        }
        Err(_) => {
            eprintln!("no default subscription: listing every subscription this credential sees");
            Ok(None)
        }
    }
}

/// The items of the chosen subscription, or of every visible one (unreadable ones as findings).
async fn gather<T, F, Fut>(
    c: &DiscoveryClient,
    flag: Option<&str>,
    what: &str,
    list: F,
) -> Result<(Vec<(String, T)>, Vec<DiscoveryFinding>), Failure>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, DiscoveryError>>,
{
    match chosen_subscription(flag)? {
        Some(id) => {
            let items = list(id.clone()).await?;
            Ok((
                items.into_iter().map(|i| (id.clone(), i)).collect(),
                Vec::new(),
            ))
        }
        None => {
            let subs = c.subscriptions().await?;
            let (items, findings) = across_subscriptions(&subs, what, list).await?;
            if items.is_empty() && !findings.is_empty() && findings.len() == subs.len() {
                print_findings(&findings);
                return Err(Failure(
                    format!("no subscription this credential sees lets it read {what}"),
                    1,
                ));
            }
            Ok((items, findings))
        }
    }
}

fn print_json(v: &serde_json::Value) -> Result<(), Failure> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure(e.to_string(), 1))?;
    println!("{s}");
    Ok(())
}

async fn run_async(cmd: &AzureCommand) -> Result<(), Failure> {
    match cmd {
        AzureCommand::Subscriptions { common } => {
            let c = client(common)?;
            let subs = c.subscriptions().await?;
            let env = std::env::var("AZURE_SUBSCRIPTION_ID").ok();
            let profile = azure_cli_profile_path();
            let default = choose_subscription(None, env.as_deref(), profile.as_deref())
                .ok()
                .map(|s| s.id);
            let rows: Vec<SubscriptionRow> = subs
                .iter()
                .map(|s| SubscriptionRow::new(s, default.as_deref()))
                .collect();
            if common.json {
                print_json(&json!({ "subscriptions": rows }))
            } else {
                print_subscriptions(&rows);
                Ok(())
            }
        }
        AzureCommand::Instances { common, sub } => {
            let c = client(common)?;
            let (items, findings) =
                gather(&c, sub.subscription.as_deref(), "managed instances", |s| {
                    let c = c.clone();
                    async move { c.instances(&s).await }
                })
                .await?;
            let rows: Vec<InstanceRow> =
                items.iter().map(|(s, i)| InstanceRow::new(s, i)).collect();
            if common.json {
                print_json(&json!({ "instances": rows, "findings": findings }))
            } else {
                print_instances(&rows);
                print_findings(&findings);
                Ok(())
            }
        }
        AzureCommand::StorageAccounts {
            common,
            sub,
            for_instance,
        } => {
            let c = client(common)?;
            let (mut items, mut findings) =
                gather(&c, sub.subscription.as_deref(), "storage accounts", |s| {
                    let c = c.clone();
                    async move { c.storage_accounts(&s).await }
                })
                .await?;
            if let Some(mi_name) = for_instance {
                findings.extend(check_for_instance(&c, mi_name, &mut items).await?);
            }
            let rows: Vec<AccountRow> = items.iter().map(|(s, a)| AccountRow::new(s, a)).collect();
            if common.json {
                print_json(&json!({ "storage_accounts": rows, "findings": findings }))
            } else {
                print_accounts(&rows);
                print_findings(&findings);
                Ok(())
            }
        }
        AzureCommand::Containers {
            common,
            sub,
            account,
            create,
        } => {
            let c = client(common)?;
            let (items, _) = gather(&c, sub.subscription.as_deref(), "storage accounts", |s| {
                let c = c.clone();
                async move { c.storage_accounts(&s).await }
            })
            .await?;
            let Some((_, acc)) = items
                .iter()
                .find(|(_, a)| a.name.eq_ignore_ascii_case(account))
            else {
                return Err(Failure(
                    format!(
                        "--account {account}: no such storage account in the subscription(s) read; `cutover azure storage-accounts` lists them (or give --subscription)"
                    ),
                    2,
                ));
            };
            let mut created = None;
            if let Some(name) = create {
                if let Some(problem) = container_name_problem(name) {
                    return Err(Failure(format!("--create {name}: {problem}"), 2));
                }
                let (_, new) = c.create_container(&acc.id, name).await?;
                if !common.json {
                    eprintln!(
                        "{} container {name} on {}",
                        if new { "created" } else { "found existing" },
                        acc.name
                    );
                }
                created = Some(new);
            }
            let rows: Vec<ContainerRow> = c
                .containers(&acc.id)
                .await?
                .iter()
                .map(ContainerRow::new)
                .collect();
            if common.json {
                print_json(&json!({ "account": acc.name, "containers": rows, "created": created }))
            } else {
                print_containers(&rows);
                Ok(())
            }
        }
    }
}

/// Sorts the instance's region first and checks, per account, the firewall, the region and the
/// instance identity's reader role.
async fn check_for_instance(
    c: &DiscoveryClient,
    mi_name: &str,
    items: &mut [(String, StorageAccount)],
) -> Result<Vec<DiscoveryFinding>, Failure> {
    let mut subs: Vec<String> = items.iter().map(|(s, _)| s.clone()).collect();
    subs.dedup();
    let mut instance = None;
    for s in &subs {
        match c.instances(s).await {
            Ok(list) => {
                if let Some(i) = list
                    .into_iter()
                    .find(|i| i.name.eq_ignore_ascii_case(mi_name))
                {
                    instance = Some(i);
                    break;
                }
            }
            Err(e) if e.is_forbidden() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let Some(mi) = instance else {
        return Err(Failure(
            format!(
                "--for-instance {mi_name}: no such managed instance in the subscription(s) read; `cutover azure instances` lists them"
            ),
            2,
        ));
    };
    items.sort_by_key(|(_, a)| !a.location.eq_ignore_ascii_case(&mi.location));
    let mut findings = Vec::new();
    for (_, a) in items.iter() {
        findings.push(judge_firewall(&mi, a));
        findings.extend(judge_region(&mi, a));
        findings.push(check_reader_role(c, &mi, a).await?);
    }
    Ok(findings)
}

pub fn run(cmd: &AzureCommand) -> i32 {
    let Some(rt) = super::runtime(false) else {
        return 2;
    };
    match rt.block_on(run_async(cmd)) {
        Ok(()) => 0,
        Err(Failure(message, code)) => {
            eprintln!("error: {message}");
            code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::container_name_problem;

    #[test]
    fn container_names_are_checked_before_any_call() {
        assert_eq!(container_name_problem("wave-2"), None);
        for bad in ["ab", "Wave2", "-wave", "wave--2", "my_container"] {
            assert!(container_name_problem(bad).is_some(), "{bad}");
        }
        assert!(container_name_problem("sqlbackups").is_some_and(|p| p.contains("backup")));
    }
}
