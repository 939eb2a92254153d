//! How to reach and authenticate to the source SQL Server.

use std::time::Duration;

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};

use super::address::ServerAddress;
use super::tls::CaFile;

/// How the login is proven. Secrets are `azure_core` `Secret`s: their `Debug` never shows them.
#[derive(Debug, Clone)]
pub enum SourceAuth {
    /// SQL Server authentication (login + password).
    SqlLogin { user: String, password: Secret },
    /// An Azure AD (Entra ID) access token for the server.
    AadToken(Secret),
    /// Microsoft Entra ID through a credential (Azure CLI, service principal, managed identity):
    /// a token for Azure SQL ([`AZURE_SQL_SCOPE`]) is asked for at each connection, so a run
    /// lasting days never holds an expired one.
    Entra(Arc<dyn TokenCredential>),
}

/// The scope of an access token for Azure SQL (Managed Instance, SQL Database).
pub const AZURE_SQL_SCOPE: &str = "https://database.windows.net/.default";

impl SourceAuth {
    /// The login name shown in messages ("Azure AD token" for a token).
    pub fn login_name(&self) -> &str {
        match self {
            SourceAuth::SqlLogin { user, .. } => user,
            SourceAuth::AadToken(_) => "(Azure AD token)",
            SourceAuth::Entra(_) => "(Microsoft Entra ID)",
        }
    }
}

/// Transport security of the TDS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// TLS, the server certificate validated against the system's roots unless
    /// `trust_server_certificate` (self-signed certificates: open to man-in-the-middle attacks).
    Tls { trust_server_certificate: bool },
    /// No TLS at all: only for loopback test servers such as the sandbox; refused elsewhere.
    Plaintext,
}

pub use crate::model::TRUST_CERTIFICATE_WARNING;

/// Everything needed to open a connection.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub server: ServerAddress,
    pub auth: SourceAuth,
    pub encryption: Encryption,
    /// Database to log in to (default `master`).
    pub database: String,
    /// TCP connect + TLS + login.
    pub connect_timeout: Duration,
    /// Longest wait for one server answer of an ordinary query.
    pub command_timeout: Duration,
    /// Longest wait for one server answer during BACKUP (a tail-log backup of a busy database can
    /// take many minutes; SQL Server sends progress only at the end).
    pub backup_timeout: Duration,
    /// UDP port of the SQL Server Browser (1434) used for `HOST\INSTANCE`.
    pub browser_port: u16,
    /// Certificates trusted on top of the system's roots (`--ca-file` / `[source] ca_file`).
    pub ca_file: Option<CaFile>,
}

impl SourceOptions {
    pub fn new(server: ServerAddress, auth: SourceAuth, encryption: Encryption) -> Self {
        SourceOptions {
            server,
            auth,
            encryption,
            database: "master".into(),
            connect_timeout: Duration::from_secs(15),
            command_timeout: Duration::from_secs(30),
            backup_timeout: Duration::from_secs(4 * 3600),
            browser_port: 1434,
            ca_file: None,
        }
    }
}
