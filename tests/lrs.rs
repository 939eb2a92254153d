//! End to end against the sandbox (local Azure): upload a chain, `cutover lrs start`, follow status to
//! all restored, pick up new logs, complete; and each LRS rule with its documented error code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cutover::backup::writer::{MediaSpec, write_backup};
use cutover::sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

fn cutover(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("run cutover");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Env {
    sb: Sandbox,
}

impl Env {
    async fn new(mbps: f64) -> Env {
        Env::with(SandboxOptions {
            restore_mbps: mbps,
            ..Default::default()
        })
        .await
    }

    async fn with(opts: SandboxOptions) -> Env {
        let sb = Sandbox::start(opts).await.expect("sandbox");
        Env { sb }
    }

    fn container_url(&self) -> String {
        format!("{}/{}", self.sb.info.blob_endpoint, self.sb.info.container)
    }

    fn upload(&self, dir: &Path) {
        let (code, _out, err) = cutover(
            &[
                "upload",
                &dir.to_string_lossy(),
                "--container",
                &self.container_url(),
                "--account-key-env",
                "SB_KEY",
                "--stable-seconds",
                "0",
            ],
            &[("SB_KEY", &self.sb.info.account_key)],
        );
        assert_eq!(code, 0, "upload failed: {err}");
    }

    /// Uploads every file under its relative path (folders as they are), without planning.
    fn upload_as_is(&self, dir: &Path) {
        let (code, _out, err) = cutover(
            &[
                "upload",
                "--all-files",
                &dir.to_string_lossy(),
                "--container",
                &self.container_url(),
                "--account-key-env",
                "SB_KEY",
                "--stable-seconds",
                "0",
            ],
            &[("SB_KEY", &self.sb.info.account_key)],
        );
        assert_eq!(code, 0, "upload failed: {err}");
    }

    fn target_args(&self, db: &str) -> Vec<String> {
        let i = &self.sb.info;
        vec![
            "-g".into(),
            i.resource_group.clone(),
            "--mi".into(),
            i.managed_instance.clone(),
            "-n".into(),
            db.into(),
            "--subscription".into(),
            i.subscription_id.clone(),
            "--arm-endpoint".into(),
            i.arm_endpoint.clone(),
            // The sandbox is named, never guessed from the loopback address.
            "--sandbox".into(),
            "--json".into(),
        ]
    }

    fn lrs(&self, verb: &str, db: &str, extra: &[&str]) -> (i32, String, String) {
        self.lrs_with_env(verb, db, extra, &[])
    }

    fn lrs_with_env(
        &self,
        verb: &str,
        db: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> (i32, String, String) {
        let mut args: Vec<String> = vec!["lrs".into(), verb.into()];
        args.extend(self.target_args(db));
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cutover(&refs, envs)
    }

    /// `lrs start` with the SAS in an environment variable (`--storage-sas-env`), the documented form.
    fn start(&self, db: &str, folder: &str, sas: &str) -> (i32, String, String) {
        let uri = format!("{}/{folder}", self.container_url());
        let (code, out, err) = self.lrs_with_env(
            "start",
            db,
            &["--storage-uri", &uri, "--storage-sas-env", "LRS_TEST_SAS"],
            &[("LRS_TEST_SAS", sas)],
        );
        assert!(!err.contains("process arguments"), "{err}");
        (code, out, err)
    }

    /// `lrs start --storage-sas TOKEN`: still works, with a warning.
    fn start_with_sas_flag(&self, db: &str, folder: &str, sas: &str) -> (i32, String, String) {
        let uri = format!("{}/{folder}", self.container_url());
        self.lrs("start", db, &["--storage-uri", &uri, "--storage-sas", sas])
    }

    fn status(&self, db: &str) -> Value {
        let (code, out, err) = self.lrs("status", db, &[]);
        assert_eq!(code, 0, "status failed: {err}");
        serde_json::from_str(&out).expect("status json")
    }

    fn wait_for(&self, db: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.status(db);
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last status: {s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn name_of(p: &Path) -> String {
    p.file_name().expect("name").to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_migration_through_lrs() {
    let env = Env::new(50.0).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let paths = common::write_chain(tmp.path(), "Sales", 3, true);
    env.upload(tmp.path());
    let sas = env.sb.info.container_sas.clone();
    let (code, _, err) = env.start("Sales", "Sales", &sas);
    assert_eq!(code, 0, "start: {err}");
    // Starting again: a restore is running. (The SAS given as a flag still works, with a warning
    // that `ps` shows it.)
    let (code, out, err) = env.start_with_sas_flag("Sales", "Sales", &sas);
    assert_eq!(code, 1);
    assert!(out.contains("DuplicateRestoreOperation"), "{out}");
    assert!(
        err.contains("warning: --storage-sas puts the secret in the process arguments")
            && err.contains("--storage-sas-env VAR"),
        "{err}"
    );
    assert!(!err.contains(&sas), "the warning shows the SAS: {err}");
    // A variable named but not set: refused naming it, before any request.
    let (code, _, err) = env.lrs(
        "start",
        "Sales",
        &[
            "--storage-uri",
            &format!("{}/Sales", env.container_url()),
            "--storage-sas-env",
            "LRS_TEST_SAS_NOT_SET",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("LRS_TEST_SAS_NOT_SET"), "{err}");

    let last = name_of(paths.last().expect("last"));
    let s = env.wait_for("Sales", "all restored", |s| {
        s["lastRestoredFileName"] == Value::String(last.clone())
    });
    assert_eq!(s["status"], "Restoring");
    assert_eq!(s["numberOfFilesDetected"], 5);
    assert!(
        s["percentCompleted"].as_f64().is_some_and(|p| p >= 99.9),
        "{s}"
    );

    // A new log arrives: written with the backup writer, continuing the chain.
    let specs = common::chain_specs("Sales", 4, true);
    let next = tmp.path().join("Sales_LOG_004.trn");
    let media = MediaSpec {
        media_set_guid: common::guid("next"),
        family_count: 1,
        family_sequence: 1,
        media_date: None,
    };
    write_backup(&next, &media, &specs[5..6]).expect("write log 4");
    env.upload(tmp.path());
    env.wait_for("Sales", "the new log restored", |s| {
        s["lastRestoredFileName"] == "Sales_LOG_004.trn"
    });

    // Completing with a file that is not the last restored is refused with the documented code.
    let (code, out, err) = env.lrs("complete", "Sales", &["--last-backup-name", &last]);
    assert_eq!(code, 1);
    assert!(
        out.contains("RequiredBackupIsNotLastRestored") && err.contains("last restored"),
        "{out} {err}"
    );
    let (code, _, err) = env.lrs(
        "complete",
        "Sales",
        &["--last-backup-name", "Sales_LOG_004.trn"],
    );
    assert_eq!(code, 0, "complete: {err}");
    let s = env.status("Sales");
    assert_eq!(s["status"], "Completed");
    // Completing twice.
    let (code, out, _) = env.lrs(
        "complete",
        "Sales",
        &["--last-backup-name", "Sales_LOG_004.trn"],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("ManagedDatabaseNotInRestoringState")
            || out.contains("ExternalBackupAlreadySignaledToComplete"),
        "{out}"
    );
    // The name is now in use.
    let (code, out, _) = env.start("Sales", "Sales", &sas);
    assert_eq!(code, 1);
    assert!(out.contains("ManagedDatabaseNameInUse"), "{out}");
}

/// LRS cancels a restore still restoring when its job limit (Azure: 30 days) has passed and drops
/// the database: status and the database answer 404, and the name can be restored again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_past_the_job_limit_is_cancelled_and_its_database_dropped() {
    let env = Env::with(SandboxOptions {
        restore_mbps: 50.0,
        lrs_job_limit: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    common::write_chain(tmp.path(), "Sales", 1, true);
    env.upload(tmp.path());
    let sas = env.sb.info.container_sas.clone();
    let started = Instant::now();
    let (code, _, err) = env.start("Sales", "Sales", &sas);
    assert_eq!(code, 0, "start: {err}");
    assert_eq!(env.status("Sales")["status"], "Restoring");
    let (out, elapsed) = loop {
        let (code, out, _) = env.lrs("status", "Sales", &[]);
        if code != 0 {
            break (out, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still there after the limit: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        elapsed >= Duration::from_secs(2),
        "cancelled early: {elapsed:?}"
    );
    assert!(out.contains("ResourceNotFound"), "{out}");
    let (code, out, _) = env.lrs("complete", "Sales", &["--last-backup-name", "x.trn"]);
    assert_eq!(code, 1, "{out}");
    // The database was dropped: the name is free for a new restore.
    let (code, _, err) = env.start("Sales", "Sales", &sas);
    assert_eq!(code, 0, "start again: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_with_documented_codes() {
    let env = Env::new(200.0).await;
    let key = env.sb.info.account_key.clone();
    let now = time::OffsetDateTime::now_utc();
    let write_sas = cutover::storage::sas::service_sas_for_container(
        &env.sb.info.account_name,
        &key,
        &env.sb.info.container,
        &"rwl".parse().expect("perms"),
        None,
        now + time::Duration::days(1),
    )
    .expect("sas")
    .into_query();
    let sas = env.sb.info.container_sas.clone();

    // SAS with write permission.
    let (code, out, err) = env.start("A", "A", &write_sas);
    assert_eq!(code, 1);
    assert!(
        out.contains("BlobStorageFailure") && err.contains("Read and List"),
        "{out} {err}"
    );
    // "backup" in a folder name.
    let (code, out, _) = env.start("A", "SalesBackups", &sas);
    assert_eq!(code, 1);
    assert!(out.contains("ExternalBackupUriMalformed"), "{out}");
    // Missing SAS: refused by the client before sending; the service's own check is the code.
    let (code, _, err) = env.lrs(
        "start",
        "A",
        &["--storage-uri", &format!("{}/A", env.container_url())],
    );
    assert_eq!(code, 2, "{err}");

    // Two databases in one folder.
    let tmp = tempfile::tempdir().expect("tmp");
    let two = tmp.path().join("Two");
    std::fs::create_dir_all(&two).expect("mkdir");
    common::write_chain(&two, "Two", 1, true);
    common::write_chain(&two, "Other", 1, true);
    // Upload as-is so both land in one folder (the planner would split them).
    let (code, _, err) = cutover(
        &[
            "upload",
            "--all-files",
            &tmp.path().to_string_lossy(),
            "--container",
            &env.container_url(),
            "--account-key-env",
            "K",
            "--stable-seconds",
            "0",
        ],
        &[("K", &key)],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.start("Two", "Two", &sas);
    assert_eq!(code, 0, "{err}");
    let s = env.wait_for("Two", "blocked", |s| s["blockReason"].is_string());
    assert!(
        s["blockReason"]
            .as_str()
            .is_some_and(|b| b.contains("BackupsFromMultipleDatabasesDetectedInTheContainer")),
        "{s}"
    );

    // Broken chain: a log missing in the middle.
    let tmp = tempfile::tempdir().expect("tmp");
    let gap = tmp.path().join("Gap");
    std::fs::create_dir_all(&gap).expect("mkdir");
    let paths = common::write_chain(&gap, "Gap", 4, true);
    std::fs::remove_file(&paths[3]).expect("rm");
    // As-is: the planner would not upload the logs after the gap.
    env.upload_as_is(tmp.path());
    let (code, _, err) = env.start("Gap", "Gap", &sas);
    assert_eq!(code, 0, "{err}");
    let s = env.wait_for("Gap", "gap", |s| {
        s["blockReason"]
            .as_str()
            .is_some_and(|b| b.contains("BrokenRestorePlanGapInLogBackups"))
    });
    assert_eq!(s["lastRestoredFileName"], "Gap_LOG_001.trn", "{s}");

    // No full backup.
    let tmp = tempfile::tempdir().expect("tmp");
    let nf = tmp.path().join("NoFull");
    std::fs::create_dir_all(&nf).expect("mkdir");
    let paths = common::write_chain(&nf, "NoFull", 1, true);
    std::fs::remove_file(&paths[0]).expect("rm");
    env.upload(&nf);
    // The uploader plans by database: with no full it uploads nothing; put the files there as-is.
    let (code, _, err) = cutover(
        &[
            "upload",
            "--all-files",
            &tmp.path().to_string_lossy(),
            "--container",
            &env.container_url(),
            "--account-key-env",
            "K",
            "--stable-seconds",
            "0",
        ],
        &[("K", &key)],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.start("NoFull", "NoFull", &sas);
    assert_eq!(code, 0, "{err}");
    let s = env.wait_for("NoFull", "no full", |s| {
        s["blockReason"]
            .as_str()
            .is_some_and(|b| b.contains("FullBackupNotFound"))
    });
    assert!(s["lastRestoredFileName"].is_null());

    // Without CHECKSUM: restores, with the warning surfaced in the plan (and more slowly).
    let tmp = tempfile::tempdir().expect("tmp");
    let nc = tmp.path().join("NoCk");
    std::fs::create_dir_all(&nc).expect("mkdir");
    common::write_chain(&nc, "NoCk", 1, false);
    env.upload(&nc);
    let (code, _, err) = env.start("NoCk", "NoCk", &sas);
    assert_eq!(code, 0, "{err}");
    env.wait_for("NoCk", "restored without checksum", |s| {
        s["lastRestoredFileName"] == "NoCk_LOG_001.trn"
    });
    // The preview shape lists the sets; each says it has no CHECKSUM (the warning DMS shows).
    let i = &env.sb.info;
    let url = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}/databases/NoCk/restoreDetails/Default?api-version=2022-11-01-preview",
        i.arm_endpoint, i.subscription_id, i.resource_group, i.managed_instance
    );
    let v: Value = reqwest::Client::new()
        .get(&url)
        .bearer_auth("t")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let full = &v["properties"]["fullBackupSets"][0];
    assert_eq!(full["hasBackupChecksums"], false, "{v}");
    assert_eq!(full["status"], "Restored", "{v}");
    assert_eq!(v["properties"]["type"], "LRSRestore");

    // A differential whose base full is not in the folder.
    let tmp = tempfile::tempdir().expect("tmp");
    let wd = tmp.path().join("WrongDiff");
    std::fs::create_dir_all(&wd).expect("mkdir");
    let mut specs = common::chain_specs("WrongDiff", 0, true);
    specs[1].database_backup_lsn = cutover::backup::Lsn::new(common::CHAIN_VLF, 99, 1);
    for (i, spec) in specs.iter().enumerate() {
        let media = MediaSpec {
            media_set_guid: common::guid(&format!("wd{i}")),
            family_count: 1,
            family_sequence: 1,
            media_date: None,
        };
        write_backup(
            &wd.join(format!("WrongDiff_{i}.bak")),
            &media,
            std::slice::from_ref(spec),
        )
        .expect("write");
    }
    env.upload_as_is(tmp.path());
    let (code, _, err) = env.start("WrongDiff", "WrongDiff", &sas);
    assert_eq!(code, 0, "{err}");
    let s = env.wait_for("WrongDiff", "wrong diff base", |s| {
        s["blockReason"]
            .as_str()
            .is_some_and(|b| b.contains("BrokenRestorePlanWrongDiffBackupLSN"))
    });
    assert!(
        s["blockReason"]
            .as_str()
            .is_some_and(|b| b.contains("WrongDiff_1.bak")),
        "{s}"
    );

    // Completing a database that was never started.
    let (code, out, _) = env.lrs("complete", "Nothing", &["--last-backup-name", "x.trn"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("ExternalBackupRestoreHasNotBeenStarted"),
        "{out}"
    );

    // Cancel drops the restoring database.
    let (code, _, err) = env.lrs("cancel", "Gap", &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = env.lrs("status", "Gap", &[]);
    assert_eq!(code, 1, "{out}");
}

/// az's verbs beside cutover's: `show` (= status), `wait` (until a file is restored, a status, or
/// the restore is gone; exit 3 on timeout), `stop` (= cancel, same checks); and `--subscription`
/// taken from AZURE_SUBSCRIPTION_ID or the Azure CLI's default subscription, saying which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_verbs_show_wait_stop_and_the_default_subscription() {
    let env = Env::new(50.0).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let paths = common::write_chain(tmp.path(), "Waits", 2, true);
    env.upload(tmp.path());
    let (code, _, err) = env.start("Waits", "Waits", &env.sb.info.container_sas.clone());
    assert_eq!(code, 0, "start: {err}");
    let last = name_of(paths.last().expect("last"));

    // wait --last-restored: returns 0 once the file is restored.
    let (code, out, err) = env.lrs(
        "wait",
        "Waits",
        &[
            "--last-restored",
            &last,
            "--timeout",
            "60",
            "--interval",
            "0.2",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    let v: Value = serde_json::from_str(out.trim()).expect("wait json");
    assert_eq!(v["outcome"], "met");
    assert_eq!(v["restoreDetails"]["lastRestoredFileName"], last.as_str());
    // show is status.
    let (code, out, err) = env.lrs("show", "Waits", &[]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("show json");
    assert_eq!(shown["lastRestoredFileName"], last.as_str());
    // A status that does not come within the timeout: exit 3, said so.
    let started = Instant::now();
    let (code, out, _) = env.lrs(
        "wait",
        "Waits",
        &[
            "--status",
            "Completed",
            "--timeout",
            "0.5",
            "--interval",
            "0.1",
        ],
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("\"outcome\":\"timeout\""), "{out}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // The subscription from AZURE_SUBSCRIPTION_ID, then from the Azure CLI's profile.
    let i = &env.sb.info;
    let mut args: Vec<String> = vec!["lrs".into(), "show".into()];
    args.extend(
        [
            "-g",
            &i.resource_group,
            "--mi",
            &i.managed_instance,
            "-n",
            "Waits",
            "--arm-endpoint",
            &i.arm_endpoint,
            "--sandbox",
        ]
        .map(str::to_string),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let profile_dir = tempfile::tempdir().expect("tmp");
    let (code, _, err) = cutover(
        &refs,
        &[
            ("AZURE_SUBSCRIPTION_ID", &i.subscription_id),
            ("AZURE_CONFIG_DIR", &profile_dir.path().to_string_lossy()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "using subscription {} from AZURE_SUBSCRIPTION_ID",
            i.subscription_id
        )),
        "{err}"
    );
    std::fs::write(
        profile_dir.path().join("azureProfile.json"),
        format!(
            "\u{feff}{{\"subscriptions\":[{{\"id\":\"00000000-0000-0000-0000-00000000dead\",\"name\":\"Other\",\"isDefault\":false}},{{\"id\":\"{}\",\"name\":\"Migration\",\"isDefault\":true}}]}}",
            i.subscription_id
        ),
    )
    .expect("profile");
    let (code, _, err) = cutover(
        &refs,
        &[
            ("AZURE_SUBSCRIPTION_ID", ""),
            ("AZURE_CONFIG_DIR", &profile_dir.path().to_string_lossy()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the Azure CLI's default subscription 'Migration'"),
        "{err}"
    );
    // Neither: refused with the three ways to give one.
    std::fs::remove_file(profile_dir.path().join("azureProfile.json")).expect("rm");
    let (code, _, err) = cutover(
        &refs,
        &[
            ("AZURE_SUBSCRIPTION_ID", ""),
            ("AZURE_CONFIG_DIR", &profile_dir.path().to_string_lossy()),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("az account set"), "{err}");

    // stop is cancel (the same checks), then wait --deleted returns once the restore is gone.
    let (code, _, err) = env.lrs("stop", "Waits", &[]);
    assert_eq!(code, 0, "stop: {err}");
    let (code, out, err) = env.lrs(
        "wait",
        "Waits",
        &["--deleted", "--timeout", "30", "--interval", "0.2"],
    );
    assert_eq!(code, 0, "{out} {err}");
    // Waiting for a file on a restore that is gone cannot succeed: exit 1 at once.
    let (code, out, _) = env.lrs(
        "wait",
        "Waits",
        &["--last-restored", &last, "--timeout", "30"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"outcome\":\"never\""), "{out}");
}
