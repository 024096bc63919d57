//! Faults: the database goes away mid-test and comes back. Every endpoint
//! that needs it answers `503` with `Retry-After` quickly (never a hang,
//! never a 500; forward-auth never lets a request through), the process
//! itself stays healthy, and it recovers by itself when the database
//! returns.
//!
//! The test runs its own PostgreSQL cluster (`initdb` and `pg_ctl` of the
//! installed PostgreSQL, as the `postgres` user, on a free port) so it can
//! stop it; the harness checks those programs are there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{PASSWORD, TestDatabase, TestServer, text};

/// A PostgreSQL cluster of this test's own.
struct PrivatePostgres {
    folder: TempDir,
    binaries: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> Self {
        let binaries = postgres_binaries().expect("the harness found initdb");
        let folder = tempfile::tempdir().expect("temporary folder");
        as_postgres_owner(folder.path());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            folder,
            binaries,
            port,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.start_server();
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    fn data(&self) -> String {
        self.folder.path().join("data").display().to_string()
    }

    fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.folder.path().display()
        );
        let log = self
            .folder
            .path()
            .join("postgres.log")
            .display()
            .to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn stop_server(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    /// Runs a PostgreSQL program as the `postgres` user (they refuse root).
    fn run(&self, program: &str, args: &[&str]) {
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.binaries.join(program))
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(status.success(), "{program} {args:?} failed");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.binaries.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

/// The newest `…/bin` folder holding `initdb` under `/usr/lib/postgresql`.
pub(crate) fn postgres_binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn as_postgres_owner(folder: &Path) {
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(folder)
        .status()
        .expect("chown");
    assert!(status.success(), "chown postgres {}", folder.display());
}

/// Sends a request and checks it was answered within `limit` (never a hang).
async fn answered_quickly(request: reqwest::RequestBuilder, limit: Duration) -> Response {
    let started = Instant::now();
    let response = request
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert!(
        started.elapsed() < limit,
        "answered only after {:?}",
        started.elapsed()
    );
    response
}

#[track_caller]
fn assert_unavailable(response: &Response, what: &str) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let retry_after = response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!(
        retry_after.to_str().unwrap().parse::<u64>().is_ok(),
        "{what}: Retry-After {retry_after:?}"
    );
}

pub(crate) async fn a_lost_database_is_503_with_retry_after_and_the_server_recovers_by_itself() {
    let postgres = PrivatePostgres::start();
    let database = TestDatabase::on_postgres(&postgres.url());
    let server = TestServer::spawn_on(
        &database,
        &["--db-acquire-timeout", "1s", "--db-statement-timeout", "1s"],
    )
    .await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let access = text(&tokens, "access_token");

    postgres.stop_server();
    let limit = Duration::from_secs(5);
    let client = &server.client;
    let login =
        json!({ "grant_type": "password", "username": "alice@example.com", "password": PASSWORD });
    let refresh =
        json!({ "grant_type": "refresh_token", "refresh_token": text(&tokens, "refresh_token") });
    let signup = json!({ "email": "bob@example.com", "password": PASSWORD });
    let checks = [
        ("login", client.post(server.url("/token")).json(&login)),
        ("refresh", client.post(server.url("/token")).json(&refresh)),
        ("sign-up", client.post(server.url("/users")).json(&signup)),
        (
            "GET /me",
            client.get(server.url("/me")).bearer_auth(&access),
        ),
        (
            "sessions",
            client.get(server.url("/me/sessions")).bearer_auth(&access),
        ),
        ("readiness", client.get(server.url("/readyz"))),
        (
            "forward-auth (fails closed)",
            client.get(server.url("/auth/verify")).bearer_auth(&access),
        ),
    ];
    for (what, request) in checks {
        let response = answered_quickly(request, limit).await;
        assert_unavailable(&response, what);
    }
    let health = answered_quickly(client.get(server.url("/healthz")), limit).await;
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "the process itself is alive"
    );

    postgres.start_server();
    let started = Instant::now();
    while server.get("/readyz").await.status() != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        server
            .password_grant("alice@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let me = server.get_authorized("/me", &access).await;
    let status = me.status();
    let body = me.text().await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "GET /me once ready again: {body}\n{}",
        server.log()
    );
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
