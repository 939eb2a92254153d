//! The terminal UI (ratatui). It reads [`cutover_model::MigrationSnapshot`]s and sends
//! [`cutover_model::EngineCommand`]s; it never talks to SQL Server or Azure itself (the wizard asks a
//! [`WizardBackend`] to). UI-only state (selection, focus, filter, dialogs) lives in
//! [`DashboardState`] / [`WizardState`], apart from the snapshot, and every key is handled by a pure
//! method on that state, so tests drive it without a terminal.
//!
//! Entry points: [`terminal::TerminalGuard::enter`], then [`app::run_wizard`] (optional) and
//! [`app::run_dashboard`] on the same guard. `cutover` (no subcommand) / `cutover wizard` and
//! `cutover demo` are the two callers.

pub mod app;
pub mod context;
pub mod cutover;
pub mod dashboard;
pub mod format;
pub mod layout;
pub mod small;
pub mod terminal;
pub mod theme;
pub mod wizard;

pub use app::{DashboardExit, run_dashboard, run_wizard, run_wizard_state};
pub use context::TuiContext;
pub use cutover::CutoverDialog;
pub use dashboard::DashboardState;
pub use terminal::TerminalGuard;
pub use theme::Theme;
pub use wizard::{
    SourceForm, SourceSummary, TargetForm, WizardBackend, WizardOutcome, WizardState, WizardValues,
};

/// The smallest terminal the UI draws in; below it a "terminal too small" screen is shown.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
