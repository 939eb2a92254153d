//! Backups read straight from an SMB share, against the real Samba that `.ci/samba.sh` starts
//! (`source .ci/samba.sh` first; `.ci/run` does): `check` on the share finds what it finds on the
//! local copy, a whole `run` migrates from the share to the sandbox, and each failure (wrong
//! password, unknown share, a share or folder the user may not read, a closed port) gives its
//! message and exit code, uploads nothing and never shows the password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutover::backup_folder::{BackupFolder, SmbAddress, SmbFolder, SmbLogin};
use serde_json::Value;

/// Tests share the one Samba; the test that restarts it runs alone (the others hold it read).
static SAMBA_IN_USE: std::sync::RwLock<()> = std::sync::RwLock::new(());

enum Hold {
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
}

/// The test Samba, from the variables `.ci/samba.sh` exports.
struct Samba {
    #[allow(dead_code)]
    hold: Hold,
    port: String,
    user: String,
    password_env: String,
    password: String,
    /// The local folder shared as `backups`.
    root: PathBuf,
}

impl Samba {
    fn url(&self, rest: &str) -> String {
        format!("smb://127.0.0.1:{}/{rest}", self.port)
    }
    fn login(&self) -> SmbLogin {
        SmbLogin::from_env(&self.user, &self.password_env).unwrap()
    }
}

/// `None` (with the reason on stderr) when the Samba is not running; under CI=true a panic.
fn samba() -> Option<Samba> {
    let hold = Hold::Shared(SAMBA_IN_USE.read().unwrap_or_else(|e| e.into_inner()));
    samba_held(hold)
}

/// The Samba, with no other test using it (this one stops and restarts it).
fn samba_alone() -> Option<Samba> {
    let hold = Hold::Alone(SAMBA_IN_USE.write().unwrap_or_else(|e| e.into_inner()));
    samba_held(hold)
}

fn samba_held(hold: Hold) -> Option<Samba> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("CUTOVER_TEST_SMB_PORT"),
        var("CUTOVER_TEST_SMB_USER"),
        var("CUTOVER_TEST_SMB_PASSWORD_ENV"),
        var("CUTOVER_TEST_SMB_ROOT"),
    ) {
        (Some(port), Some(user), Some(password_env), Some(root)) => {
            let password = var(&password_env).expect("the Samba password variable");
            Some(Samba {
                hold,
                port,
                user,
                password_env,
                password,
                root: PathBuf::from(root),
            })
        }
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("the test Samba is not running: `source .ci/samba.sh` (as .ci/run does)");
            }
            eprintln!(
                "SKIPPED: no test Samba (CUTOVER_TEST_SMB_* unset); `source .ci/samba.sh` to run these tests"
            );
            None
        }
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cutover"))
}

fn check_json(args: &[&str], envs: &[(&str, &str)]) -> (i32, Value, String) {
    let mut c = bin();
    c.arg("check").arg("--json").args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("run cutover check");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The report without where it was read from (the root, and each file's full path).
fn without_root(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("root");
                m.remove("path");
                for x in m.values_mut() {
                    strip(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn check_on_the_share_finds_what_it_finds_on_the_local_copy() {
    let Some(smb) = samba() else { return };
    let Some(samples) = common::samples_dir() else {
        return;
    };
    for folder in [
        "restoretimeclean2016",
        "sql2008-backups",
        "compressed",
        "OlaMsFilter",
    ] {
        let (code_local, local, _) = check_json(&[samples.join(folder).to_str().unwrap()], &[]);
        let (code_share, share, err) = check_json(
            &[
                &smb.url(&format!("backups/{folder}")),
                "--smb-user",
                &smb.user,
                "--smb-password-env",
                &smb.password_env,
            ],
            &[],
        );
        assert_eq!(code_share, code_local, "{folder}: {err}");
        assert!(local["databases"].as_array().is_some_and(|d| !d.is_empty()));
        assert_eq!(without_root(share), without_root(local), "{folder}");
        assert!(!err.contains(&smb.password));
    }
    // The Windows form names the same folder.
    let unc = format!(r"\\127.0.0.1:{}\backups\restoretimeclean2016", smb.port);
    let (code, v, err) = check_json(
        &[
            &unc,
            "--smb-user",
            &smb.user,
            "--smb-password-env",
            &smb.password_env,
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        v["root"].as_str(),
        Some(smb.url("backups/restoretimeclean2016").as_str())
    );
}

#[test]
fn each_failure_says_what_failed_and_where() {
    let Some(smb) = samba() else { return };
    let ok = ("--smb-password-env", smb.password_env.as_str());
    /// The folder, the password flag and its value, the environment, the expected message.
    type Case<'a> = (
        String,
        (&'a str, &'a str),
        &'a [(&'a str, &'a str)],
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            smb.url("backups/restoretimeclean2016"),
            ("--smb-password-env", "WRONG_SMB_PW"),
            &[("WRONG_SMB_PW", "not-the-password")],
            "logon failure for CUTOVER\\cutover-smb",
        ),
        (smb.url("nosuchshare"), ok, &[], "no such share"),
        (smb.url("private"), ok, &[], "access denied to the share"),
        (
            smb.url("backups/denied"),
            ok,
            &[],
            "access denied to this folder",
        ),
        (
            smb.url("backups/no/such/folder"),
            ok,
            &[],
            "not found on the share",
        ),
        (
            "smb://127.0.0.1:1/backups".to_string(),
            ok,
            &[],
            "nothing answers on this port",
        ),
        (
            "smb://no-such-host.invalid/backups".to_string(),
            ok,
            &[],
            "does not resolve",
        ),
    ];
    for (url, pw, envs, expected) in cases {
        let (code, _, err) = check_json(&[&url, "--smb-user", &smb.user, pw.0, pw.1], envs);
        assert_eq!(code, 2, "{url}: {err}");
        assert!(err.contains(expected), "{url}: {err}");
        assert!(!err.contains(&smb.password), "{url}: the password is shown");
        // Each names where: the server (host:port) or the share (\\host\share...).
        assert!(
            err.contains("127.0.0.1") || err.contains("no-such-host.invalid"),
            "{err}"
        );
    }
    // A share without a user, and the password variable unset.
    let (code, _, err) = check_json(&[&smb.url("backups")], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--smb-user"), "{err}");
    let (code, _, err) = check_json(
        &[
            &smb.url("backups"),
            "--smb-user",
            &smb.user,
            "--smb-password-env",
            "SURELY_UNSET_SMB_PW",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("SURELY_UNSET_SMB_PW is not set"), "{err}");
}

#[test]
fn the_folder_lists_stats_and_reads_at_any_offset() {
    let Some(smb) = samba() else { return };
    let Some(samples) = common::samples_dir() else {
        return;
    };
    let addr = SmbAddress::parse(&smb.url("backups")).unwrap();
    let folder = SmbFolder::new(&addr, smb.login()).unwrap();
    let root = addr.to_path().join("restoretimeclean2016");
    let listing = folder.list(&root).unwrap();
    let local = cutover::backup_folder::LocalFolder
        .list(&samples.join("restoretimeclean2016"))
        .unwrap();
    let names = |l: &cutover::backup_folder::Listing, base: &Path| {
        l.files
            .iter()
            .map(|(p, s)| (p.strip_prefix(base).unwrap().to_path_buf(), s.unwrap().len))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&listing, &root),
        names(&local, &samples.join("restoretimeclean2016"))
    );
    assert!(listing.folders.iter().all(|(_, t)| t.is_some()));
    let (path, stat) = &listing.files[0];
    let st = folder.stat(path).unwrap();
    assert!(st.is_file && st.len == stat.unwrap().len);
    assert!(folder.stat(&root).unwrap().is_dir);
    let e = folder.stat(&root.join("nope.bak")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    // Reads at offsets, compared with the local copy.
    let name = path.file_name().unwrap();
    let bytes = std::fs::read(samples.join("restoretimeclean2016").join(name)).unwrap();
    let mut f = folder.open(path).unwrap();
    assert_eq!(f.len(), bytes.len() as u64);
    // Small windows, a piece, the end, and a read of several pipelined pieces (past the end).
    assert!(bytes.len() > 2 << 20, "a file of a few MiB");
    for (off, n) in [
        (0usize, 16usize),
        (1000, 70_000),
        (bytes.len() - 10, 100),
        (7, bytes.len() + 5000),
    ] {
        let mut buf = vec![0u8; n];
        let got = f.read_at(off as u64, &mut buf).unwrap();
        let want = n.min(bytes.len() - off);
        assert_eq!(got, want);
        assert_eq!(&buf[..got], &bytes[off..off + want]);
    }
    // Headers through the seam match the local reader's.
    let sets = cutover::backup_folder::read_headers(&folder, path).unwrap();
    let local_sets =
        cutover::backup::read_backup_file(&samples.join("restoretimeclean2016").join(name))
            .unwrap();
    // The same sets; only the file's name differs (its path on the share vs the local one).
    let sets = format!("{sets:?}").replace(
        path.to_str().unwrap(),
        samples
            .join("restoretimeclean2016")
            .join(name)
            .to_str()
            .unwrap(),
    );
    assert_eq!(sets, format!("{local_sets:?}"));
    // A file added behind the share is seen by the next listing (the cheap re-scan's signal:
    // the folder's time moves).
    let dir = smb.root.join("rescan-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let before = folder.folder_time(&addr.to_path().join("rescan-test"));
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(dir.join("new.trn"), b"x").unwrap();
    let after = folder.folder_time(&addr.to_path().join("rescan-test"));
    assert!(after > before, "{before:?} -> {after:?}");
    let l = folder.list(&addr.to_path().join("rescan-test")).unwrap();
    assert_eq!(l.files.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The `secure` share requires encryption (`server smb encrypt = required`). Samba refuses a client
/// that cannot encrypt (SMB 2.1: `smbclient -m SMB2_10`, the check that the share really requires
/// it) and every unencrypted request on such a share, so reading it whole and planning it like the
/// local copy means cutover read it encrypted.
#[test]
fn a_share_that_requires_encryption_is_read_encrypted() {
    let Some(smb) = samba() else { return };
    let Some(samples) = common::samples_dir() else {
        return;
    };
    let plain = Command::new("smbclient")
        .args(["-p", &smb.port, "-U", &smb.user, "-m", "SMB2_10"])
        .args(["//127.0.0.1/secure", "-c", "ls"])
        .env("PASSWD", &smb.password)
        .output()
        .expect("smbclient (apt-get install smbclient)");
    let said = String::from_utf8_lossy(&plain.stdout).to_string()
        + &String::from_utf8_lossy(&plain.stderr);
    assert!(
        !plain.status.success() && said.contains("ACCESS_DENIED"),
        "the share must refuse a client that cannot encrypt: {said}"
    );
    // The plan, as on the local copy.
    let (code_local, local, _) = check_json(
        &[samples.join("restoretimeclean2016").to_str().unwrap()],
        &[],
    );
    let (code, share, err) = check_json(
        &[
            &smb.url("secure/restoretimeclean2016"),
            "--smb-user",
            &smb.user,
            "--smb-password-env",
            &smb.password_env,
        ],
        &[],
    );
    assert_eq!(code, code_local, "{err}");
    assert_eq!(without_root(share), without_root(local));
    // A whole file through the pipelined reader, byte for byte.
    let addr = SmbAddress::parse(&smb.url("secure/restoretimeclean2016")).unwrap();
    let folder = SmbFolder::new(&addr, smb.login()).unwrap();
    let listing = folder.list(&addr.to_path()).unwrap();
    let (path, _) = listing
        .files
        .iter()
        .max_by_key(|(_, st)| st.map(|s| s.len))
        .unwrap();
    let bytes = std::fs::read(
        samples
            .join("restoretimeclean2016")
            .join(path.file_name().unwrap()),
    )
    .unwrap();
    let mut f = folder.open(path).unwrap();
    let mut buf = vec![0u8; bytes.len()];
    assert_eq!(f.read_at(0, &mut buf).unwrap(), bytes.len());
    assert!(
        buf == bytes,
        "{} differs from the local copy",
        path.display()
    );
}

/// The TDE certificate export the source wrote on the share is removed by cutover with the SMB
/// account (issue 17: "removed from the share afterwards"): on a share the account may write to,
/// the `.cer` and `.pvk` are gone; on a read-only share the removal fails (the caller then names
/// the file); a backup is never removed, whatever the share allows.
#[test]
fn the_certificate_export_is_removed_from_the_share_and_nothing_else() {
    let Some(smb) = samba() else { return };
    let dir = smb
        .root
        .join(format!("incoming/tde-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["Cert.cer", "Cert.pvk", "Keep.bak"] {
        std::fs::write(dir.join(f), b"x").unwrap();
    }
    // The files belong to the share's user, as the SQL Server's writes would.
    let account = smb.user.rsplit('\\').next().unwrap();
    let _ = Command::new("chown")
        .arg("-R")
        .arg(account)
        .arg(&dir)
        .status();
    let rel = format!("incoming/tde-{}", std::process::id());
    // Read-only share: refused by the server, the file stays.
    let ro = SmbAddress::parse(&smb.url(&format!("backups/{rel}"))).unwrap();
    let ro_folder = SmbFolder::new(&ro, smb.login()).unwrap();
    let e = ro_folder
        .remove_file(&ro.to_path().join("Cert.cer"))
        .unwrap_err();
    assert!(dir.join("Cert.cer").exists(), "{e}");
    assert!(
        e.to_string().contains(r"\127.0.0.1"),
        "names the share: {e}"
    );
    // A share the account may write to: both files go.
    let rw = SmbAddress::parse(&smb.url(&format!("writer/{rel}"))).unwrap();
    let rw_folder = SmbFolder::new(&rw, smb.login()).unwrap();
    for f in ["Cert.cer", "Cert.pvk"] {
        rw_folder.remove_file(&rw.to_path().join(f)).unwrap();
        assert!(!dir.join(f).exists(), "{f} removed");
    }
    // A backup is refused before anything is sent.
    let e = rw_folder
        .remove_file(&rw.to_path().join("Keep.bak"))
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
    assert!(dir.join("Keep.bak").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The sandbox (`cutover sandbox`), stopped on drop.
struct Sandbox {
    child: std::process::Child,
    info: Value,
}

impl Sandbox {
    fn start() -> Sandbox {
        let mut child = bin()
            .arg("sandbox")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sandbox");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sandbox line");
        let info: Value = serde_json::from_str(&line).expect("sandbox JSON");
        Sandbox { child, info }
    }
    fn s(&self, k: &str) -> String {
        self.info[k].as_str().unwrap_or_default().to_string()
    }
    /// The container's blob names, from the Blob service's own listing.
    fn blobs(&self) -> Vec<String> {
        let url = format!(
            "{}/{}?restype=container&comp=list&{}",
            self.s("blob_endpoint"),
            self.s("container"),
            self.s("container_sas")
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let body = rt.block_on(async {
            reqwest::Client::new()
                .get(&url)
                .header("x-ms-version", "2023-11-03")
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        body.split("<Name>")
            .skip(1)
            .filter_map(|s| s.split("</Name>").next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(sb: &Sandbox, smb: &Samba, dir: &Path, folder: &str, pw_env: &str) -> PathBuf {
    let cfg = format!(
        r#"
[backups]
folder = "{folder}"
smb_user = '{user}'
smb_password_env = "{pw_env}"
[target]
subscription = "{sub}"
resource_group = "{rg}"
managed_instance = "{mi}"
arm_endpoint = "{arm}"
sandbox = true
[storage]
container = "{blob}/{container}"
account_key_env = "SBX_KEY"
[migration]
activity = "smb-run"
cutover = "when-ready"
tail = "skip"
scan_seconds = 0.3
poll_seconds = 0.3
state_dir = "{state}"
"#,
        user = smb.user,
        sub = sb.s("subscription_id"),
        rg = sb.s("resource_group"),
        mi = sb.s("managed_instance"),
        arm = sb.s("arm_endpoint"),
        blob = sb.s("blob_endpoint"),
        container = sb.s("container"),
        state = dir.join("state").display(),
    );
    let p = dir.join("cutover.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}

fn run_within(cfg: &Path, sb: &Sandbox, envs: &[(&str, &str)], limit: Duration) -> (i32, String) {
    let mut c = bin();
    c.args(["run", "--json", "--config"])
        .arg(cfg)
        .env("SBX_KEY", sb.s("account_key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every file below `dir`, read as text (the state, the logs).
fn all_text(dir: &Path) -> String {
    let mut s = String::new();
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file() {
            s.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
        }
    }
    s
}

#[test]
fn a_run_migrates_from_the_share_to_the_sandbox_and_completes() {
    let Some(smb) = samba() else { return };
    let sb = Sandbox::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &sb,
        &smb,
        tmp.path(),
        &smb.url("backups/restoretimeclean2016"),
        &smb.password_env,
    );
    let (code, out) = run_within(&cfg, &sb, &[], Duration::from_secs(240));
    assert_eq!(code, 0, "{out}");
    let last: Value = serde_json::from_str(out.lines().rfind(|l| l.starts_with('{')).unwrap())
        .expect("summary line");
    let db = &last["databases"][0];
    assert_eq!(db["status"], "Completed", "{out}");
    assert_eq!(db["files_restored"], 5, "{out}");
    let blobs = sb.blobs();
    assert_eq!(blobs.len(), 5, "{blobs:?}");
    assert!(blobs.iter().all(|b| b.starts_with("RestoreTimeClean/")));
    // The password is nowhere: output, state, logs.
    assert!(!out.contains(&smb.password));
    let saved = all_text(&tmp.path().join("state"));
    assert!(
        saved.contains("smb://127.0.0.1"),
        "the state names the share"
    );
    assert!(!saved.contains(&smb.password));
}

#[test]
fn a_run_whose_share_fails_uploads_nothing() {
    let Some(smb) = samba() else { return };
    let sb = Sandbox::start();
    for (folder, pw_env, envs, expected) in [
        (
            smb.url("backups/restoretimeclean2016"),
            "WRONG_SMB_PW",
            vec![("WRONG_SMB_PW", "not-the-password")],
            "logon failure",
        ),
        (
            smb.url("nosuchshare/x"),
            smb.password_env.as_str(),
            vec![],
            "no such share",
        ),
        (
            smb.url("backups/denied"),
            smb.password_env.as_str(),
            vec![],
            "access denied to this folder",
        ),
        (
            "smb://127.0.0.1:1/backups/x".to_string(),
            smb.password_env.as_str(),
            vec![],
            "nothing answers on this port",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = write_config(&sb, &smb, tmp.path(), &folder, pw_env);
        let (code, out) = run_within(&cfg, &sb, &envs, Duration::from_secs(60));
        assert_eq!(code, 2, "{folder}: {out}");
        assert!(out.contains(expected), "{folder}: {out}");
        assert!(out.contains("[backups]"), "names the key: {out}");
        assert!(!out.contains(&smb.password));
        assert!(sb.blobs().is_empty(), "{folder}: something was uploaded");
    }
}

#[test]
fn upload_reads_the_share_and_refuses_a_wrong_password_before_sending() {
    let Some(smb) = samba() else { return };
    let sb = Sandbox::start();
    let container = format!("{}/{}", sb.s("blob_endpoint"), sb.s("container"));
    let upload = |pw_env: &str, envs: &[(&str, &str)]| {
        let mut c = bin();
        c.args(["upload", "--json"])
            .arg(smb.url("backups/restoretimeclean2016"))
            .args(["--smb-user", &smb.user, "--smb-password-env", pw_env])
            .args(["--container", &container, "--account-key-env", "SBX_KEY"])
            .env("SBX_KEY", sb.s("account_key"));
        for (k, v) in envs {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = upload("WRONG_SMB_PW", &[("WRONG_SMB_PW", "not-the-password")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("logon failure"), "{out}");
    assert!(sb.blobs().is_empty());
    let (code, out) = upload(&smb.password_env, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(&smb.password));
    let mut blobs = sb.blobs();
    blobs.sort();
    assert_eq!(
        blobs,
        [
            "RestoreTimeClean/RestoreTimeClean.bak",
            "RestoreTimeClean/RestoreTimeClean2.bak",
            "RestoreTimeClean/RestoreTimeClean2_1.trn",
            "RestoreTimeClean/RestoreTimeClean2_2.trn",
            "RestoreTimeClean/RestoreTimeClean2_3.trn",
        ]
    );
}

/// The blob's bytes, read back from the sandbox's Blob service.
fn blob_bytes(sb: &Sandbox, name: &str) -> Vec<u8> {
    let url = format!(
        "{}/{}/{name}?{}",
        sb.s("blob_endpoint"),
        sb.s("container"),
        sb.s("container_sas")
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(&url)
            .header("x-ms-version", "2023-11-03")
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {name}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    })
}

/// A writer on the share `writer` (the same folder as `backups`), with the `smb2` crate: its
/// files are opened for writing sharing nothing, as SQL Server's backup writer does. On `backups`
/// it is another program's connection, reading.
struct SmbWriter {
    rt: tokio::runtime::Runtime,
    client: smb2::SmbClient,
    tree: smb2::Tree,
}

impl SmbWriter {
    fn connect(smb: &Samba) -> SmbWriter {
        SmbWriter::connect_to(smb, "writer")
    }
    fn connect_to(smb: &Samba, share: &str) -> SmbWriter {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (domain, user) = smb.user.split_once('\\').unwrap();
        let config = smb2::ClientConfig {
            addr: format!("127.0.0.1:{}", smb.port),
            username: user.to_string(),
            password: smb.password.clone(),
            domain: domain.to_string(),
            ..Default::default()
        };
        let (client, tree) = rt.block_on(async {
            let mut client = smb2::SmbClient::connect(config).await.unwrap();
            let tree = client.connect_share(share).await.unwrap();
            (client, tree)
        });
        SmbWriter { rt, client, tree }
    }
    fn mkdir(&mut self, path: &str) {
        let (c, t) = (&mut self.client, &self.tree);
        self.rt.block_on(c.create_directory(t, path)).unwrap();
    }
    fn create(&mut self, path: &str) -> smb2::FileWriter {
        let (c, t) = (&mut self.client, &self.tree);
        self.rt.block_on(c.create_file_writer(t, path)).unwrap()
    }
    fn write(&self, w: &mut smb2::FileWriter, data: &[u8]) {
        self.rt.block_on(async {
            w.write_chunk(data).await.unwrap();
            w.flush_checkpoint().await.unwrap();
        });
    }
    fn finish(&self, w: smb2::FileWriter) {
        self.rt.block_on(w.finish()).unwrap();
    }
}

/// `cutover upload --json` from a folder of the share into the sandbox, its output collected as it
/// comes.
struct UploadRun {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl UploadRun {
    fn start(smb: &Samba, sb: &Sandbox, folder: &str, extra: &[&str]) -> UploadRun {
        let container = format!("{}/{}", sb.s("blob_endpoint"), sb.s("container"));
        let mut child = bin()
            .args(["upload", "--json", folder])
            .args([
                "--smb-user",
                &smb.user,
                "--smb-password-env",
                &smb.password_env,
            ])
            .args(["--container", &container, "--account-key-env", "SBX_KEY"])
            .args(extra)
            .env("SBX_KEY", sb.s("account_key"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let l2 = lines.clone();
        let reader = std::thread::spawn(move || {
            let l3 = l2.clone();
            let t = std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    l3.lock().unwrap().push(line);
                }
            });
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
            let _ = t.join();
        });
        UploadRun {
            child,
            lines,
            reader: Some(reader),
        }
    }
    /// Waits (at most `limit`) for a line of output that `want` accepts.
    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
    fn wait_for(&self, limit: Duration, want: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.lines.lock().unwrap().iter().any(|l| want(l)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    /// The exit code and the whole output (killed after `limit`).
    fn wait(mut self, limit: Duration) -> (i32, String) {
        let deadline = Instant::now() + limit;
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (
            status.code().unwrap_or(-1),
            self.lines.lock().unwrap().join("\n"),
        )
    }
}

/// The last JSON line of an upload's output (its summary).
fn summary(out: &str) -> Value {
    out.lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v.get("failed").is_some())
        })
        .unwrap_or(Value::Null)
}

/// A backup written on the share while `cutover upload` runs: the writer (SMB, a handle that
/// shares nothing, as SQL Server's) adds pieces with pauses, then holds the finished file open for
/// longer than `--stable-seconds` before closing it, as SQL Server does while it completes a
/// backup. The file is waited for while it grows (Samba, like Windows, holds back the time of a file
/// open for writing, so its size is watched too) and while it is held (Samba answers cutover's open
/// from its own connection STATUS_SHARING_VIOLATION: "still being written"); the blob is the
/// finished file, not a half-written one, with no failure.
#[test]
fn a_backup_being_written_on_the_share_is_waited_for_and_uploaded_whole() {
    let Some(smb) = samba() else { return };
    let Some(samples) = common::samples_dir() else {
        return;
    };
    let whole = std::fs::read(samples.join("restoretimeclean2016/RestoreTimeClean.bak")).unwrap();
    let dir = format!("incoming/held-{}", std::process::id());
    let _ = std::fs::remove_dir_all(smb.root.join(&dir));
    let mut writer = SmbWriter::connect(&smb);
    writer.mkdir(&dir);
    let file = format!("{dir}/RestoreTimeClean.bak");
    let mut w = writer.create(&file);
    let mut pieces = whole.chunks(256 * 1024);
    writer.write(&mut w, pieces.next().unwrap());
    // Another connection (another program, on the read-only share of the same folder) may not
    // open it while the writer holds it.
    {
        let mut other = SmbWriter::connect_to(&smb, "backups");
        let (c, t) = (&mut other.client, &other.tree);
        let e = other
            .rt
            .block_on(c.open_file_reader(t, &file))
            .err()
            .expect("the writer's handle shares nothing, with other connections too");
        assert_eq!(e.kind(), smb2::ErrorKind::SharingViolation, "{e}");
    }

    let sb = Sandbox::start();
    let up = UploadRun::start(
        &smb,
        &sb,
        &smb.url(&format!("backups/{dir}")),
        &["--all-files", "--stable-seconds", "1"],
    );
    // The rest, slowly (pauses shorter than --stable-seconds, while Samba holds back the file's
    // time), the handle held throughout.
    for p in pieces {
        std::thread::sleep(Duration::from_millis(600));
        writer.write(&mut w, p);
    }
    // Held, complete and unchanging, for 3 s (three times --stable-seconds): cutover takes the
    // file for finished by its size and time, and its open is refused until the writer closes.
    std::thread::sleep(Duration::from_secs(3));
    writer.finish(w);
    let (code, out) = up.wait(Duration::from_secs(120));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("held open by its writer"),
        "the sharing violation is waited for and told: {out}"
    );
    let s = summary(&out);
    assert_eq!(
        (s["files"].as_u64(), s["failed"].as_u64()),
        (Some(1), Some(0)),
        "{out}"
    );
    assert_eq!(sb.blobs(), ["RestoreTimeClean.bak"]);
    assert!(
        blob_bytes(&sb, "RestoreTimeClean.bak") == whole,
        "the blob is the finished file: {out}"
    );
    assert!(!out.contains(&smb.password));
    std::fs::remove_dir_all(smb.root.join(&dir)).unwrap();
}

/// The codes of a `check --json` report's findings, the folder's and each database's, sorted.
fn finding_codes(v: &Value) -> Vec<String> {
    let mut codes: Vec<String> = std::iter::once(&v["findings"])
        .chain(
            v["databases"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| &d["findings"]),
        )
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|f| f["code"].as_str().map(str::to_string))
        .collect();
    codes.sort();
    codes
}

/// `cutover check` on a folder where SQL Server is still writing a log backup (the writer's
/// handle, on its own connection, shares nothing): the held file is named as still being written,
/// not as damaged, and the rest of the chain is planned as without it.
#[test]
fn check_names_a_backup_its_writer_still_holds_as_being_written() {
    let Some(smb) = samba() else { return };
    let Some(samples) = common::samples_dir() else {
        return;
    };
    let src = samples.join("restoretimeclean2016");
    let dir = format!("incoming/check-held-{}", std::process::id());
    let _ = std::fs::remove_dir_all(smb.root.join(&dir));
    let mut writer = SmbWriter::connect(&smb);
    writer.mkdir(&dir);
    // The full backup, finished (written and closed).
    let mut full = writer.create(&format!("{dir}/RestoreTimeClean.bak"));
    writer.write(
        &mut full,
        &std::fs::read(src.join("RestoreTimeClean.bak")).unwrap(),
    );
    writer.finish(full);
    // The first log backup: every byte written, the handle still open.
    let mut held = writer.create(&format!("{dir}/RestoreTimeClean_1.trn"));
    writer.write(
        &mut held,
        &std::fs::read(src.join("RestoreTimeClean_1.trn")).unwrap(),
    );
    let args = [
        smb.url(&format!("backups/{dir}")),
        "--smb-user".into(),
        smb.user.clone(),
        "--smb-password-env".into(),
        smb.password_env.clone(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, v, err) = check_json(&args, &[]);
    let text = v.to_string();
    assert!(
        text.contains("RestoreTimeClean_1.trn is still being written (another process, the backup, holds it open)"),
        "{text}\n{err}"
    );
    assert!(
        v["databases"].as_array().is_some_and(|d| !d.is_empty()),
        "the finished full backup is planned: {text}"
    );
    // Nothing else is said of it (not damaged, not unreadable): the samples' own finding only.
    assert_eq!(
        finding_codes(&v),
        ["FILE_STILL_BEING_WRITTEN", "NO_CHECKSUM"],
        "{text}"
    );
    assert_eq!(v["databases"][0]["plan"].as_array().map(Vec::len), Some(1));
    writer.finish(held);
    // Closed, the same folder plans the log backup too, without that finding.
    let (code, v, err) = check_json(&args, &[]);
    assert_eq!(code, 0, "{v}\n{err}");
    assert_eq!(finding_codes(&v), ["NO_CHECKSUM"], "{v}");
    assert_eq!(v["databases"][0]["plan"].as_array().map(Vec::len), Some(2));
    std::fs::remove_dir_all(smb.root.join(&dir)).unwrap();
}

/// `len` bytes that do not compress and differ at every offset.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn restart_samba(down_seconds: &str) -> std::process::Child {
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/samba.sh"))
        .args(["restart", down_seconds])
        .stdout(Stdio::null())
        .spawn()
        .expect("bash .ci/samba.sh restart")
}

#[test]
fn samba_restarted_mid_upload_is_survived_and_an_interrupted_upload_resumes() {
    let Some(smb) = samba_alone() else { return };
    let dir = format!("incoming/restart-{}", std::process::id());
    let local = smb.root.join(&dir);
    let _ = std::fs::remove_dir_all(&local);
    std::fs::create_dir_all(&local).unwrap();
    let first = noise(40 << 20, 7);
    std::fs::write(local.join("big1.bak"), &first).unwrap();
    let sb = Sandbox::start();
    let slow = [
        "--all-files",
        "--stable-seconds",
        "0",
        "--block-size",
        "1MiB",
        "--max-mbps",
        "40",
    ];
    let sent = |l: &str| l.contains("\"uploading\"");

    // 1. Samba goes away for 3 s while the file is read: the reads are retried, the upload ends.
    let up = UploadRun::start(&smb, &sb, &smb.url(&format!("backups/{dir}")), &slow);
    assert!(
        up.wait_for(Duration::from_secs(60), sent),
        "the upload started: {}",
        up.output()
    );
    let status = restart_samba("3").wait().unwrap();
    assert!(status.success(), "samba restarted");
    let (code, out) = up.wait(Duration::from_secs(240));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\"retrying\"") && out.contains("did not answer"),
        "the share's reads were retried: {out}"
    );
    assert!(blob_bytes(&sb, "big1.bak") == first, "the blob is the file");

    // 2. The upload is stopped while Samba is down; the next one resumes from the staged blocks.
    std::fs::remove_file(local.join("big1.bak")).unwrap();
    let second = noise(24 << 20, 11);
    std::fs::write(local.join("big2.bak"), &second).unwrap();
    let up = UploadRun::start(&smb, &sb, &smb.url(&format!("backups/{dir}")), &slow);
    assert!(
        up.wait_for(Duration::from_secs(60), |l| l.contains("\"uploading\"")
            && l.contains("big2.bak")
            && l.contains("\"done\":")
            && !l.contains("\"done\":0,")),
        "the second upload sent blocks: {}",
        up.output()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let mut restart = restart_samba("4");
    std::thread::sleep(Duration::from_millis(1500));
    up.kill();
    assert!(restart.wait().unwrap().success());
    let up = UploadRun::start(&smb, &sb, &smb.url(&format!("backups/{dir}")), &slow);
    let (code, out) = up.wait(Duration::from_secs(240));
    assert_eq!(code, 0, "{out}");
    let uploaded: Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "uploaded" || v["type"] == "uploaded")
        .unwrap_or_else(|| panic!("an uploaded event: {out}"));
    let resumed = uploaded["resumed_bytes"].as_u64().unwrap_or(0);
    assert!(
        resumed >= 1 << 20 && resumed < second.len() as u64,
        "resumed from the staged blocks: {uploaded}"
    );
    assert!(
        blob_bytes(&sb, "big2.bak") == second,
        "the blob is the file"
    );
    std::fs::remove_dir_all(&local).unwrap();
}

/// The wizard's Migration settings test (Ctrl-T) on the test Samba: what it found on the share
/// (databases, newest backups), or exactly what failed, in the screen's words.
#[test]
fn the_wizard_folder_test_lists_the_share_or_says_what_failed() {
    use cutover::cli::wizard::backend::backups_report;
    use cutover::tui::wizard::values::MigrationSettings;
    let Some(smb) = samba() else { return };
    let m = |folder: String, env: &str| MigrationSettings {
        backup_folder: folder,
        smb_user: smb.user.clone(),
        smb_password_env: env.to_string(),
        ..Default::default()
    };
    let found = backups_report(&m(
        smb.url("backups/restoretimeclean2016"),
        &smb.password_env,
    ))
    .unwrap();
    assert!(found.contains("1 database(s)"), "{found}");
    assert!(found.contains("RestoreTimeClean: full"), "{found}");
    assert!(
        found.contains("newest log RestoreTimeClean2_3.trn"),
        "{found}"
    );
    assert!(
        found.contains(&format!("signed in to the share as {}", smb.user)),
        "{found}"
    );
    // A share that requires encryption lists the same (read encrypted).
    let secure = backups_report(&m(
        smb.url("secure/restoretimeclean2016"),
        &smb.password_env,
    ))
    .unwrap();
    assert!(secure.contains("RestoreTimeClean: full"), "{secure}");
    // PATH holds something, but not the password: a logon failure.
    for (folder, env, expected) in [
        (smb.url("backups"), "PATH", "logon failure"),
        (
            smb.url("nosuchshare"),
            smb.password_env.as_str(),
            "no such share",
        ),
        (
            smb.url("private"),
            smb.password_env.as_str(),
            "access denied to the share",
        ),
        (
            smb.url("backups/denied"),
            smb.password_env.as_str(),
            "access denied to this folder",
        ),
        (
            smb.url("backups/no/such"),
            smb.password_env.as_str(),
            "not found on the share",
        ),
        (
            "smb://127.0.0.1:1/backups".to_string(),
            smb.password_env.as_str(),
            "nothing answers on this port",
        ),
        (
            smb.url("backups"),
            "SURELY_UNSET_SMB_PW",
            "SURELY_UNSET_SMB_PW is not set",
        ),
    ] {
        let e = backups_report(&m(folder.clone(), env)).unwrap_err();
        assert!(e.contains(expected), "{folder}: {e}");
        assert!(
            e.starts_with("Backup folder") || e.starts_with("SMB password variable"),
            "names the field: {e}"
        );
        assert!(!e.contains(&smb.password), "{e}");
    }
}

/// Without a source connection, the wizard's Source screen lists the databases of a share with
/// the account a configuration file gave; without an account it says what to do.
#[test]
fn the_wizard_lists_the_databases_of_a_share_without_a_source() {
    use cutover::tui::WizardBackend;
    let Some(smb) = samba() else { return };
    let backend = cutover::cli::wizard::Backend {
        sandbox_arm: None,
        sandbox_mi_sql: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = smb.url("backups/restoretimeclean2016");
    let found = rt
        .block_on(backend.scan_backups(&url, &smb.user, &smb.password_env))
        .unwrap();
    let names: Vec<&str> = found.databases.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["RestoreTimeClean"], "{found:?}");
    assert!(found.databases[0].last_log_backup.is_some());
    let e = rt
        .block_on(backend.scan_backups(&url, "", &smb.password_env))
        .unwrap_err();
    assert!(
        e.contains("no SMB user is known") && e.contains("smb_user"),
        "{e}"
    );
    let e = rt
        .block_on(backend.scan_backups(&smb.url("nosuchshare"), &smb.user, &smb.password_env))
        .unwrap_err();
    assert!(e.contains("no such share"), "{e}");
}
