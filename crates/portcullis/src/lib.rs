//! The `portcullis` binary as a library: the command line, configuration
//! loaded once, and the start-up of the server, so that `main` is one call
//! and the integration tests can run the very server `portcullis serve`
//! runs inside their own process ([`Application`]).
//!
//! The only crate that uses `anyhow`; every failure ends as a one-line
//! message and exit code 1 (clap's usage errors exit with 2; see
//! `config::Refusal`).

mod cli;
mod commands;
mod config;
mod database;
mod export;
mod import;
mod startup;

use std::ffi::OsString;
use std::process::ExitCode;

pub use startup::Application;

use crate::cli::LogFormat;

/// Runs the command line `args` (the program's name first) to its end.
pub fn run_command_line(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let (cli, config) = match config::load(args) {
        Ok(loaded) => loaded,
        Err(refusal) => return refusal.report(),
    };
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli, config)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
