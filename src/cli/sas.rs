//! `cutover sas generate|check`: the SAS the Managed Instance uses to read the backups (Read + List
//! only, container-wide, no stored access policy, valid for the whole migration).

use time::{Duration, OffsetDateTime};

use super::secret_arg::{SecretArg, sas_in_url_warning};
use crate::storage::auth::{AadKind, StorageAuth, aad_credential};
use crate::storage::client::BlobStore;
use crate::storage::container::ContainerUrl;
use crate::storage::sas::{self, SasPermissions};

#[derive(Debug, clap::Subcommand)]
pub enum SasCommand {
    /// Generate a Read + List container SAS for the Managed Instance (from an account key, or a user
    /// delegation key with Azure AD). The token is printed on stdout: treat it as a secret.
    Generate(GenerateArgs),
    /// Check a SAS the way LRS will use it: Read + List only, container-wide, no stored access policy,
    /// not expiring during the migration.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Container URL (https://ACCOUNT.blob.core.windows.net/CONTAINER).
    #[arg(long, value_name = "URL")]
    pub container: String,
    /// Environment variable holding the storage account key.
    #[arg(long, value_name = "VAR")]
    pub account_key_env: Option<String>,
    /// Use Azure AD and a user delegation key (valid at most 7 days).
    #[arg(long, value_name = "KIND", num_args = 0..=1, default_missing_value = "auto")]
    pub aad: Option<AadKind>,
    /// Days the SAS stays valid: longer than the migration will take (LRS jobs run up to 30 days).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=365))]
    pub expiry_days: u16,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The SAS token itself: visible to every user in the process list, prefer --sas-env.
    #[arg(value_name = "TOKEN")]
    pub token: Option<String>,
    /// Name of the environment variable holding the SAS token [default: CUTOVER_LRS_SAS].
    #[arg(long, value_name = "VAR")]
    pub sas_env: Option<String>,
    /// How long the migration is expected to take, in days: the SAS must outlive it.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u16).range(0..=365))]
    pub migration_days: u16,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: &SasCommand) -> i32 {
    match cmd {
        SasCommand::Check(a) => check(a),
        SasCommand::Generate(a) => match super::runtime(false) {
            Some(rt) => rt.block_on(generate(a)),
            None => 2,
        },
    }
}

fn check(a: &CheckArgs) -> i32 {
    let arg = SecretArg {
        flag: "TOKEN",
        value: a.token.as_deref(),
        env_flag: "--sas-env",
        env_name: a.sas_env.as_deref(),
        default_env: "CUTOVER_LRS_SAS",
    };
    let token = match arg.resolve() {
        Ok(Some((t, _))) => t,
        Ok(None) => {
            eprintln!(
                "error: give --sas-env VAR, the environment variable holding the SAS to check (or set CUTOVER_LRS_SAS)"
            );
            return 2;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let now = OffsetDateTime::now_utc();
    let result = sas::check_lrs_sas(&token, now, Duration::days(a.migration_days as i64));
    let info = sas::parse_sas(&token).ok();
    if a.json {
        let v = serde_json::json!({
            "ok": result.is_ok(),
            "error": result.as_ref().err().map(|e| e.to_string()),
            "warnings": result.as_ref().map(|w| w.iter().map(|x| x.to_string()).collect::<Vec<_>>()).unwrap_or_default(),
            "permissions": info.as_ref().map(|i| i.permissions.to_string()),
            "expiry": info.as_ref().and_then(|i| i.expiry).and_then(|e| e.format(&time::format_description::well_known::Rfc3339).ok()),
        });
        println!("{v}");
    } else {
        match &result {
            Ok(warnings) => {
                let exp = info
                    .as_ref()
                    .and_then(|i| i.expiry)
                    .map(|e| format!(", expires {}", rfc3339(e)))
                    .unwrap_or_default();
                println!("ok: Read + List, container-wide{exp}");
                for w in warnings {
                    println!("warning: {w}");
                }
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
    i32::from(result.is_err())
}

async fn generate(a: &GenerateArgs) -> i32 {
    let url = match ContainerUrl::parse(&a.container) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if url.sas_in_url.is_some() {
        eprintln!(
            "warning: {}",
            sas_in_url_warning(
                "--container",
                "no SAS at all (sas generate signs one with --account-key-env or --aad)"
            )
        );
    }
    let now = OffsetDateTime::now_utc();
    let expiry = now + Duration::days(a.expiry_days as i64);
    let perms = SasPermissions::read_list();
    let token = match (&a.account_key_env, a.aad) {
        (Some(var), None) => {
            let Some(key) = std::env::var(var).ok().filter(|k| !k.trim().is_empty()) else {
                eprintln!(
                    "error: --account-key-env {var}: the environment variable {var} is not set"
                );
                return 2;
            };
            sas::service_sas_for_container(
                &url.account,
                key.trim(),
                &url.container,
                &perms,
                None,
                expiry,
            )
            .map_err(|e| e.to_string())
        }
        (None, Some(kind)) => {
            let cred = match aad_credential(kind) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            let store = BlobStore::new(url.clone(), StorageAuth::Aad(cred));
            match store.user_delegation_key(expiry).await {
                Ok(key) => {
                    let exp = expiry.min(now + Duration::days(7));
                    if exp < expiry {
                        eprintln!(
                            "warning: a user delegation SAS lives at most 7 days; it expires {}: renew it before then, or use an account key",
                            rfc3339(exp)
                        );
                    }
                    sas::user_delegation_sas_for_container(
                        &url.account,
                        &url.container,
                        &perms,
                        None,
                        exp,
                        &key,
                    )
                    .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        _ => {
            eprintln!("error: give exactly one of --account-key-env VAR and --aad");
            return 2;
        }
    };
    match token {
        Ok(t) => {
            eprintln!(
                "Read + List SAS for {} (expires {}); give it to LRS as storageContainerSasToken. Treat it as a secret.",
                url,
                rfc3339(expiry)
            );
            println!("{}", t.as_query());
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| t.to_string())
}
