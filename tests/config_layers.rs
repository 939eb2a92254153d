//! The configuration's one path (`cutover::config`): flag > environment (`CUTOVER_*`) > file >
//! default for a few keys, errors naming the key and the layer it came from (through the engine
//! builder and through `cutover run`), and the sandbox's fixed token only when the sandbox is named
//! (`[target] sandbox = true`, `--sandbox`), never for any loopback endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use azure_core::credentials::Secret;
use cutover::config::{self, ConfigFile, ProvidedSecrets, RunFlags};
use cutover::engine::TailMode;
use cutover::sandbox::blob::DEV_KEY;

const KEY_VAR: &str = "CUTOVER_TEST_LAYERS_KEY";

/// A configuration the engine builder accepts (sandbox target, account key from `KEY_VAR`), with
/// `target` and `migration` lines added to those sections.
fn config(folder: &std::path::Path, target: &str, migration: &str) -> String {
    format!(
        r#"
[migration]
activity = "file-activity"
databases = ["Sales"]
state_dir = {state:?}
{migration}

[backups]
folder = {folder:?}

[storage]
container = "http://127.0.0.1:10000/devstoreaccount1/migration"
account_key_env = "{KEY_VAR}"

[target]
subscription = "00000000-0000-0000-0000-000000000000"
resource_group = "rg"
managed_instance = "mi"
{target}
"#,
        folder = folder.display().to_string(),
        state = folder.join("state").display().to_string()
    )
}

const SANDBOX: &str = "arm_endpoint = \"http://127.0.0.1:9\"\nsandbox = true";

fn secrets() -> ProvidedSecrets {
    let mut p = ProvidedSecrets::default();
    p.by_env
        .insert(KEY_VAR.to_string(), Secret::new(DEV_KEY.to_string()));
    p
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

fn build(
    text: &str,
    flags: &RunFlags,
    vars: &[(&str, &str)],
) -> Result<cutover::engine::runner::EngineConfig, String> {
    let file = ConfigFile::parse(text).expect("parses");
    let layered = flags.layered(&file, env(vars))?;
    config::engine_config_layered(&layered, flags.retry_failed, &secrets()).map(|(c, _)| c)
}

fn refused<T>(r: Result<T, String>) -> String {
    match r {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_chain(tmp.path(), "Sales", 1, true);
    let text = config(
        tmp.path(),
        SANDBOX,
        "tail = \"skip\"\nconcurrency = 2\nscan_seconds = 1",
    );
    // The file over the defaults.
    let c = build(&text, &RunFlags::default(), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.activity, "file-activity");
    assert_eq!(c.tail, TailMode::Skip);
    assert_eq!(c.upload.concurrency, 2);
    assert_eq!(c.scan_interval, Duration::from_secs(1));
    assert_eq!(c.lrs_poll, Duration::from_secs(10), "the default");
    assert_eq!(c.upload.max_mbps, None, "the default: no cap");
    // The environment over the file (and over the defaults).
    let vars = [
        ("CUTOVER_ACTIVITY", "env-activity"),
        ("CUTOVER_TAIL", "wait"),
        ("CUTOVER_CONCURRENCY", "8"),
        ("CUTOVER_POLL_SECONDS", "3"),
        ("CUTOVER_MAX_MBPS", "50"),
    ];
    let c = build(&text, &RunFlags::default(), &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.activity, "env-activity");
    assert_eq!(c.tail, TailMode::Wait);
    assert_eq!(c.upload.concurrency, 8);
    assert_eq!(c.lrs_poll, Duration::from_secs(3));
    assert_eq!(c.upload.max_mbps, Some(50.0));
    assert_eq!(
        c.scan_interval,
        Duration::from_secs(1),
        "not in the environment: the file's"
    );
    // The flags over the environment.
    let flags = RunFlags {
        activity: Some("flag-activity".into()),
        tail: Some(TailMode::Skip),
        ..Default::default()
    };
    let c = build(&text, &flags, &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.activity, "flag-activity");
    assert_eq!(c.tail, TailMode::Skip);
    assert_eq!(c.upload.concurrency, 8, "no flag: the environment's");
    assert!(
        c.state_file.ends_with("flag-activity.json"),
        "{}",
        c.state_file.display()
    );
}

#[test]
fn errors_name_the_key_and_the_layer() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_chain(tmp.path(), "Sales", 1, true);
    let text = config(tmp.path(), SANDBOX, "");
    let e = refused(build(
        &text,
        &RunFlags::default(),
        &[("CUTOVER_MAX_MBPS", "-3")],
    ));
    assert!(
        e.starts_with("[migration] max_mbps (from CUTOVER_MAX_MBPS) = -3: must be > 0"),
        "{e}"
    );
    let e = refused(build(
        &text,
        &RunFlags::default(),
        &[("CUTOVER_CONCURRENCY", "0")],
    ));
    assert!(
        e.starts_with("[migration] concurrency (from CUTOVER_CONCURRENCY) = 0: must be 1..64"),
        "{e}"
    );
    let e = refused(build(
        &text,
        &RunFlags::default(),
        &[("CUTOVER_STOP_TRAFFIC", "off")],
    ));
    assert!(
        e.starts_with("[migration] stop_traffic (from CUTOVER_STOP_TRAFFIC) = \"off\": use"),
        "{e}"
    );
    // From the file: the key alone.
    let text = config(tmp.path(), SANDBOX, "max_mbps = -3");
    let e = refused(build(&text, &RunFlags::default(), &[]));
    assert!(
        e.starts_with("[migration] max_mbps = -3: must be > 0"),
        "{e}"
    );
}

#[test]
fn cutover_run_reads_the_environment_and_its_flags_win() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_chain(tmp.path(), "Sales", 1, true);
    let path = tmp.path().join("c.toml");
    std::fs::write(&path, config(tmp.path(), SANDBOX, "")).unwrap();
    let run = |args: &[&str], vars: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
        c.args(["run", "--config"]).arg(&path).args(args);
        c.env(KEY_VAR, DEV_KEY);
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().expect("run cutover");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[], &[("CUTOVER_CUTOVER", "now")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "[migration] cutover (from CUTOVER_CUTOVER) = \"now\": use \"never\" or \"when-ready\""
        ),
        "{err}"
    );
    // The flag wins over the environment: the run gets past the cutover mode (and stops at the
    // next bad value, also from the environment).
    let (code, err) = run(
        &["--cutover", "never"],
        &[("CUTOVER_CUTOVER", "now"), ("CUTOVER_MAX_MBPS", "-3")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("[migration] cutover"), "{err}");
    assert!(
        err.contains("[migration] max_mbps (from CUTOVER_MAX_MBPS) = -3: must be > 0"),
        "{err}"
    );
    // A value that is not a number names the variable.
    let (code, err) = run(&[], &[("CUTOVER_CONCURRENCY", "many")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("CUTOVER_CONCURRENCY") && err.contains("[migration] concurrency"),
        "{err}"
    );
}

#[test]
fn the_sandbox_token_only_when_the_sandbox_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_chain(tmp.path(), "Sales", 1, true);
    // Named, but not on this machine: refused before any request (the fixed token never leaves).
    let text = config(
        tmp.path(),
        "arm_endpoint = \"https://management.azure.com\"\nsandbox = true",
        "",
    );
    let e = refused(build(&text, &RunFlags::default(), &[]));
    assert!(
        e.contains("[target] sandbox") && e.contains("loopback"),
        "{e}"
    );
    // `--sandbox` says the same as the key.
    let text = config(tmp.path(), "arm_endpoint = \"http://127.0.0.1:9\"", "");
    let flags = RunFlags {
        sandbox: true,
        ..Default::default()
    };
    assert!(build(&text, &flags, &[]).is_ok());
    let e = refused(build(
        &config(tmp.path(), "arm_endpoint = \"https://example.invalid\"", ""),
        &flags,
        &[],
    ));
    assert!(e.contains("--sandbox"), "{e}");
    // `cutover lrs` on a loopback endpoint without --sandbox asks the Azure credential (here a
    // workload identity that cannot exist) and says how to name the sandbox.
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
            "http://127.0.0.1:9",
            "--aad",
            "workload-identity",
        ])
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_TENANT_ID")
        .output()
        .expect("run cutover");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("loopback") && err.contains("--sandbox"),
        "{err}"
    );
}
