//! Contract tests: the client (restore_target, storage::sas, engine::lrs_limit) and the sandbox
//! (written separately from the published contract) are each checked against the published LRS
//! examples and documentation in `../shared/reference/`, so a mistake on either side fails here:
//! the examples parse with the client's types; the client's request bodies have the examples'
//! shape; the sandbox's restoreDetails have the published shape for each api-version; the 30-day
//! job limit read from lrs-api.md is the constant on both sides; the SAS rule (Read + List only)
//! refuses and accepts the same tokens on both sides; tokens signed by one side verify on the other.
//!
//! Without `../shared/reference` the tests print why and pass, except on CI (`CI=true`) where
//! they fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use common::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use cutover::restore_target::details::RestoreDetailsResource;
use cutover::restore_target::lrs::{StartRequest, StorageAccess, complete_body, start_body};
use cutover::sandbox::{Sandbox, SandboxOptions};

fn reference_dir() -> Option<PathBuf> {
    common::reference_dir(&["lrs-examples", "lrs-api.md"])
}

/// The JSON type of a value, `None` for null (an absent value in the published examples).
fn kind(v: &Value) -> Option<&'static str> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some("bool"),
        Value::Number(n) if n.is_f64() => Some("number"),
        Value::Number(_) => Some("integer"),
        Value::String(_) => Some("string"),
        Value::Array(_) => Some("array"),
        Value::Object(_) => Some("object"),
    }
}

/// Compares `got` with the published `want`, recursively: every non-null field of `got` must be
/// published with the same JSON type (an integer is a number too, unless the published value is an
/// integer and `exact_numbers`); arrays compare their items with the published items' union.
/// Returns the differences as readable lines.
fn shape_diff(path: &str, want: &Value, got: &Value, exact_numbers: bool, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, gv) in g {
                if gv.is_null() {
                    continue;
                }
                match w.get(k) {
                    None => out.push(format!("{path}.{k}: not in the published example")),
                    Some(wv) => shape_diff(&format!("{path}.{k}"), wv, gv, exact_numbers, out),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if let Some(first) = w.first() {
                // The union of the published items' fields.
                let mut union = first.clone();
                if let Value::Object(u) = &mut union {
                    for item in w.iter().skip(1) {
                        if let Value::Object(o) = item {
                            for (k, v) in o {
                                u.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                    }
                }
                for (i, gv) in g.iter().enumerate() {
                    shape_diff(&format!("{path}[{i}]"), &union, gv, exact_numbers, out);
                }
            }
        }
        _ => {
            let (wk, gk) = (kind(want), kind(got));
            let same = wk == gk
                || (!exact_numbers && matches!((wk, gk), (Some("number"), Some("integer"))))
                || wk.is_none();
            if !same {
                out.push(format!(
                    "{path}: published {} ({want}), got {} ({got})",
                    wk.unwrap_or("null"),
                    gk.unwrap_or("null")
                ));
            }
        }
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn client_parses_the_published_restore_details() {
    let Some(dir) = reference_dir() else { return };
    let stable: RestoreDetailsResource = serde_json::from_value(json(
        &dir.join("lrs-examples/restore-details-stable-2023-08-01.json"),
    ))
    .expect("the client parses the stable example");
    let p = stable.properties;
    assert_eq!(p.status.as_deref(), Some("Restoring"));
    assert_eq!(p.current_restoring_file_name.as_deref(), Some("full_0"));
    assert_eq!(p.percent_completed, Some(0.0));
    assert_eq!(p.number_of_files_detected, Some(26));
    assert_eq!(p.last_uploaded_file_name.as_deref(), Some("log2_3"));
    assert!(p.is_lrs(), "stable has no type: LRS");

    let preview: RestoreDetailsResource = serde_json::from_value(json(
        &dir.join("lrs-examples/restore-details-preview-2022-11-01.json"),
    ))
    .expect("the client parses the preview example");
    let p = preview.properties;
    assert_eq!(p.kind.as_deref(), Some("LRSRestore"));
    assert_eq!(p.percent_completed, Some(53.0));
    assert_eq!(p.unrestorable_files, ["ImageFile.JPG"]);
    assert_eq!(p.full_backup_sets.len(), 2);
    assert_eq!(p.diff_backup_sets.len(), 2);
    assert_eq!(p.log_backup_sets.len(), 10);
    assert_eq!(p.number_of_files_queued, Some(1));
    assert_eq!(p.current_restore_plan_size_mb, Some(47.0));
    assert_eq!(
        p.log_backup_sets[8]
            .restore_started_timestamp_utc
            .as_deref(),
        Some("2022-05-09T12:26:00.7813103Z")
    );
    assert_eq!(preview.name.as_deref(), Some("current"));

    // The stable 2025-01-01 example (ARM specification) carries the preview shape.
    let arm =
        json(&dir.join("arm-examples/Microsoft.Sql/2025-01-01/ManagedDatabaseRestoreDetails.json"));
    let body = arm
        .pointer("/responses/200/body")
        .expect("a 200 body")
        .clone();
    let r: RestoreDetailsResource =
        serde_json::from_value(body).expect("the client parses the 2025-01-01 example");
    assert!(r.properties.is_lrs());
    assert!(!r.properties.log_backup_sets.is_empty());
}

#[test]
fn client_request_bodies_have_the_published_shape() {
    let Some(dir) = reference_dir() else { return };
    let want = json(&dir.join("lrs-examples/start-request-2023-08-01.json"));
    let req = StartRequest {
        location: "southeastasia".into(),
        storage_uri: "https://myaccountname.blob.core.windows.net/migration/testdb".into(),
        access: StorageAccess::Sas("sv=2015-12-11&sr=c&sp=rl&sig=1234".to_string().into()),
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        last_backup_name: Some("last_backup_name".into()),
    };
    let got = start_body(&req);
    // lrs-api.md documents storageContainerIdentity ("SharedAccessSignature" or
    // "ManagedIdentity"), which the example leaves out.
    let doc = std::fs::read_to_string(dir.join("lrs-api.md")).expect("read lrs-api.md");
    assert!(doc.contains("\"storageContainerIdentity\":\"SharedAccessSignature\""));
    let mut want_documented = want.clone();
    want_documented["properties"]["storageContainerIdentity"] = "SharedAccessSignature".into();
    let mut diffs = Vec::new();
    shape_diff("start", &want_documented, &got, true, &mut diffs);
    assert!(diffs.is_empty(), "the client's start body: {diffs:#?}");
    // Every published field of the autocomplete example is sent, with the same values where
    // the inputs are the same.
    for k in keys(&want["properties"]) {
        assert!(
            got["properties"].get(&k).is_some(),
            "the client's start body lacks properties.{k}"
        );
    }
    for k in [
        "createMode",
        "collation",
        "autoCompleteRestore",
        "lastBackupName",
        "storageContainerSasToken",
    ] {
        assert_eq!(
            got["properties"][k], want["properties"][k],
            "properties.{k}"
        );
    }
    assert_eq!(got["location"], want["location"]);

    let want = json(&dir.join("lrs-examples/complete-request-2023-08-01.json"));
    assert_eq!(complete_body("testdb1_log4"), want);
}

/// The LRS job limit as lrs-api.md states it ("the LRS job is cancelled 30 days after it starts").
fn published_job_limit_days(dir: &Path) -> u64 {
    let text = std::fs::read_to_string(dir.join("lrs-api.md")).expect("read lrs-api.md");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let found: BTreeSet<u64> = ["cancelled ", "cancelled after "]
        .iter()
        .flat_map(|lead| {
            flat.match_indices(lead)
                .filter_map(|(i, _)| {
                    let rest = &flat[i + lead.len()..];
                    let (n, after) = rest.split_once(' ')?;
                    after
                        .starts_with("days")
                        .then(|| n.parse::<u64>().ok())
                        .flatten()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "lrs-api.md should state one job limit in days ('cancelled N days ...'), found {found:?}"
    );
    found.into_iter().next().unwrap_or_default()
}

#[test]
fn the_job_limit_is_the_published_one_on_both_sides() {
    let Some(dir) = reference_dir() else { return };
    let days = published_job_limit_days(&dir);
    assert_eq!(
        days, 30,
        "lrs-api.md changed its job limit: update both sides"
    );
    assert_eq!(
        cutover::sandbox::arm::LRS_JOB_LIMIT,
        Duration::from_secs(days * 86_400),
        "the sandbox's LRS job limit is not lrs-api.md's {days} days"
    );
    assert_eq!(
        cutover::engine::lrs_limit::JOB_LIMIT_SECS,
        i64::try_from(days * 86_400).unwrap(),
        "the client's LRS job limit is not lrs-api.md's {days} days"
    );
    assert_eq!(
        SandboxOptions::default().lrs_job_limit,
        Duration::from_secs(days * 86_400)
    );
}

/// "SAS: container-wide, Read + List ONLY (any extra permission makes LRS fail to start)".
#[test]
fn the_sas_rule_is_the_published_one_on_both_sides() {
    let Some(dir) = reference_dir() else { return };
    let text = std::fs::read_to_string(dir.join("lrs-api.md")).expect("read lrs-api.md");
    assert!(
        text.contains("Read + List ONLY"),
        "lrs-api.md no longer states the SAS rule this test checks"
    );
    let key = cutover::sandbox::blob::DEV_KEY;
    let account = cutover::sandbox::blob::DEV_ACCOUNT;
    let now = time::OffsetDateTime::now_utc();
    let expiry = now + time::Duration::days(40);
    for (sp, allowed) in [
        ("rl", true),
        ("r", false),
        ("l", false),
        ("rwl", false),
        ("rlw", false),
        ("racwdl", false),
        ("rld", false),
        ("rcl", false),
        ("ral", false),
    ] {
        let perms: cutover::storage::sas::SasPermissions = sp.parse().expect("permissions");
        let client_signed = cutover::storage::sas::service_sas_for_container(
            account,
            key,
            "migration",
            &perms,
            None,
            expiry,
        )
        .expect("client signs")
        .into_query();
        let client =
            cutover::storage::sas::check_lrs_sas(&client_signed, now, time::Duration::ZERO);
        let sandbox = cutover::sandbox::sas::check_mi_sas(&client_signed, now);
        assert_eq!(
            client.is_ok(),
            allowed,
            "client's check_lrs_sas on sp={sp}: {client:?}"
        );
        assert_eq!(
            sandbox.is_ok(),
            allowed,
            "sandbox's MI rule on sp={sp}: {sandbox:?}"
        );
        // The client's signature verifies on the sandbox's storage account.
        cutover::sandbox::sas::verify_service_sas(&client_signed, account, key, "migration", None)
            .unwrap_or_else(|e| panic!("sandbox refuses the client's sp={sp} SAS: {e}"));
        // And the sandbox's signature on the client's verifier.
        let sandbox_signed =
            cutover::sandbox::sas::sign_container_sas(account, key, "migration", sp, expiry)
                .expect("sandbox signs");
        cutover::storage::sas::verify_service_sas(&sandbox_signed, account, key, "migration")
            .unwrap_or_else(|e| panic!("client refuses the sandbox's sp={sp} SAS: {e}"));
    }
    // A stored access policy and an expired token are refused on both sides.
    let rl: cutover::storage::sas::SasPermissions = "rl".parse().expect("permissions");
    let t = cutover::storage::sas::service_sas_for_container(
        account,
        key,
        "migration",
        &rl,
        None,
        expiry,
    )
    .expect("client signs")
    .into_query();
    let with_si = format!("{t}&si=policy1");
    assert!(cutover::storage::sas::check_lrs_sas(&with_si, now, time::Duration::ZERO).is_err());
    assert!(cutover::sandbox::sas::check_mi_sas(&with_si, now).is_err());
    let later = expiry + time::Duration::minutes(1);
    assert!(cutover::storage::sas::check_lrs_sas(&t, later, time::Duration::ZERO).is_err());
    assert!(cutover::sandbox::sas::check_mi_sas(&t, later).is_err());
}

fn cutover_cli(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("run cutover");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The sandbox restores the client's start body and answers restoreDetails in the published
/// shape of each api-version: stable 2023-08-01, preview 2022-11-01-preview, and 2025-01-01 (which
/// carries the preview shape).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_restore_details_have_the_published_shape() {
    let Some(dir) = reference_dir() else { return };
    let sb = Sandbox::start(SandboxOptions {
        restore_mbps: 500.0,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let i = sb.info.clone();
    let container = format!("{}/{}", i.blob_endpoint, i.container);
    let backups = i.backup_dir.clone();
    let (code, _, err) = tokio::task::spawn_blocking({
        let container = container.clone();
        let key = i.account_key.clone();
        move || {
            cutover_cli(
                &[
                    "upload",
                    &backups,
                    "--container",
                    &container,
                    "--account-key-env",
                    "SB_KEY",
                    "--stable-seconds",
                    "0",
                ],
                &[("SB_KEY", &key)],
            )
        }
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "upload: {err}");

    let db = "Sales";
    let body = start_body(&StartRequest {
        location: i.location.clone(),
        storage_uri: format!("{container}/{db}"),
        access: StorageAccess::Sas(i.container_sas.clone().into()),
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        last_backup_name: None,
    });
    let base = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/databases/{db}",
        i.arm_endpoint, i.subscription_id, i.resource_group, i.managed_instance
    );
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{base}?api-version=2023-08-01"))
        .bearer_auth("sandbox")
        .json(&body)
        .send()
        .await
        .expect("PUT");
    let status = r.status().as_u16();
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        [200, 201, 202].contains(&status),
        "the sandbox refused the client's start body: {status} {answer}"
    );
    let details = |api: &'static str| {
        let http = http.clone();
        let url = format!("{base}/restoreDetails/Default?api-version={api}");
        async move {
            let r = http
                .get(url)
                .bearer_auth("sandbox")
                .send()
                .await
                .expect("GET");
            assert_eq!(r.status().as_u16(), 200, "restoreDetails {api}");
            r.json::<Value>().await.expect("JSON")
        }
    };
    // Wait until something is restored (timestamps, sizes and names are then all present).
    let mut waited = 0;
    loop {
        let v = details("2022-11-01-preview").await;
        if v.pointer("/properties/lastRestoredFileName")
            .is_some_and(Value::is_string)
        {
            break;
        }
        waited += 1;
        assert!(waited < 150, "nothing restored after 30 s: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let examples = [
        (
            "2023-08-01",
            dir.join("lrs-examples/restore-details-stable-2023-08-01.json"),
            None,
        ),
        (
            "2022-11-01-preview",
            dir.join("lrs-examples/restore-details-preview-2022-11-01.json"),
            None,
        ),
        (
            "2025-01-01",
            dir.join("arm-examples/Microsoft.Sql/2025-01-01/ManagedDatabaseRestoreDetails.json"),
            Some("/responses/200/body"),
        ),
    ];
    // Fields the published documentation lists (lrs-api.md, "Monitor") beyond its examples, and
    // what the sandbox adds on purpose (DMS reports hasBackupChecksums per set).
    let documented_extras = [
        "blockReason",
        "lastRestoredFileName",
        "lastRestoredFileTime",
    ];
    let sandbox_extras = ["hasBackupChecksums"];
    for (api, file, pointer) in examples {
        let mut want = json(&file);
        if let Some(p) = pointer {
            want = want.pointer(p).expect("example body").clone();
        }
        let got = details(api).await;
        // The client reads the sandbox's answer.
        let parsed: RestoreDetailsResource = serde_json::from_value(got.clone())
            .unwrap_or_else(|e| panic!("the client cannot parse the sandbox's {api} answer: {e}"));
        assert!(parsed.properties.last_restored_file_name.is_some(), "{api}");
        // Documented fields the example omits are allowed in the sandbox's answer.
        for k in documented_extras {
            if let Some(v) = got["properties"].get(k)
                && let Some(o) = want["properties"].as_object_mut()
            {
                o.entry(k.to_string()).or_insert_with(|| match v {
                    Value::Null => Value::Null,
                    _ => Value::String(String::new()),
                });
            }
        }
        let mut got_cmp = got.clone();
        for set in ["fullBackupSets", "diffBackupSets", "logBackupSets"] {
            if let Some(Value::Array(items)) = got_cmp["properties"].get_mut(set) {
                for item in items {
                    if let Value::Object(o) = item {
                        for k in sandbox_extras {
                            o.remove(k);
                        }
                    }
                }
            }
        }
        let mut diffs = Vec::new();
        shape_diff("restoreDetails", &want, &got_cmp, true, &mut diffs);
        assert!(
            diffs.is_empty(),
            "the sandbox's restoreDetails at api-version {api} differ from the published shape: {diffs:#?}\n{got}"
        );
        // Everything the published example has, the sandbox answers too.
        let missing: Vec<String> = keys(&want["properties"])
            .difference(&keys(&got["properties"]))
            .cloned()
            .collect();
        assert!(
            missing.is_empty(),
            "the sandbox's restoreDetails at api-version {api} lack {missing:?}"
        );
        assert_eq!(got["name"], want["name"], "{api}: name");
        assert_eq!(got["type"], want["type"], "{api}: type");
    }
}
