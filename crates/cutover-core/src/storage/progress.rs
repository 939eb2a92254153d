//! Upload progress: the events the uploader emits (serialized as JSON lines for scripts), and
//! throughput measurement for the engine and the TUI. No I/O, and no clock reads except in
//! `ThroughputMeter::default`: every time is passed in, so tests use synthetic `Instant`s.
//!
//! Event texts (`reason`, `error`) often quote HTTP errors, which may quote a SAS URL: they are
//! passed through [`redact_sas`] whenever an event is displayed, debug-printed or serialized.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize, Serializer};

use super::sas::redact_sas;

/// What happened to one file, for the log, the engine and the TUI. Serialized as a JSON object
/// tagged by `"event"` in snake_case, e.g. `{"event":"uploaded","file":"db/x.bak",...}`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum UploadEvent {
    /// The file is queued for upload.
    Queued {
        /// Blob name (or file name).
        file: String,
        /// Its size.
        bytes: u64,
    },
    /// The file will not be uploaded (e.g. already in the container, identical).
    Skipped {
        /// Blob name.
        file: String,
        /// Why.
        #[serde(serialize_with = "redacted")]
        reason: String,
    },
    /// The file is still being written by the backup job: waiting for it to settle.
    Waiting {
        /// Blob name.
        file: String,
        /// What is awaited.
        #[serde(serialize_with = "redacted")]
        reason: String,
    },
    /// Bytes sent so far.
    Uploading {
        /// Blob name.
        file: String,
        /// Bytes done, resumed bytes included.
        done: u64,
        /// File size.
        total: u64,
    },
    /// A request failed and will be retried.
    Retrying {
        /// Blob name.
        file: String,
        /// Attempt number that failed (1 for the first).
        attempt: u32,
        /// Wait before the next attempt.
        delay_ms: u64,
        /// The failure.
        #[serde(serialize_with = "redacted")]
        reason: String,
    },
    /// The file is in the container, committed.
    Uploaded {
        /// Blob name.
        file: String,
        /// File size.
        bytes: u64,
        /// Time taken.
        seconds: f64,
        /// Bytes found already staged by an earlier run and not sent again.
        resumed_bytes: u64,
    },
    /// The upload gave up.
    Failed {
        /// Blob name.
        file: String,
        /// The last error.
        #[serde(serialize_with = "redacted")]
        error: String,
    },
}

fn redacted<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_sas(text))
}

impl UploadEvent {
    /// The file the event is about.
    pub fn file(&self) -> &str {
        match self {
            UploadEvent::Queued { file, .. }
            | UploadEvent::Skipped { file, .. }
            | UploadEvent::Waiting { file, .. }
            | UploadEvent::Uploading { file, .. }
            | UploadEvent::Retrying { file, .. }
            | UploadEvent::Uploaded { file, .. }
            | UploadEvent::Failed { file, .. } => file,
        }
    }

    /// The event's tag as serialized ("queued", "uploaded"...).
    pub fn kind(&self) -> &'static str {
        match self {
            UploadEvent::Queued { .. } => "queued",
            UploadEvent::Skipped { .. } => "skipped",
            UploadEvent::Waiting { .. } => "waiting",
            UploadEvent::Uploading { .. } => "uploading",
            UploadEvent::Retrying { .. } => "retrying",
            UploadEvent::Uploaded { .. } => "uploaded",
            UploadEvent::Failed { .. } => "failed",
        }
    }

    /// True for the last event of a file: uploaded, skipped or failed.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            UploadEvent::Uploaded { .. } | UploadEvent::Skipped { .. } | UploadEvent::Failed { .. }
        )
    }
}

/// One line for a log or a status bar; SAS signatures redacted.
impl fmt::Display for UploadEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadEvent::Queued { file, bytes } => write!(f, "{file}: queued ({bytes} bytes)"),
            UploadEvent::Skipped { file, reason } => {
                write!(f, "{file}: skipped: {}", redact_sas(reason))
            }
            UploadEvent::Waiting { file, reason } => {
                write!(f, "{file}: waiting: {}", redact_sas(reason))
            }
            UploadEvent::Uploading { file, done, total } => {
                write!(f, "{file}: {done} of {total} bytes")
            }
            UploadEvent::Retrying {
                file,
                attempt,
                delay_ms,
                reason,
            } => write!(
                f,
                "{file}: attempt {attempt} failed, retrying in {delay_ms} ms: {}",
                redact_sas(reason)
            ),
            UploadEvent::Uploaded {
                file,
                bytes,
                seconds,
                resumed_bytes,
            } => {
                write!(f, "{file}: uploaded {bytes} bytes in {seconds:.1} s")?;
                if *resumed_bytes > 0 {
                    write!(f, " ({resumed_bytes} bytes resumed)")?;
                }
                Ok(())
            }
            UploadEvent::Failed { file, error } => {
                write!(f, "{file}: failed: {}", redact_sas(error))
            }
        }
    }
}

/// Like a derived `Debug`, with SAS signatures redacted from the texts.
impl fmt::Debug for UploadEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadEvent::Queued { file, bytes } => f
                .debug_struct("Queued")
                .field("file", file)
                .field("bytes", bytes)
                .finish(),
            UploadEvent::Skipped { file, reason } => f
                .debug_struct("Skipped")
                .field("file", file)
                .field("reason", &redact_sas(reason))
                .finish(),
            UploadEvent::Waiting { file, reason } => f
                .debug_struct("Waiting")
                .field("file", file)
                .field("reason", &redact_sas(reason))
                .finish(),
            UploadEvent::Uploading { file, done, total } => f
                .debug_struct("Uploading")
                .field("file", file)
                .field("done", done)
                .field("total", total)
                .finish(),
            UploadEvent::Retrying {
                file,
                attempt,
                delay_ms,
                reason,
            } => f
                .debug_struct("Retrying")
                .field("file", file)
                .field("attempt", attempt)
                .field("delay_ms", delay_ms)
                .field("reason", &redact_sas(reason))
                .finish(),
            UploadEvent::Uploaded {
                file,
                bytes,
                seconds,
                resumed_bytes,
            } => f
                .debug_struct("Uploaded")
                .field("file", file)
                .field("bytes", bytes)
                .field("seconds", seconds)
                .field("resumed_bytes", resumed_bytes)
                .finish(),
            UploadEvent::Failed { file, error } => f
                .debug_struct("Failed")
                .field("file", file)
                .field("error", &redact_sas(error))
                .finish(),
        }
    }
}

/// The length of a [`ThroughputMeter`] bucket.
pub const BUCKET: Duration = Duration::from_secs(1);
/// How many one-second buckets [`ThroughputMeter::history`] returns.
pub const HISTORY_SECONDS: usize = 60;
/// The default averaging window of [`ThroughputMeter::rate_bytes_per_sec`].
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5);

/// Measures throughput from byte counts: a moving average over a window, the total, and the last
/// [`HISTORY_SECONDS`] seconds for a sparkline. Counts go into one-second buckets aligned on the
/// meter's start, kept in a fixed ring: memory does not grow with the duration.
#[derive(Debug, Clone)]
pub struct ThroughputMeter {
    start: Instant,
    window_buckets: u64,
    ring: Vec<u64>,
    /// Index (seconds since `start`) of the newest bucket in the ring.
    head: u64,
    total: u64,
}

impl ThroughputMeter {
    /// A meter started at `start`, averaging over [`DEFAULT_WINDOW`].
    pub fn new(start: Instant) -> Self {
        ThroughputMeter::with_window(start, DEFAULT_WINDOW)
    }

    /// A meter started at `start`, averaging over `window` (rounded up to whole seconds, at least
    /// one).
    pub fn with_window(start: Instant, window: Duration) -> Self {
        let window_buckets = window.as_secs() + u64::from(window.subsec_nanos() > 0);
        let window_buckets = window_buckets.max(1);
        // The window needs window + 1 buckets (see rate_bytes_per_sec), the history 60 + 1 (the
        // current, partial one). The window is the caller's choice: cap it at a day of buckets.
        let window_buckets = window_buckets.min(86_400);
        let len = (window_buckets + 1).max(HISTORY_SECONDS as u64 + 1);
        ThroughputMeter {
            start,
            window_buckets,
            ring: vec![0; len as usize],
            head: 0,
            total: 0,
        }
    }

    /// When the meter started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The averaging window.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_buckets.saturating_mul(BUCKET.as_secs()))
    }

    /// Counts `bytes` done at `at`. Times before the start count in the first second; times older
    /// than the ring count only in the total.
    pub fn record(&mut self, bytes: u64, at: Instant) {
        self.total = self.total.saturating_add(bytes);
        let idx = self.bucket_of(at);
        if idx > self.head {
            self.advance(idx);
        }
        let len = self.ring.len() as u64;
        if self.head - idx < len {
            let slot = (idx % len) as usize;
            self.ring[slot] = self.ring[slot].saturating_add(bytes);
        }
    }

    /// All bytes recorded.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Bytes per second over the window ending at `now`: the bytes recorded from the start of the
    /// bucket `window` seconds back (or from the meter's start, early on) up to `now`, divided by
    /// that span (between `window` and `window` + 1 s once running). 0 at the start instant.
    pub fn rate_bytes_per_sec(&self, now: Instant) -> f64 {
        let now_idx = self.bucket_of(now);
        let first = now_idx.saturating_sub(self.window_buckets);
        let span = now
            .saturating_duration_since(self.start)
            .saturating_sub(Duration::from_secs(first.saturating_mul(BUCKET.as_secs())));
        if span.is_zero() {
            return 0.0;
        }
        let bytes: u64 = (first..=now_idx).map(|i| self.bucket(i)).sum();
        bytes as f64 / span.as_secs_f64()
    }

    /// Average bytes per second since the start.
    pub fn average_bytes_per_sec(&self, now: Instant) -> f64 {
        let span = now.saturating_duration_since(self.start);
        if span.is_zero() {
            0.0
        } else {
            self.total as f64 / span.as_secs_f64()
        }
    }

    /// Bytes recorded in each of the last [`HISTORY_SECONDS`] complete seconds before `now`, oldest
    /// first (seconds before the start count as 0). The current, partial second is left out.
    pub fn history(&self, now: Instant) -> Vec<u64> {
        let now_idx = self.bucket_of(now);
        (1..=HISTORY_SECONDS as u64)
            .rev()
            .map(|back| now_idx.checked_sub(back).map_or(0, |i| self.bucket(i)))
            .collect()
    }

    fn bucket_of(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_secs() / BUCKET.as_secs()
    }

    /// The bytes of bucket `idx` (0 if it is newer than the head or fell out of the ring).
    fn bucket(&self, idx: u64) -> u64 {
        let len = self.ring.len() as u64;
        if idx > self.head || self.head - idx >= len {
            0
        } else {
            self.ring[(idx % len) as usize]
        }
    }

    /// Moves the head to `idx`, zeroing the buckets it passes (at most the whole ring once).
    fn advance(&mut self, idx: u64) {
        let len = self.ring.len() as u64;
        if idx - self.head >= len {
            self.ring.iter_mut().for_each(|b| *b = 0);
        } else {
            for i in self.head + 1..=idx {
                self.ring[(i % len) as usize] = 0;
            }
        }
        self.head = idx;
    }
}

/// A meter started now, averaging over [`DEFAULT_WINDOW`].
impl Default for ThroughputMeter {
    fn default() -> Self {
        ThroughputMeter::new(Instant::now())
    }
}

/// Progress of one file: bytes done of the total, since when, and its own throughput meter.
#[derive(Debug, Clone)]
pub struct FileProgress {
    /// File size.
    pub total: u64,
    /// Bytes done, resumed bytes included.
    pub done: u64,
    /// When this run started on the file.
    pub started: Instant,
    /// Throughput of this run (resumed bytes not included).
    pub meter: ThroughputMeter,
}

impl FileProgress {
    /// A file of `total` bytes started at `started`, nothing done.
    pub fn new(total: u64, started: Instant) -> Self {
        FileProgress::resumed(total, 0, started)
    }

    /// A file of `total` bytes of which `already_done` were sent by an earlier run: they count as
    /// done but not in the throughput.
    pub fn resumed(total: u64, already_done: u64, started: Instant) -> Self {
        FileProgress {
            total,
            done: already_done.min(total),
            started,
            meter: ThroughputMeter::new(started),
        }
    }

    /// Counts `bytes` sent at `at`.
    pub fn record(&mut self, bytes: u64, at: Instant) {
        self.done = self.done.saturating_add(bytes).min(self.total);
        self.meter.record(bytes, at);
    }

    /// Bytes left.
    pub fn remaining(&self) -> u64 {
        self.total.saturating_sub(self.done)
    }

    /// Done as a fraction of the total, 0.0 to 1.0 (1.0 for an empty file).
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }

    /// True when every byte is done.
    pub fn is_complete(&self) -> bool {
        self.done >= self.total
    }

    /// Time left at the current rate: zero when complete, `None` while nothing moves (at the start
    /// or when stalled over the whole window).
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        if self.is_complete() {
            return Some(Duration::ZERO);
        }
        let rate = self.meter.rate_bytes_per_sec(now);
        if rate <= 0.0 || !rate.is_finite() {
            return None;
        }
        Duration::try_from_secs_f64(self.remaining() as f64 / rate).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    // ---- events

    #[test]
    fn events_serialize_tagged_snake_case() {
        let e = UploadEvent::Uploaded {
            file: "db/x.bak".into(),
            bytes: 1024,
            seconds: 2.5,
            resumed_bytes: 512,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"uploaded","file":"db/x.bak","bytes":1024,"seconds":2.5,"resumed_bytes":512}"#
        );
        let e = UploadEvent::Retrying {
            file: "db/x.bak".into(),
            attempt: 2,
            delay_ms: 800,
            reason: "HTTP 503".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"retrying","file":"db/x.bak","attempt":2,"delay_ms":800,"reason":"HTTP 503"}"#
        );
        let tags: Vec<String> = all_events()
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::to_value(e).unwrap();
                v["event"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(
            tags,
            [
                "queued",
                "skipped",
                "waiting",
                "uploading",
                "retrying",
                "uploaded",
                "failed"
            ]
        );
        for e in all_events() {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["event"], e.kind());
            assert_eq!(v["file"], e.file());
        }
    }

    fn all_events() -> Vec<UploadEvent> {
        let f = || "db/x.bak".to_string();
        vec![
            UploadEvent::Queued {
                file: f(),
                bytes: 10,
            },
            UploadEvent::Skipped {
                file: f(),
                reason: "same MD5".into(),
            },
            UploadEvent::Waiting {
                file: f(),
                reason: "size changing".into(),
            },
            UploadEvent::Uploading {
                file: f(),
                done: 5,
                total: 10,
            },
            UploadEvent::Retrying {
                file: f(),
                attempt: 1,
                delay_ms: 100,
                reason: "503".into(),
            },
            UploadEvent::Uploaded {
                file: f(),
                bytes: 10,
                seconds: 1.0,
                resumed_bytes: 0,
            },
            UploadEvent::Failed {
                file: f(),
                error: "403".into(),
            },
        ]
    }

    #[test]
    fn events_round_trip_through_json() {
        for e in all_events() {
            let json = serde_json::to_string(&e).unwrap();
            let back: UploadEvent = serde_json::from_str(&json).unwrap();
            assert_eq!(back, e, "{json}");
        }
        let e: UploadEvent =
            serde_json::from_str(r#"{"event":"queued","file":"a","bytes":3}"#).unwrap();
        assert_eq!(
            e,
            UploadEvent::Queued {
                file: "a".into(),
                bytes: 3
            }
        );
        assert!(serde_json::from_str::<UploadEvent>(r#"{"event":"exploded","file":"a"}"#).is_err());
    }

    #[test]
    fn event_texts_never_leak_a_sas_signature() {
        let leaky = "PUT https://a.blob.core.windows.net/c/db/x.bak?sv=2022-11-02&sp=rl&sig=s3cr3t%2Bsig%3D: 403".to_string();
        let events = [
            UploadEvent::Failed {
                file: "db/x.bak".into(),
                error: leaky.clone(),
            },
            UploadEvent::Retrying {
                file: "db/x.bak".into(),
                attempt: 1,
                delay_ms: 5,
                reason: leaky.clone(),
            },
            UploadEvent::Skipped {
                file: "db/x.bak".into(),
                reason: leaky.clone(),
            },
            UploadEvent::Waiting {
                file: "db/x.bak".into(),
                reason: leaky.clone(),
            },
        ];
        for e in &events {
            for shown in [
                serde_json::to_string(e).unwrap(),
                format!("{e}"),
                format!("{e:?}"),
            ] {
                assert!(!shown.contains("s3cr3t"), "{shown}");
                assert!(shown.contains("sig=REDACTED"), "{shown}");
                assert!(shown.contains("403"), "{shown}");
            }
        }
    }

    #[test]
    fn event_helpers_and_display() {
        let events = all_events();
        let finals: Vec<bool> = events.iter().map(UploadEvent::is_final).collect();
        assert_eq!(finals, [false, true, false, false, false, true, true]);
        assert_eq!(
            events[5].to_string(),
            "db/x.bak: uploaded 10 bytes in 1.0 s"
        );
        let resumed = UploadEvent::Uploaded {
            file: "f".into(),
            bytes: 10,
            seconds: 0.26,
            resumed_bytes: 4,
        };
        assert_eq!(
            resumed.to_string(),
            "f: uploaded 10 bytes in 0.3 s (4 bytes resumed)"
        );
        assert_eq!(events[3].to_string(), "db/x.bak: 5 of 10 bytes");
        assert_eq!(
            events[4].to_string(),
            "db/x.bak: attempt 1 failed, retrying in 100 ms: 503"
        );
    }

    // ---- throughput

    #[test]
    fn steady_rate_is_measured() {
        let t0 = Instant::now();
        let mut m = ThroughputMeter::new(t0);
        // 1 MB every 100 ms = 10 MB/s. Asked mid-second, after 19.5 s.
        for i in 1..=195u64 {
            m.record(1_000_000, t0 + Duration::from_millis(100 * i));
        }
        let rate = m.rate_bytes_per_sec(t0 + secs(19.55));
        // Within one record (1 MB in a 5.55 s span) of the true rate.
        assert!((rate - 10_000_000.0).abs() <= 200_000.0, "{rate}");
        // And on a second boundary, after 20 s.
        for i in 196..=200u64 {
            m.record(1_000_000, t0 + Duration::from_millis(100 * i));
        }
        let now = t0 + secs(20.0);
        let rate = m.rate_bytes_per_sec(now);
        assert!((rate - 10_000_000.0).abs() <= 200_000.0, "{rate}");
        assert_eq!(m.total_bytes(), 200_000_000);
        assert!((m.average_bytes_per_sec(now) - 10_000_000.0).abs() < 1.0);
    }

    #[test]
    fn rate_follows_changes_within_the_window() {
        let t0 = Instant::now();
        let mut m = ThroughputMeter::new(t0);
        // 1000 B/s for 30 s, then 5000 B/s.
        for s in 0..30u64 {
            m.record(
                1000,
                t0 + Duration::from_secs(s) + Duration::from_millis(500),
            );
        }
        let at30 = m.rate_bytes_per_sec(t0 + secs(30.0));
        assert!((at30 - 1000.0).abs() < 1.0, "{at30}");
        for s in 30..60u64 {
            m.record(
                5000,
                t0 + Duration::from_secs(s) + Duration::from_millis(500),
            );
        }
        // Half a window after the change: between the two rates.
        let at32 = m.rate_bytes_per_sec(t0 + secs(32.5));
        assert!(at32 > 1000.0 && at32 < 5000.0, "{at32}");
        let at60 = m.rate_bytes_per_sec(t0 + secs(60.0));
        assert!((at60 - 5000.0).abs() < 1.0, "{at60}");
        // Stalled: the rate decays to zero once the window has passed.
        assert!(m.rate_bytes_per_sec(t0 + secs(63.0)) < 5000.0);
        assert_eq!(m.rate_bytes_per_sec(t0 + secs(70.0)), 0.0);
        assert_eq!(m.rate_bytes_per_sec(t0 + secs(100_000.0)), 0.0);
    }

    #[test]
    fn early_rate_uses_the_elapsed_time() {
        let t0 = Instant::now();
        let mut m = ThroughputMeter::new(t0);
        assert_eq!(m.rate_bytes_per_sec(t0), 0.0);
        m.record(500, t0 + secs(0.5));
        assert!((m.rate_bytes_per_sec(t0 + secs(0.5)) - 1000.0).abs() < 1e-6);
        assert!((m.rate_bytes_per_sec(t0 + secs(2.0)) - 250.0).abs() < 1e-6);
        // Recorded at the start instant, asked at the start instant: no time passed.
        let mut m = ThroughputMeter::new(t0);
        m.record(100, t0);
        assert_eq!(m.rate_bytes_per_sec(t0), 0.0);
        assert_eq!(m.total_bytes(), 100);
    }

    #[test]
    fn window_is_configurable() {
        let t0 = Instant::now();
        let mut short = ThroughputMeter::with_window(t0, Duration::from_secs(1));
        let mut long = ThroughputMeter::with_window(t0, Duration::from_secs(120));
        assert_eq!(short.window(), Duration::from_secs(1));
        assert_eq!(long.window(), Duration::from_secs(120));
        assert_eq!(
            ThroughputMeter::with_window(t0, Duration::from_millis(1500)).window(),
            Duration::from_secs(2)
        );
        assert_eq!(
            ThroughputMeter::with_window(t0, Duration::ZERO).window(),
            BUCKET
        );
        assert_eq!(ThroughputMeter::new(t0).window(), DEFAULT_WINDOW);
        assert_eq!(ThroughputMeter::default().window(), DEFAULT_WINDOW);
        // A burst of 100 kB in second 10, nothing since.
        for m in [&mut short, &mut long] {
            m.record(100_000, t0 + secs(10.5));
        }
        let now = t0 + secs(15.0);
        assert_eq!(short.rate_bytes_per_sec(now), 0.0);
        assert!((long.rate_bytes_per_sec(now) - 100_000.0 / 15.0).abs() < 1e-6);
        // The long window still sees it 100 s later; memory is the 121-bucket ring.
        let later = t0 + secs(110.0);
        assert!((long.rate_bytes_per_sec(later) - 100_000.0 / 110.0).abs() < 1e-6);
        assert_eq!(long.ring.len(), 121);
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut m = ThroughputMeter::new(t0);
        let len = m.ring.len();
        for s in 0..100_000u64 {
            m.record(1, t0 + Duration::from_secs(s * 7));
        }
        assert_eq!(m.ring.len(), len);
        assert_eq!(m.total_bytes(), 100_000);
        // A jump far ahead clears everything in one pass.
        m.record(42, t0 + Duration::from_secs(10_000_000));
        assert_eq!(m.ring.iter().sum::<u64>(), 42);
    }

    #[test]
    fn late_and_early_records() {
        let t0 = Instant::now() + Duration::from_secs(1000);
        let mut m = ThroughputMeter::new(t0);
        // Before the start: counted in the first second.
        m.record(10, t0 - Duration::from_secs(5));
        assert_eq!(m.history(t0 + secs(1.0))[HISTORY_SECONDS - 1], 10);
        m.record(1, t0 + secs(200.0));
        // Out of order but still in the ring: counted in its second.
        m.record(7, t0 + secs(190.2));
        assert_eq!(m.history(t0 + secs(200.5))[HISTORY_SECONDS - 10], 7);
        // Older than the ring: in the total only.
        m.record(1000, t0 + secs(5.0));
        assert_eq!(m.total_bytes(), 1018);
        assert!(!m.history(t0 + secs(200.5)).contains(&1000));
    }

    #[test]
    fn history_has_the_last_complete_seconds() {
        let t0 = Instant::now();
        let mut m = ThroughputMeter::new(t0);
        for s in 0..100u64 {
            m.record(s, t0 + Duration::from_secs(s) + Duration::from_millis(10));
            m.record(s, t0 + Duration::from_secs(s) + Duration::from_millis(990));
        }
        let h = m.history(t0 + secs(100.5));
        assert_eq!(h.len(), HISTORY_SECONDS);
        // Seconds 40..=99, 2*s bytes each, oldest first.
        let expected: Vec<u64> = (40..100).map(|s| 2 * s).collect();
        assert_eq!(h, expected);
        // Early on, the seconds before the start are zeros and the partial second is left out.
        let mut m = ThroughputMeter::new(t0);
        m.record(5, t0 + secs(0.2));
        m.record(9, t0 + secs(1.2));
        let h = m.history(t0 + secs(1.5));
        assert_eq!(h.len(), HISTORY_SECONDS);
        assert_eq!(h[HISTORY_SECONDS - 1], 5);
        assert_eq!(h.iter().sum::<u64>(), 5);
    }

    // ---- per file

    #[test]
    fn file_progress_and_eta() {
        let t0 = Instant::now();
        let mut p = FileProgress::new(10_000, t0);
        assert_eq!(p.eta(t0), None);
        assert_eq!(p.fraction(), 0.0);
        for s in 1..=4u64 {
            p.record(1000, t0 + Duration::from_secs(s));
        }
        let now = t0 + secs(4.0);
        assert_eq!(p.done, 4000);
        assert_eq!(p.remaining(), 6000);
        assert!((p.fraction() - 0.4).abs() < 1e-9);
        // 4000 bytes in 4 s: 1000 B/s, 6000 left: 6 s.
        let eta = p.eta(now).unwrap();
        assert!((eta.as_secs_f64() - 6.0).abs() < 0.01, "{eta:?}");
        // Stalled for longer than the window: unknown.
        assert_eq!(p.eta(t0 + secs(30.0)), None);
        // Overshoot is clamped; complete means no time left.
        p.record(1_000_000, t0 + secs(5.0));
        assert_eq!(p.done, 10_000);
        assert!(p.is_complete());
        assert_eq!(p.eta(t0 + secs(5.0)), Some(Duration::ZERO));
    }

    #[test]
    fn resumed_bytes_count_as_done_not_as_speed() {
        let t0 = Instant::now();
        let mut p = FileProgress::resumed(10_000, 8000, t0);
        assert_eq!(p.done, 8000);
        assert_eq!(p.meter.total_bytes(), 0);
        assert_eq!(p.eta(t0 + secs(1.0)), None);
        p.record(500, t0 + secs(0.5));
        // 500 B in 1 s: 500 B/s, 1500 left: 3 s.
        let eta = p.eta(t0 + secs(1.0)).unwrap();
        assert!((eta.as_secs_f64() - 3.0).abs() < 0.01, "{eta:?}");
        assert_eq!(FileProgress::resumed(100, 500, t0).done, 100);
        let empty = FileProgress::new(0, t0);
        assert!(empty.is_complete());
        assert_eq!(empty.fraction(), 1.0);
        assert_eq!(empty.eta(t0), Some(Duration::ZERO));
    }
}
