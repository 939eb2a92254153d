//! LRS's limits on restores at once, end to end against the sandbox: 160 databases on one
//! instance (one subscription): at most 100 restore at once (the documented per-instance figure,
//! below the subscription's 150), the rest wait QUEUED with the reason, and a queued one starts
//! when a running one ends (here: cancelled). The sandbox refuses a start beyond the limit, so an
//! engine that sent one would fail a database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::time::Duration;

use cutover::engine::lrs_slots;
use cutover::engine::{EngineCommand, MigrationSnapshot, Phase};
use cutover::sandbox::instance::DatabaseSpec;
use cutover::sandbox::{Sandbox, SandboxOptions};

const DATABASES: usize = 160;

fn restoring(s: &MigrationSnapshot) -> usize {
    s.databases
        .iter()
        .filter(|d| lrs_slots::holds_slot(&d.state))
        .count()
}

fn queued(s: &MigrationSnapshot) -> usize {
    s.databases
        .iter()
        .filter(|d| d.state.status_label() == "QUEUED")
        .count()
}

/// Waits for `done`, checking on every snapshot that no more than `limit` restore at once and that
/// no database failed; returns the snapshot.
async fn watch_until(
    h: &mut cutover::engine::runner::EngineHandle,
    what: &str,
    limit: usize,
    max_seen: &mut usize,
    done: impl Fn(&MigrationSnapshot) -> bool,
) -> MigrationSnapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let s = h.snapshots.borrow_and_update().clone();
        let r = restoring(&s);
        *max_seen = (*max_seen).max(r);
        assert!(r <= limit, "{r} restoring at once, the limit is {limit}");
        if let Some(d) = s.databases.iter().find(|d| d.state.phase == Phase::Failed) {
            panic!("{} failed: {:?}", d.state.name, d.state.error);
        }
        if done(&s) {
            return s;
        }
        if tokio::time::timeout_at(deadline, h.snapshots.changed())
            .await
            .is_err()
        {
            panic!(
                "timed out waiting for {what}: {} restoring, {} queued",
                restoring(&s),
                queued(&s)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_and_sixty_databases_queue_for_the_instances_restore_slots() {
    let state = tempfile::tempdir().unwrap();
    let specs: Vec<DatabaseSpec> = (0..DATABASES)
        .map(|i| {
            let mut s = DatabaseSpec::new(&format!("Db{i:03}"));
            s.data_bytes = 64 * 1024;
            s.initial_logs = 0;
            s
        })
        .collect();
    let sb = Sandbox::start(SandboxOptions {
        restore_mbps: 400.0,
        databases: Some(specs),
        container: "wave".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let opts = cutover::demo::DemoOptions {
        fast: true,
        backups: None,
        cutover_when_ready: false,
        tail: cutover::engine::TailMode::Take,
        stop_traffic: None,
        activity: "limits".into(),
        state_dir: state.path().to_path_buf(),
        data_dir: None,
    };
    let mut cfg = cutover::demo::engine_config(&opts, &sb, None).unwrap();
    cfg.scan_interval = Duration::from_millis(500);
    cfg.lrs_poll = Duration::from_secs(2);
    let limit = cfg.lrs_limits.concurrent();
    assert_eq!(
        limit,
        lrs_slots::PER_INSTANCE.min(lrs_slots::PER_SUBSCRIPTION)
    );
    assert_eq!(limit, 100);
    let mut h = cutover::engine::runner::start(cfg).unwrap();
    let mut max_seen = 0;
    let s = watch_until(
        &mut h,
        "100 restoring, 60 queued",
        limit,
        &mut max_seen,
        |s| restoring(s) == limit && queued(s) == DATABASES - limit,
    )
    .await;
    assert_eq!(max_seen, limit);
    let waiting = s
        .databases
        .iter()
        .find(|d| d.state.status_label() == "QUEUED")
        .unwrap();
    let reason = waiting.state.lrs_queued.clone().unwrap();
    assert!(
        reason.contains("100 restores already running") && reason.contains("at most 100"),
        "{reason}"
    );
    let mut log = Vec::new();
    while let Ok(e) = h.event_log.try_recv() {
        log.push(e.message);
    }
    assert!(
        log.iter().any(|m| m.contains("queued:")),
        "the event log says why"
    );

    // The sandbox refuses a 101st restore itself.
    let info = &sb.info;
    let url = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/databases/Extra?api-version=2025-01-01",
        info.arm_endpoint, info.subscription_id, info.resource_group, info.managed_instance
    );
    let body = serde_json::json!({"location": info.location, "properties": {
        "createMode": "RestoreExternalBackup",
        "storageContainerUri": format!("{}/{}/Extra", info.blob_endpoint, info.container),
        "storageContainerSasToken": info.container_sas,
        "collation": "SQL_Latin1_General_CP1_CI_AS"}});
    let r = reqwest::Client::new()
        .put(url)
        .bearer_auth("t")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["code"],
        cutover::sandbox::arm::RESTORE_LIMIT_CODE,
        "{v}"
    );

    // Ten running restores end (cancelled): ten queued ones start, never more than 100 at once.
    let running: Vec<String> = s
        .databases
        .iter()
        .filter(|d| lrs_slots::holds_slot(&d.state))
        .take(10)
        .map(|d| d.state.name.clone())
        .collect();
    for database in running {
        h.commands.send(EngineCommand::Cancel { database }).unwrap();
    }
    let s = watch_until(
        &mut h,
        "ten queued restores started",
        limit,
        &mut max_seen,
        |s| restoring(s) == limit && queued(s) == DATABASES - limit - 10,
    )
    .await;
    let canceled = s
        .databases
        .iter()
        .filter(|d| d.state.phase == Phase::Canceled)
        .count();
    assert_eq!(canceled, 10);
    while let Ok(e) = h.event_log.try_recv() {
        log.push(e.message);
    }
    assert_eq!(
        log.iter()
            .filter(|m| m.contains("a restore slot is free"))
            .count(),
        10,
        "the event log says when a queued restore starts"
    );
    let _ = h.commands.send(EngineCommand::Shutdown);
    let _ = h.task.await;
}
