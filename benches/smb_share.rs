//! Backups on an SMB share, measured against the test Samba of `.ci/samba.sh` on loopback
//! (`source .ci/samba.sh; cargo bench --bench smb_share`). Prints, never asserts:
//!
//! 1. read MB/s of a 256 MiB file through `SmbFolder` (256 KiB pieces, 1 and 4 readers as the
//!    uploader's blocks in flight), CPU seconds per GiB of this process, vs Samba's own
//!    `smbclient get` of the same file (and a local `pread` of it, for scale); the same on the
//!    share that requires encryption (`secure`, as an Azure file share does);
//! 2. `cutover upload --all-files` of 4 x 64 MiB from the share vs from the same files locally,
//!    into the sandbox's Blob service (`cutover sandbox`), MB/s and the ratio, with the CPU
//!    seconds per GiB of the uploader (each way) and of Samba (the share's way); the files are
//!    dated an hour back, so the uploader's 2 s watch of a recently written file is not timed;
//! 3. the header scan of 1,000 backup files on the share: time, and read calls and bytes per
//!    file (a few small windows each, not one round trip per KiB), vs the same scan locally.
//!
//! Figures are medians of `RUNS` (default 3) runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use cutover::backup::source::ReadAt;
use cutover::backup_folder::{
    BackupFile, BackupFolder, FileStat, ListError, Listing, LocalFolder, SmbAddress, SmbFolder,
    SmbLogin,
};
use cutover::catalog::{ScanOptions, scan};

const MIB: u64 = 1 << 20;
const PIECE: u64 = 256 * 1024;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// Fields of /proc/<pid>/stat after the command name (utime is 11, stime 12, cutime 13, cstime 14).
fn stat_fields(pid: &str) -> Vec<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    after
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(0.0))
        .collect()
}

/// CPU seconds from /proc/<pid>/stat (clock ticks of 1/100 s): its own, and its own plus its
/// waited-for children's.
fn cpu_of(pid: &str) -> (f64, f64) {
    let f = stat_fields(pid);
    let t = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    (t(11) + t(12), t(11) + t(12) + t(13) + t(14))
}

/// This process's user + system CPU seconds.
fn cpu_seconds() -> f64 {
    cpu_of("self").0
}

/// The CPU seconds of the `cutover upload` children this process ran and waited for.
fn children_cpu_seconds() -> f64 {
    let (own, all) = cpu_of("self");
    all - own
}

/// Samba's CPU seconds: the daemon `pid` with the connection servers it forked (live ones, and
/// those that ended and were waited for), and how many are live.
fn smbd_cpu_seconds(pid: &str) -> (f64, usize) {
    let mut total = cpu_of(pid).1;
    let mut live = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let f = stat_fields(&name);
        // Field 1 after the name is the parent's pid.
        if f.get(1).is_some_and(|pp| pp.to_string() == pid) {
            live += 1;
            total += cpu_of(&name).0;
        }
    }
    (total, live)
}

/// Samba's CPU seconds once the connection servers beyond `baseline` have ended (the upload's
/// own ends when the upload closes its connection), waiting at most 3 s for that.
fn smbd_cpu_after(pid: &str, baseline: usize) -> f64 {
    for _ in 0..30 {
        let (cpu, live) = smbd_cpu_seconds(pid);
        if live <= baseline {
            return cpu;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    smbd_cpu_seconds(pid).0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Writes `len` bytes of a cheap pseudo-random stream (incompressible enough) once.
fn ensure_file(p: &Path, len: u64, seed: u64) {
    if std::fs::metadata(p).is_ok_and(|m| m.len() == len) {
        return;
    }
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let mut x = seed | 1;
    let mut buf = vec![0u8; MIB as usize];
    let mut f = std::fs::File::create(p).unwrap();
    for _ in 0..len / MIB {
        for c in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
        }
        std::io::Write::write_all(&mut f, &buf).unwrap();
    }
    // Readable by the share's user.
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
}

/// Dates `p` an hour back, like backups waiting on a share: the uploader takes a file written in
/// the last minutes only once it has watched it unchanged for `--stable-seconds` (2 s), and that
/// wait is not what is measured here (it was, before 2026-12-03: the figures were mostly the wait).
fn make_old(p: &Path) {
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(p)
        .and_then(|f| f.set_modified(hour_ago))
        .unwrap();
}

/// Reads the whole file in 256 KiB pieces, `readers` at a time; returns MB/s and CPU s/GiB.
fn read_all(folder: &dyn BackupFolder, path: &Path, readers: u64) -> (f64, f64) {
    let len = folder.stat(path).unwrap().len;
    let pieces = len.div_ceil(PIECE);
    let (t, c) = (Instant::now(), cpu_seconds());
    std::thread::scope(|s| {
        for r in 0..readers {
            s.spawn(move || {
                let mut f = folder.open(path).unwrap();
                let mut buf = vec![0u8; PIECE as usize];
                let mut i = r;
                while i < pieces {
                    let n = f.read_at(i * PIECE, &mut buf).unwrap();
                    assert!(n > 0);
                    i += readers;
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c;
    (
        len as f64 / 1e6 / secs,
        cpu / (len as f64 / (1u64 << 30) as f64),
    )
}

/// Reads `bench/read-256m.bin` on `share` `runs` times through `folder` (1 and 4 readers) and
/// with `smbclient get` (encrypting on `secure`, signing elsewhere); prints the medians.
fn print_share_reads(
    folder: &SmbFolder,
    addr: &SmbAddress,
    share: &str,
    (port, user, pw_env): (&str, &str, &str),
    runs: usize,
) {
    let file = "bench/read-256m.bin";
    let on_share = addr.to_path().join(file);
    let (mut r1, mut r4, mut cpu1, mut get) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (m, c) = read_all(folder, &on_share, 1);
        r1.push(m);
        cpu1.push(c);
        r4.push(read_all(folder, &on_share, 4).0);
        get.push(256.0 * MIB as f64 / 1e6 / smbclient_get(port, user, pw_env, share, file));
    }
    let (r1, r4, get) = (median(r1), median(r4), median(get));
    println!(
        "  SmbFolder, 1 reader        {r1:8.0} MB/s   {:.2} CPU s/GiB",
        median(cpu1)
    );
    println!("  SmbFolder, 4 readers       {r4:8.0} MB/s");
    println!("  smbclient get              {get:8.0} MB/s");
    println!(
        "  ratio vs smbclient get: 1 reader {:.2}x, 4 readers {:.2}x",
        r1 / get,
        r4 / get
    );
}

/// A folder that counts its read calls and bytes (what the header scan asks of the share).
#[derive(Debug)]
struct Counting<'a> {
    inner: &'a dyn BackupFolder,
    reads: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

struct CountingFile {
    inner: Box<dyn BackupFile>,
    reads: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl ReadAt for CountingFile {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read_at(off, buf)?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl BackupFile for CountingFile {
    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl BackupFolder for Counting<'_> {
    fn list(&self, root: &Path) -> Result<Listing, ListError> {
        self.inner.list(root)
    }
    fn stat(&self, path: &Path) -> std::io::Result<FileStat> {
        self.inner.stat(path)
    }
    fn open(&self, path: &Path) -> std::io::Result<Box<dyn BackupFile>> {
        Ok(Box::new(CountingFile {
            inner: self.inner.open(path)?,
            reads: self.reads.clone(),
            bytes: self.bytes.clone(),
        }))
    }
}

fn smbclient_get(port: &str, user: &str, pw_env: &str, share: &str, file: &str) -> f64 {
    let t = Instant::now();
    let out = Command::new("smbclient")
        .args([
            "-p",
            port,
            "-U",
            user,
            &format!("//127.0.0.1/{share}"),
            "-c",
        ])
        .arg(format!("get {file} /dev/null"))
        // Encrypted where the share requires it, signed elsewhere.
        .arg(if share == "secure" {
            "--client-protection=encrypt"
        } else {
            "--client-protection=sign"
        })
        // The password through smbclient's own variable, never in its arguments.
        .env("PASSWD", env(pw_env).unwrap())
        .output()
        .expect("smbclient");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

struct Sandbox {
    child: std::process::Child,
    info: serde_json::Value,
}

impl Drop for Sandbox {
    /// SIGTERM first, so the sandbox removes its folder under $TMPDIR (a bench runs outside
    /// `.ci/run`, whose temporary folder would take it); SIGKILL if it has not ended in 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `cutover upload`: its MB/s and its CPU seconds.
fn upload_mbps(sb: &Sandbox, dir: &str, container: &str, smb: Option<(&str, &str)>) -> (f64, f64) {
    let s = |k: &str| sb.info[k].as_str().unwrap_or_default().to_string();
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.args(["upload", "--json", "--all-files", "--create-container"])
        .arg(dir)
        .args([
            "--container",
            &format!("{}/{container}", s("blob_endpoint")),
            "--account-key-env",
            "SBX_KEY",
        ])
        .env("SBX_KEY", s("account_key"));
    if let Some((user, pw_env)) = smb {
        c.args(["--smb-user", user, "--smb-password-env", pw_env]);
    }
    let cpu = children_cpu_seconds();
    let out = c.output().unwrap();
    let cpu = children_cpu_seconds() - cpu;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    (last["mb_per_s"].as_f64().unwrap_or(0.0), cpu)
}

fn main() {
    let (Some(port), Some(user), Some(pw_env), Some(root)) = (
        env("CUTOVER_TEST_SMB_PORT"),
        env("CUTOVER_TEST_SMB_USER"),
        env("CUTOVER_TEST_SMB_PASSWORD_ENV"),
        env("CUTOVER_TEST_SMB_ROOT"),
    ) else {
        eprintln!("SKIPPED: no test Samba; `source .ci/samba.sh` first (as root)");
        return;
    };
    let runs: usize = env("RUNS").and_then(|v| v.parse().ok()).unwrap_or(3);
    let root = PathBuf::from(root);
    let addr = SmbAddress::parse(&format!("smb://127.0.0.1:{port}/backups")).unwrap();
    let folder = SmbFolder::new(&addr, SmbLogin::from_env(&user, &pw_env).unwrap()).unwrap();
    folder.connect().unwrap();

    // 1. Reads.
    let big = root.join("bench/read-256m.bin");
    ensure_file(&big, 256 * MIB, 1);
    let smb = (port.as_str(), user.as_str(), pw_env.as_str());
    let local = (0..runs)
        .map(|_| read_all(&LocalFolder, &big, 1).0)
        .collect();
    println!("SMB read, 256 MiB file on the loopback Samba, 256 KiB pieces (median of {runs}):");
    println!("  local pread (page cache)   {:8.0} MB/s", median(local));
    print_share_reads(&folder, &addr, "backups", smb, runs);
    // 1b. The same file on the share that requires encryption (as an Azure file share does).
    let secure = SmbAddress::parse(&format!("smb://127.0.0.1:{port}/secure")).unwrap();
    let sfolder = SmbFolder::new(&secure, SmbLogin::from_env(&user, &pw_env).unwrap()).unwrap();
    sfolder.connect().unwrap();
    println!("The same on the share requiring encryption (every message encrypted):");
    print_share_reads(&sfolder, &secure, "secure", smb, runs);

    // 2. Uploads, share vs local, into the sandbox's Blob service.
    let up = root.join("bench/upload");
    for i in 0..4 {
        let p = up.join(format!("part{i}.bak"));
        ensure_file(&p, 64 * MIB, 10 + i);
        make_old(&p);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("sandbox")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cutover sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let sb = Sandbox {
        child,
        info: serde_json::from_str(&line).unwrap(),
    };
    let smbd = env("CUTOVER_TEST_SMB_PID").unwrap_or_default();
    let gib = 256.0 * MIB as f64 / (1u64 << 30) as f64;
    let (mut from_local, mut cpu_local) = (Vec::new(), Vec::new());
    let (mut from_share, mut cpu_share, mut cpu_smbd) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..runs {
        let (mbps, cpu) = upload_mbps(&sb, up.to_str().unwrap(), &format!("local{r}"), None);
        from_local.push(mbps);
        cpu_local.push(cpu / gib);
        let (smbd_before, live) = smbd_cpu_seconds(&smbd);
        let (mbps, cpu) = upload_mbps(
            &sb,
            &format!("smb://127.0.0.1:{port}/backups/bench/upload"),
            &format!("share{r}"),
            Some((&user, &pw_env)),
        );
        from_share.push(mbps);
        cpu_share.push(cpu / gib);
        cpu_smbd.push((smbd_cpu_after(&smbd, live) - smbd_before) / gib);
    }
    let (l, s) = (median(from_local), median(from_share));
    let (cl, cs, cd) = (median(cpu_local), median(cpu_share), median(cpu_smbd));
    println!(
        "cutover upload --all-files, 4 x 64 MiB (dated an hour back) into the sandbox's Blob service (median of {runs}):"
    );
    println!("  from the local folder      {l:8.1} MB/s   client {cl:.2} CPU s/GiB");
    println!(
        "  from the share             {s:8.1} MB/s   client {cs:.2} CPU s/GiB, smbd {cd:.2} CPU s/GiB   ratio {:.2}x",
        s / l
    );
    println!(
        "  the share's extra CPU: {:.2} s/GiB (client +{:.2}, smbd {cd:.2}) on the cores the Blob service also uses",
        cs - cl + cd,
        cs - cl
    );

    // 3. Header scan of 1,000 files.
    let scan_dir = root.join("bench/scan1000");
    let sample = root.join("restoretimeclean2016/RestoreTimeClean2_1.trn");
    std::fs::create_dir_all(&scan_dir).unwrap();
    for i in 0..1000 {
        let p = scan_dir.join(format!("log_{i:04}.trn"));
        if !p.exists() {
            std::fs::copy(&sample, &p).unwrap();
        }
    }
    let opts = ScanOptions::default();
    let reads = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: &folder,
        reads: reads.clone(),
        bytes: bytes.clone(),
    };
    let mut t_share = Vec::new();
    let mut t_local = Vec::new();
    for _ in 0..runs {
        reads.store(0, Ordering::Relaxed);
        bytes.store(0, Ordering::Relaxed);
        let t = Instant::now();
        let s =
            scan::scan_folder_in(&counting, &addr.to_path().join("bench/scan1000"), &opts).unwrap();
        t_share.push(t.elapsed().as_secs_f64());
        assert_eq!(s.files.len(), 1000);
        let t = Instant::now();
        scan::scan_folder(&scan_dir, &opts).unwrap();
        t_local.push(t.elapsed().as_secs_f64());
    }
    let file_len = std::fs::metadata(&sample).unwrap().len();
    println!(
        "Header scan of 1,000 log backups ({} KiB each) (median of {runs}):",
        file_len / 1024
    );
    println!(
        "  on the share               {:8.2} s   {:.1} ms/file, {:.1} reads/file, {:.0} KiB read/file",
        median(t_share.clone()),
        median(t_share) * 1000.0 / 1000.0,
        reads.load(Ordering::Relaxed) as f64 / 1000.0,
        bytes.load(Ordering::Relaxed) as f64 / 1024.0 / 1000.0
    );
    println!("  local                      {:8.2} s", median(t_local));
}
