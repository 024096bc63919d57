//! What is sampled each minute: the server process's resident memory and
//! open files (from `/proc`), the database's size on disk, and the 99th
//! percentile latency of the minute's requests, overall and by kind; the
//! closing comparison of the last minute with the first full one; on
//! PostgreSQL, each table's size and live and dead rows at the start and
//! the end; and what the server keeps in memory at the end (its
//! `/metrics`, read once: a scrape folds the latencies the server keeps,
//! so reading it each minute would hide their growth).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::load::{Kind, Recorded};

/// The server process, read from `/proc`.
pub(crate) struct ServerProcess {
    pid: u32,
}

impl ServerProcess {
    pub(crate) fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// Resident memory, in KiB.
    fn resident_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("the server process is gone")?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmRSS in /proc/PID/status")
    }

    fn open_files(&self) -> anyhow::Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.pid))?.count())
    }
}

/// Where the database's size is read.
pub(crate) enum DatabaseSize {
    Sqlite(PathBuf),
    Postgres(sqlx::PgPool),
}

impl DatabaseSize {
    pub(crate) fn sqlite(file: PathBuf) -> Self {
        Self::Sqlite(file)
    }

    pub(crate) async fn postgres(url: &str) -> anyhow::Result<Self> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .context("the PostgreSQL database for its size")?;
        Ok(Self::Postgres(pool))
    }

    /// Bytes on disk (SQLite: the file and its write-ahead log).
    async fn bytes(&self) -> anyhow::Result<u64> {
        match self {
            Self::Sqlite(file) => {
                let mut total = std::fs::metadata(file)?.len();
                let mut wal = file.clone().into_os_string();
                wal.push("-wal");
                total += std::fs::metadata(wal).map_or(0, |metadata| metadata.len());
                Ok(total)
            }
            Self::Postgres(pool) => {
                let (bytes,): (i64,) =
                    sqlx::query_as("SELECT pg_database_size(current_database())")
                        .fetch_one(pool)
                        .await?;
                Ok(u64::try_from(bytes)?)
            }
        }
    }
}

/// One table's size, indexes and TOAST included, and its rows, by
/// PostgreSQL's statistics.
#[derive(Debug)]
pub(crate) struct TableSize {
    name: String,
    bytes: i64,
    live_rows: i64,
    dead_rows: i64,
    vacuums: i64,
}

impl DatabaseSize {
    /// Whether the PostgreSQL server runs autovacuum (SQLite needs none).
    pub(crate) async fn autovacuum(&self) -> anyhow::Result<bool> {
        let Self::Postgres(pool) = self else {
            return Ok(true);
        };
        let (setting,): (String,) = sqlx::query_as("SHOW autovacuum").fetch_one(pool).await?;
        Ok(setting == "on")
    }

    /// Each table, largest first (none on SQLite).
    pub(crate) async fn tables(&self) -> anyhow::Result<Vec<TableSize>> {
        let Self::Postgres(pool) = self else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT relname::text, pg_total_relation_size(relid), n_live_tup, n_dead_tup, \
                    vacuum_count + autovacuum_count \
             FROM pg_stat_user_tables ORDER BY 2 DESC, 1",
        )
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, bytes, live_rows, dead_rows, vacuums)| TableSize {
                name,
                bytes,
                live_rows,
                dead_rows,
                vacuums,
            })
            .collect())
    }
}

/// The tables at the start and at the end, those over 32 KiB at the end.
pub(crate) fn tables(start: &[TableSize], end: &[TableSize]) -> String {
    let mut lines = vec![
        "table                  KiB start → end   live rows → end   dead rows → end  vacuums"
            .to_owned(),
    ];
    for table in end.iter().filter(|table| table.bytes > 32 * 1024) {
        let before = start.iter().find(|before| before.name == table.name);
        let at_start = |value: fn(&TableSize) -> i64| before.map_or(0, value);
        lines.push(format!(
            "{:<20} {:>7} → {:<7} {:>7} → {:<7} {:>7} → {:<7} {:>7}",
            table.name,
            at_start(|table| table.bytes) / 1024,
            table.bytes / 1024,
            at_start(|table| table.live_rows),
            table.live_rows,
            at_start(|table| table.dead_rows),
            table.dead_rows,
            table.vacuums,
        ));
    }
    lines.join("\n")
}

/// The server's `portcullis_in_memory_entries` series, one per line.
pub(crate) async fn in_memory_entries(base_url: &str) -> anyhow::Result<String> {
    let page = reqwest::get(format!("{base_url}/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(page
        .lines()
        .filter(|line| line.starts_with("portcullis_in_memory_entries{"))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// One minute's sample.
#[derive(Debug)]
pub(crate) struct Minute {
    minute: u32,
    requests: usize,
    errors: u64,
    p99_all: Option<Duration>,
    p99_by_kind: Vec<(Kind, Option<Duration>)>,
    resident_kib: u64,
    open_files: usize,
    database_bytes: u64,
}

impl Minute {
    pub(crate) const HEADER: &'static str = "minute  requests  errors  p99 ms (all sign-up login me refresh admin logout)   RSS MiB  files  database MiB";

    pub(crate) async fn sample(
        minute: u32,
        process: &ServerProcess,
        database: &DatabaseSize,
        recorded: &Recorded,
    ) -> anyhow::Result<Self> {
        let by_kind = |kind: Kind| {
            recorded
                .latencies
                .iter()
                .filter(move |(recorded, _)| *recorded == kind)
                .map(|(_, took)| *took)
        };
        Ok(Self {
            minute,
            requests: recorded.latencies.len(),
            errors: recorded.errors,
            p99_all: p99(recorded.latencies.iter().map(|(_, took)| *took)),
            p99_by_kind: Kind::ALL
                .iter()
                .map(|kind| (*kind, p99(by_kind(*kind))))
                .collect(),
            resident_kib: process.resident_kib()?,
            open_files: process.open_files()?,
            database_bytes: database.bytes().await?,
        })
    }

    pub(crate) fn row(&self) -> String {
        let latencies: Vec<String> = std::iter::once(self.p99_all)
            .chain(self.p99_by_kind.iter().map(|(_, p99)| *p99))
            .map(milliseconds)
            .collect();
        format!(
            "{:>6}  {:>8}  {:>6}  {:<47}  {:>7.1}  {:>5}  {:>12.1}",
            self.minute,
            self.requests,
            self.errors,
            latencies.join(" "),
            mebibytes(self.resident_kib * 1024),
            self.open_files,
            mebibytes(self.database_bytes),
        )
    }
}

fn p99(latencies: impl Iterator<Item = Duration>) -> Option<Duration> {
    let mut sorted: Vec<Duration> = latencies.collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_unstable();
    let index = (sorted.len() * 99).div_ceil(100).saturating_sub(1);
    Some(sorted[index])
}

fn milliseconds(latency: Option<Duration>) -> String {
    latency.map_or_else(
        || "-".to_owned(),
        |took| format!("{:.1}", took.as_secs_f64() * 1e3),
    )
}

#[allow(clippy::cast_precision_loss, reason = "sizes far below 2^52 bytes")]
fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn ratio(last: u64, first: u64) -> f64 {
    last as f64 / first.max(1) as f64
}

/// The last minute against the first full one (minute 1: minute 0 is the
/// idle server before the load).
pub(crate) fn summary(minutes: &[Minute], lives: u64) -> String {
    let (Some(first), Some(last)) = (minutes.get(1), minutes.last()) else {
        return "too short to compare".to_owned();
    };
    let p99_ratio = match (first.p99_all, last.p99_all) {
        (Some(first), Some(last)) => format!("{:.2}", last.as_secs_f64() / first.as_secs_f64()),
        _ => "-".to_owned(),
    };
    format!(
        "{lives} whole lives; last minute ÷ minute 1: RSS {:.2}, open files {:.2}, database {:.2}, p99 {p99_ratio}, requests {:.2}",
        ratio(last.resident_kib, first.resident_kib),
        ratio(last.open_files as u64, first.open_files as u64),
        ratio(last.database_bytes, first.database_bytes),
        ratio(last.requests as u64, first.requests as u64),
    )
}

/// Every minute as one JSON document, for scripts.
pub(crate) fn json(minutes: &[Minute], lives: u64) -> Value {
    let as_ms = |latency: Option<Duration>| latency.map(|took| took.as_secs_f64() * 1e3);
    json!({
        "lives": lives,
        "minutes": minutes.iter().map(|minute| json!({
            "minute": minute.minute,
            "requests": minute.requests,
            "errors": minute.errors,
            "p99_ms": as_ms(minute.p99_all),
            "p99_ms_by_kind": minute.p99_by_kind.iter()
                .map(|(kind, p99)| (kind.name().to_owned(), json!(as_ms(*p99))))
                .collect::<serde_json::Map<_, _>>(),
            "rss_kib": minute.resident_kib,
            "open_files": minute.open_files,
            "database_bytes": minute.database_bytes,
        })).collect::<Vec<_>>(),
    })
}
