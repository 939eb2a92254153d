//! Contract tests of ARM discovery: every published example in
//! `../shared/reference/arm-examples/` (and `lrs-examples/`) parses with the client's types (a file
//! without a mapping here fails the test, so a new example needs a decision); the sandbox's
//! discovery answers parse with the same types and carry only published fields with the published
//! JSON types; the client follows pages and rides out 429; a subscription that lists but cannot be
//! read is a finding; `cutover azure instances --json` lists the sandbox's instances with tier and
//! region.
//!
//! Without `../shared/reference` the tests print why and pass, except on CI (`CI=true`) where
//! they fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use common::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use cutover::arm::discovery::checks::codes;
use cutover::arm::discovery::client::parse;
use cutover::arm::discovery::types::*;
use cutover::arm::discovery::{DiscoveryClient, across_subscriptions};
use cutover::arm::{ArmClient, StaticToken};
use cutover::restore_target::details::RestoreDetailsResource;
use cutover::restore_target::lrs::{StartRequest, StorageAccess, complete_body, start_body};
use cutover::sandbox::{Sandbox, SandboxOptions};

fn reference_dir() -> Option<PathBuf> {
    common::reference_dir(&["arm-examples/README.md", "lrs-examples"])
}

fn typed<T: DeserializeOwned>(file: &str, v: &Value) -> T {
    parse::<T>("contract", file, v.clone()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The response bodies of a published example, by status.
fn bodies(example: &Value) -> Vec<(String, Value)> {
    example["responses"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(st, r)| r.get("body").map(|b| (st.clone(), b.clone())))
        .collect()
}

fn example_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for provider in std::fs::read_dir(dir).unwrap() {
        let provider = provider.unwrap().path();
        if !provider.is_dir() {
            continue;
        }
        for version in std::fs::read_dir(&provider).unwrap() {
            for f in std::fs::read_dir(version.unwrap().path()).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "json") {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    out
}

/// Parses one published ARM example with the client's type for its operation; returns what was
/// checked (for the summary).
fn check_arm_example(path: &Path) -> &'static str {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let ex = json(path);
    let b = bodies(&ex);
    let each = |f: &dyn Fn(&Value)| {
        assert!(!b.is_empty(), "{name}: no response body");
        for (_, body) in &b {
            f(body)
        }
        "response bodies"
    };
    match name.as_str() {
        "GetSubscriptions.json" => each(&|v| {
            let p: Page<Subscription> = typed(&name, v);
            assert_eq!(p.value.len(), 2);
            assert!(p.next_link.is_some(), "the published list pages");
            assert!(p.value.iter().all(|s| !s.subscription_id.is_empty()));
        }),
        "ManagedInstanceList.json" | "ManagedInstanceListByResourceGroup.json" => each(&|v| {
            let p: Page<ManagedInstance> = typed(&name, v);
            let tiers: Vec<_> = p
                .value
                .iter()
                .map(|i| i.sku.tier.clone().unwrap())
                .collect();
            assert_eq!(tiers, ["GeneralPurpose", "BusinessCritical"], "{name}");
            for i in &p.value {
                assert!(
                    i.properties.v_cores.is_some() && i.properties.storage_size_in_gb.is_some()
                );
                assert!(!i.resource_group().is_empty(), "{name}: {}", i.id);
            }
        }),
        "ManagedInstanceGet.json" => each(&|v| {
            let i: ManagedInstance = typed(&name, v);
            assert!(i.properties.service_principal.is_some());
            assert_eq!(i.resource_group(), "testrg");
        }),
        "ManagedInstanceGetWithExpandEqualsAdministrators.json" => each(&|v| {
            let i: ManagedInstance = typed(&name, v);
            let a = i.properties.administrators.clone().unwrap();
            assert_eq!(a.azure_ad_only_authentication, Some(true));
            assert!(i.properties.database_format.is_some());
        }),
        "ManagedInstanceAdministratorGet.json" => each(&|v| {
            let a: AdministratorResource = typed(&name, v);
            assert!(a.properties.login.is_some());
        }),
        "ManagedInstanceAdministratorListByInstance.json" => each(&|v| {
            let p: Page<AdministratorResource> = typed(&name, v);
            assert_eq!(p.value.len(), 1);
        }),
        "ManagedInstanceAzureADOnlyAuthGet.json" => each(&|v| {
            let a: AzureAdOnlyAuthentication = typed(&name, v);
            assert_eq!(a.properties.azure_ad_only_authentication, Some(true));
        }),
        "ManagedDatabaseListByManagedInstance.json" => each(&|v| {
            let p: Page<ManagedDatabaseResource> = typed(&name, v);
            assert_eq!(p.value.len(), 3);
            assert!(
                p.value
                    .iter()
                    .any(|d| d.properties.status.as_deref() == Some("Inaccessible"))
            );
        }),
        "ManagedDatabaseGet.json" => each(&|v| {
            let d: ManagedDatabaseResource = typed(&name, v);
            assert_eq!(d.properties.status.as_deref(), Some("Online"));
        }),
        "ManagedDatabaseCreateRestoreExternalBackup.json" => {
            let _ = each(&|v| {
                let _: ManagedDatabaseResource = typed(&name, v);
            });
            // The request: every published property is one the client sends, with the same
            // value for the same inputs.
            let want = &ex["parameters"]["parameters"];
            let p = &want["properties"];
            let s = |k: &str| p[k].as_str().unwrap().to_string();
            let got = start_body(&StartRequest {
                location: want["location"].as_str().unwrap().into(),
                storage_uri: s("storageContainerUri"),
                access: StorageAccess::Sas(s("storageContainerSasToken").into()),
                collation: s("collation"),
                last_backup_name: Some(s("lastBackupName")),
            });
            for (k, v) in p.as_object().unwrap() {
                assert_eq!(&got["properties"][k], v, "{name}: properties.{k}");
            }
            "response bodies and the start request"
        }
        "ManagedDatabaseCompleteExternalRestore.json" => {
            assert!(b.is_empty(), "{name}: no response body expected");
            let want = &ex["parameters"]["parameters"];
            let last = want["lastBackupName"].as_str().unwrap();
            assert_eq!(&complete_body(last), want, "{name}: the complete request");
            "the complete request (responses have no body)"
        }
        "ManagedDatabaseRestoreDetails.json" => each(&|v| {
            let r: RestoreDetailsResource = typed(&name, v);
            assert!(r.properties.status.is_some());
        }),
        "ManagedDatabaseDelete.json" => {
            assert!(b.is_empty(), "{name}: no response body expected");
            "no body (status codes only)"
        }
        "ManagedInstanceTdeCertificate.json" => {
            // `cutover tde migrate`'s upload: every published property is one it sends, as a
            // string (the example's `privateBlob` is a placeholder, not a real PFX's base64, so
            // values are not compared), and `certPassword` (in the spec, not in the example).
            assert!(b.is_empty(), "{name}: no response body expected");
            let want = &ex["parameters"]["parameters"]["properties"];
            let blob = want["privateBlob"].as_str().unwrap();
            let bytes = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                blob.trim_end_matches('='),
            )
            .unwrap_or_default();
            let got = cutover::arm::tde::tde_certificate_body(&bytes, "pw");
            for (k, _) in want.as_object().unwrap() {
                assert!(got["properties"][k].is_string(), "{name}: properties.{k}");
            }
            assert_eq!(got["properties"]["certPassword"], "pw");
            "the upload request (responses have no body)"
        }
        "ManagedInstanceEncryptionProtectorGet.json" => each(&|v| {
            let e: EncryptionProtector = typed(&name, v);
            assert_eq!(
                e.properties.server_key_type.as_deref(),
                Some("AzureKeyVault")
            );
        }),
        "ListManagedInstanceOperations.json" => each(&|v| {
            let p: Page<InstanceOperation> = typed(&name, v);
            assert!(
                p.value
                    .iter()
                    .any(|o| o.properties.state.as_deref() == Some("InProgress"))
            );
        }),
        "StorageAccountList.json" | "StorageAccountListByResourceGroup.json" => each(&|v| {
            let p: Page<StorageAccount> = typed(&name, v);
            assert!(!p.value.is_empty());
            for a in &p.value {
                assert!(a.blob_endpoint().is_some(), "{name}: {}", a.name);
            }
        }),
        "StorageAccountGetProperties.json" => each(&|v| {
            let a: StorageAccount = typed(&name, v);
            assert!(!a.firewall_denies());
            assert_eq!(a.properties.is_hns_enabled, Some(true));
            assert!(a.properties.network_acls.is_some());
        }),
        "StorageAccountListKeys.json" => each(&|v| {
            let k: AccountKeys = typed(&name, v);
            assert_eq!(k.keys.len(), 2);
            assert!(!format!("{k:?}").contains("<value>"), "Debug hides the key");
        }),
        "StorageAccountListAccountSAS.json" => each(&|v| {
            let s: AccountSasAnswer = typed(&name, v);
            assert!(!s.account_sas_token.is_empty());
        }),
        "StorageAccountListServiceSAS.json" => each(&|v| {
            let s: ServiceSasAnswer = typed(&name, v);
            assert!(!s.service_sas_token.is_empty());
        }),
        "BlobContainersList.json" => each(&|v| {
            let p: Page<BlobContainer> = typed(&name, v);
            assert_eq!(p.value.len(), 2);
            assert!(p.next_link.is_some());
        }),
        "BlobContainersPut.json" => each(&|v| {
            let c: BlobContainer = typed(&name, v);
            assert_eq!(c.name, "container6185");
        }),
        "RoleAssignments_ListForScope.json" => each(&|v| {
            let p: Page<RoleAssignment> = typed(&name, v);
            assert_eq!(
                p.value[0].role_guid(),
                "0b5fe924-9a61-425c-96af-cfe6e287ca2d"
            );
        }),
        "GetRoleDefinitionByName.json" | "GetRoleDefinitionById.json" => each(&|v| {
            let r: RoleDefinition = typed(&name, v);
            assert!(!r.properties.role_name.is_empty());
        }),
        "ResourceGroups_Get.json" => each(&|v| {
            let g: ResourceGroup = typed(&name, v);
            assert!(!g.location.is_empty());
        }),
        other => panic!(
            "{other} ({}) has no client type in tests/contract_arm.rs: decide which type parses it",
            path.display()
        ),
    }
}

#[test]
fn every_published_arm_example_parses_with_the_client_types() {
    let Some(dir) = reference_dir() else { return };
    let files = example_files(&dir.join("arm-examples"));
    // The README's index lists every file: none is missed by the walk.
    let readme = std::fs::read_to_string(dir.join("arm-examples/README.md")).unwrap();
    let indexed = readme.matches(".json |").count();
    assert_eq!(files.len(), indexed, "files vs README index");
    for f in &files {
        let what = check_arm_example(f);
        println!("{}: {what}", f.strip_prefix(&dir).unwrap().display());
    }
    // The types can fail: a published instance without its id is refused, naming the field.
    let list = json(&dir.join("arm-examples/Microsoft.Sql/2023-08-01/ManagedInstanceList.json"));
    let mut item = list["responses"]["200"]["body"]["value"][0].clone();
    item.as_object_mut().unwrap().remove("id");
    let e = parse::<ManagedInstance>("contract", "no id", item).unwrap_err();
    assert!(e.to_string().contains("`id`"), "{e}");
    let mut item = list["responses"]["200"]["body"]["value"][0].clone();
    item["properties"]["vCores"] = "eight".into();
    assert!(parse::<ManagedInstance>("contract", "vCores text", item).is_err());
}

#[test]
fn every_lrs_example_parses_with_the_client_types() {
    let Some(dir) = reference_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("lrs-examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let v = json(f);
        if name.starts_with("restore-details-") {
            let r: RestoreDetailsResource = typed(&name, &v);
            assert_eq!(r.properties.status.as_deref(), Some("Restoring"), "{name}");
        } else if name.starts_with("start-response") {
            let d: ManagedDatabaseResource = typed(&name, &v);
            assert_eq!(d.properties.status.as_deref(), Some("Online"));
        } else if name.starts_with("start-request") {
            // The request bodies are the client's own (built, not parsed): compared field by
            // field in contract_lrs::client_request_bodies_have_the_published_shape.
            assert!(v["properties"]["createMode"].is_string());
        } else if name.starts_with("complete-request") {
            assert_eq!(complete_body(v["lastBackupName"].as_str().unwrap()), v);
        } else {
            panic!("{name}: no client type decided in tests/contract_arm.rs");
        }
    }
}

// ------------------------------------------------------------------------------------------
// The sandbox's answers

fn kind(v: &Value) -> Option<&'static str> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some("bool"),
        Value::Number(_) => Some("number"),
        Value::String(_) => Some("string"),
        Value::Array(_) => Some("array"),
        Value::Object(_) => Some("object"),
    }
}

/// Union of published objects (list items), recursively.
fn union(values: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    for v in values {
        if let Value::Object(o) = v {
            for (k, x) in o {
                let merged = match out.get(k) {
                    Some(prev @ Value::Object(_)) if x.is_object() => {
                        union(&[prev.clone(), x.clone()])
                    }
                    Some(Value::Array(a)) if x.is_array() => {
                        let mut all = a.clone();
                        all.extend(x.as_array().unwrap().iter().cloned());
                        Value::Array(all)
                    }
                    Some(prev) if !prev.is_null() => prev.clone(),
                    _ => x.clone(),
                };
                out.insert(k.clone(), merged);
            }
        }
    }
    Value::Object(out)
}

/// Every non-null field of `got` is published in `want` with the same JSON type, except the
/// paths in `allowed` (fields the REST specification defines but the examples leave out).
fn shape_diff(path: &str, want: &Value, got: &Value, allowed: &[&str], out: &mut Vec<String>) {
    if allowed.contains(&path) {
        return;
    }
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, gv) in g {
                let p = format!("{path}.{k}");
                match w.get(k) {
                    _ if gv.is_null() => {}
                    None if allowed.contains(&p.as_str()) => {}
                    None => out.push(format!("{p}: not in the published example")),
                    Some(wv) => shape_diff(&p, wv, gv, allowed, out),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.is_empty() {
                return; // the example shows no item: nothing to compare with
            }
            let u = if w.iter().all(Value::is_object) {
                union(w)
            } else {
                w[0].clone()
            };
            for gv in g {
                shape_diff(&format!("{path}[]"), &u, gv, allowed, out);
            }
        }
        (w, g) if kind(w).is_some() && kind(w) != kind(g) => out.push(format!(
            "{path}: {} in the sandbox, {} in the published example",
            kind(g).unwrap_or("null"),
            kind(w).unwrap_or("null")
        )),
        _ => {}
    }
}

fn published_items(dir: &Path, files: &[&str]) -> Value {
    let mut items = Vec::new();
    for f in files {
        let ex = json(&dir.join("arm-examples").join(f));
        for (_, body) in bodies(&ex) {
            match body.get("value").and_then(Value::as_array) {
                Some(v) => items.extend(v.iter().cloned()),
                None => items.push(body),
            }
        }
    }
    union(&items)
}

fn discovery_client(sb: &Sandbox) -> DiscoveryClient {
    let mut arm = ArmClient::new(&sb.info.arm_endpoint, Arc::new(StaticToken("t".into()))).unwrap();
    arm.poll_interval = std::time::Duration::from_millis(50);
    DiscoveryClient::new(arm)
}

async fn raw(sb: &Sandbox, method: reqwest::Method, path: &str) -> Value {
    let r = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.info.arm_endpoint))
        .bearer_auth("t")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_answers_parse_with_the_client_types_and_have_the_published_shape() {
    let Some(dir) = reference_dir() else { return };
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let sub = sb.info.subscription_id.clone();
    let sa = format!(
        "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        sb.info.resource_group, sb.info.account_name
    );
    let get = reqwest::Method::GET;
    // One restore, so that the instance lists a database.
    let mi = format!(
        "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}",
        sb.info.resource_group, sb.info.managed_instance
    );
    let started = reqwest::Client::new()
        .put(format!(
            "{}{mi}/databases/Sales?api-version=2025-01-01",
            sb.info.arm_endpoint
        ))
        .bearer_auth("t")
        .json(
            &serde_json::json!({"location": sb.info.location, "properties": {
            "createMode": "RestoreExternalBackup",
            "storageContainerUri": format!("{}/{}/Sales", sb.info.blob_endpoint, sb.info.container),
            "storageContainerSasToken": sb.info.container_sas,
            "collation": "SQL_Latin1_General_CP1_CI_AS"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 201);
    // (sandbox path, published files, fields the specification has but the examples leave out)
    let cases: Vec<(String, reqwest::Method, Vec<&str>, Vec<&str>)> = vec![
        (
            "/subscriptions?api-version=2022-12-01".into(),
            get.clone(),
            vec!["Microsoft.Resources/2022-12-01/GetSubscriptions.json"],
            vec![],
        ),
        (
            format!(
                "/subscriptions/{sub}/providers/Microsoft.Sql/managedInstances?api-version=2023-08-01"
            ),
            get.clone(),
            vec![
                "Microsoft.Sql/2023-08-01/ManagedInstanceList.json",
                "Microsoft.Sql/2023-08-01/ManagedInstanceGet.json",
            ],
            // ManagedInstance.identity (ResourceIdentity: principalId, tenantId, type) is in
            // the REST specification; the published instance examples leave it out.
            vec!["$.identity"],
        ),
        (
            format!(
                "/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts?api-version=2025-08-01"
            ),
            get.clone(),
            vec![
                "Microsoft.Storage/2025-08-01/StorageAccountList.json",
                "Microsoft.Storage/2026-09-01/StorageAccountGetProperties.json",
            ],
            vec![],
        ),
        (
            format!("{sa}?api-version=2026-09-01"),
            get.clone(),
            vec![
                "Microsoft.Storage/2026-09-01/StorageAccountGetProperties.json",
                "Microsoft.Storage/2025-08-01/StorageAccountList.json",
            ],
            vec![],
        ),
        (
            format!("{sa}/blobServices/default/containers?api-version=2026-06-01"),
            get.clone(),
            vec!["Microsoft.Storage/2026-06-01/BlobContainersList.json"],
            vec![],
        ),
        (
            format!("{sa}/blobServices/default/containers/wave3?api-version=2026-09-01"),
            reqwest::Method::PUT,
            vec!["Microsoft.Storage/2026-09-01/BlobContainersPut.json"],
            vec![],
        ),
        (
            format!("{sa}/listKeys?api-version=2025-08-01"),
            reqwest::Method::POST,
            vec!["Microsoft.Storage/2025-08-01/StorageAccountListKeys.json"],
            vec![],
        ),
        (
            format!("{mi}/databases?api-version=2025-01-01"),
            get.clone(),
            vec![
                "Microsoft.Sql/2025-01-01/ManagedDatabaseListByManagedInstance.json",
                "Microsoft.Sql/2023-08-01/ManagedDatabaseGet.json",
            ],
            vec![],
        ),
        (
            format!("{mi}?api-version=2025-01-01"),
            get.clone(),
            vec!["Microsoft.Sql/2023-08-01/ManagedInstanceGet.json"],
            vec![],
        ),
        (
            format!(
                "{sa}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
            ),
            get.clone(),
            vec!["Microsoft.Authorization/2022-04-01/RoleAssignments_ListForScope.json"],
            vec![],
        ),
    ];
    for (path, method, files, allowed) in cases {
        let got = raw(&sb, method, &path).await;
        let want = published_items(&dir, &files);
        let items: Vec<Value> = match got.get("value").and_then(Value::as_array) {
            Some(v) => {
                assert!(!v.is_empty(), "{path}: an empty list proves nothing");
                v.clone()
            }
            None => vec![got.clone()],
        };
        let mut diffs = Vec::new();
        for item in &items {
            shape_diff("$", &want, item, &allowed, &mut diffs);
        }
        diffs.sort();
        diffs.dedup();
        assert!(diffs.is_empty(), "{path}: {diffs:#?}");
    }
    // The same answers through the client's types (pages followed).
    let c = discovery_client(&sb);
    let subs = c.subscriptions().await.unwrap();
    assert_eq!(subs.len(), 3);
    let mis = c.instances(&sub).await.unwrap();
    assert_eq!(mis.len(), 3);
    let lrs_mi = mis
        .iter()
        .find(|m| m.name == sb.info.managed_instance)
        .unwrap();
    assert_eq!(lrs_mi.resource_group(), sb.info.resource_group);
    assert_eq!(lrs_mi.location, sb.info.location);
    let accounts = c.storage_accounts(&sub).await.unwrap();
    let own = accounts
        .iter()
        .find(|a| a.name == sb.info.account_name)
        .unwrap();
    assert_eq!(
        own.blob_endpoint().unwrap().trim_end_matches('/'),
        sb.info.blob_endpoint
    );
    assert!(accounts.iter().any(|a| a.firewall_denies()));
    assert_eq!(c.storage_account(&own.id).await.unwrap().name, own.name);
    let (_, created) = c.create_container(&own.id, "wave4").await.unwrap();
    assert!(created);
    let (_, again) = c.create_container(&own.id, "wave4").await.unwrap();
    assert!(!again, "a second PUT finds the container");
    let containers = c.containers(&own.id).await.unwrap();
    assert!(containers.iter().any(|x| x.name == "wave4"));
    // A Read + List container SAS signed by the service (no key in cutover): the sandbox's LRS
    // rule and signature check accept it.
    let sas = c
        .container_sas(
            own,
            &sb.info.container,
            "rl",
            time::OffsetDateTime::now_utc() + time::Duration::days(14),
        )
        .await
        .unwrap();
    let token = sas.secret();
    assert!(
        token.contains("sp=rl") && token.contains("sr=c"),
        "a Read + List container SAS"
    );
    cutover::sandbox::sas::check_mi_sas(token, time::OffsetDateTime::now_utc()).unwrap();
    cutover::sandbox::sas::verify_service_sas(
        token,
        &sb.info.account_name,
        &sb.info.account_key,
        &sb.info.container,
        None,
    )
    .unwrap();
    assert!(!format!("{sas:?}").contains("sig="), "Debug hides the SAS");
    let keys = c.list_keys(&own.id).await.unwrap();
    assert_eq!(keys.keys[0].value, sb.info.account_key);
    let f = cutover::arm::discovery::checks::check_reader_role(&c, lrs_mi, own)
        .await
        .unwrap();
    assert_eq!(f.code, codes::MI_STORAGE_ROLE_OK, "{f:?}");
    let locked = accounts.iter().find(|a| a.firewall_denies()).unwrap();
    let f = cutover::arm::discovery::checks::check_reader_role(&c, lrs_mi, locked)
        .await
        .unwrap();
    assert_eq!(f.code, codes::MI_STORAGE_ROLE_MISSING);
    assert_eq!(
        cutover::arm::discovery::judge_firewall(lrs_mi, locked).code,
        codes::STORAGE_FIREWALL_BLOCKS_INSTANCE
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_rides_out_throttling_and_reports_partial_rights() {
    if reference_dir().is_none() {
        return;
    }
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let c = discovery_client(&sb);
    let before = sb.discovery.requests();
    sb.discovery.throttle(2);
    let mis = c.instances(&sb.info.subscription_id).await.unwrap();
    assert_eq!(mis.len(), 3, "both pages, after two 429s");
    assert_eq!(sb.discovery.requests() - before, 4, "2 throttled + 2 pages");
    // A subscription listed but unreadable is a finding; the others are read.
    let subs = c.subscriptions().await.unwrap();
    let (items, findings) = across_subscriptions(&subs, "managed instances", |s| {
        let c = c.clone();
        async move { c.instances(&s).await }
    })
    .await
    .unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, codes::SUBSCRIPTION_NOT_READABLE);
    assert!(
        findings[0].subject.contains("22222222"),
        "{:?}",
        findings[0]
    );
    // An unknown subscription is not a partial right: it is an error saying how to list them.
    let e = c
        .instances("99999999-9999-4999-8999-999999999999")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cutover azure subscriptions"), "{e}");
}

/// `cutover sandbox` as a process (killed on drop) and its JSON line.
struct SandboxProcess(std::process::Child);

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_cli_lists_the_sandbox_instances_with_tier_and_region() {
    if reference_dir().is_none() {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("sandbox")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let _guard = SandboxProcess(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let no_cli = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_cutover"))
            .args(args)
            .env(
                "CUTOVER_ARM_ENDPOINT",
                info["arm_endpoint"].as_str().unwrap(),
            )
            .env("AZURE_CONFIG_DIR", no_cli.path())
            .env_remove("AZURE_SUBSCRIPTION_ID")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (code, stdout, stderr) = run(&["azure", "instances", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let instances = v["instances"].as_array().unwrap();
    let find = |n: &str| {
        instances
            .iter()
            .find(|i| i["name"] == n)
            .unwrap_or_else(|| panic!("{n} in {stdout}"))
    };
    let mi = find(info["managed_instance"].as_str().unwrap());
    assert_eq!(mi["tier"], "GeneralPurpose");
    assert_eq!(mi["location"], info["location"]);
    assert_eq!(mi["resource_group"], info["resource_group"]);
    assert!(mi["vcores"].is_u64() && mi["identity_principal_id"].is_string());
    let bc = find(&format!(
        "{}-bc",
        info["managed_instance"].as_str().unwrap()
    ));
    assert_eq!(bc["tier"], "BusinessCritical");
    assert_ne!(bc["location"], mi["location"]);
    assert!(stderr.contains("every subscription"), "{stderr}");
    assert_eq!(v["findings"][0]["code"], "SUBSCRIPTION_NOT_READABLE");
    // One subscription, as text.
    let (code, stdout, _) = run(&[
        "azure",
        "instances",
        "--subscription",
        info["subscription_id"].as_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("GP") && stdout.contains("BC") && stdout.contains("3 instance(s)"),
        "{stdout}"
    );
    // The unreadable subscription alone: exit 1 with the fix.
    let (code, _, stderr) = run(&[
        "azure",
        "instances",
        "--subscription",
        "22222222-2222-4222-8222-222222222222",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("Reader"), "{stderr}");
    // Bad input: an account that does not exist, a container name Azure refuses.
    let (code, _, stderr) = run(&["azure", "containers", "--account", "nosuch"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run(&[
        "azure",
        "containers",
        "--account",
        info["account_name"].as_str().unwrap(),
        "--create",
        "Bad_Name",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--create Bad_Name"), "{stderr}");
}
