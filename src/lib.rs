//! cutover: online migration of SQL Server databases to Azure SQL Managed Instance.
//!
//! Layers (see ARCHITECTURE.md): `backup` (the `cutover-backup` crate) reads and writes backup files;
//! `catalog` scans folders and plans restore chains; `cli` holds the commands. Nothing below `cli`
//! prints or exits.

/// The backup format lives in its own crate (`crates/cutover-backup`); re-exported here so that
/// `crate::backup::...` and `cutover::backup::...` keep naming it.
pub use cutover_backup as backup;

/// What the UIs and the engine exchange lives in its own crate (`crates/cutover-model`): the TUI
/// names nothing else of the crate.
pub use cutover_model as model;

pub mod arm;
pub mod backup_folder;
pub mod catalog;
pub mod cli;
pub mod config;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod engine;
pub mod private_files;
pub mod restore_target;
pub mod sample;
/// The emulators (`crates/cutover-sandbox`, default feature `sandbox`): `cutover sandbox`, the demo
/// and the tests; a build without the feature has no emulator and no axum.
#[cfg(feature = "sandbox")]
pub use cutover_sandbox as sandbox;
pub mod setup;
pub mod source;
pub mod storage;
pub mod tui;
pub mod wizard_backend;
