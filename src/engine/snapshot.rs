//! What the engine publishes and accepts now lives in [`crate::model`] (the UIs' side of the
//! engine); re-exported here so `engine::snapshot::...` keeps naming it.

pub use crate::model::{
    DatabaseSnapshot, EngineCommand, EventLine, MigrationSnapshot, SourceAccess, TailMode,
};
