//! The sandbox's ARM discovery endpoints over HTTP: pages linked by nextLink, the subscription that
//! lists but cannot be read, 429 + Retry-After on demand, what Azure refuses (no token, unknown
//! api-version, unknown path, bad container name), containers created through ARM appearing in the
//! Blob service, role assignments filtered by principal.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap fails the run

use cutover_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

struct Arm {
    http: reqwest::Client,
    base: String,
}

impl Arm {
    async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let r = self.http.get(url).bearer_auth("t").send().await.unwrap();
        let st = r.status().as_u16();
        let h = r.headers().clone();
        let text = r.text().await.unwrap();
        (st, h, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Every item of a list, following nextLink; and the number of pages.
    async fn all(&self, path: &str) -> (Vec<Value>, usize) {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        let mut pages = 0;
        while let Some(p) = next {
            let (st, _, v) = self.get(&p).await;
            assert_eq!(st, 200, "{p}: {v}");
            pages += 1;
            out.extend(v["value"].as_array().unwrap().iter().cloned());
            next = v["nextLink"].as_str().map(str::to_string);
        }
        (out, pages)
    }
}

async fn start() -> (Sandbox, Arm) {
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let arm = Arm {
        http: reqwest::Client::new(),
        base: sb.info.arm_endpoint.clone(),
    };
    (sb, arm)
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_come_in_pages_linked_by_next_link() {
    let (sb, arm) = start().await;
    let (subs, pages) = arm.all("/subscriptions?api-version=2022-12-01").await;
    assert_eq!((subs.len(), pages), (3, 2));
    assert!(
        subs.iter()
            .any(|s| s["subscriptionId"] == sb.info.subscription_id)
    );
    let sub = &sb.info.subscription_id;
    let (mis, pages) = arm
        .all(&format!(
            "/subscriptions/{sub}/providers/Microsoft.Sql/managedInstances?api-version=2025-01-01"
        ))
        .await;
    assert_eq!((mis.len(), pages), (3, 2));
    let tiers: Vec<&str> = mis
        .iter()
        .map(|m| m["sku"]["tier"].as_str().unwrap())
        .collect();
    assert!(
        tiers.contains(&"GeneralPurpose") && tiers.contains(&"BusinessCritical"),
        "{tiers:?}"
    );
    let regions: std::collections::BTreeSet<&str> = mis
        .iter()
        .map(|m| m["location"].as_str().unwrap())
        .collect();
    assert_eq!(regions.len(), 2, "{regions:?}");
    let lrs_mi = mis
        .iter()
        .find(|m| m["name"] == sb.info.managed_instance)
        .unwrap();
    assert!(lrs_mi["identity"]["principalId"].is_string());
    let (accounts, _) = arm
        .all(&format!(
            "/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts?api-version=2025-08-01"
        ))
        .await;
    let actions: Vec<&str> = accounts
        .iter()
        .map(|a| {
            a["properties"]["networkAcls"]["defaultAction"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        actions.contains(&"Allow") && actions.contains(&"Deny"),
        "{actions:?}"
    );
    assert!(
        accounts
            .iter()
            .any(|a| a["properties"]["isHnsEnabled"] == true)
    );
    // A skip token past the end is refused.
    let (st, _, v) = arm
        .get("/subscriptions?api-version=2022-12-01&$skipToken=99")
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("InvalidSkipToken"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listed_subscription_without_rights_is_forbidden() {
    let (_sb, arm) = start().await;
    let (subs, _) = arm.all("/subscriptions?api-version=2022-12-01").await;
    let no_rights = subs
        .iter()
        .find(|s| s["displayName"].as_str().unwrap().contains("no rights"))
        .unwrap()["subscriptionId"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        format!(
            "/subscriptions/{no_rights}/providers/Microsoft.Sql/managedInstances?api-version=2025-01-01"
        ),
        format!(
            "/subscriptions/{no_rights}/providers/Microsoft.Storage/storageAccounts?api-version=2025-08-01"
        ),
    ] {
        let (st, _, v) = arm.get(&path).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("AuthorizationFailed")),
            "{path}"
        );
    }
    let (st, _, v) = arm
        .get("/subscriptions/99999999-9999-4999-8999-999999999999/providers/Microsoft.Sql/managedInstances?api-version=2025-01-01")
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("SubscriptionNotFound"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_what_azure_refuses_and_throttles_on_demand() {
    let (sb, arm) = start().await;
    let sub = &sb.info.subscription_id;
    let list = format!(
        "{}/subscriptions/{sub}/providers/Microsoft.Sql/managedInstances",
        arm.base
    );
    // No token.
    let r = arm
        .http
        .get(format!("{list}?api-version=2025-01-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // api-version missing, or unknown to the provider.
    let (st, _, v) = arm.get(&list).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    let (st, _, v) = arm.get(&format!("{list}?api-version=2099-01-01")).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("NoRegisteredProviderFound"))
    );
    let (st, _, v) = arm.get("/subscriptions?api-version=2025-01-01").await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("InvalidApiVersionParameter"))
    );
    // A path nothing serves.
    let (st, _, _) = arm
        .get(&format!(
            "/subscriptions/{sub}/providers/Microsoft.Sql/managedInstancez?api-version=2025-01-01"
        ))
        .await;
    assert_eq!(st, 404);
    // Throttling: 429 with Retry-After, then answered again.
    sb.discovery.throttle(1);
    let (st, h, v) = arm.get(&format!("{list}?api-version=2025-01-01")).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (429, Some("TooManyRequests"))
    );
    assert_eq!(h.get("retry-after").unwrap(), "1");
    let (st, _, _) = arm.get(&format!("{list}?api-version=2025-01-01")).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn containers_keys_and_role_assignments_of_the_served_account() {
    let (sb, arm) = start().await;
    let sa = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        sb.info.subscription_id, sb.info.resource_group, sb.info.account_name
    );
    let put = |name: &str| {
        arm.http
            .put(format!(
                "{}{sa}/blobServices/default/containers/{name}?api-version=2026-09-01",
                arm.base
            ))
            .bearer_auth("t")
            .json(&serde_json::json!({}))
            .send()
    };
    assert_eq!(put("wave2").await.unwrap().status().as_u16(), 201);
    assert_eq!(put("wave2").await.unwrap().status().as_u16(), 200);
    let r = put("Bad_Name").await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // The container is the Blob service's own.
    assert!(sb.blob.containers().iter().any(|(n, _, _)| n == "wave2"));
    let (names, _) = arm
        .all(&format!(
            "{sa}/blobServices/default/containers?api-version=2026-06-01"
        ))
        .await;
    let names: Vec<&str> = names.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"wave2") && names.contains(&sb.info.container.as_str()),
        "{names:?}"
    );
    // The keys of the served account are the Blob service's.
    let r = arm
        .http
        .post(format!("{}{sa}/listKeys?api-version=2025-08-01", arm.base))
        .bearer_auth("t")
        .send()
        .await
        .unwrap();
    let keys: Value = r.json().await.unwrap();
    assert_eq!(keys["keys"][0]["value"], sb.info.account_key.as_str());
    // Role assignments: the instance's identity is a Storage Blob Data Reader; a filter on
    // another principal finds nothing.
    let (mis, _) = arm
        .all(&format!(
            "/subscriptions/{}/providers/Microsoft.Sql/managedInstances?api-version=2025-01-01",
            sb.info.subscription_id
        ))
        .await;
    let principal = mis
        .iter()
        .find(|m| m["name"] == sb.info.managed_instance)
        .unwrap()["identity"]["principalId"]
        .as_str()
        .unwrap()
        .to_string();
    let ra =
        format!("{sa}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01");
    let (found, _) = arm
        .all(&format!("{ra}&$filter=principalId%20eq%20'{principal}'"))
        .await;
    assert_eq!(found.len(), 1);
    assert!(
        found[0]["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")
    );
    let (none, _) = arm
        .all(&format!("{ra}&$filter=principalId%20eq%20'nobody'"))
        .await;
    assert!(none.is_empty());
    let (st, _, _) = arm.get(&format!("{ra}&$filter=roleName%20eq%20'x'")).await;
    assert_eq!(st, 400);
}

/// The LRS side reads with the instance's identity only while the discovery side shows its Storage
/// Blob Data Reader role on the account.
#[tokio::test(flavor = "multi_thread")]
async fn lrs_reads_with_the_identity_only_while_it_has_the_reader_role() {
    let (sb, arm) = start().await;
    let i = &sb.info;
    let start = |db: &'static str| {
        let url = format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/databases/{db}?api-version=2025-01-01",
            arm.base, i.subscription_id, i.resource_group, i.managed_instance
        );
        let body = serde_json::json!({"location": i.location, "properties": {
            "createMode": "RestoreExternalBackup",
            "storageContainerUri": format!("{}/{}/{db}", i.blob_endpoint, i.container),
            "storageContainerIdentity": "ManagedIdentity",
            "collation": "SQL_Latin1_General_CP1_CI_AS"}});
        arm.http.put(url).bearer_auth("t").json(&body).send()
    };
    let details = |db: &'static str| {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/databases/{db}/restoreDetails/Default?api-version=2025-01-01",
            i.subscription_id, i.resource_group, i.managed_instance
        )
    };
    let block = |v: &Value| {
        v["properties"]["blockReason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(start("WithRole").await.unwrap().status().as_u16(), 201);
    sb.discovery.revoke_roles(
        cutover_sandbox::arm_discovery::SANDBOX_MI_PRINCIPAL,
        &i.account_name,
    );
    assert_eq!(start("WithoutRole").await.unwrap().status().as_u16(), 201);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let (_, _, with) = arm.get(&details("WithRole")).await;
    let (_, _, without) = arm.get(&details("WithoutRole")).await;
    assert!(
        !block(&with).contains("ManagedIdentityIssueDetected"),
        "{with}"
    );
    assert!(
        block(&without).contains("ManagedIdentityIssueDetected"),
        "{without}"
    );
}
