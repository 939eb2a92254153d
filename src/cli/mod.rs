//! Command-line interface: parses arguments and runs one command. The only layer that prints.

mod azure;
mod azure_view;
mod check;
#[cfg(feature = "sandbox")]
mod demo;
pub mod headless;
mod inspect;
mod logging;
mod logins;
mod lrs;
mod modes;
mod run;
#[cfg(feature = "sandbox")]
mod sandbox;
mod sas;
mod secret_arg;
pub mod smb_args;
mod source;
mod target;
mod tde;
mod upload;
pub mod wizard;

use clap::{Parser, Subcommand};

/// Online migration of SQL Server databases to Azure SQL Managed Instance.
///
/// Without a subcommand: the wizard, then the live dashboard of the migration (like `cutover
/// wizard`).
#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub wizard: wizard::WizardArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the backup sets in backup files, like RESTORE HEADERONLY.
    Inspect(inspect::InspectArgs),
    /// Plan the restore of every database in a backup folder and report problems before uploading.
    Check(check::CheckArgs),
    /// Upload a backup folder to Azure Blob Storage, one flat folder per database (resumable).
    Upload(upload::UploadArgs),
    /// Generate or check the SAS the Managed Instance reads the backups with.
    #[command(subcommand)]
    Sas(sas::SasCommand),
    /// Drive the Log Replay Service of a managed instance (az sql midb log-replay's options).
    #[command(subcommand)]
    Lrs(lrs::LrsCommand),
    /// Inspect the source SQL Server: databases, msdb backup history, cross-check with the folder.
    #[command(subcommand)]
    Source(source::SourceCommand),
    /// What the credential sees in Azure: subscriptions, managed instances, storage accounts,
    /// containers.
    #[command(subcommand)]
    Azure(azure::AzureCommand),
    /// The managed instance over its own SQL endpoint: the checks before the upload, the
    /// databases after cutover.
    #[command(subcommand)]
    Target(target::TargetCommand),
    /// Server logins: list the source's, migrate them to the instance (same SID and password).
    #[command(subcommand)]
    Logins(logins::LoginsCommand),
    /// TDE certificates: list the source's TDE databases and their certificates, migrate the
    /// certificates the instance lacks (BACKUP CERTIFICATE, PFX, ARM upload).
    #[command(subcommand)]
    Tde(tde::TdeCommand),
    /// Run a migration headless from a configuration file (automation).
    Run(run::RunArgs),
    /// The setup wizard, then the live dashboard of the migration (the default command).
    Wizard(wizard::WizardArgs),
    #[cfg(feature = "sandbox")]
    /// A whole migration on this machine, against the sandbox (local Azure + local SQL Server).
    Demo(demo::DemoArgs),
    #[cfg(feature = "sandbox")]
    /// Run the local Azure (Blob Storage + Log Replay Service) for tests and demos.
    Sandbox(sandbox::SandboxArgs),
}

/// The async runtime a command runs on; `None` (after printing why) if it cannot start.
fn runtime(multi_thread: bool) -> Option<tokio::runtime::Runtime> {
    let mut b = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match b.enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let Some(command) = cli.command else {
        return wizard::run(&cli.wizard);
    };
    match command {
        Command::Wizard(a) => wizard::run(&a),
        Command::Inspect(a) => inspect::run(&a),
        Command::Check(a) => check::run(&a),
        Command::Upload(a) => upload::run(&a),
        Command::Sas(c) => sas::run(&c),
        Command::Lrs(c) => lrs::run(&c),
        Command::Source(c) => source::run(&c),
        Command::Azure(c) => azure::run(&c),
        Command::Logins(c) => logins::run(&c),
        Command::Target(c) => target::run(&c),
        Command::Tde(c) => tde::run(&c),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(a) => sandbox::run(&a),
        #[cfg(feature = "sandbox")]
        Command::Demo(a) => demo::run(&a),
        Command::Run(a) => run::run(&a),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every option that takes a secret itself (value name TOKEN) has a sibling `--...-env VAR`
    /// that takes the name of an environment variable instead.
    #[test]
    fn every_secret_taking_flag_has_an_env_form() {
        fn walk(cmd: &clap::Command, path: &str, found: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            let longs: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
            for arg in cmd.get_arguments() {
                let takes_secret = arg
                    .get_value_names()
                    .is_some_and(|n| n.iter().any(|v| v.as_str() == "TOKEN"));
                if !takes_secret {
                    continue;
                }
                let env_form = match arg.get_long() {
                    Some(long) => format!("{long}-env"),
                    None => "sas-env".to_string(),
                };
                assert!(
                    longs.contains(&env_form.as_str()),
                    "{path}: {} takes a secret but there is no --{env_form}",
                    arg.get_id()
                );
                found.push(format!("{path} {}", arg.get_id()));
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, found);
            }
        }
        let mut found = Vec::new();
        walk(&Cli::command(), "", &mut found);
        // The three known ones are seen (so the walk itself works).
        for want in ["upload sas", "lrs start storage_sas", "sas check token"] {
            assert!(
                found.iter().any(|f| f.ends_with(want)),
                "{want} not found in {found:?}"
            );
        }
    }
}
