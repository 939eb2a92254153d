//! [`DiscoveryClient`]: what a credential can see in Azure, on [`ArmClient`] (its token, retries on
//! 429 with Retry-After, and the token sent to the ARM endpoint only): subscriptions, managed
//! instances, storage accounts, containers (list, create), account keys (only when asked) and role
//! assignments on an account's scope. Every list follows `nextLink` to its end.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::DiscoveryError;
use super::types::{
    AccountKeys, BlobContainer, ManagedInstance, Page, RoleAssignment, ServiceSasAnswer,
    StorageAccount, Subscription,
};
use crate::arm::{ArmClient, ArmError};

/// api-versions the client speaks, one per resource provider (each has published examples in
/// `../shared/reference/arm-examples/`).
pub const SUBSCRIPTIONS_API: &str = "2022-12-01";
pub const SQL_API: &str = "2023-08-01";
pub const STORAGE_API: &str = "2025-08-01";
pub const AUTHORIZATION_API: &str = "2022-04-01";

/// Pages followed at most in one list (a loop in `nextLink` is an error, not a hang).
const MAX_PAGES: usize = 1000;

/// Reads what a credential can see in Azure Resource Manager.
#[derive(Clone)]
pub struct DiscoveryClient {
    arm: ArmClient,
}

impl DiscoveryClient {
    /// A discovery client on an ARM client (its endpoint and credential).
    pub fn new(arm: ArmClient) -> Self {
        DiscoveryClient { arm }
    }

    /// The ARM client underneath.
    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    fn url(&self, path: &str, api: &str) -> String {
        format!("{}{path}?api-version={api}", self.arm.endpoint())
    }

    /// Every item of a list: the first page at `url`, then each `nextLink`.
    async fn list<T: DeserializeOwned>(
        &self,
        op: &'static str,
        subject: &str,
        url: String,
    ) -> Result<Vec<T>, DiscoveryError> {
        let mut out = Vec::new();
        let mut next = Some(url);
        let mut seen = std::collections::HashSet::new();
        while let Some(url) = next {
            if !seen.insert(url.clone()) || seen.len() > MAX_PAGES {
                return Err(DiscoveryError::Shape {
                    op,
                    subject: subject.to_string(),
                    message: format!(
                        "the list's nextLink loops or runs past {MAX_PAGES} pages ({url})"
                    ),
                });
            }
            let (_, _, body) = self
                .arm
                .call(op, subject, reqwest::Method::GET, &url, None)
                .await
                .map_err(|e| DiscoveryError::from_arm(e, subject))?;
            let page: Page<T> = parse(op, subject, body)?;
            out.extend(page.value);
            next = page.next_link.filter(|l| !l.is_empty());
        }
        Ok(out)
    }

    /// The subscriptions the credential can list (some may still refuse reads inside them).
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, DiscoveryError> {
        let url = self.url("/subscriptions", SUBSCRIPTIONS_API);
        self.list("list subscriptions", "the credential", url).await
    }

    /// The managed instances of a subscription.
    pub async fn instances(
        &self,
        subscription: &str,
    ) -> Result<Vec<ManagedInstance>, DiscoveryError> {
        let path =
            format!("/subscriptions/{subscription}/providers/Microsoft.Sql/managedInstances");
        let subject = format!("subscription {subscription}");
        self.list("list managed instances", &subject, self.url(&path, SQL_API))
            .await
    }

    /// The storage accounts of a subscription.
    pub async fn storage_accounts(
        &self,
        subscription: &str,
    ) -> Result<Vec<StorageAccount>, DiscoveryError> {
        let path =
            format!("/subscriptions/{subscription}/providers/Microsoft.Storage/storageAccounts");
        let subject = format!("subscription {subscription}");
        self.list(
            "list storage accounts",
            &subject,
            self.url(&path, STORAGE_API),
        )
        .await
    }

    /// One storage account by resource ID (`/subscriptions/.../storageAccounts/NAME`).
    pub async fn storage_account(&self, id: &str) -> Result<StorageAccount, DiscoveryError> {
        let op = "read storage account";
        let (_, _, body) = self
            .arm
            .call(
                op,
                id,
                reqwest::Method::GET,
                &self.url(id, STORAGE_API),
                None,
            )
            .await
            .map_err(|e| DiscoveryError::from_arm(e, id))?;
        parse(op, id, body)
    }

    /// The containers of a storage account (by resource ID).
    pub async fn containers(&self, account_id: &str) -> Result<Vec<BlobContainer>, DiscoveryError> {
        let path = format!("{account_id}/blobServices/default/containers");
        self.list("list containers", account_id, self.url(&path, STORAGE_API))
            .await
    }

    /// Creates a container (or finds it there: ARM's PUT is create-or-update); true when it was
    /// created now.
    pub async fn create_container(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<(BlobContainer, bool), DiscoveryError> {
        let op = "create container";
        let path = format!("{account_id}/blobServices/default/containers/{name}");
        let body = json!({});
        let (status, _, answer) = self
            .arm
            .call(
                op,
                name,
                reqwest::Method::PUT,
                &self.url(&path, STORAGE_API),
                Some(&body),
            )
            .await
            .map_err(|e| DiscoveryError::from_arm(e, &path))?;
        Ok((parse(op, name, answer)?, status == 201))
    }

    /// The account keys: only when the operator chose key-based access (the caller keeps them
    /// out of logs and files; `Debug` hides them).
    pub async fn list_keys(&self, account_id: &str) -> Result<AccountKeys, DiscoveryError> {
        let op = "list account keys";
        let url = self.url(&format!("{account_id}/listKeys"), STORAGE_API);
        let (_, _, body) = self
            .arm
            .call(op, account_id, reqwest::Method::POST, &url, None)
            .await
            .map_err(|e| DiscoveryError::from_arm(e, account_id))?;
        parse(op, account_id, body)
    }

    /// A container SAS signed by the storage service with the account key (ListServiceSas): the
    /// key never reaches cutover. `permissions` e.g. `rl` (what LRS needs) or `rcwl` (upload).
    pub async fn container_sas(
        &self,
        account: &StorageAccount,
        container: &str,
        permissions: &str,
        expiry: time::OffsetDateTime,
    ) -> Result<azure_core::credentials::Secret, DiscoveryError> {
        let op = "sign a container SAS";
        let expiry = expiry
            .replace_nanosecond(0)
            .unwrap_or(expiry)
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| DiscoveryError::Shape {
                op,
                subject: container.to_string(),
                message: format!("the expiry cannot be written: {e}"),
            })?;
        let body = json!({
            "canonicalizedResource": format!("/blob/{}/{container}", account.name),
            "signedResource": "c",
            "signedPermission": permissions,
            "signedExpiry": expiry,
        });
        let url = self.url(&format!("{}/ListServiceSas", account.id), STORAGE_API);
        let (_, _, answer) = self
            .arm
            .call(op, container, reqwest::Method::POST, &url, Some(&body))
            .await
            .map_err(|e| DiscoveryError::from_arm(e, &account.id))?;
        let sas: ServiceSasAnswer = parse(op, container, answer)?;
        Ok(sas.service_sas_token.into())
    }

    /// Role assignments at (and inherited by) a scope, for one principal.
    pub async fn role_assignments(
        &self,
        scope: &str,
        principal_id: &str,
    ) -> Result<Vec<RoleAssignment>, DiscoveryError> {
        let filter = format!("principalId eq '{principal_id}'");
        let enc: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let url = format!(
            "{}&$filter={enc}",
            self.url(
                &format!("{scope}/providers/Microsoft.Authorization/roleAssignments"),
                AUTHORIZATION_API
            )
        );
        self.list("list role assignments", scope, url).await
    }
}

/// A JSON answer as `T`, or a [`DiscoveryError::Shape`] naming the call and the field.
pub fn parse<T: DeserializeOwned>(
    op: &'static str,
    subject: &str,
    body: Value,
) -> Result<T, DiscoveryError> {
    serde_json::from_value(body).map_err(|e| DiscoveryError::Shape {
        op,
        subject: subject.to_string(),
        message: format!("the answer does not have the published shape: {e}"),
    })
}

impl DiscoveryError {
    /// An ARM failure given its discovery meaning (403: no rights; 404: not found).
    pub fn from_arm(e: ArmError, scope: &str) -> Self {
        match &e {
            ArmError::Status {
                op, status, body, ..
            } if *status == 403 || *status == 404 => {
                let code = body
                    .pointer("/error/code")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let message = body
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .map_or_else(|| body.to_string(), str::to_string);
                if *status == 403 {
                    DiscoveryError::Forbidden {
                        op,
                        scope: scope.to_string(),
                        code,
                        message,
                    }
                } else {
                    DiscoveryError::NotFound {
                        op,
                        scope: scope.to_string(),
                        code,
                        message,
                    }
                }
            }
            _ => DiscoveryError::Arm(e),
        }
    }
}
