//! `portcullis export [FILE]`: every user as one JSON object per line, the
//! shape `portcullis import` reads, hashes included.
//!
//! Users come from the domain a page at a time and are written as they
//! come, so a million users take one page of memory. The output holds
//! every password hash: a file is created new (never over another) and
//! readable by its owner only. This module must never log a line it writes.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use portcullis_core::services::export::ExportedUser;
use portcullis_core::{ManageUsers, Operator, Services};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use crate::commands::describe;

/// One line of the export.
#[derive(Serialize)]
struct Line<'a> {
    email: &'a str,
    name: Option<&'a str>,
    password_hash: Option<&'a str>,
    email_verified: bool,
    roles: &'a [String],
    disabled: bool,
    created_at: String,
}

/// Runs `portcullis export`.
pub(crate) async fn run(services: &Services, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut output: Box<dyn Write> = match &file {
        Some(path) => {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            Box::new(
                options
                    .open(path)
                    .with_context(|| format!("creating {} (it must not exist)", path.display()))?,
            )
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut output = BufWriter::with_capacity(1 << 16, &mut output);
    let operator = Operator::at_command_line().authorize::<ManageUsers>();
    let mut after = None;
    let mut written: u64 = 0;
    loop {
        let page = services
            .exports
            .page(&operator, after)
            .await
            .map_err(describe)?;
        for user in &page.users {
            serde_json::to_writer(&mut output, &line(user)?)?;
            output.write_all(b"\n")?;
            written += 1;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    output.flush().context("writing the export")?;
    if let Some(path) = &file {
        eprintln!("exported {written} users to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn line(user: &ExportedUser) -> anyhow::Result<Line<'_>> {
    Ok(Line {
        email: user.email.as_str(),
        name: user.name.as_deref(),
        password_hash: user.password_hash.as_ref().map(|hash| hash.0.as_str()),
        email_verified: user.email_verified,
        roles: &user.roles,
        disabled: user.disabled,
        created_at: user.created_at.format(&Rfc3339)?,
    })
}
