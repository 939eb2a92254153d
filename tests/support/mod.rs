//! Helpers for the tests that talk to Azurite (the Azure Storage emulator): finding or starting it,
//! running the `cutover` binary with the emulator's account key, unique container names, an
//! independent verifier (Microsoft's Python SDK, `tests/tools/verify_blobs.py`) and local files and
//! hashes to compare with. The fault-injecting HTTP proxy is in [`proxy`].
//!
//! Availability: a test that needs Azurite or the Python SDK and cannot have them panics when
//! `CI=true` (CI must provide them: `.ci/azurite.sh`, `pip install azure-storage-blob`), and otherwise
//! prints `SKIPPED: <reason>` and returns early through [`Azurite::shared`] / [`Azurite::private`]
//! returning `None`.
//!
//! Include with `mod support;`; each test crate uses only part of it.
#![allow(dead_code)]

pub mod proxy;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serde_json::Value;

/// Azurite's single account and its well-known key.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The environment variable the tests pass the key in (`--account-key-env`).
pub const KEY_VAR: &str = "CUTOVER_TEST_ACCOUNT_KEY";
/// Longest any one cutover run may take before the test kills it and fails (a hang guard, not a
/// performance assertion).
pub const RUN_GUARD: Duration = Duration::from_secs(300);

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The test cannot run here: panics on CI (where it must run), else prints why and returns `None`.
pub fn unavailable<T>(what: &str, fix: &str) -> Option<T> {
    if on_ci() {
        panic!("{what}: {fix}");
    }
    eprintln!("SKIPPED: {what} ({fix}); this test checks nothing here");
    None
}

/// Azurite's Blob service entry point installed by `.ci/azurite.sh`.
pub fn azurite_main_js() -> PathBuf {
    project_root().join(".ci/azurite/node_modules/azurite/dist/src/blob/main.js")
}

/// Whether `python3` can import `azure.storage.blob` (checked once).
fn python_sdk() -> &'static Result<(), String> {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    OK.get_or_init(|| {
        match Command::new("python3")
            .args(["-c", "import azure.storage.blob"])
            .output()
        {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "python3 cannot import azure.storage.blob: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
            )),
            Err(e) => Err(format!("python3 not found: {e}")),
        }
    })
}

/// Checks the independent verifier is usable; `None` (skip) or panic (CI) otherwise.
pub fn require_verifier() -> Option<()> {
    match python_sdk() {
        Ok(()) => Some(()),
        Err(e) => unavailable(
            e,
            "the upload tests verify blobs with Microsoft's Python SDK; .ci/run installs it \
             (pip install azure-storage-blob==12.31.1)",
        ),
    }
}

fn reachable(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// `host:port` of an `http://host:port/account` endpoint.
pub fn endpoint_addr(endpoint: &str) -> SocketAddr {
    let rest = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("endpoint {endpoint} is not http://"));
    let hostport = rest.split('/').next().unwrap_or(rest);
    hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("cannot resolve {hostport}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// An Azurite Blob service for one test: the shared one (`AZURITE_BLOB_ENDPOINT`) or a private
/// process (killed when this is dropped) with its own data folder.
pub struct Azurite {
    endpoint: String,
    private: Option<PrivateAzurite>,
    /// With `CUTOVER_TEST_BLOB=sandbox`: the project's own Blob service (`cutover sandbox`).
    sandbox: Option<SandboxProcess>,
}

/// A `cutover sandbox` process, killed on drop.
struct SandboxProcess(Child);

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cutover sandbox` and returns its Blob endpoint (read from its first JSON line).
fn start_sandbox() -> (String, SandboxProcess) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("sandbox")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cutover sandbox");
    let out = child.stdout.take().expect("sandbox stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("sandbox JSON line");
    let v: Value = serde_json::from_str(&line).expect("sandbox prints one JSON object");
    let ep = v["blob_endpoint"]
        .as_str()
        .expect("blob_endpoint")
        .to_string();
    (ep, SandboxProcess(child))
}

struct PrivateAzurite {
    child: Option<Child>,
    port: u16,
    /// Holds `data/` (the --location) and `azurite.log`.
    dir: tempfile::TempDir,
}

impl PrivateAzurite {
    fn start(port: u16, dir: tempfile::TempDir) -> PrivateAzurite {
        let mut me = PrivateAzurite {
            child: None,
            port,
            dir,
        };
        me.spawn();
        me
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("azurite.log")
    }

    fn spawn(&mut self) {
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).expect("create the Azurite data folder");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the Azurite log");
        let child = Command::new("node")
            .arg(azurite_main_js())
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(self.port.to_string())
            .arg("--location")
            .arg(&data)
            .args([
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
                "--loose",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node (Azurite): {e}"));
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if reachable(addr) {
                return;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!(
                    "Azurite exited ({status}) before accepting connections on port {}; its log:\n{}",
                    self.port,
                    std::fs::read_to_string(self.log_path()).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "Azurite did not accept connections on port {} within 60 s; its log:\n{}",
                    self.port,
                    std::fs::read_to_string(self.log_path()).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Graceful stop (SIGTERM: Azurite saves its metadata and closes), SIGKILL after 15 s.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let asked = Instant::now();
        let deadline = asked + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                eprintln!("Azurite stopped {:?} after SIGTERM", asked.elapsed());
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("Azurite still running 15 s after SIGTERM: killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for PrivateAzurite {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Azurite {
    /// The shared emulator from `AZURITE_BLOB_ENDPOINT` if it is set and answers, else a private one.
    /// `None` (after printing why) when neither is possible outside CI; panics on CI.
    pub fn shared() -> Option<Azurite> {
        require_verifier()?;
        if std::env::var("CUTOVER_TEST_BLOB").is_ok_and(|v| v == "sandbox") {
            let (endpoint, p) = start_sandbox();
            return Some(Azurite {
                endpoint,
                private: None,
                sandbox: Some(p),
            });
        }
        if let Ok(ep) = std::env::var("AZURITE_BLOB_ENDPOINT") {
            let ep = ep.trim_end_matches('/').to_string();
            if reachable(endpoint_addr(&ep)) {
                return Some(Azurite {
                    endpoint: ep,
                    private: None,
                    sandbox: None,
                });
            }
            if on_ci() {
                panic!(
                    "AZURITE_BLOB_ENDPOINT={ep} does not accept connections: run .ci/azurite.sh"
                );
            }
            eprintln!(
                "note: AZURITE_BLOB_ENDPOINT={ep} does not answer; starting a private Azurite"
            );
        }
        Self::private()
    }

    /// A fresh Azurite process on a free port with an empty data folder, for tests that stop it.
    pub fn private() -> Option<Azurite> {
        require_verifier()?;
        if !azurite_main_js().is_file() {
            return unavailable(
                &format!(
                    "Azurite is not installed ({} missing)",
                    azurite_main_js().display()
                ),
                "run .ci/azurite.sh (source it) to install and start it",
            );
        }
        if Command::new("node").arg("--version").output().is_err() {
            return unavailable("node is not installed", "run .ci/azurite.sh");
        }
        let dir = tempfile::Builder::new()
            .prefix("cutover-azurite-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let p = PrivateAzurite::start(port, dir);
        Some(Azurite {
            endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}"),
            private: Some(p),
            sandbox: None,
        })
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn addr(&self) -> SocketAddr {
        endpoint_addr(&self.endpoint)
    }

    /// The container URL for `container` on this emulator.
    pub fn container_url(&self, container: &str) -> String {
        format!("{}/{container}", self.endpoint)
    }

    /// Stops a private instance (graceful: SIGTERM). Panics for the shared one.
    pub fn stop(&mut self) {
        self.private
            .as_mut()
            .expect("only a private Azurite can be stopped")
            .stop();
    }

    /// Starts a stopped private instance again, on the same port with the same data folder.
    pub fn restart(&mut self) {
        let p = self
            .private
            .as_mut()
            .expect("only a private Azurite can be restarted");
        p.stop();
        p.spawn();
    }

    /// Committed blobs under `prefix`, read back in full by the Python SDK.
    pub fn blobs(&self, container: &str, prefix: Option<&str>) -> BTreeMap<String, RemoteBlob> {
        let mut args = vec![
            "list".to_string(),
            "--endpoint".into(),
            self.endpoint.clone(),
            "--container".into(),
            container.into(),
        ];
        if let Some(p) = prefix {
            args.push("--prefix".into());
            args.push(p.into());
        }
        serde_json::from_value(verifier(&args)).expect("verify_blobs.py list output")
    }

    pub fn container_exists(&self, container: &str) -> bool {
        verifier(&[
            "exists".into(),
            "--endpoint".into(),
            self.endpoint.clone(),
            "--container".into(),
            container.into(),
        ])["exists"]
            .as_bool()
            .expect("exists is a bool")
    }

    /// Deletes a test's container (the shared emulator keeps its data between runs).
    pub fn delete_container(&self, container: &str) {
        verifier(&[
            "delete".into(),
            "--endpoint".into(),
            self.endpoint.clone(),
            "--container".into(),
            container.into(),
        ]);
    }
}

/// What the independent verifier read back for one blob.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RemoteBlob {
    /// Size the service lists.
    pub size: u64,
    /// MD5 (hex) of the bytes downloaded, computed by Python's hashlib.
    pub md5: String,
    /// The stored Content-MD5 (hex), if any.
    pub content_md5: Option<String>,
    /// The whole-file CRC64 cutover stores in metadata (`cutover_crc64`, base64), if any.
    #[serde(default)]
    pub crc64: Option<String>,
    /// Bytes actually downloaded.
    pub downloaded_bytes: u64,
}

fn verifier(args: &[String]) -> Value {
    let script = project_root().join("tests/tools/verify_blobs.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .env("AZURITE_ACCOUNT_KEY", ACCOUNT_KEY)
        .output()
        .expect("run python3 tests/tools/verify_blobs.py");
    assert!(
        out.status.success(),
        "verify_blobs.py {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify_blobs.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// MD5 (hex) of local files computed by Python's hashlib (fast, for multi-GiB files).
pub fn python_md5(paths: &[&Path]) -> Vec<String> {
    let mut args = vec!["md5".to_string()];
    args.extend(paths.iter().map(|p| p.to_string_lossy().into_owned()));
    let v = verifier(&args);
    paths
        .iter()
        .map(|p| {
            v[p.to_string_lossy().as_ref()]
                .as_str()
                .expect("md5 of each file")
                .to_string()
        })
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// MD5 (hex) of a local file, computed here (for small files: the crate is unoptimized in tests).
pub fn md5_hex(path: &Path) -> String {
    let mut f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex(&h.finalize())
}

/// Asserts the container holds exactly `expected` (blob name -> local file): same set of names, and
/// for each the listed size, the bytes downloaded, their MD5 and the stored Content-MD5 equal the
/// local file's. `local_md5` gives the local hashes (computed by the caller).
pub fn assert_blobs_match(
    remote: &BTreeMap<String, RemoteBlob>,
    expected: &BTreeMap<String, (PathBuf, String)>,
) {
    let got: Vec<&String> = remote.keys().collect();
    let want: Vec<&String> = expected.keys().collect();
    assert_eq!(got, want, "blob names in the container");
    for (name, (path, md5)) in expected {
        let r = &remote[name];
        let size = std::fs::metadata(path).expect("local size").len();
        assert_eq!(r.size, size, "{name}: listed size vs {}", path.display());
        assert_eq!(
            r.downloaded_bytes,
            size,
            "{name}: downloaded bytes vs {}",
            path.display()
        );
        assert_eq!(
            &r.md5, md5,
            "{name}: MD5 of the blob's bytes vs the local file"
        );
        // What cutover stored for later "already uploaded" checks must describe these bytes: the
        // whole-file CRC64 always, the Content-MD5 when it was asked for.
        let local_crc = local_crc64_base64(path);
        assert_eq!(
            r.crc64.as_deref(),
            Some(local_crc.as_str()),
            "{name}: stored CRC64 metadata vs the local file's CRC64"
        );
        if let Some(stored) = &r.content_md5 {
            assert_eq!(
                stored, md5,
                "{name}: stored Content-MD5 vs the local file's MD5"
            );
        }
    }
}

/// Azure Storage's CRC64 of a local file (base64, as cutover stores it).
pub fn local_crc64_base64(path: &Path) -> String {
    let mut f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut d = crc64fast_nvme::Digest::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        d.write(&buf[..n]);
    }
    cutover::storage::client::crc64_base64(d.sum64())
}

/// A container name unique to this test run: `<label>-<pid>-<n>`, valid for Azure (3-63 lowercase
/// letters, digits and single hyphens) and free of "backup", which the upload refuses.
pub fn container_name(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let mut clean = String::new();
    for c in label.to_ascii_lowercase().replace("backup", "bak").chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (clean.is_empty() || clean.ends_with('-'))) {
            clean.push(c);
        }
    }
    clean.truncate(30);
    let clean = clean.trim_end_matches('-');
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 100_000)
        .unwrap_or(0);
    format!("{clean}-{}-{n}-{nanos}", std::process::id())
}

/// The `cutover` binary with the account key in [`KEY_VAR`] and no SAS from the environment.
pub fn cutover() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.env(KEY_VAR, ACCOUNT_KEY)
        .env_remove("CUTOVER_STORAGE_SAS")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    c
}

/// `upload --json DIR --container URL --account-key-env KEY_VAR` followed by `extra`.
pub fn upload_args(dir: &Path, container_url: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "upload".to_string(),
        "--json".into(),
        dir.to_string_lossy().into_owned(),
        "--container".into(),
        container_url.into(),
        "--account-key-env".into(),
        KEY_VAR.into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// A finished cutover run: exit code, output, and the JSON lines split into events and the summary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Objects with an "event" key, in order.
    pub events: Vec<Value>,
    /// The final `{"files":..}` object, if printed.
    pub summary: Option<Value>,
}

impl Run {
    fn from_lines(code: i32, lines: Vec<String>, stderr: String) -> Run {
        let mut events = Vec::new();
        let mut summary = None;
        for l in &lines {
            if let Ok(v) = serde_json::from_str::<Value>(l) {
                if v.get("event").is_some() {
                    events.push(v);
                } else if v.get("files").is_some() {
                    summary = Some(v);
                }
            }
        }
        Run {
            code,
            stdout: lines.join("\n"),
            stderr,
            events,
            summary,
        }
    }

    /// Events of one kind ("uploaded", "retrying"...).
    pub fn events(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    /// Files of the events of one kind.
    pub fn files(&self, kind: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .events(kind)
            .iter()
            .map(|e| e["file"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    }

    /// A summary field as u64 (panics if there is no summary).
    pub fn sum(&self, key: &str) -> u64 {
        self.summary
            .as_ref()
            .unwrap_or_else(|| panic!("no summary line; {}", self.describe()))[key]
            .as_u64()
            .unwrap_or_else(|| panic!("summary.{key} is not a number; {}", self.describe()))
    }

    /// For assertion messages: exit code, stderr and the non-"uploading" stdout lines.
    pub fn describe(&self) -> String {
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| !l.contains("\"event\":\"uploading\""))
            .collect();
        format!(
            "exit {}\n--- stderr:\n{}\n--- stdout (uploading events left out):\n{}",
            self.code,
            self.stderr,
            lines.join("\n")
        )
    }
}

/// Runs cutover to completion (killed and failed after [`RUN_GUARD`]).
pub fn run(args: &[String]) -> Run {
    spawn(args).finish()
}

/// Starts cutover with its stdout read line by line, for tests that act while it runs.
pub fn spawn(args: &[String]) -> Running {
    let mut child = cutover()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cutover");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let out_thread = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    Running {
        child,
        rx,
        lines: Vec::new(),
        out_thread: Some(out_thread),
        err_thread: Some(err_thread),
        started: Instant::now(),
    }
}

/// A cutover process still running.
pub struct Running {
    child: Child,
    rx: mpsc::Receiver<String>,
    /// Stdout lines read so far.
    pub lines: Vec<String>,
    out_thread: Option<JoinHandle<()>>,
    err_thread: Option<JoinHandle<String>>,
    started: Instant,
}

impl Running {
    /// Reads events until one matches `pred` (returned), or the process ends (None). Panics after
    /// [`RUN_GUARD`] (hang guard).
    pub fn wait_for_event(&mut self, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        loop {
            let left = RUN_GUARD.saturating_sub(self.started.elapsed());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    let v = serde_json::from_str::<Value>(&line).ok();
                    self.lines.push(line);
                    if let Some(v) = v
                        && v.get("event").is_some()
                        && pred(&v)
                    {
                        return Some(v);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "cutover still running after {RUN_GUARD:?}; output so far:\n{}",
                        self.lines.join("\n")
                    );
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL (no graceful stop), then collects what it printed.
    pub fn kill(mut self) -> Run {
        self.child.kill().expect("kill cutover");
        self.collect()
    }

    /// Waits for the process to end (killed and failed after [`RUN_GUARD`]).
    pub fn finish(mut self) -> Run {
        while self.wait_for_event(|_| false).is_some() {}
        self.collect()
    }

    fn collect(&mut self) -> Run {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for cutover") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("cutover did not exit after its output closed");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(t) = self.out_thread.take() {
            let _ = t.join();
        }
        while let Ok(line) = self.rx.try_recv() {
            self.lines.push(line);
        }
        let stderr = self
            .err_thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        // A signal leaves no exit code: report it as -1.
        Run::from_lines(
            status.code().unwrap_or(-1),
            std::mem::take(&mut self.lines),
            stderr,
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fast deterministic generator (SplitMix64) for test data and fault schedules.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}

/// Writes `size` pseudo-random bytes (every block different, so a misordered block changes the MD5).
pub fn write_random_file(path: &Path, size: u64, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display())),
    );
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n]).expect("write test data");
        left -= n as u64;
    }
    f.flush().expect("flush test data");
}

/// Sets a file's modification time `secs` seconds in the past, so the upload's stability wait
/// (`--stable-seconds`) does not hold it.
pub fn age_file(path: &Path, secs: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(secs))
        .expect("set mtime");
}

/// Copies a folder tree (the read-only samples) into `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.expect("walk");
        let rel = e.path().strip_prefix(from).expect("under root");
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &dest).expect("copy");
            age_file(&dest, 3600);
        }
    }
}
