//! The sandbox on a tokio runtime of its own (the CLI runs as a child process meanwhile), and the
//! plain-TDS options its SQL endpoints take.

use std::time::Duration;

use azure_core::credentials::Secret;
use cutover::sandbox::{Sandbox, SandboxOptions};
use cutover::source::{Encryption, SourceAuth, SourceOptions};

pub struct Running {
    pub rt: tokio::runtime::Runtime,
    pub sb: Sandbox,
}

/// Starts the sandbox with restores at `restore_mbps`.
pub fn start(restore_mbps: f64) -> Running {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sb = rt
        .block_on(Sandbox::start(SandboxOptions {
            restore_mbps,
            ..Default::default()
        }))
        .expect("sandbox starts");
    Running { rt, sb }
}

/// A SQL login on one of the sandbox's plain-TDS endpoints (`host,port`).
pub fn sql_options(server: &str, user: &str, password: &str) -> SourceOptions {
    let mut o = SourceOptions::new(
        server.parse().unwrap(),
        SourceAuth::SqlLogin {
            user: user.into(),
            password: Secret::new(password.to_string()),
        },
        Encryption::Plaintext,
    );
    o.connect_timeout = Duration::from_secs(5);
    o
}
