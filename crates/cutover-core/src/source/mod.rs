//! The source SQL Server, over TDS (tiberius): connection options, the inspection queries (server,
//! databases, msdb backup history), the cross-check of msdb's history against the backup folder, and
//! the cutover actions (stop traffic, tail-log backup). Nothing here prints: errors name the server and
//! say what to do.

pub mod address;
pub mod client;
pub mod crosscheck;
pub mod error;
pub mod logins;
pub mod options;
pub mod queries;
pub mod quote;
pub mod tail;
pub mod tde;
pub mod tls;
pub mod tls_probe;

pub use address::ServerAddress;
pub use client::SourceClient;
pub use error::SourceError;
pub use options::{Encryption, SourceAuth, SourceOptions};
pub use queries::{HistoryEntry, ServerInfo, SourceDatabase};
