//! Shared access signatures as the sandbox's storage account and Managed Instance judge them,
//! written from Azure's published contract ("Create a service SAS", "Create an account SAS",
//! the LRS documentation's SAS rule), not from cutover's client code: `token` reads a SAS's
//! fields, `account` signs an account SAS, `service` holds the service SAS string-to-sign (signing and verifying), `lrs_rule`
//! what a Managed Instance accepts for a Log Replay Service restore.

pub mod account;
pub mod lrs_rule;
pub mod service;
pub mod token;

pub use account::sign_account_sas;
pub use lrs_rule::{LrsSasRefusal, check_mi_sas};
pub use service::{ServiceSasError, sign_container_sas, verify_service_sas};
pub use token::{SasFields, redact_sig};
