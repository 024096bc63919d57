//! The `portcullis` binary: everything it does is in the library half.

use std::process::ExitCode;

fn main() -> ExitCode {
    portcullis::run_command_line(std::env::args_os())
}
