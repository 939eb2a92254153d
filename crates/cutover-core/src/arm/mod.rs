//! The Azure Resource Manager client: what any ARM caller needs, apart from what it asks. The Log
//! Replay Service client (`restore_target::lrs`) and Azure resource discovery (`discovery`) build
//! on it.
//!
//! - `endpoint`: the endpoint's rules (https, or http only on a loopback address), the default
//!   endpoint and token scope;
//! - `client`: [`ArmClient`]: tokens from a `TokenCredential` for the endpoint's own scope, requests
//!   with retries (429/5xx/network, Retry-After), long-running operations followed to their end,
//!   and the bearer token sent nowhere but the endpoint's origin;
//! - `token`: [`StaticToken`], the fixed token of the local sandbox;
//! - `error`: [`ArmError`], what a call fails with before any service's meaning is given to it;
//! - `discovery`: subscriptions, managed instances, storage accounts, containers, role assignments
//!   and the checks on them (a client separate from LRS).

pub mod client;
pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod tde;
pub mod token;

pub use client::ArmClient;
pub use endpoint::{ARM_SCOPE, DEFAULT_ARM_ENDPOINT, is_local_endpoint};
pub use error::ArmError;
pub use token::StaticToken;
