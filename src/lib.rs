//! cutover: online migration of SQL Server databases to Azure SQL Managed Instance.
//!
//! Layers (see ARCHITECTURE.md): `backup` reads and writes backup files; `catalog` scans folders and
//! plans restore chains; `cli` holds the commands. Nothing below `cli` prints or exits.

pub mod backup;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod private_files;
pub mod sandbox;
pub mod setup;
pub mod source;
pub mod storage;
pub mod target;
pub mod tui;
pub mod wizard_backend;
