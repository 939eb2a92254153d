//! Target database names Azure refuses (`..`, over 128 characters, `/`...) fail at once, naming the
//! field, before anything is uploaded or any request is sent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::process::Command;

use azure_core::credentials::Secret;
use cutover::config::ConfigFile;
use cutover::config::{self, ProvidedSecrets, RunFlags};
use cutover::sandbox::blob::DEV_KEY;

fn config(folder: &std::path::Path, target_name: &str) -> String {
    format!(
        r#"
[migration]
activity = "names-test"
state_dir = {state:?}

[backups]
folder = {folder:?}

[[backups.database]]
name = "Sales"
target_name = {target_name:?}

[storage]
container = "http://127.0.0.1:10000/devstoreaccount1/migration"
account_key_env = "CUTOVER_TEST_NAMES_KEY"

[target]
arm_endpoint = "http://127.0.0.1:9"
sandbox = true
subscription = "00000000-0000-0000-0000-000000000000"
resource_group = "rg"
managed_instance = "mi"
"#,
        folder = folder.display().to_string(),
        state = folder.join("state").display().to_string()
    )
}

#[test]
fn a_config_target_name_azure_refuses_is_refused_naming_the_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    common::write_chain(tmp.path(), "Sales", 1, true);
    let mut p = ProvidedSecrets::default();
    p.by_env.insert(
        "CUTOVER_TEST_NAMES_KEY".to_string(),
        Secret::new(DEV_KEY.to_string()),
    );
    let check = |name: &str| {
        let file = ConfigFile::parse(&config(tmp.path(), name)).expect("parses");
        config::engine_config_with(&file, &RunFlags::default(), &p).map(|_| ())
    };
    check("Sales_migrated").expect("a good name is accepted");
    for bad in ["..".to_string(), "x".repeat(129), "a/b".to_string()] {
        let e = check(&bad).expect_err(&bad);
        assert!(
            e.contains("[[backups.database]] target_name of Sales"),
            "{e}"
        );
    }
}

#[test]
fn lrs_commands_refuse_a_bad_name_before_any_request() {
    // 192.0.2.10 (TEST-NET-1) would hang if contacted; the refusal comes first.
    for bad in ["..", &"n".repeat(129)] {
        let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
            .args([
                "lrs",
                "status",
                "-g",
                "rg",
                "--mi",
                "mi",
                "-n",
                bad,
                "--subscription",
                "sub",
                "--arm-endpoint",
                "https://192.0.2.10",
            ])
            .output()
            .expect("run cutover");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("-n/--name"), "{err}");
    }
}
