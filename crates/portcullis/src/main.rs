//! The `portcullis` binary: parses the command line, loads configuration
//! once, opens the store and runs one command. The only crate that uses
//! `anyhow`; every failure ends as a one-line message and exit code 1
//! (clap's usage errors exit with 2; see `config::Refusal`).

mod cli;
mod commands;
mod config;

use std::process::ExitCode;

use crate::cli::LogFormat;

fn main() -> ExitCode {
    let (cli, config) = match config::load(std::env::args_os()) {
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
