//! Azure Blob Storage: container URLs and credentials, SAS tokens, the flat per-database layout LRS
//! accepts, and the resumable parallel uploader with its progress events.

pub mod auth;
pub mod client;
pub mod container;
pub mod error;
pub mod layout;
pub mod progress;
pub mod retry;
pub mod sas;
pub mod upload;
