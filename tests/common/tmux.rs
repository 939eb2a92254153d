//! A real terminal for end-to-end tests: one tmux server on its own socket running one command in
//! an 80x24 window; keys are sent and the screen is read back as text. Killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

/// The session's name on its private socket.
const SESSION: &str = "t";

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `cmd` in an 80x24 terminal on a socket named after `name` and this process.
    ///
    /// Without tmux: panics under CI (`CI=true`, where .ci/run installs it), elsewhere prints
    /// `SKIPPED` with the reason and returns `None` for the test to return early.
    pub fn start(name: &str, cmd: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "tmux is needed for the terminal end-to-end tests under CI (apt-get install tmux)"
                );
            }
            eprintln!("SKIPPED: tmux is not installed (apt-get install tmux)");
            return None;
        }
        let t = Tmux {
            socket: format!("cutover-{name}-{}", std::process::id()),
        };
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            "80",
            "-y",
            "24",
            cmd,
        ]);
        Some(t)
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends each key (tmux key names: `Enter`, `C-t`, `y`) with a pause after it.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", SESSION, k]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Types `s` literally.
    pub fn text(&self, s: &str) {
        self.tmux(&["send-keys", "-t", SESSION, "-l", s]);
    }

    /// The screen as text, a line per row.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", SESSION])
    }

    /// Waits until the screen shows every one of `want`; panics with the screen otherwise.
    pub fn wait_for(&self, step: &str, want: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if want.iter().all(|w| s.contains(w)) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{step}: expected {want:?} on the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
