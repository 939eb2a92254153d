//! `cutover lrs start|status|complete|cancel`: the Log Replay Service, with `az sql midb log-replay`'s
//! option names, for operators and scripts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::{Secret, TokenCredential};

use super::secret_arg::{SecretArg, sas_in_url_warning};
use crate::restore_target::details::RestoreDetails;
use crate::restore_target::lrs::{
    DEFAULT_ARM_ENDPOINT, InstanceRef, LrsClient, StartRequest, StorageAccess,
};
use crate::restore_target::names::check_target_name;
use crate::restore_target::subscription::{azure_cli_profile_path, choose_subscription};
use crate::restore_target::wait::{Verdict, WaitFor};
use crate::storage::auth::{AadKind, aad_credential};

#[derive(Debug, clap::Args)]
pub struct Target {
    /// Resource group of the managed instance.
    #[arg(
        short = 'g',
        long = "resource-group",
        value_name = "RG",
        env = "CUTOVER_RESOURCE_GROUP"
    )]
    pub resource_group: String,
    /// The managed instance's name.
    #[arg(
        long = "managed-instance",
        visible_alias = "mi",
        value_name = "MI",
        env = "CUTOVER_MANAGED_INSTANCE"
    )]
    pub managed_instance: String,
    /// The database to restore on the managed instance.
    #[arg(short = 'n', long = "name", value_name = "DB")]
    pub name: String,
    /// Subscription ID [default: AZURE_SUBSCRIPTION_ID, else the Azure CLI's default subscription
    /// (azureProfile.json)].
    #[arg(long, value_name = "ID")]
    pub subscription: Option<String>,
    /// Azure Resource Manager endpoint (the sandbox's for local runs).
    #[arg(long, value_name = "URL", default_value = DEFAULT_ARM_ENDPOINT, env = "CUTOVER_ARM_ENDPOINT")]
    pub arm_endpoint: String,
    /// Azure AD credential for ARM (not used with --sandbox).
    #[arg(long, value_name = "KIND", default_value = "auto")]
    pub aad: AadKind,
    /// The ARM endpoint is the local sandbox (`cutover sandbox`, a loopback address): send its fixed
    /// token instead of an Azure AD one. Without it, a loopback endpoint gets the Azure credential.
    #[arg(long)]
    pub sandbox: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum LrsCommand {
    /// Start a restore in continuous mode (or autocomplete with --last-backup-name).
    Start {
        #[command(flatten)]
        target: Target,
        /// The database's folder in the container: https://ACCOUNT.blob.core.windows.net/CONTAINER/FOLDER
        #[arg(long, value_name = "URL")]
        storage_uri: String,
        /// Name of the environment variable holding the Read + List container SAS
        /// [default: CUTOVER_LRS_SAS].
        #[arg(long, value_name = "VAR")]
        storage_sas_env: Option<String>,
        /// The SAS itself: visible to every user in the process list, prefer --storage-sas-env.
        #[arg(long, value_name = "TOKEN")]
        storage_sas: Option<String>,
        /// `ManagedIdentity` to let the instance read with its own identity instead of a SAS.
        #[arg(long, value_name = "IDENTITY")]
        storage_identity: Option<String>,
        /// The database collation (from the full backup: `cutover inspect` shows it).
        #[arg(long, default_value = "SQL_Latin1_General_CP1_CI_AS")]
        collation: String,
        /// Azure region of the managed instance.
        #[arg(long, short = 'l', default_value = "westeurope")]
        location: String,
        /// Autocomplete after restoring this file (else continuous mode: complete later).
        #[arg(long, value_name = "NAME")]
        last_backup_name: Option<String>,
    },
    /// Show the restore's progress (restoreDetails).
    #[command(visible_alias = "show")]
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Wait until the restore reaches a status, restores a file, or is gone; exit 0 when it did, 1
    /// when it failed or cannot get there, 3 when --timeout ran out.
    Wait {
        #[command(flatten)]
        target: Target,
        /// Until restoreDetails' status is this one (e.g. Restoring, Completed).
        #[arg(long, value_name = "STATUS", group = "condition")]
        status: Option<String>,
        /// Until this file is the last restored one (then `complete --last-backup-name` it).
        #[arg(long, value_name = "NAME", group = "condition")]
        last_restored: Option<String>,
        /// Until the restore is gone (after stop/cancel).
        #[arg(long, group = "condition")]
        deleted: bool,
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600.0)]
        timeout: f64,
        /// Seconds between two readings.
        #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
        interval: f64,
    },
    /// Complete (cut over): bring the database online after the named last restored file.
    Complete {
        #[command(flatten)]
        target: Target,
        /// The last backup file restored (lastRestoredFileName in `status`).
        #[arg(long, value_name = "NAME")]
        last_backup_name: String,
    },
    /// Cancel: drop the restoring database (only for an LRS restore that has not completed).
    #[command(visible_alias = "stop")]
    Cancel {
        #[command(flatten)]
        target: Target,
    },
}

fn client(t: &Target) -> Result<LrsClient, String> {
    let env = std::env::var("AZURE_SUBSCRIPTION_ID").ok();
    let profile = azure_cli_profile_path();
    let subscription = choose_subscription(
        t.subscription.as_deref(),
        env.as_deref(),
        profile.as_deref(),
    )?;
    if t.subscription.is_none() {
        eprintln!(
            "using subscription {} from {}",
            subscription.id, subscription.source
        );
    }
    let cred: Arc<dyn TokenCredential> =
        crate::config::engine::arm_credential(&t.arm_endpoint, t.sandbox, "--sandbox", || {
            aad_credential(t.aad)
        })?;
    LrsClient::new(
        &t.arm_endpoint,
        cred,
        InstanceRef {
            subscription: subscription.id,
            resource_group: t.resource_group.clone(),
            managed_instance: t.managed_instance.clone(),
        },
    )
    .map_err(|e| e.to_string())
}

pub fn run(cmd: &LrsCommand) -> i32 {
    let Some(rt) = super::runtime(false) else {
        return 2;
    };
    rt.block_on(run_async(cmd))
}

fn print_status(d: &RestoreDetails, json: bool) {
    if json {
        match serde_json::to_string_pretty(d) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {e}"),
        }
        return;
    }
    let or = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    println!("status            {}", or(&d.status));
    println!("restoring         {}", or(&d.current_restoring_file_name));
    println!(
        "last restored     {} {}",
        or(&d.last_restored_file_name),
        d.last_restored_file_time.clone().unwrap_or_default()
    );
    println!(
        "percent complete  {:.1}",
        d.percent_completed.unwrap_or(0.0)
    );
    println!(
        "files detected    {}",
        d.number_of_files_detected.unwrap_or(0)
    );
    println!("last uploaded     {}", or(&d.last_uploaded_file_name));
    if !d.unrestorable_files.is_empty() {
        println!("unrestorable      {}", d.unrestorable_files.join(", "));
    }
    if let Some(b) = &d.block_reason {
        println!("BLOCKED           {b}");
    }
    for (label, sets) in [
        ("full", &d.full_backup_sets),
        ("diff", &d.diff_backup_sets),
        ("log", &d.log_backup_sets),
    ] {
        for s in sets {
            println!(
                "  {label:<4} {:<9} {} ({} stripe(s), {} MB)",
                s.status.clone().unwrap_or_default(),
                s.first_stripe_name.clone().unwrap_or_default(),
                s.number_of_stripes.unwrap_or(1),
                s.backup_size_mb.unwrap_or(0)
            );
        }
    }
}

async fn run_async(cmd: &LrsCommand) -> i32 {
    let t = match cmd {
        LrsCommand::Start { target, .. }
        | LrsCommand::Status { target }
        | LrsCommand::Wait { target, .. }
        | LrsCommand::Complete { target, .. }
        | LrsCommand::Cancel { target } => target,
    };
    if let LrsCommand::Wait {
        timeout, interval, ..
    } = cmd
    {
        for (flag, v) in [("--timeout", *timeout), ("--interval", *interval)] {
            if !v.is_finite() || v <= 0.0 || v > 30.0 * 86_400.0 {
                eprintln!("error: {flag} must be a positive number of seconds (at most 30 days)");
                return 2;
            }
        }
    }
    if let Err(e) = check_target_name("-n/--name", &t.name) {
        eprintln!("error: {e}");
        return 2;
    }
    let c = match client(t) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let result = match cmd {
        LrsCommand::Start {
            storage_uri,
            storage_sas,
            storage_sas_env,
            storage_identity,
            collation,
            location,
            last_backup_name,
            ..
        } => {
            let sas = SecretArg {
                flag: "--storage-sas",
                value: storage_sas.as_deref(),
                env_flag: "--storage-sas-env",
                env_name: storage_sas_env.as_deref(),
                default_env: "CUTOVER_LRS_SAS",
            };
            let managed_identity = storage_identity
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case("ManagedIdentity"));
            let access = match storage_identity.as_deref() {
                _ if managed_identity => StorageAccess::ManagedIdentity,
                Some(i) if !i.eq_ignore_ascii_case("SharedAccessSignature") => {
                    eprintln!(
                        "error: --storage-identity must be ManagedIdentity or SharedAccessSignature, not '{i}'"
                    );
                    return 2;
                }
                _ => match sas.resolve() {
                    Ok(Some((s, _))) => {
                        StorageAccess::Sas(Secret::new(s.trim_start_matches('?').to_string()))
                    }
                    Ok(None) => {
                        eprintln!(
                            "error: give --storage-sas-env VAR (the variable holding a Read + List container SAS) or --storage-identity ManagedIdentity"
                        );
                        return 2;
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return 2;
                    }
                },
            };
            if storage_uri.contains("sig=") {
                eprintln!(
                    "warning: {}",
                    sas_in_url_warning("--storage-uri", "the SAS with --storage-sas-env VAR")
                );
            }
            let req = StartRequest {
                location: location.clone(),
                storage_uri: storage_uri.clone(),
                access,
                collation: collation.clone(),
                last_backup_name: last_backup_name.clone(),
            };
            c.start(&t.name, &req).await.map(|_| {
                if t.json {
                    println!("{}", serde_json::json!({"started": t.name}));
                } else {
                    println!("started the Log Replay Service restore of {} (follow it with `cutover lrs status`)", t.name);
                }
            })
        }
        LrsCommand::Status { .. } => c.status(&t.name).await.map(|d| print_status(&d, t.json)),
        LrsCommand::Wait {
            status,
            last_restored,
            deleted,
            timeout,
            interval,
            ..
        } => {
            let want = match (status, last_restored, deleted) {
                (Some(s), _, _) => WaitFor::Status(s.clone()),
                (_, Some(n), _) => WaitFor::LastRestored(n.clone()),
                (_, _, true) => WaitFor::Deleted,
                _ => {
                    eprintln!(
                        "error: give what to wait for: --status STATUS, --last-restored NAME or --deleted"
                    );
                    return 2;
                }
            };
            return wait(
                &c,
                t,
                &want,
                Duration::from_secs_f64(*timeout),
                Duration::from_secs_f64(*interval),
            )
            .await;
        }
        LrsCommand::Complete {
            last_backup_name, ..
        } => c.complete(&t.name, last_backup_name).await.map(|_| {
            if t.json {
                println!(
                    "{}",
                    serde_json::json!({"completed": t.name, "lastBackupName": last_backup_name})
                );
            } else {
                println!("completed: {} is online", t.name);
            }
        }),
        LrsCommand::Cancel { .. } => c.cancel(&t.name).await.map(|_| {
            if t.json {
                println!("{}", serde_json::json!({"canceled": t.name}));
            } else {
                println!("canceled: the restoring database {} was dropped", t.name);
            }
        }),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            if t.json {
                println!(
                    "{}",
                    serde_json::json!({"error": e.to_string(), "code": e.code()})
                );
            }
            eprintln!("error: {e}");
            1
        }
    }
}

/// Exit code of `lrs wait` when the timeout ran out.
const WAIT_TIMED_OUT: i32 = 3;

/// Polls restoreDetails until `want` is met (0), cannot be (1), or `timeout` passes (3).
async fn wait(
    c: &LrsClient,
    t: &Target,
    want: &WaitFor,
    timeout: Duration,
    interval: Duration,
) -> i32 {
    let deadline = Instant::now() + timeout;
    let mut last_said = String::new();
    loop {
        let reading = c.status(&t.name).await;
        let verdict = want.judge(reading.as_ref());
        let (code, outcome, said) = match &verdict {
            Verdict::Met => (Some(0), "met", format!("{}: {}", t.name, want.describe())),
            Verdict::Never(why) => (Some(1), "never", format!("{}: {why}", t.name)),
            Verdict::Pending(at) => (None, "waiting", format!("{}: {at}", t.name)),
        };
        let timed_out = code.is_none() && Instant::now() >= deadline;
        let (code, outcome) = if timed_out {
            (Some(WAIT_TIMED_OUT), "timeout")
        } else {
            (code, outcome)
        };
        if t.json {
            if code.is_some() {
                let details = reading.as_ref().ok();
                println!(
                    "{}",
                    serde_json::json!({"outcome": outcome, "waited_for": want.describe(), "message": said, "restoreDetails": details})
                );
            }
        } else if said != last_said || code.is_some() {
            match (code, timed_out) {
                (Some(0), _) => println!("done: {said}"),
                (Some(_), true) => eprintln!(
                    "error: {} did not happen within {:.0} s ({said}); wait again, or check the restore with `cutover lrs show`",
                    want.describe(),
                    timeout.as_secs_f64()
                ),
                (Some(_), false) => eprintln!("error: {said}"),
                (None, _) => eprintln!("waiting for {}: {said}", want.describe()),
            }
        }
        if let Some(code) = code {
            return code;
        }
        last_said = said;
        tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}
