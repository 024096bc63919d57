//! The soak benchmark's driver: minutes of mixed load against a running
//! Portcullis (`bench/soak/run` starts one), with the server's memory, open
//! files and database size, and the latency of each kind of request,
//! sampled every minute. What it shows is whether they stay flat: a leak,
//! a table that is never pruned or a queue that grows shows as a trend.
//!
//! Each client repeats one user's life: sign up, log in, read `/me`,
//! refresh, read `/me` again, have an administrator change its roles (and,
//! now and then, a role's permissions), log out, and be deleted by the
//! administrator; so a steady state exists, and anything that grows is
//! left behind by someone.

mod load;
mod samples;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;

use crate::load::{Client, Latencies};
use crate::samples::{DatabaseSize, Minute, ServerProcess};

/// Drives a running Portcullis with a mixed load and samples it each minute.
#[derive(Debug, Parser)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:18300")]
    base_url: String,
    /// The server's process id, for its memory and open files.
    #[arg(long)]
    pid: u32,
    /// The server's SQLite database file (its `-wal` is counted too).
    #[arg(long, conflicts_with = "postgres")]
    sqlite: Option<PathBuf>,
    /// The server's PostgreSQL database URL.
    #[arg(long)]
    postgres: Option<String>,
    /// An administrator's email and password (`admin:users`, `admin:roles`).
    #[arg(long)]
    admin_email: String,
    #[arg(long, env = "SOAK_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: String,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    minutes: u32,
    /// Users living their lives at once.
    #[arg(long, default_value_t = 16)]
    clients: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let database = match (&args.sqlite, &args.postgres) {
        (Some(file), None) => DatabaseSize::sqlite(file.clone()),
        (None, Some(url)) => DatabaseSize::postgres(url).await?,
        _ => anyhow::bail!("give --sqlite FILE or --postgres URL"),
    };
    let process = ServerProcess::new(args.pid);
    let admin = load::Admin::log_in(&args.base_url, &args.admin_email, &args.admin_password)
        .await
        .context("the administrator logs in")?;
    load::define_roles(&admin).await?;
    let latencies = Arc::new(Latencies::default());
    let admin = Arc::new(admin);
    if !database.autovacuum().await? {
        println!(
            "autovacuum is off on this PostgreSQL server: no dead row is reclaimed, so the database grows with every update and delete"
        );
    }
    let tables_at_start = database.tables().await?;
    let mut minutes = vec![Minute::sample(0, &process, &database, &latencies.take()).await?];
    println!("{}", Minute::HEADER);
    println!("{}", minutes[0].row());

    let run = Instant::now();
    let until = run + Duration::from_secs(u64::from(args.minutes) * 60);

    let mut clients = Vec::new();
    for number in 0..args.clients {
        let client = Client::new(
            &args.base_url,
            number,
            Arc::clone(&admin),
            Arc::clone(&latencies),
        );
        clients.push(tokio::spawn(client.live_until(until)));
    }

    for minute in 1..=args.minutes {
        tokio::time::sleep_until((run + Duration::from_secs(u64::from(minute) * 60)).into()).await;
        let sample = Minute::sample(minute, &process, &database, &latencies.take()).await?;
        println!("{}", sample.row());
        minutes.push(sample);
    }
    let mut lives = 0;
    for client in clients {
        lives += client.await??;
    }
    let summary = samples::summary(&minutes, lives);
    println!("{summary}");
    let tables_at_end = database.tables().await?;
    if !tables_at_end.is_empty() {
        println!("{}", samples::tables(&tables_at_start, &tables_at_end));
    }
    println!(
        "in memory at the end:\n{}",
        samples::in_memory_entries(&args.base_url).await?
    );
    println!(
        "{}",
        serde_json::to_string(&samples::json(&minutes, lives))?
    );
    Ok(())
}
