//! How cutover authenticates to Blob Storage: a SAS token, an account key (cutover signs a short-lived
//! container SAS itself: the SDK has no shared-key credential), or Azure AD through `azure_identity`.

use std::fmt;
use std::sync::{Arc, Mutex};

use azure_core::credentials::{Secret, TokenCredential};
use time::{Duration, OffsetDateTime};

use super::error::StorageError;
use super::sas::{self, SasPermissions};

/// Which Azure AD credential to use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum AadKind {
    /// Service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (DMS's "Application ID + key").
    ServicePrincipal,
    /// The Azure CLI's login (`az login`).
    AzureCli,
    /// The managed identity of the VM or service cutover runs on.
    ManagedIdentity,
    /// Workload identity (AZURE_FEDERATED_TOKEN_FILE, in Kubernetes).
    WorkloadIdentity,
    /// The first that applies: service principal if its variables are set, workload identity if its
    /// token file is, else the Azure CLI.
    Auto,
}

/// Builds an Azure AD token credential of the given kind.
pub fn aad_credential(kind: AadKind) -> Result<Arc<dyn TokenCredential>, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let kind = match kind {
        AadKind::Auto if env("AZURE_CLIENT_SECRET").is_some() => AadKind::ServicePrincipal,
        AadKind::Auto if env("AZURE_FEDERATED_TOKEN_FILE").is_some() => AadKind::WorkloadIdentity,
        AadKind::Auto => AadKind::AzureCli,
        k => k,
    };
    match kind {
        AadKind::ServicePrincipal => {
            let (Some(tenant), Some(client), Some(secret)) = (
                env("AZURE_TENANT_ID"),
                env("AZURE_CLIENT_ID"),
                env("AZURE_CLIENT_SECRET"),
            ) else {
                return Err("service principal: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET".into());
            };
            azure_identity::ClientSecretCredential::new(&tenant, client, Secret::new(secret), None)
                .map(|c| c as Arc<dyn TokenCredential>)
                .map_err(|e| format!("service principal: {e}"))
        }
        AadKind::AzureCli => azure_identity::AzureCliCredential::new(None)
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| format!("Azure CLI credential: {e}")),
        AadKind::ManagedIdentity => azure_identity::ManagedIdentityCredential::new(None)
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| format!("managed identity: {e}")),
        AadKind::WorkloadIdentity | AadKind::Auto => {
            azure_identity::WorkloadIdentityCredential::new(None)
                .map(|c| c as Arc<dyn TokenCredential>)
                .map_err(|e| format!("workload identity: {e}"))
        }
    }
}

/// A signed SAS and when it stops being valid.
pub struct CachedSas {
    query: String,
    expiry: OffsetDateTime,
}

/// Lifetime of the SAS cutover signs from an account key; renewed when less than a quarter is left.
const SIGNED_SAS_LIFETIME: Duration = Duration::hours(2);

/// Credentials for one container.
#[derive(Clone)]
pub enum StorageAuth {
    /// A SAS query string supplied by the user (or found in the container URL).
    Sas(Arc<Secret>),
    /// An account key: cutover signs container SAS tokens with it.
    AccountKey {
        account: String,
        container: String,
        key: Arc<Secret>,
        cached: Arc<Mutex<Option<CachedSas>>>,
    },
    /// Azure AD (needs https).
    Aad(Arc<dyn TokenCredential>),
}

impl fmt::Debug for StorageAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageAuth::Sas(_) => f.write_str("StorageAuth::Sas(<redacted>)"),
            StorageAuth::AccountKey { account, .. } => {
                write!(f, "StorageAuth::AccountKey({account}, <redacted>)")
            }
            StorageAuth::Aad(_) => f.write_str("StorageAuth::Aad"),
        }
    }
}

impl StorageAuth {
    pub fn sas(token: &str) -> StorageAuth {
        StorageAuth::Sas(Arc::new(Secret::new(
            token.trim().trim_start_matches('?').to_string(),
        )))
    }

    pub fn account_key(account: &str, container: &str, key: String) -> StorageAuth {
        StorageAuth::AccountKey {
            account: account.to_string(),
            container: container.to_string(),
            key: Arc::new(Secret::new(key)),
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// The query string to append to request URLs (SAS), if this credential uses one.
    pub fn query(&self) -> Result<Option<String>, StorageError> {
        match self {
            StorageAuth::Sas(s) => Ok(Some(s.secret().to_string())),
            StorageAuth::Aad(_) => Ok(None),
            StorageAuth::AccountKey {
                account,
                container,
                key,
                cached,
            } => {
                let now = OffsetDateTime::now_utc();
                let mut guard = cached
                    .lock()
                    .map_err(|_| StorageError::Local("SAS cache poisoned".into()))?;
                if let Some(c) = guard.as_ref()
                    && c.expiry - now > SIGNED_SAS_LIFETIME / 4
                {
                    return Ok(Some(c.query.clone()));
                }
                let perms: SasPermissions = "racwl"
                    .parse()
                    .map_err(|e: sas::SasError| StorageError::Local(e.to_string()))?;
                let expiry = now + SIGNED_SAS_LIFETIME;
                // Start a little in the past: the service's clock may be behind ours.
                let token = sas::service_sas_for_container(
                    account,
                    key.secret(),
                    container,
                    &perms,
                    Some(now - Duration::minutes(15)),
                    expiry,
                )
                .map_err(|e| {
                    StorageError::Local(format!("cannot sign a SAS with the account key: {e}"))
                })?;
                let query = token.as_query().to_string();
                *guard = Some(CachedSas {
                    query: query.clone(),
                    expiry,
                });
                Ok(Some(query))
            }
        }
    }

    /// A query string allowed to create the container (account SAS), for account-key credentials.
    pub fn container_admin_query(&self) -> Result<Option<String>, StorageError> {
        match self {
            StorageAuth::AccountKey { account, key, .. } => {
                let now = OffsetDateTime::now_utc();
                let perms: SasPermissions = "rcwl"
                    .parse()
                    .map_err(|e: sas::SasError| StorageError::Local(e.to_string()))?;
                let t = sas::account_sas_for_blob_service(
                    account,
                    key.secret(),
                    "sc",
                    &perms,
                    Some(now - Duration::minutes(15)),
                    now + Duration::minutes(30),
                )
                .map_err(|e| {
                    StorageError::Local(format!("cannot sign a SAS with the account key: {e}"))
                })?;
                Ok(Some(t.as_query().to_string()))
            }
            other => other.query(),
        }
    }

    pub fn token_credential(&self) -> Option<Arc<dyn TokenCredential>> {
        match self {
            StorageAuth::Aad(c) => Some(c.clone()),
            _ => None,
        }
    }
}
