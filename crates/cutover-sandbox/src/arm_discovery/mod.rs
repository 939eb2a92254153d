//! The ARM discovery endpoints of the sandbox: subscriptions, managed instances, storage accounts,
//! containers (list, create), account keys and role assignments on an account's scope, answering
//! with the published shapes (`../shared/reference/arm-examples/`), in small pages linked by
//! `nextLink`, with 429 + Retry-After on demand and a subscription that lists but cannot be read.
//!
//! - `world`: the estate (plain data);
//! - `shapes`: the estate as the published JSON;
//! - `gate`: auth, api-version, throttling, subscription rights;
//! - `handlers`: the routes.
//!
//! Written from the published contract only (no product crate): `tests/contract_arm.rs` parses
//! these answers with the client's types.

pub mod gate;
mod handlers;
pub mod shapes;
pub mod world;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;

use super::blob::BlobService;
pub use world::{SANDBOX_MI_PRINCIPAL, STORAGE_BLOB_DATA_READER, WorldConfig, sandbox_world};

/// Items per page of every list (small, so clients must follow `nextLink`).
pub const DEFAULT_PAGE_SIZE: usize = 2;

/// The ARM discovery emulator.
pub struct DiscoveryService {
    world: Mutex<Vec<world::Subscription>>,
    blob: Arc<BlobService>,
    page_size: usize,
    /// The next this-many requests answer 429 with Retry-After.
    throttle_next: AtomicU32,
    /// Requests answered (throttled ones included): how tests see retries happen.
    requests: AtomicU32,
    required_token: Option<String>,
}

impl DiscoveryService {
    /// The estate built around `cfg` ([`sandbox_world`]), served from `blob` for its own account.
    pub fn new(cfg: &WorldConfig, blob: Arc<BlobService>) -> Arc<Self> {
        Self::with_world(sandbox_world(cfg), blob, DEFAULT_PAGE_SIZE)
    }

    /// A service over a given estate and page size.
    pub fn with_world(
        world: Vec<world::Subscription>,
        blob: Arc<BlobService>,
        page_size: usize,
    ) -> Arc<Self> {
        Arc::new(DiscoveryService {
            world: Mutex::new(world),
            blob,
            page_size: page_size.max(1),
            throttle_next: AtomicU32::new(0),
            requests: AtomicU32::new(0),
            required_token: None,
        })
    }

    /// The next `n` requests answer 429 TooManyRequests with `Retry-After: 1`.
    pub fn throttle(&self, n: u32) {
        self.throttle_next.store(n, Ordering::SeqCst);
    }

    /// Requests answered so far (throttled ones included).
    pub fn requests(&self) -> u32 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Takes one throttled answer if any are pending.
    fn take_throttle(&self) -> bool {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.throttle_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Whether `principal` has a role that reads blobs (Storage Blob Data Reader) on the account
    /// named `account` (what the LRS side asks before reading with the instance's identity).
    pub fn has_reader_role(&self, principal: &str, account: &str) -> bool {
        self.world()
            .iter()
            .flat_map(|s| s.accounts.iter())
            .any(|a| {
                a.name.eq_ignore_ascii_case(account)
                    && a.roles.iter().any(|r| {
                        r.principal_id.eq_ignore_ascii_case(principal)
                            && r.role == STORAGE_BLOB_DATA_READER
                    })
            })
    }

    /// Removes every role assignment of `principal` on the account named `account` (a test takes
    /// the instance's access away).
    pub fn revoke_roles(&self, principal: &str, account: &str) {
        for a in self.world().iter_mut().flat_map(|s| s.accounts.iter_mut()) {
            if a.name.eq_ignore_ascii_case(account) {
                a.roles
                    .retain(|r| !r.principal_id.eq_ignore_ascii_case(principal));
            }
        }
    }

    fn world(&self) -> std::sync::MutexGuard<'_, Vec<world::Subscription>> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The routes (no fallback: merged beside the LRS routes, whose fallback answers the rest).
    pub fn router(self: &Arc<Self>) -> Router {
        handlers::routes().with_state(self.clone())
    }
}
