//! A fault-injecting HTTP/1.1 proxy between cutover and Azurite, on tokio.
//!
//! It accepts on `127.0.0.1:0`, reads each request (head and `Content-Length` body), forwards it to
//! the emulator on a fresh connection with `Connection: close`, reads the whole response and relays
//! it, then closes the client connection (the relayed head says `Connection: close`, so clients never
//! reuse a connection the proxy is about to close). Requests are numbered in arrival order; a seeded
//! schedule picks which ones get a fault, at most a fixed number in all, with at least one healthy
//! request between two scheduled faults (so one operation's retries cannot all be faulted), and
//! [`FaultProxy::also_on_first`] targets one request by its line:
//!
//! - [`Fault::DropBeforeForward`]: the connection is closed without forwarding the request;
//! - [`Fault::DropAfterForward`]: the request reaches the emulator (its effect happens), the
//!   response is lost;
//! - [`Fault::DropMidResponse`]: half of the response is sent, then the connection is closed;
//! - [`Fault::Error500`] / [`Fault::Error503`]: answered by the proxy with that status,
//!   `Retry-After: 1` and a Blob Storage error body (`InternalError` / `ServerBusy`);
//! - [`Fault::Delay`]: the response is held for 1.5 s (slow, not failed: no retry expected).
//!
//! [`FaultProxy::refusing`] answers every request whose line contains a pattern with 403
//! `AuthorizationFailure` (a refusal for good, e.g. one database's folder).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    DropBeforeForward,
    DropAfterForward,
    DropMidResponse,
    Error500,
    Error503,
    Delay,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::DropBeforeForward,
        Fault::DropAfterForward,
        Fault::DropMidResponse,
        Fault::Error500,
        Fault::Error503,
        Fault::Delay,
    ];

    /// Whether the client sees a failed request (and should retry it).
    pub fn fails_request(self) -> bool {
        self != Fault::Delay
    }
}

/// One fault the proxy injected.
#[derive(Debug, Clone)]
pub struct Injected {
    /// Request number (0 = first request the proxy saw).
    pub request: u64,
    pub fault: Fault,
    /// Request line, e.g. "PUT /devstoreaccount1/c/blob?comp=block&...": the query is cut off.
    pub request_line: String,
}

struct Schedule {
    rng: Rng,
    pending: VecDeque<Fault>,
    next_at: u64,
}

struct Shared {
    upstream: SocketAddr,
    /// Faults for the first request with this method whose line contains the pattern (each used
    /// once).
    targeted: Mutex<Vec<(String, String, Fault)>>,
    /// Request-line patterns refused with 403 every time.
    refused: Mutex<Vec<String>>,
    requests: AtomicU64,
    schedule: Mutex<Schedule>,
    injected: Mutex<Vec<Injected>>,
    /// Requests the proxy could not parse or forward (unexpected: reported to the test).
    problems: Mutex<Vec<String>>,
}

/// The running proxy; stops when dropped.
pub struct FaultProxy {
    rt: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    shared: Arc<Shared>,
    planned: usize,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` that injects each kind of [`Fault::ALL`] `per_kind` times, in an
    /// order and at request numbers drawn from `seed`; the first fault hits request `first_at`.
    pub fn start(upstream: SocketAddr, seed: u64, per_kind: usize, first_at: u64) -> FaultProxy {
        let mut rng = Rng::new(seed);
        let mut faults: Vec<Fault> = Fault::ALL
            .iter()
            .flat_map(|f| std::iter::repeat_n(*f, per_kind))
            .collect();
        // Fisher-Yates with the seeded generator.
        for i in (1..faults.len()).rev() {
            let j = rng.range(0, i as u64) as usize;
            faults.swap(i, j);
        }
        let planned = faults.len();
        let shared = Arc::new(Shared {
            upstream,
            targeted: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            schedule: Mutex::new(Schedule {
                rng,
                pending: faults.into(),
                next_at: first_at,
            }),
            injected: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("proxy bind");
        let addr = listener.local_addr().expect("proxy address");
        let s = shared.clone();
        rt.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(conn, &s).await {
                        s.problems.lock().expect("lock").push(e);
                    }
                });
            }
        });
        FaultProxy {
            rt: Some(rt),
            addr,
            shared,
            planned,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Also injects `fault` into the first `method` request whose request line contains `pattern`
    /// (e.g. "PUT", "comp=blocklist": Put Block List), outside the schedule; counted in
    /// [`FaultProxy::planned`].
    pub fn also_on_first(mut self, method: &str, pattern: &str, fault: Fault) -> FaultProxy {
        self.shared.targeted.lock().expect("lock").push((
            method.to_string(),
            pattern.to_string(),
            fault,
        ));
        self.planned += 1;
        self
    }

    /// Refuses every request whose request line contains `pattern` with 403 AuthorizationFailure
    /// (not counted as a fault: it never passes).
    pub fn refusing(self, pattern: &str) -> FaultProxy {
        self.shared
            .refused
            .lock()
            .expect("lock")
            .push(pattern.to_string());
        self
    }

    /// Faults planned in all.
    pub fn planned(&self) -> usize {
        self.planned
    }

    /// Faults injected so far.
    pub fn injected(&self) -> Vec<Injected> {
        self.shared.injected.lock().expect("lock").clone()
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests the proxy could not handle (it found no complete request, or the emulator did not
    /// answer); expected to be empty.
    pub fn problems(&self) -> Vec<String> {
        self.shared.problems.lock().expect("lock").clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Most requests from one scheduled fault to the next (at least 2: never two in a row). With `n`
/// scheduled faults starting at request `first_at`, all are injected within
/// `first_at + (n - 1) * MAX_GAP + 1` requests.
pub const MAX_GAP: u64 = 8;

/// The request line with only the `comp` and `restype` query parameters (no SAS).
fn without_secrets(line: &str) -> String {
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| kv.starts_with("comp=") || kv.starts_with("restype="))
        .collect();
    if kept.is_empty() {
        format!("{method} {path}")
    } else {
        format!("{method} {path}?{}", kept.join("&"))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads until the end of the head; returns (head without the blank line, bytes after it), or None
/// when the client closed the connection before sending anything.
async fn read_head(conn: &mut TcpStream) -> Result<Option<(Vec<u8>, Vec<u8>)>, String> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            let rest = buf.split_off(p + 4);
            buf.truncate(p);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > 256 * 1024 {
            return Err("request head over 256 KiB".into());
        }
        let n = conn
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read request: {e}"))?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err("client closed mid-head".into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with any Connection / Keep-Alive header replaced by `Connection: close`.
fn with_close(head: &str) -> String {
    let mut out = String::with_capacity(head.len() + 24);
    for (i, l) in head.split("\r\n").enumerate() {
        let name = l.split(':').next().unwrap_or("").trim();
        if i > 0
            && (name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive"))
        {
            continue;
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn error_response(status: u16, reason: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>injected by the \
         test proxy</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nx-ms-error-code: {code}\r\n\
         Retry-After: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn handle(mut conn: TcpStream, s: &Shared) -> Result<(), String> {
    let Some((head, mut body)) = read_head(&mut conn).await? else {
        return Ok(());
    };
    let head = String::from_utf8(head).map_err(|_| "request head is not UTF-8".to_string())?;
    let request_line = head.lines().next().unwrap_or("").to_string();
    if header(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return Err(format!(
            "chunked request bodies are not supported: {request_line}"
        ));
    }
    let len: usize = header(&head, "content-length")
        .map(|v| v.parse().map_err(|_| format!("bad Content-Length: {v}")))
        .transpose()?
        .unwrap_or(0);
    let mut chunk = vec![0u8; 64 * 1024];
    while body.len() < len {
        let n = conn
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read body of {request_line}: {e}"))?;
        if n == 0 {
            // The client gave up (e.g. killed): nothing to forward.
            return Ok(());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);

    let index = s.requests.fetch_add(1, Ordering::SeqCst);
    let refused = {
        let r = s.refused.lock().expect("lock");
        r.iter().any(|p| request_line.contains(p.as_str()))
    };
    if refused {
        let _ = conn
            .write_all(&error_response(403, "Forbidden", "AuthorizationFailure"))
            .await;
        return Ok(());
    }
    let targeted = {
        let mut t = s.targeted.lock().expect("lock");
        t.iter()
            .position(|(m, pat, _)| {
                request_line.starts_with(&format!("{m} ")) && request_line.contains(pat.as_str())
            })
            .map(|i| t.remove(i).2)
    };
    let fault = targeted.or_else(|| {
        let mut sch = s.schedule.lock().expect("lock");
        if index >= sch.next_at
            && let Some(f) = sch.pending.pop_front()
        {
            let gap = sch.rng.range(2, MAX_GAP);
            sch.next_at = index + gap;
            Some(f)
        } else {
            None
        }
    });
    if let Some(f) = fault {
        s.injected.lock().expect("lock").push(Injected {
            request: index,
            fault: f,
            request_line: without_secrets(&request_line),
        });
    }

    match fault {
        Some(Fault::DropBeforeForward) => return Ok(()),
        Some(Fault::Error500) => {
            let _ = conn
                .write_all(&error_response(
                    500,
                    "Internal Server Error",
                    "InternalError",
                ))
                .await;
            return Ok(());
        }
        Some(Fault::Error503) => {
            let _ = conn
                .write_all(&error_response(503, "Service Unavailable", "ServerBusy"))
                .await;
            return Ok(());
        }
        _ => {}
    }

    // Forward on a fresh connection and read the whole response (the emulator closes after it).
    let mut up = TcpStream::connect(s.upstream)
        .await
        .map_err(|e| format!("connect to the emulator: {e}"))?;
    up.write_all(with_close(&head).as_bytes())
        .await
        .map_err(|e| format!("forward head: {e}"))?;
    up.write_all(&body)
        .await
        .map_err(|e| format!("forward body: {e}"))?;
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(120), up.read_to_end(&mut resp))
        .await
        .map_err(|_| format!("no answer from the emulator for {request_line}"))?
        .map_err(|e| format!("read the emulator's answer: {e}"))?;
    let Some(p) = find(&resp, b"\r\n\r\n") else {
        return Err(format!(
            "the emulator's answer to {request_line} has no complete head"
        ));
    };
    let resp_head = String::from_utf8_lossy(&resp[..p]).into_owned();
    let mut out = with_close(&resp_head).into_bytes();
    out.extend_from_slice(&resp[p + 4..]);

    match fault {
        Some(Fault::DropAfterForward) => Ok(()),
        Some(Fault::DropMidResponse) => {
            let _ = conn.write_all(&out[..out.len() / 2]).await;
            let _ = conn.flush().await;
            Ok(())
        }
        Some(Fault::Delay) => {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = conn.write_all(&out).await;
            let _ = conn.shutdown().await;
            Ok(())
        }
        _ => {
            let _ = conn.write_all(&out).await;
            let _ = conn.shutdown().await;
            Ok(())
        }
    }
}
