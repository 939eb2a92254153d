//! cutover's engine and the clients it drives: the backup catalog (`catalog`) over backup folders
//! (`backup_folder`), the Blob uploader (`storage`), the Managed Instance restore target
//! (`restore_target`, on the `arm` client), the source SQL Server (`source`), the engine
//! (`engine`) and its configuration (`config`). Nothing here prints, exits or draws: the binary's
//! `cli` and the `cutover-tui` crate do. See ARCHITECTURE.md.

/// The backup format (`crates/cutover-backup`), re-exported so `crate::backup::...` names it.
pub use cutover_backup as backup;

/// What the UIs and the engine exchange (`crates/cutover-model`).
pub use cutover_model as model;

pub mod arm;
pub mod backup_folder;
pub mod catalog;
pub mod config;
pub mod engine;
pub mod logins;
pub mod private_files;
pub mod restore_target;
pub mod sample;
pub mod source;
pub mod storage;
pub mod target_sql;
pub mod tde;
