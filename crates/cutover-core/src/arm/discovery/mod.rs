//! Azure resource discovery, apart from the Log Replay Service, on the same [`crate::arm::ArmClient`]:
//! what a credential can see (subscriptions, managed instances, storage accounts, containers,
//! role assignments) so an operator picks the target from lists instead of typing IDs.
//!
//! - `types`: the published ARM shapes as serde structs (`tests/contract_arm.rs` parses every
//!   published example and the sandbox's answers with them);
//! - `client`: [`DiscoveryClient`] (lists followed through `nextLink`, create container, keys only
//!   when asked, role assignments for one principal);
//! - `checks`: findings: the instance's identity may read the account, the firewall lets it in,
//!   same region, a subscription listed but not readable (a partial right, not a failure);
//! - `error`: [`DiscoveryError`] (403 / 404 said with what to do).

pub mod checks;
pub mod client;
pub mod error;
pub mod types;

pub use checks::{DiscoveryFinding, across_subscriptions, judge_firewall, judge_reader_role};
pub use client::DiscoveryClient;
pub use error::DiscoveryError;
