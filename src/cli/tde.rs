//! `cutover tde list|migrate [--json]`: the source's TDE-encrypted databases, the certificate that
//! encrypts each one's key, and whether the Managed Instance has it (its SQL endpoint's
//! `sys.certificates`, with --target-server); `migrate` exports each missing certificate with
//! BACKUP CERTIFICATE into the backup folder (--server-folder: the same folder as the source
//! server sees it), builds the PFX, uploads it through ARM (ManagedInstanceTdeCertificates) and
//! removes the two files it had written. No password or key is an argument, printed or logged:
//! they are generated for the one export and dropped. Exit codes: 0 done (or nothing to do), 1 a
//! database stays blocked or a certificate failed (or a connection failed), 2 bad arguments.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;

use crate::arm::{ArmClient, DEFAULT_ARM_ENDPOINT};
use crate::restore_target::lrs::InstanceRef;
use crate::restore_target::subscription::{azure_cli_profile_path, choose_subscription};
use crate::source::{SourceClient, SourceError};
use crate::storage::auth::{AadKind, aad_credential};
use crate::tde::migrate::{CertificateStatus, ExportPlace, migrate_certificate};
use crate::tde::plan::TdeAction;
use crate::tde::plan_tde;
use crate::tde::record::{OnTarget, record, record_path};

use super::logins::{TargetSqlArgs, target_options};
use super::smb_args::SmbArgs;
use super::source::{SourceConnArgs, source_options};

/// The instance's ARM side (for the certificate upload).
#[derive(Debug, Clone, clap::Args)]
pub struct TdeArmArgs {
    /// Resource group of the managed instance.
    #[arg(
        short = 'g',
        long = "resource-group",
        value_name = "RG",
        env = "CUTOVER_RESOURCE_GROUP"
    )]
    pub resource_group: Option<String>,
    /// The managed instance's name.
    #[arg(
        long = "managed-instance",
        visible_alias = "mi",
        value_name = "MI",
        env = "CUTOVER_MANAGED_INSTANCE"
    )]
    pub managed_instance: Option<String>,
    /// Subscription ID [default: AZURE_SUBSCRIPTION_ID, else the Azure CLI's default].
    #[arg(long, value_name = "ID")]
    pub subscription: Option<String>,
    /// Azure Resource Manager endpoint (the sandbox's for local runs).
    #[arg(long, value_name = "URL", default_value = DEFAULT_ARM_ENDPOINT, env = "CUTOVER_ARM_ENDPOINT")]
    pub arm_endpoint: String,
    /// Azure AD credential for ARM (not used with --sandbox).
    #[arg(long, value_name = "KIND", default_value = "auto")]
    pub aad: AadKind,
    /// The ARM endpoint is the local sandbox: send its fixed token.
    #[arg(long)]
    pub sandbox: bool,
}

#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once from the command line
pub enum TdeCommand {
    /// The source's TDE databases, their certificates, and whether the instance has each.
    List {
        #[command(flatten)]
        conn: SourceConnArgs,
        #[command(flatten)]
        target: TargetSqlArgs,
        /// Only these databases (default: every TDE database of the source).
        #[arg(long = "database", value_name = "DB")]
        databases: Vec<String>,
    },
    /// Export the missing certificates from the source and upload them to the instance.
    Migrate {
        #[command(flatten)]
        conn: SourceConnArgs,
        #[command(flatten)]
        target: TargetSqlArgs,
        #[command(flatten)]
        arm: TdeArmArgs,
        /// Only these databases' certificates.
        #[arg(long = "database", value_name = "DB")]
        databases: Vec<String>,
        /// The backup folder as cutover reads it (local path or \\server\share\path).
        #[arg(long, value_name = "DIR")]
        folder: PathBuf,
        /// The same folder as the source SQL Server sees it (default: --folder).
        #[arg(long, value_name = "PATH")]
        server_folder: Option<String>,
        #[command(flatten)]
        smb: SmbArgs,
        /// The state folder where what is on the instance is recorded for `cutover run` (whose
        /// uploads of a TDE database wait for it) [default: the platform data folder].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

fn arm_client(a: &TdeArmArgs) -> Result<(ArmClient, InstanceRef), String> {
    let (Some(rg), Some(mi)) = (&a.resource_group, &a.managed_instance) else {
        return Err("tde migrate uploads through ARM: give --resource-group and --managed-instance (or CUTOVER_RESOURCE_GROUP / CUTOVER_MANAGED_INSTANCE)".into());
    };
    let env = std::env::var("AZURE_SUBSCRIPTION_ID").ok();
    let profile = azure_cli_profile_path();
    let subscription = choose_subscription(
        a.subscription.as_deref(),
        env.as_deref(),
        profile.as_deref(),
    )?;
    let cred: Arc<dyn TokenCredential> =
        crate::config::engine::arm_credential(&a.arm_endpoint, a.sandbox, "--sandbox", || {
            aad_credential(a.aad)
        })?;
    let arm = ArmClient::new(&a.arm_endpoint, cred).map_err(|e| e.to_string())?;
    Ok((
        arm,
        InstanceRef {
            subscription: subscription.id,
            resource_group: rg.clone(),
            managed_instance: mi.clone(),
        },
    ))
}

pub fn run(c: &TdeCommand) -> i32 {
    let (conn, target, databases) = match c {
        TdeCommand::List {
            conn,
            target,
            databases,
        }
        | TdeCommand::Migrate {
            conn,
            target,
            databases,
            ..
        } => (conn, target, databases),
    };
    let prepared = source_options(conn).and_then(|(s, w)| Ok((s, w, target_options(target)?)));
    let (source, mut warnings, target) = match prepared {
        Ok((s, w, t)) => (s, w, t),
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let target = target.map(|(t, w)| {
        warnings.extend(w);
        t
    });
    let migrate = match c {
        TdeCommand::Migrate {
            arm,
            folder,
            server_folder,
            smb,
            state_dir,
            ..
        } => {
            let opened = match super::smb_args::open(folder, smb) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            match arm_client(arm) {
                Ok(a) => Some((
                    a,
                    opened,
                    server_folder
                        .clone()
                        .unwrap_or_else(|| folder.to_string_lossy().into_owned()),
                    state_dir
                        .clone()
                        .unwrap_or_else(crate::engine::persist::default_state_dir),
                )),
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            }
        }
        TdeCommand::List { .. } => None,
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let Some(rt) = super::runtime(true) else {
        return 2;
    };
    let r = rt.block_on(async {
        let mut src = SourceClient::connect(&source).await?;
        let keys = src.encryption_keys().await?;
        let certs = src.certificates().await?;
        let on_target = match &target {
            Some(t) => {
                let mut dst = SourceClient::connect(t)
                    .await
                    .map_err(|e| SourceError::Other(format!("target SQL connection: {e}")))?;
                let t = dst.certificate_thumbprints().await?;
                dst.close().await;
                Some(t)
            }
            None => None,
        };
        let plan = plan_tde(
            &keys,
            &certs,
            &on_target.clone().unwrap_or_default(),
            databases,
        );
        let Some(((arm, instance), opened, server_folder, state_dir)) = migrate else {
            src.close().await;
            if conn.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "databases": plan.databases,
                        "findings": plan.findings,
                        "target_checked": on_target.is_some(),
                    }))
                    .unwrap_or_default()
                );
            } else {
                print_plan(&plan, on_target.is_some());
            }
            return Ok(i32::from(plan.databases.iter().any(|d| d.action != TdeAction::OnTarget)));
        };
        let place = ExportPlace {
            folder: opened.folder.as_ref(),
            local_root: opened.root.clone(),
            server_folder,
            appear_timeout: Duration::from_secs(30),
        };
        let mut outcomes = Vec::new();
        for (name, thumbprint) in plan.certificates_to_migrate() {
            outcomes.push(
                migrate_certificate(&mut src, &place, &arm, &instance, &name, thumbprint).await,
            );
        }
        src.close().await;
        let instance_label = format!(
            "{}/{}/{}",
            instance.subscription, instance.resource_group, instance.managed_instance
        );
        let mut known: Vec<OnTarget> = outcomes
            .iter()
            .filter(|o| o.status == CertificateStatus::Uploaded)
            .map(|o| OnTarget {
                thumbprint: o.thumbprint,
                certificate: o.certificate.clone(),
                how: "uploaded".into(),
                instance: instance_label.clone(),
            })
            .collect();
        known.extend(
            plan.databases
                .iter()
                .filter(|d| d.action == TdeAction::OnTarget)
                .map(|d| OnTarget {
                    thumbprint: d.thumbprint,
                    certificate: d.certificate.clone().unwrap_or_default(),
                    how: "found".into(),
                    instance: instance_label.clone(),
                }),
        );
        if !known.is_empty()
            && let Err(e) = record(&state_dir, &known)
        {
            eprintln!(
                "warning: cannot record the instance's certificates in {}: {e}; `cutover run` will hold the TDE databases' uploads",
                record_path(&state_dir).display()
            );
        }
        let failed = outcomes
            .iter()
            .any(|o| o.status != CertificateStatus::Uploaded)
            || plan
                .databases
                .iter()
                .any(|d| d.action == TdeAction::Blocked);
        if conn.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "certificates": outcomes,
                    "databases": plan.databases,
                    "findings": plan.findings.iter().filter(|f| f.code != crate::tde::plan::codes::TDE_CERTIFICATE_MISSING).collect::<Vec<_>>(),
                }))
                .unwrap_or_default()
            );
        } else {
            if outcomes.is_empty() {
                println!("nothing to migrate: every TDE database's certificate is on the instance or blocked (see below)");
            }
            for o in &outcomes {
                match &o.status {
                    CertificateStatus::Uploaded => {
                        println!("uploaded  [{}] {}", o.certificate, o.thumbprint)
                    }
                    CertificateStatus::Failed { reason } => {
                        println!("FAILED    [{}] {}: {reason}", o.certificate, o.thumbprint)
                    }
                }
                for f in &o.left_on_share {
                    println!("          left on the share, delete it: {f}");
                }
            }
            for f in plan
                .findings
                .iter()
                .filter(|f| f.code != crate::tde::plan::codes::TDE_CERTIFICATE_MISSING)
            {
                println!("{} {}: {}", f.code, f.database, f.message);
                println!("          fix: {}", f.fix);
            }
        }
        Ok::<i32, SourceError>(i32::from(failed))
    });
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn print_plan(plan: &crate::tde::TdePlan, target_checked: bool) {
    if plan.databases.is_empty() {
        println!("no TDE-encrypted database on the source");
        return;
    }
    println!(
        "{:<24} {:<24} {:<44} instance",
        "database", "certificate", "thumbprint"
    );
    for d in &plan.databases {
        let state = match (&d.action, target_checked) {
            (TdeAction::OnTarget, _) => "has it",
            (TdeAction::Migrate { .. }, true) => "missing: tde migrate",
            (TdeAction::Migrate { .. }, false) => "not checked (--target-server): tde migrate",
            (TdeAction::Blocked, _) => "blocked (see below)",
        };
        println!(
            "{:<24} {:<24} {:<44} {state}",
            super::inspect::ellipsize(&d.database, 24),
            super::inspect::ellipsize(d.certificate.as_deref().unwrap_or("-"), 24),
            d.thumbprint.to_string()
        );
    }
    for f in &plan.findings {
        println!();
        println!(
            "{} {} {}: {}",
            f.code,
            f.severity.as_str(),
            f.database,
            f.message
        );
        println!("  fix: {}", f.fix);
    }
}
