//! The ARM client never sends the bearer token (or the storage SAS in a start request) in clear text
//! to another machine, nor to a host other than the ARM endpoint it was issued for.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use cutover::restore_target::lrs::{InstanceRef, LrsClient, StartRequest, StorageAccess};

/// A credential that records the scopes it was asked for (and so whether a token was asked at all).
#[derive(Debug, Default)]
struct RecordingToken {
    scopes: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl TokenCredential for RecordingToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        if let Ok(mut s) = self.scopes.lock() {
            s.extend(scopes.iter().map(|s| s.to_string()));
        }
        Ok(AccessToken::new(
            Secret::new("bearer-secret-token"),
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
}

fn instance() -> InstanceRef {
    InstanceRef {
        subscription: "sub".into(),
        resource_group: "rg".into(),
        managed_instance: "mi".into(),
    }
}

fn start_request() -> StartRequest {
    StartRequest {
        location: "westeurope".into(),
        storage_uri: "https://acct.blob.core.windows.net/migration/Sales".into(),
        access: StorageAccess::Sas(Secret::new("sv=2024&sp=rl&sig=storage-secret")),
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        last_backup_name: None,
    }
}

/// The Authorization headers a server received.
type Seen = Arc<Mutex<Vec<String>>>;

/// Serves every request: records its Authorization header, answers with `respond`.
async fn serve<F>(respond: F) -> (String, Seen)
where
    F: Fn() -> (StatusCode, HeaderMap, String) + Clone + Send + Sync + 'static,
{
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = Router::new().fallback(any(move |headers: HeaderMap| {
        let s = s.clone();
        let respond = respond.clone();
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("<none>")
                .to_string();
            s.lock().expect("lock").push(auth);
            respond().into_response()
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

/// An ARM endpoint that answers a PUT with 202 and an operation URL at `operation_url`.
async fn arm_pointing_to(operation_url: String) -> (String, Seen) {
    serve(move || {
        let mut h = HeaderMap::new();
        if let Ok(v) = operation_url.parse() {
            h.insert("azure-asyncoperation", v);
        }
        h.insert("retry-after", "0".parse().expect("header"));
        (StatusCode::ACCEPTED, h, "{}".to_string())
    })
    .await
}

async fn succeeded_operation() -> (String, Seen) {
    serve(|| {
        (
            StatusCode::OK,
            HeaderMap::new(),
            r#"{"status":"Succeeded"}"#.to_string(),
        )
    })
    .await
}

#[test]
fn http_arm_endpoint_to_a_non_loopback_host_is_refused_before_any_request() {
    for endpoint in [
        "http://192.0.2.10",
        "http://management.azure.com",
        "http://10.0.0.4:8080/",
        "ftp://management.azure.com",
    ] {
        let cred = Arc::new(RecordingToken::default());
        let err = LrsClient::new(endpoint, cred.clone(), instance())
            .err()
            .unwrap_or_else(|| panic!("{endpoint} was accepted"));
        let msg = err.to_string();
        assert!(msg.contains("https://"), "{msg}");
        assert!(msg.contains("clear text"), "{msg}");
        assert!(msg.contains("arm_endpoint"), "{msg}");
        assert!(
            cred.scopes.lock().expect("lock").is_empty(),
            "a token was requested for {endpoint}"
        );
    }
    for endpoint in [
        "https://management.azure.com",
        "https://management.usgovcloudapi.net/",
        "http://127.0.0.1:1234",
        "http://localhost:1234",
        "http://[::1]:1234",
    ] {
        assert!(
            LrsClient::new(endpoint, Arc::new(RecordingToken::default()), instance()).is_ok(),
            "{endpoint} was refused"
        );
    }
}

#[test]
fn the_cli_refuses_an_http_arm_endpoint_without_contacting_it() {
    // 192.0.2.0/24 is TEST-NET-1: a request there would hang until the timeout.
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args([
            "lrs",
            "status",
            "-g",
            "rg",
            "--mi",
            "mi",
            "-n",
            "Sales",
            "--subscription",
            "sub",
            "--arm-endpoint",
            "http://192.0.2.10",
            "--aad",
            "azure-cli",
        ])
        .output()
        .expect("run cutover");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("clear text"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_url_on_another_host_never_gets_the_token() {
    let (operation, operation_seen) = succeeded_operation().await;
    let (arm, arm_seen) = arm_pointing_to(format!("{operation}/operations/1")).await;
    let cred = Arc::new(RecordingToken::default());
    let mut client = LrsClient::new(&arm, cred.clone(), instance()).expect("client");
    client.arm.poll_interval = Duration::from_millis(10);
    let err = client
        .start("Sales", &start_request())
        .await
        .expect_err("followed an operation on another host");
    let msg = err.to_string();
    assert!(msg.contains(&operation), "names the other host: {msg}");
    assert!(msg.contains("refusing to send"), "{msg}");
    assert!(
        operation_seen.lock().expect("lock").is_empty(),
        "the other host was contacted"
    );
    assert_eq!(
        *arm_seen.lock().expect("lock"),
        vec!["Bearer bearer-secret-token".to_string()]
    );
    // The token was asked for the endpoint it is sent to, not for another audience.
    let scopes = cred.scopes.lock().expect("lock").clone();
    assert!(
        scopes.iter().all(|s| *s == format!("{arm}/.default")),
        "{scopes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_url_on_the_endpoint_is_followed_with_the_token() {
    // One server is both the ARM endpoint and the operation's host.
    let slot: Arc<Mutex<String>> = Arc::default();
    let s = slot.clone();
    let (arm, seen) = serve(move || {
        let mut h = HeaderMap::new();
        let op = s.lock().expect("lock").clone();
        if op.is_empty() {
            return (StatusCode::OK, h, r#"{"status":"Succeeded"}"#.to_string());
        }
        *s.lock().expect("lock") = String::new();
        if let Ok(v) = op.parse() {
            h.insert("azure-asyncoperation", v);
        }
        h.insert("retry-after", "0".parse().expect("header"));
        (StatusCode::ACCEPTED, h, "{}".to_string())
    })
    .await;
    *slot.lock().expect("lock") = format!("{arm}/operations/1");
    let mut client =
        LrsClient::new(&arm, Arc::new(RecordingToken::default()), instance()).expect("client");
    client.arm.poll_interval = Duration::from_millis(10);
    client
        .start("Sales", &start_request())
        .await
        .expect("start followed to Succeeded");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|a| a == "Bearer bearer-secret-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_name_azure_refuses_never_reaches_the_endpoint() {
    let (arm, seen) = succeeded_operation().await;
    let client =
        LrsClient::new(&arm, Arc::new(RecordingToken::default()), instance()).expect("client");
    for bad in ["..", "a/b"] {
        let e = client.status(bad).await.expect_err(bad);
        assert!(e.to_string().contains("target database name"), "{e}");
        let e = client.start(bad, &start_request()).await.expect_err(bad);
        assert!(e.to_string().contains("target database name"), "{e}");
        let e = client.complete(bad, "x.trn").await.expect_err(bad);
        assert!(e.to_string().contains("target database name"), "{e}");
    }
    assert!(seen.lock().expect("lock").is_empty(), "a request was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_never_carries_the_token() {
    let (elsewhere, elsewhere_seen) = succeeded_operation().await;
    let target = format!("{elsewhere}/moved");
    let (arm, _) = serve(move || {
        let mut h = HeaderMap::new();
        if let Ok(v) = target.parse() {
            h.insert("location", v);
        }
        (StatusCode::TEMPORARY_REDIRECT, h, String::new())
    })
    .await;
    let client =
        LrsClient::new(&arm, Arc::new(RecordingToken::default()), instance()).expect("client");
    let _ = client.status("Sales").await;
    let seen = elsewhere_seen.lock().expect("lock").clone();
    assert!(
        seen.iter().all(|a| !a.contains("bearer-secret-token")),
        "the token followed the redirect: {seen:?}"
    );
}
