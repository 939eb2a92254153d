//! Secrets on the command line: every SAS-taking command has an `-env` form that keeps the secret out
//! of the process arguments; the old forms (`--sas TOKEN`, a SAS in `--container URL`, `sas check
//! TOKEN`) keep working and warn on stderr, without echoing the secret.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::process::Command;

use cutover::sandbox::{Sandbox, SandboxOptions};

const WARNED: &str = "process arguments";

fn cutover(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.args(args)
        .env_remove("CUTOVER_STORAGE_SAS")
        .env_remove("CUTOVER_LRS_SAS");
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

fn sign(sb: &Sandbox, perms: &str) -> String {
    cutover::storage::sas::service_sas_for_container(
        &sb.info.account_name,
        &sb.info.account_key,
        &sb.info.container,
        &perms.parse().expect("perms"),
        None,
        time::OffsetDateTime::now_utc() + time::Duration::days(20),
    )
    .expect("sas")
    .into_query()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_takes_the_sas_from_an_environment_variable_and_warns_about_the_flag() {
    let sb = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox");
    let container = format!("{}/{}", sb.info.blob_endpoint, sb.info.container);
    let sas = sign(&sb, "rcwl");
    let tmp = tempfile::tempdir().expect("tmp");
    common::write_chain(tmp.path(), "Sales", 1, true);
    let dir = tmp.path().to_string_lossy().into_owned();
    let base = ["upload", dir.as_str(), "--stable-seconds", "0", "--json"];

    let with = |extra: &[&str], envs: &[(&str, &str)]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        cutover(&args, envs)
    };

    // --sas-env VAR: no warning.
    let (code, out, err) = with(
        &["--container", &container, "--sas-env", "MY_UPLOAD_SAS"],
        &[("MY_UPLOAD_SAS", &sas)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"failed\":0"), "{out}");
    assert!(!err.contains(WARNED), "{err}");

    // The default variable: no warning either.
    let (code, _, err) = with(
        &["--container", &container],
        &[("CUTOVER_STORAGE_SAS", &sas)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(WARNED), "{err}");

    // --sas TOKEN still works, with a warning that does not repeat the token.
    let (code, _, err) = with(&["--container", &container, "--sas", &sas], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: --sas puts the secret in the process arguments")
            && err.contains("--sas-env VAR"),
        "{err}"
    );
    assert!(!err.contains(&sas), "{err}");

    // A SAS inside --container: works, warned about.
    let (code, _, err) = with(&["--container", &format!("{container}?{sas}")], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the --container URL carries a SAS token") && err.contains("--sas-env"),
        "{err}"
    );
    assert!(!err.contains(&sas), "{err}");

    // A variable that is not set, or both forms at once: refused naming the flag, exit 2.
    let (code, _, err) = with(
        &[
            "--container",
            &container,
            "--sas-env",
            "NOT_SET_ANYWHERE_42",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--sas-env NOT_SET_ANYWHERE_42"), "{err}");
    let (code, _, err) = with(
        &[
            "--container",
            &container,
            "--sas",
            &sas,
            "--sas-env",
            "MY_UPLOAD_SAS",
        ],
        &[("MY_UPLOAD_SAS", &sas)],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--sas-env"), "{err}");
}

#[test]
fn sas_check_reads_the_token_from_an_environment_variable() {
    let sas = cutover::storage::sas::service_sas_for_container(
        "devstoreaccount1",
        cutover::sandbox::blob::DEV_KEY,
        "migration",
        &"rl".parse().expect("perms"),
        None,
        time::OffsetDateTime::now_utc() + time::Duration::days(30),
    )
    .expect("sas")
    .into_query();
    let (code, out, err) = cutover(
        &["sas", "check", "--sas-env", "MY_MI_SAS"],
        &[("MY_MI_SAS", &sas)],
    );
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("ok: Read + List"), "{out}");
    assert!(!err.contains(WARNED), "{err}");
    let (code, out, err) = cutover(&["sas", "check", &sas], &[]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        err.contains("warning: TOKEN puts the secret in the process arguments"),
        "{err}"
    );
    let (code, _, err) = cutover(&["sas", "check"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--sas-env"), "{err}");
}
