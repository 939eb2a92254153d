//! The cutover and tail-log modes `run` and `demo` take on the command line.

use crate::engine::TailMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CutoverWhen {
    /// Cut over each database as soon as it is ready.
    WhenReady,
    /// Keep the target in sync; never cut over by itself.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TailArg {
    /// cutover takes the tail-log backup through the source connection.
    Take,
    /// Wait for the operator's tail-log backup to land in the folder.
    Wait,
    /// The operator asserts no more backups will come (data-loss risk if wrong).
    Skip,
}

impl From<TailArg> for TailMode {
    fn from(t: TailArg) -> TailMode {
        match t {
            TailArg::Take => TailMode::Take,
            TailArg::Wait => TailMode::Wait,
            TailArg::Skip => TailMode::Skip,
        }
    }
}
