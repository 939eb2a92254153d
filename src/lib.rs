//! cutover: online migration of SQL Server databases to Azure SQL Managed Instance.
//!
//! The binary's library: `cli` (the commands), the wizard's backend and the demo's wiring, over the
//! workspace's crates (see ARCHITECTURE.md), re-exported here so that `cutover::engine::...`,
//! `cutover::tui::...` and the rest name them. Nothing below `cli` prints or exits.

/// The backup format (`crates/cutover-backup`).
pub use cutover_backup as backup;

/// What the UIs and the engine exchange (`crates/cutover-model`).
pub use cutover_model as model;

/// The engine and its clients (`crates/cutover-core`).
pub use cutover_core::{
    arm, backup_folder, catalog, config, engine, logins, private_files, restore_target, source,
    storage, target_sql, tde,
};

/// The terminal UI (`crates/cutover-tui`): it names `cutover-model` and nothing else of ours.
pub use cutover_tui as tui;

pub mod cli;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod sample;
/// The emulators (`crates/cutover-sandbox`, default feature `sandbox`): `cutover sandbox`, the demo
/// and the tests; a build without the feature has no emulator and no axum.
#[cfg(feature = "sandbox")]
pub use cutover_sandbox as sandbox;
