//! `portcullis import FILE`: users from another system, with their hashes.
//!
//! The file is read on a thread of its own by the reader of its format
//! (`json_lines`, `csv_table`, `keycloak`), guessed from the extension and
//! then the content when `--format` is not given; entries come over a
//! bounded channel, so reading the next chunk overlaps writing the last
//! batch and memory stays flat. Every user goes to the domain's
//! [`ImportRun`], which checks and writes in batches. Progress shows as a
//! bar on a terminal and as a line every 100,000 entries otherwise; the
//! summary lists the first failures with where they are, and the exit code
//! is 1 when any failed. This module must never print a hash.

mod csv_table;
mod entries;
mod json_lines;
mod keycloak;

use std::fs::File;
use std::io::{BufRead as _, BufReader, IsTerminal as _, Read};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use portcullis_core::services::import::{
    ImportMode, ImportOptions, ImportReport, ImportRun, MissingRoles, OnConflict,
};
use portcullis_core::{ManageUsers, Operator, Services};

use crate::cli::{ConflictChoice, ImportArgs, ImportFormat};
use crate::commands::{describe, until_running_servers_see_it};
use crate::import::entries::{Entry, Location, ReadError, Sender};

/// Chunks of entries waiting for the importer at most.
const CHANNEL_CHUNKS: usize = 16;

/// How often a plain progress line is written, in entries.
const PROGRESS_EVERY: u64 = 100_000;

/// Runs `portcullis import`.
pub(crate) async fn run(services: &Services, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let read_so_far = Arc::new(AtomicU64::new(0));
    let mut input = BufReader::with_capacity(
        1 << 16,
        Counting {
            inner: file,
            read: Arc::clone(&read_so_far),
        },
    );
    let format = match args.format {
        Some(format) => format,
        None => guess(&args.file, input.fill_buf().context("reading the file")?)?,
    };
    let options = ImportOptions {
        on_conflict: match args.on_conflict {
            ConflictChoice::Skip => OnConflict::Skip,
            ConflictChoice::Update => OnConflict::Update,
            ConflictChoice::Fail => OnConflict::Fail,
        },
        missing_roles: if args.create_roles {
            MissingRoles::Create
        } else {
            MissingRoles::Refuse
        },
        mode: if args.dry_run {
            ImportMode::DryRun
        } else {
            ImportMode::Write
        },
    };
    let operator = Operator::at_command_line().authorize::<ManageUsers>();
    let mut run = services
        .imports
        .begin::<Location>(&operator, options)
        .await
        .map_err(describe)?;

    let (channel, mut entries) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
    let reader = std::thread::spawn(move || {
        let mut sender = Sender::new(channel);
        let read = match format {
            ImportFormat::Jsonl => json_lines::read(input, &mut sender),
            ImportFormat::Csv => csv_table::read(input, &mut sender),
            ImportFormat::Keycloak => keycloak::read(input, &mut sender),
        };
        // What was read before a failure is imported too.
        let flushed = sender.flush();
        read.and(flushed)
    });
    let progress = Progress::new(size);
    let mut seen: u64 = 0;
    while let Some(chunk) = entries.recv().await {
        for entry in chunk {
            match entry {
                Entry::User(at, user) => run.add(at, user).await.map_err(describe)?,
                Entry::Unreadable(at, reason) => run.fail(at, reason),
                Entry::LeftOut => run.skip(),
            }
            seen += 1;
            progress.show(seen, read_so_far.load(Ordering::Relaxed), &run);
        }
    }
    let stopped = match reader.join() {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error),
        Err(_) => Some(ReadError::Malformed("the reader crashed".to_owned())),
    };
    let report = run.finish().await.map_err(describe)?;
    progress.finish();
    print_summary(&report, options.mode);
    if let Some(error) = &stopped {
        eprintln!("error: {error}");
    }
    let changed_accounts = report.updated > 0 || !report.roles_created.is_empty();
    if options.mode == ImportMode::Write && changed_accounts {
        until_running_servers_see_it().await;
    }
    Ok(if report.failed > 0 || stopped.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The format of `path`, from its extension, else from how `start` looks.
fn guess(path: &Path, start: &[u8]) -> anyhow::Result<ImportFormat> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => return Ok(ImportFormat::Csv),
        Some("jsonl" | "ndjson") => return Ok(ImportFormat::Jsonl),
        _ => {}
    }
    let start = String::from_utf8_lossy(start);
    let start = start.trim_start_matches('\u{feff}').trim_start();
    let first_line = start.lines().next().unwrap_or_default();
    if start.starts_with('{') {
        // A line that is a whole object is JSON Lines, unless it is a whole
        // realm export on one line.
        return Ok(
            match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first_line) {
                Ok(object) if !object.contains_key("users") => ImportFormat::Jsonl,
                _ => ImportFormat::Keycloak,
            },
        );
    }
    if first_line.split(',').any(|column| column.trim() == "email") {
        return Ok(ImportFormat::Csv);
    }
    bail!(
        "cannot tell the format of {}: pass --format jsonl, csv or keycloak",
        path.display()
    )
}

/// The file, counting the bytes read for the progress bar.
struct Counting {
    inner: File,
    read: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.read.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// A bar on a terminal (by bytes of the file), plain lines otherwise.
enum Progress {
    Bar(ProgressBar),
    Lines,
}

impl Progress {
    fn new(size: u64) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::Lines;
        }
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "{wide_bar} {binary_bytes}/{binary_total_bytes} {elapsed_precise} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self::Bar(bar)
    }

    fn show(&self, seen: u64, bytes: u64, run: &ImportRun<Location>) {
        match self {
            Self::Bar(bar) if seen.is_multiple_of(1_000) => {
                bar.set_position(bytes);
                bar.set_message(counts(run.report()));
            }
            Self::Lines if seen.is_multiple_of(PROGRESS_EVERY) => {
                eprintln!("{seen} read: {}", counts(run.report()));
            }
            _ => {}
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn counts(report: &ImportReport<Location>) -> String {
    format!(
        "{} imported, {} updated, {} skipped, {} failed",
        report.imported, report.updated, report.skipped, report.failed
    )
}

fn print_summary(report: &ImportReport<Location>, mode: ImportMode) {
    match mode {
        ImportMode::Write => println!("{}", counts(report)),
        ImportMode::DryRun => println!(
            "dry run, nothing written: {} to import, {} to update, {} to skip, {} failed",
            report.imported, report.updated, report.skipped, report.failed
        ),
    }
    if !report.roles_created.is_empty() {
        let verb = match mode {
            ImportMode::Write => "roles created",
            ImportMode::DryRun => "roles to create",
        };
        let names: Vec<&str> = report.roles_created.iter().map(String::as_str).collect();
        println!("{verb} (with no permission): {}", names.join(" "));
    }
    for (at, reason) in &report.failures {
        println!("failed: {at}: {reason}");
    }
    let unlisted = report.failed - report.failures.len() as u64;
    if unlisted > 0 {
        println!("failed: and {unlisted} more");
    }
}
