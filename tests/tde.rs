//! TDE certificates: the PFX cutover builds from the `.cer` and `.pvk` that BACKUP CERTIFICATE
//! writes opens with a standard tool (`openssl pkcs12 -info`), carries the source certificate
//! (same SHA-1 thumbprint) and its key; the sandbox's `.pvk` is a real PVK (openssl reads it).
//! End to end: the sandbox's TDE database is blocked by LRS with MissingThumbprint, `cutover tde
//! list` names its certificate as missing, `cutover tde migrate` exports, converts and uploads it
//! and removes its files, then the restore goes on and completes; the passwords and the private
//! key appear in no output and no file left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap fails the run

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use cutover::sandbox::instance::DatabaseSpec;
use cutover::sandbox::{Sandbox, SandboxOptions};

use cutover::sandbox::tde::ServerCertificate;
use cutover::tde::{SecretText, Thumbprint, build_pfx, pvk_to_pkcs8};

fn openssl() -> Option<&'static str> {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("openssl is needed by tests/tde.rs under CI (apt-get install openssl)");
    }
    ok.then_some("openssl")
}

#[test]
fn pvk_and_cer_become_a_pfx_openssl_opens_with_the_source_thumbprint() {
    let Some(openssl) = openssl() else {
        eprintln!("openssl missing: skipped");
        return;
    };
    let cert = ServerCertificate::create("TDECert", "TDE certificate for Payroll").unwrap();
    let pvk_password = SecretText::generate();
    let pvk = cert.pvk(pvk_password.expose()).unwrap();
    let key = pvk_to_pkcs8(&pvk, Some(&pvk_password)).unwrap();
    // A wrong password is refused, not turned into a garbage key.
    let wrong = SecretText::new("Wrong-Password-1".into());
    assert!(pvk_to_pkcs8(&pvk, Some(&wrong)).is_err());

    let pfx_password = SecretText::generate();
    let pfx = build_pfx(&cert.der, &key, &pfx_password, "TDECert").unwrap();
    assert_eq!(pfx.thumbprint, Thumbprint(cert.thumbprint));

    let dir = tempfile::tempdir().unwrap();
    let pfx_path = dir.path().join("tde.pfx");
    std::fs::write(&pfx_path, pfx.bytes.expose()).unwrap();
    let info = Command::new(openssl)
        .args(["pkcs12", "-info", "-nokeys", "-in"])
        .arg(&pfx_path)
        .args(["-passin", "env:TDE_PFX_PW"])
        .env("TDE_PFX_PW", pfx_password.expose())
        .output()
        .unwrap();
    assert!(
        info.status.success(),
        "openssl pkcs12 -info failed: {}",
        String::from_utf8_lossy(&info.stderr)
    );
    let text = String::from_utf8_lossy(&info.stdout).to_string();
    assert!(text.contains("BEGIN CERTIFICATE"), "{text}");
    let pem_path = dir.path().join("cert.pem");
    std::fs::write(&pem_path, &text).unwrap();
    let fp = Command::new(openssl)
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(&pem_path)
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout).to_string();
    let hex = fp.trim().rsplit('=').next().unwrap();
    assert_eq!(
        Thumbprint::parse(hex),
        Some(Thumbprint(cert.thumbprint)),
        "{fp}"
    );

    // The key in the PFX is the certificate's: openssl's modulus of both agree.
    let keyout = Command::new(openssl)
        .args(["pkcs12", "-nocerts", "-nodes", "-in"])
        .arg(&pfx_path)
        .args(["-passin", "env:TDE_PFX_PW"])
        .env("TDE_PFX_PW", pfx_password.expose())
        .output()
        .unwrap();
    assert!(keyout.status.success());
    let key_pem = dir.path().join("key.pem");
    std::fs::write(&key_pem, &keyout.stdout).unwrap();
    let modulus = |args: &[&str], path: &std::path::Path| {
        let o = Command::new(openssl).args(args).arg(path).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let km = modulus(&["rsa", "-noout", "-modulus", "-in"], &key_pem);
    let cm = modulus(&["x509", "-noout", "-modulus", "-in"], &pem_path);
    assert!(km.starts_with("Modulus=") && km == cm);

    // A wrong PFX password does not open it.
    let bad = Command::new(openssl)
        .args(["pkcs12", "-info", "-nokeys", "-in"])
        .arg(&pfx_path)
        .args(["-passin", "pass:not-the-password"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn the_sandbox_pvk_is_a_pvk_openssl_reads() {
    let Some(openssl) = openssl() else {
        return;
    };
    let cert = ServerCertificate::create("C", "pvk check").unwrap();
    let pw = SecretText::generate();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.pvk");
    std::fs::write(&p, cert.pvk(pw.expose()).unwrap()).unwrap();
    let o = Command::new(openssl)
        .args([
            "rsa",
            "-inform",
            "PVK",
            "-noout",
            "-modulus",
            "-provider",
            "legacy",
            "-provider",
            "default",
            "-in",
        ])
        .arg(&p)
        .args(["-passin", "env:PVK_PW"])
        .env("PVK_PW", pw.expose())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cer = dir.path().join("c.cer");
    std::fs::write(&cer, &cert.der).unwrap();
    let c = Command::new(openssl)
        .args(["x509", "-inform", "DER", "-noout", "-modulus", "-in"])
        .arg(&cer)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        String::from_utf8_lossy(&c.stdout).trim()
    );
}

fn cutover(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.args(args).env("RUST_LOG", "trace");
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

fn arm_args(sb: &Sandbox) -> Vec<String> {
    let i = &sb.info;
    vec![
        "-g".into(),
        i.resource_group.clone(),
        "--mi".into(),
        i.managed_instance.clone(),
        "--subscription".into(),
        i.subscription_id.clone(),
        "--arm-endpoint".into(),
        i.arm_endpoint.clone(),
        "--sandbox".into(),
    ]
}

fn source_args(sb: &Sandbox) -> Vec<String> {
    vec![
        "--server".into(),
        sb.info.sql_server.clone(),
        "--user".into(),
        sb.info.sql_user.clone(),
        "--plaintext".into(),
        "--json".into(),
    ]
}

fn run(args: Vec<String>, sb: &Sandbox, log: &mut String) -> (i32, String, String) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = cutover(&refs, &[("CUTOVER_SOURCE_PASSWORD", &sb.info.sql_password)]);
    log.push_str(&r.1);
    log.push_str(&r.2);
    r
}

fn status(sb: &Sandbox, db: &str, log: &mut String) -> Value {
    let mut args = vec![
        "lrs".to_string(),
        "status".into(),
        "-n".into(),
        db.into(),
        "--json".into(),
    ];
    args.extend(arm_args(sb));
    let (code, out, err) = run(args, sb, log);
    assert_eq!(code, 0, "status: {err}");
    serde_json::from_str(&out).expect("status json")
}

fn wait_for(
    sb: &Sandbox,
    db: &str,
    what: &str,
    log: &mut String,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = status(sb, db, log);
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_tde_database_migrates_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let mut payroll = DatabaseSpec::new("Payroll");
    payroll.tde = true;
    let sb = Sandbox::start(SandboxOptions {
        restore_mbps: 100.0,
        data_dir: Some(tmp.path().join("sandbox")),
        backup_dir: Some(backups.clone()),
        databases: Some(vec![DatabaseSpec::new("Sales"), payroll]),
        ..Default::default()
    })
    .await
    .unwrap();
    let cert = sb
        .sql
        .certificates()
        .into_iter()
        .find(|c| !c.name.starts_with("##"))
        .expect("the TDE certificate in master");
    let thumb = Thumbprint(cert.thumbprint);
    let mut log = String::new();

    // The backups' headers carry the thumbprint; the unencrypted database's do not.
    let payroll_dir = backups.join("Payroll");
    let mut payroll_files: Vec<_> = files_under(&payroll_dir);
    payroll_files.sort();
    for f in &payroll_files {
        let sets = cutover::backup::read_backup_file(f).unwrap();
        assert_eq!(
            sets[0].tde_thumbprint.as_deref(),
            Some(thumb.to_string().as_str())
        );
    }
    for f in files_under(&backups.join("Sales")) {
        let sets = cutover::backup::read_backup_file(&f).unwrap();
        assert_eq!(sets[0].tde_thumbprint, None);
    }

    // Upload the TDE database's chain and start LRS: blocked with MissingThumbprint.
    let container = format!("{}/{}", sb.info.blob_endpoint, sb.info.container);
    let (code, _, err) = cutover(
        &[
            "upload",
            &payroll_dir.to_string_lossy(),
            "--container",
            &container,
            "--account-key-env",
            "SB_KEY",
            "--stable-seconds",
            "0",
        ],
        &[("SB_KEY", &sb.info.account_key)],
    );
    assert_eq!(code, 0, "upload: {err}");
    let mut args = vec![
        "lrs".to_string(),
        "start".into(),
        "-n".into(),
        "Payroll".into(),
    ];
    args.extend(arm_args(&sb));
    args.extend([
        "--storage-uri".into(),
        format!("{container}/Payroll"),
        "--storage-sas-env".into(),
        "T_SAS".into(),
        "--json".into(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = cutover(&refs, &[("T_SAS", &sb.info.container_sas)]);
    assert_eq!(code, 0, "lrs start: {err}");
    let blocked = wait_for(&sb, "Payroll", "MissingThumbprint", &mut log, |s| {
        s.to_string().contains("MissingThumbprint")
    });
    assert!(blocked.to_string().contains(&thumb.hex()), "{blocked}");
    std::thread::sleep(Duration::from_millis(600));
    let still = status(&sb, "Payroll", &mut log);
    assert!(still.to_string().contains("MissingThumbprint"), "{still}");

    // tde list: the TDE database, its certificate, missing on the instance.
    let mut args = vec!["tde".to_string(), "list".into()];
    args.extend(source_args(&sb));
    let (code, out, err) = run(args, &sb, &mut log);
    assert_eq!(code, 1, "a database waits for its certificate: {out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let dbs = v["databases"].as_array().unwrap();
    assert_eq!(
        dbs.len(),
        1,
        "only Payroll is encrypted (tempdb left out): {v}"
    );
    assert_eq!(dbs[0]["database"], "Payroll");
    assert_eq!(dbs[0]["certificate"], cert.name.as_str());
    assert_eq!(dbs[0]["thumbprint"], thumb.to_string().as_str());
    assert_eq!(dbs[0]["action"], "migrate");
    assert!(
        v["findings"]
            .to_string()
            .contains("TDE_CERTIFICATE_MISSING")
    );

    // tde migrate: BACKUP CERTIFICATE into the backup folder, PFX, upload; files removed.
    let mut args = vec!["tde".to_string(), "migrate".into()];
    args.extend(source_args(&sb));
    args.extend(arm_args(&sb));
    args.extend(["--folder".into(), backups.to_string_lossy().into_owned()]);
    args.extend([
        "--state-dir".into(),
        tmp.path().join("state").to_string_lossy().into_owned(),
    ]);
    let (code, out, err) = run(args.clone(), &sb, &mut log);
    assert_eq!(code, 0, "tde migrate: {out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "{v}");
    assert_eq!(certs[0]["status"], "uploaded", "{v}");
    assert_eq!(certs[0]["thumbprint"], thumb.to_string().as_str());
    assert!(certs[0]["left_on_share"].as_array().unwrap().is_empty());
    let uploaded = sb.lrs.tde_certificates();
    assert_eq!(uploaded.len(), 1);
    assert_eq!(uploaded[0].0, cert.thumbprint);
    let leftovers: Vec<_> = files_under(&backups)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("cutover-tde-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "files left in the backup folder: {leftovers:?}"
    );
    assert_eq!(
        sb.sql.certificate_passwords_seen().len(),
        1,
        "one BACKUP CERTIFICATE"
    );
    // Recorded for `cutover run` (thumbprint and name only).
    let recorded = cutover::tde::record::on_target(&tmp.path().join("state"));
    assert!(recorded.contains(&thumb), "{recorded:?}");

    // The restore goes on to the last log and completes.
    let last = payroll_files
        .last()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    wait_for(&sb, "Payroll", "the last log restored", &mut log, |s| {
        s["lastRestoredFileName"] == last.as_str()
    });
    let mut args = vec![
        "lrs".to_string(),
        "complete".into(),
        "-n".into(),
        "Payroll".into(),
        "--last-backup-name".into(),
        last.clone(),
        "--json".into(),
    ];
    args.extend(arm_args(&sb));
    let (code, _, err) = run(args, &sb, &mut log);
    assert_eq!(code, 0, "complete: {err}");
    wait_for(&sb, "Payroll", "Completed", &mut log, |s| {
        s["status"] == "Completed"
    });

    // The secrets reached the sandbox (so the check below can fail) and nothing else.
    let mut secrets = sb.sql.certificate_passwords_seen();
    secrets.extend(sb.lrs.tde_passwords_seen());
    assert_eq!(secrets.len(), 2);
    assert_ne!(secrets[0], secrets[1], "the PVK and PFX passwords differ");
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(cert.private_key_der());
    let key_hex: String = cert.private_key_der()[40..72]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "a password is in the output");
    }
    assert!(!log.contains(&key_b64[60..120]) && !log.to_lowercase().contains(&key_hex));
    for f in files_under(tmp.path()) {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a password in {}", f.display());
        }
        assert!(
            !bytes
                .windows(32)
                .any(|w| w == &cert.private_key_der()[40..72]),
            "the private key in {}",
            f.display()
        );
    }
    // The instance now lists the certificate in master.sys.certificates: `tde list` with its SQL
    // endpoint says the database's certificate is on it (nothing left to migrate).
    let mut list = vec!["tde".to_string(), "list".into()];
    list.extend(source_args(&sb));
    list.extend([
        "--target-server".into(),
        sb.info.mi_sql_server.clone(),
        "--target-user".into(),
        sb.info.mi_sql_user.clone(),
        "--target-password-env".into(),
        "SB_MI_PW".into(),
        "--target-plaintext".into(),
    ]);
    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
    let (code, out, err) = cutover(
        &refs,
        &[
            ("CUTOVER_SOURCE_PASSWORD", &sb.info.sql_password),
            ("SB_MI_PW", &sb.info.mi_sql_password),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["target_checked"], true, "{v}");
    let payroll = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["database"] == "Payroll")
        .cloned()
        .unwrap_or_default();
    assert_eq!(payroll["action"], "on_target", "{v}");

    // Run again: the instance-side check is not given (no --target-server), so it uploads again,
    // which the instance accepts as the same certificate.
    let (code, out, _) = run(args_again(&sb, &backups), &sb, &mut log);
    assert_eq!(code, 0, "{out}");
    assert_eq!(sb.lrs.tde_certificates().len(), 1);
}

fn args_again(sb: &Sandbox, backups: &Path) -> Vec<String> {
    let mut args = vec!["tde".to_string(), "migrate".into()];
    args.extend(source_args(sb));
    args.extend(arm_args(sb));
    args.extend(["--folder".into(), backups.to_string_lossy().into_owned()]);
    args.extend([
        "--state-dir".into(),
        backups
            .with_file_name("state")
            .to_string_lossy()
            .into_owned(),
    ]);
    args
}

/// `cutover run`'s engine holds the TDE database's upload with a blocking finding until `cutover
/// tde migrate` records its certificate in the same state folder, then uploads, restores and cuts
/// it over.
#[test]
fn the_engine_holds_a_tde_database_until_its_certificate_is_migrated() {
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let state = tmp.path().join("state");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut payroll = DatabaseSpec::new("Payroll");
    payroll.tde = true;
    let sb = rt
        .block_on(Sandbox::start(SandboxOptions {
            restore_mbps: 100.0,
            data_dir: Some(tmp.path().join("sandbox")),
            backup_dir: Some(backups.clone()),
            databases: Some(vec![payroll]),
            ..Default::default()
        }))
        .unwrap();
    let i = &sb.info;
    let cfg = format!(
        r#"
[source]
server = "{sql}"
user = "{user}"
password_env = "TDE_T_PW"
plaintext = true
[backups]
folder = "{backups}"
[[backups.database]]
name = "Payroll"
folder = "{backups}/Payroll"
[target]
subscription = "{sub}"
resource_group = "{rg}"
managed_instance = "{mi}"
arm_endpoint = "{arm}"
sandbox = true
[storage]
container = "{blob}/{container}"
account_key_env = "TDE_T_KEY"
[migration]
activity = "tde-test"
databases = ["Payroll"]
cutover = "when-ready"
tail = "take"
stop_traffic = "read-only"
scan_seconds = 0.3
poll_seconds = 0.3
state_dir = "{state}"
"#,
        sql = i.sql_server,
        user = i.sql_user,
        backups = backups.display(),
        sub = i.subscription_id,
        rg = i.resource_group,
        mi = i.managed_instance,
        arm = i.arm_endpoint,
        blob = i.blob_endpoint,
        container = i.container,
        state = state.display(),
    );
    let path = tmp.path().join("cutover.toml");
    std::fs::write(&path, cfg).unwrap();
    let file = cutover::config::ConfigFile::load(&path).unwrap();
    let mut secrets = cutover::config::ProvidedSecrets::default();
    secrets.by_env.insert(
        "TDE_T_PW".into(),
        azure_core::credentials::Secret::new(i.sql_password.clone()),
    );
    secrets.by_env.insert(
        "TDE_T_KEY".into(),
        azure_core::credentials::Secret::new(i.account_key.clone()),
    );
    let (code, snap) = rt.block_on(async {
        let (cfg, _) =
            cutover::config::engine_config_with(&file, &Default::default(), &secrets).unwrap();
        let mut h = cutover::engine::runner::start(cfg).unwrap();
        let mut snaps = h.snapshots.clone();
        let engine = tokio::spawn(async move {
            let code =
                cutover::cli::headless::run(&mut h, true, cutover::cli::headless::KEPT).await;
            (code, h.snapshots.borrow().clone())
        });
        // Held: a blocking finding, and nothing in the container for Payroll.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = snaps.borrow_and_update().clone();
            let held = s.databases.iter().any(|d| {
                d.findings.iter().any(|f| {
                    f.code == cutover::catalog::Code::TdeEnabled
                        && f.severity == cutover::catalog::Severity::Error
                })
            });
            if held {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no TDE hold: {:?}",
                s.databases[0].findings
            );
            let _ = tokio::time::timeout(Duration::from_millis(300), snaps.changed()).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let blobs = sb.blob.list_blobs(&sb.info.container, "").unwrap();
        assert!(blobs.is_empty(), "uploaded while held: {:?}", blobs.len());
        // Migrate the certificate (the CLI, another process), recording it in the state folder.
        let mut args = vec!["tde".to_string(), "migrate".into()];
        args.extend(source_args(&sb));
        args.extend(arm_args(&sb));
        args.extend(["--folder".into(), backups.to_string_lossy().into_owned()]);
        args.extend(["--state-dir".into(), state.to_string_lossy().into_owned()]);
        let mut log = String::new();
        let (code, out, err) = tokio::task::block_in_place(|| run(args, &sb, &mut log));
        assert_eq!(code, 0, "{out}{err}");
        tokio::time::timeout(Duration::from_secs(120), engine)
            .await
            .expect("the run ended within 2 minutes")
            .unwrap()
    });
    assert_eq!(code, 0, "{:?}", snap.databases[0].state);
    assert_eq!(
        snap.databases[0].state.phase,
        cutover::model::Phase::Completed,
        "{:?}",
        snap.databases[0].findings
    );
    assert!(
        !snap.databases[0]
            .findings
            .iter()
            .any(|f| f.severity == cutover::catalog::Severity::Error),
        "{:?}",
        snap.databases[0].findings
    );
}
