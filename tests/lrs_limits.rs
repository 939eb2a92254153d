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

/// Starts a restore of `name` on the sandbox's instance directly (another tool's restore).
async fn start_other(sb: &Sandbox, name: &str) -> (u16, serde_json::Value) {
    let info = &sb.info;
    start_on(sb, &info.resource_group, &info.managed_instance, name).await
}

/// Starts a restore of `name` on the instance `rg`/`mi` of the sandbox's subscription.
async fn start_on(sb: &Sandbox, rg: &str, mi: &str, name: &str) -> (u16, serde_json::Value) {
    let info = &sb.info;
    let url = format!(
        "{}/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.Sql/managedInstances/{mi}/databases/{name}?api-version=2025-01-01",
        info.arm_endpoint, info.subscription_id
    );
    let body = serde_json::json!({"location": info.location, "properties": {
        "createMode": "RestoreExternalBackup",
        "storageContainerUri": format!("{}/{}/{name}", info.blob_endpoint, info.container),
        "storageContainerSasToken": info.container_sas,
        "collation": "SQL_Latin1_General_CP1_CI_AS"}});
    let r = reqwest::Client::new()
        .put(url)
        .bearer_auth("t")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

fn tiny(names: impl Iterator<Item = String>) -> Vec<DatabaseSpec> {
    names
        .map(|n| {
            let mut s = DatabaseSpec::new(&n);
            s.data_bytes = 64 * 1024;
            s.initial_logs = 0;
            s
        })
        .collect()
}

fn options(state: &std::path::Path) -> cutover::demo::DemoOptions {
    cutover::demo::DemoOptions {
        fast: true,
        backups: None,
        cutover_when_ready: false,
        tail: cutover::engine::TailMode::Take,
        stop_traffic: None,
        activity: "limits".into(),
        state_dir: state.to_path_buf(),
        data_dir: None,
    }
}

/// A General Purpose instance already holding 97 other databases takes 3 more: three restore, two
/// wait with the reason (read from the instance's tier and databases at the start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_general_purpose_instance_near_its_database_limit_takes_only_what_fits() {
    let state = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(SandboxOptions {
        restore_mbps: 400.0,
        databases: Some(tiny((0..5).map(|i| format!("Mine{i}")))),
        container: "wave".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..97 {
        let (status, v) = start_other(&sb, &format!("Other{i:02}")).await;
        assert_eq!(status, 201, "{v}");
    }
    let mut cfg = cutover::demo::engine_config(&options(state.path()), &sb, None).unwrap();
    cfg.scan_interval = Duration::from_millis(500);
    cfg.lrs_poll = Duration::from_secs(2);
    let mut h = cutover::engine::runner::start(cfg).unwrap();
    let mut max_seen = 0;
    let s = watch_until(&mut h, "3 restoring, 2 queued", 3, &mut max_seen, |s| {
        restoring(s) == 3 && queued(s) == 2
    })
    .await;
    let reason = s
        .databases
        .iter()
        .find_map(|d| d.state.lrs_queued.clone())
        .unwrap();
    assert!(
        reason.contains("General Purpose") && reason.contains("holds 97 other databases"),
        "{reason}"
    );
    // The instance now holds its 100 databases: the sandbox refuses another one itself.
    let (status, v) = start_other(&sb, "Extra").await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(
        v["error"]["code"],
        cutover::sandbox::arm::DATABASE_LIMIT_CODE,
        "{v}"
    );
    let mut log = Vec::new();
    while let Ok(e) = h.event_log.try_recv() {
        log.push(e.message);
    }
    assert!(
        log.iter()
            .any(|m| m.contains("General Purpose with 97 other database(s), 97 restore(s) of others running in the subscription: at most 3 restores at once")),
        "{log:#?}"
    );
    let _ = h.commands.send(EngineCommand::Shutdown);
    let _ = h.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_and_sixty_databases_queue_for_the_instances_restore_slots() {
    let state = tempfile::tempdir().unwrap();
    let specs = tiny((0..DATABASES).map(|i| format!("Db{i:03}")));
    let sb = Sandbox::start(SandboxOptions {
        restore_mbps: 400.0,
        databases: Some(specs),
        container: "wave".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut cfg = cutover::demo::engine_config(&options(state.path()), &sb, None).unwrap();
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

    // The sandbox refuses a 101st restore itself (this General Purpose instance also holds the 100
    // databases its tier allows, which it says first).
    let (status, v) = start_other(&sb, "Extra").await;
    assert_eq!(status, 409);
    assert_eq!(
        v["error"]["code"],
        cutover::sandbox::arm::DATABASE_LIMIT_CODE,
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

/// Restores on one subscription, from two activities on two of its instances: LRS runs at most 150
/// at once per subscription. The first activity holds 100 restores on `sandbox-mi`; the second,
/// on the subscription's other instance, reads them through ARM (the subscription's instances and
/// their databases) and starts 50 of its 60, the other 10 waiting Queued with the subscription's
/// reason; when 20 of the first activity's restores end (cancelled), the queued ten start. Never
/// more than 150 restoring in the subscription (the sandbox refuses the 151st itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_activities_share_the_subscriptions_hundred_and_fifty_restores() {
    use cutover::arm::StaticToken;
    use cutover::restore_target::lrs::{InstanceRef, LrsClient};
    use std::sync::Arc;

    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..DATABASES).map(|i| format!("Db{i:03}")).collect();
    let sb = Sandbox::start(SandboxOptions {
        restore_mbps: 400.0,
        databases: Some(tiny(names.clone().into_iter())),
        container: "wave".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let (other_rg, other_mi) = sb
        .info
        .other_instances
        .first()
        .cloned()
        .expect("the sandbox serves a second instance in its subscription");
    // The first activity: 100 databases on the sandbox's instance.
    let mut a_opts = options(first.path());
    a_opts.activity = "wave-one".into();
    let mut a_cfg = cutover::demo::engine_config(&a_opts, &sb, Some(&names[..100])).unwrap();
    a_cfg.scan_interval = Duration::from_millis(500);
    a_cfg.lrs_poll = Duration::from_secs(2);
    let mut a = cutover::engine::runner::start(a_cfg).unwrap();
    let mut max_a = 0;
    let sa = watch_until(
        &mut a,
        "the first activity's 100 restoring",
        100,
        &mut max_a,
        |s| restoring(s) == 100,
    )
    .await;

    // The second activity: 60 databases on the subscription's other instance (its SQL endpoint is
    // not the sandbox's, so no target SQL checks).
    let mut b_opts = options(second.path());
    b_opts.activity = "wave-two".into();
    let mut b_cfg = cutover::demo::engine_config(&b_opts, &sb, Some(&names[100..])).unwrap();
    b_cfg.scan_interval = Duration::from_millis(500);
    b_cfg.lrs_poll = Duration::from_secs(2);
    b_cfg.target_sql = None;
    b_cfg.lrs = Arc::new(
        LrsClient::new(
            &sb.info.arm_endpoint,
            Arc::new(StaticToken("t".into())),
            InstanceRef {
                subscription: sb.info.subscription_id.clone(),
                resource_group: other_rg.clone(),
                managed_instance: other_mi.clone(),
            },
        )
        .unwrap(),
    );
    let mut b = cutover::engine::runner::start(b_cfg).unwrap();
    let mut max_b = 0;
    let sb_snap = watch_until(&mut b, "50 restoring, 10 queued", 60, &mut max_b, |s| {
        restoring(s) == 50 && queued(s) == 10
    })
    .await;
    let reason = sb_snap
        .databases
        .iter()
        .find_map(|d| d.state.lrs_queued.clone())
        .unwrap();
    assert!(
        reason.contains("100 other restores run in the subscription")
            && reason.contains("at most 150"),
        "{reason}"
    );
    let mut log = Vec::new();
    while let Ok(e) = b.event_log.try_recv() {
        log.push(e.message);
    }
    assert!(
        log.iter()
            .any(|m| m.contains("100 restore(s) of others running in the subscription")),
        "{log:#?}"
    );
    // The subscription is full: the sandbox refuses another start on the instance with room.
    let (status, v) = start_on(&sb, &other_rg, &other_mi, "Extra").await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(
        v["error"]["code"],
        cutover::sandbox::arm::RESTORE_LIMIT_CODE,
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("subscription"),
        "{v}"
    );
    assert_eq!(restoring(&sa) + restoring(&sb_snap), 150);

    // Twenty of the first activity's restores end: the second's ten queued start.
    let ending: Vec<String> = sa
        .databases
        .iter()
        .filter(|d| lrs_slots::holds_slot(&d.state))
        .take(20)
        .map(|d| d.state.name.clone())
        .collect();
    for database in ending {
        a.commands.send(EngineCommand::Cancel { database }).unwrap();
    }
    watch_until(&mut a, "80 restoring", 100, &mut max_a, |s| {
        restoring(s) == 80
    })
    .await;
    watch_until(&mut b, "the queued ten started", 60, &mut max_b, |s| {
        restoring(s) == 60 && queued(s) == 0
    })
    .await;
    assert_eq!((max_a, max_b), (100, 60));
    for h in [a, b] {
        let _ = h.commands.send(EngineCommand::Shutdown);
        let _ = h.task.await;
    }
}
