//! The configuration: one path from the file, the environment and the flags to what the engine runs.
//!
//! - `file`: the TOML shape (`--config FILE`, `config.sample.toml`), read and written with serde;
//!   unknown keys refused with their name.
//! - `settings`: the typed values (serde enums for the words, checked numbers and durations).
//! - `layers`: flag > environment (`CUTOVER_*`) > file > default, each value remembering where it
//!   came from, so an error names the key and the layer.
//! - `engine`: the layered, checked settings -> `EngineConfig`, the source options and the
//!   credentials (secrets only from the environment variables the file names).

pub mod engine;
pub mod file;
pub mod layers;
pub mod settings;

pub use engine::{
    ProvidedSecrets, RunFlags, SourceFlags, check_access, engine_config, engine_config_layered,
    engine_config_with, source_options, source_options_with, target_sql_options,
};
pub use file::{
    BackupsSection, ConfigError, ConfigFile, DatabaseOverride, LoginsSection, MigrationSection,
    SourceSection, StorageSection, TargetSection,
};
pub use layers::{Layer, Layered, Origins};
