//! Starts the real `portcullis` binary on a random port with its own SQLite
//! file, and talks to it over real HTTP.
//!
//! Each [`TestServer`] is one server process with one fresh database in a
//! temporary folder. Its log (stderr) is collected so tests can assert what
//! is, and is not, logged. Dropping it kills the process.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A password that passes the default policy.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Environment that makes hashing cheap; a test that needs real costs
/// passes `--argon2-*` flags, which win over the environment.
const FAST_HASHING: [(&str, &str); 2] = [
    ("PORTCULLIS_ARGON2_MEMORY_KIB", "1024"),
    ("PORTCULLIS_ARGON2_ITERATIONS", "1"),
];

pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) client: Client,
    dir: Arc<TempDir>,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    args: Vec<String>,
}

impl TestServer {
    /// A server with the defaults of the contract, but cheap hashing.
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// A server with extra `serve` flags.
    pub(crate) async fn spawn_with(extra: &[&str]) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temporary folder"));
        let args = extra.iter().map(|s| (*s).to_owned()).collect();
        Self::start(dir, args, &[]).await
    }

    /// A server with extra environment variables (`PORTCULLIS_*`).
    pub(crate) async fn spawn_with_env(env: &[(&str, &str)]) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temporary folder"));
        Self::start(dir, Vec::new(), env).await
    }

    async fn start(dir: Arc<TempDir>, args: Vec<String>, env: &[(&str, &str)]) -> Self {
        let database = dir.path().join("portcullis.db");
        let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--database"])
            .arg(&database)
            .args(&args)
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("PORTCULLIS_")) {
            command.env_remove(key);
        }
        command.envs(FAST_HASHING);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start portcullis");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = line.split("listening on http://").nth(1) {
                    let address: String = address
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = address_tx.send(address);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let address = address_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "the server did not start; its log:\n{}",
                    log.lock().unwrap().join("\n")
                )
            });
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            base: format!("http://{address}"),
            client,
            dir,
            child,
            log,
            args,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn database(&self) -> PathBuf {
        self.dir.path().join("portcullis.db")
    }

    /// Everything the server has logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Stops with SIGTERM and waits; returns whether it exited successfully.
    pub(crate) fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("wait").success()
    }

    /// `kill -9`, then a new process on the same database and flags.
    pub(crate) async fn kill_and_restart(self) -> Self {
        let args = self.args.clone();
        self.kill_and_start(args).await
    }

    /// `kill -9`, then a new process on the same database with other flags.
    pub(crate) async fn restart_with(self, extra: &[&str]) -> Self {
        self.kill_and_start(extra.iter().map(|s| (*s).to_owned()).collect())
            .await
    }

    async fn kill_and_start(mut self, args: Vec<String>) -> Self {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
        let dir = Arc::clone(&self.dir);
        drop(self);
        Self::start(dir, args, &[]).await
    }

    /// Runs another `portcullis` command on this server's database.
    pub(crate) fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .arg("--database")
            .arg(self.database())
            .envs(FAST_HASHING)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run portcullis");
        {
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().expect("wait")
    }

    pub(crate) async fn sign_up(&self, email: &str) -> Value {
        let response = self
            .client
            .post(self.url("/users"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up of {email}");
        response.json().await.unwrap()
    }

    /// Logs in with the JSON password grant and returns the token response.
    pub(crate) async fn login(&self, email: &str, password: &str) -> Value {
        let response = self
            .token(json!({ "grant_type": "password", "username": email, "password": password }))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login of {email}");
        response.json().await.unwrap()
    }

    /// Signs up and logs in; returns the token response.
    pub(crate) async fn user_with_tokens(&self, email: &str) -> Value {
        self.sign_up(email).await;
        self.login(email, PASSWORD).await
    }

    pub(crate) async fn token(&self, body: Value) -> Response {
        self.client
            .post(self.url("/token"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn refresh(&self, refresh_token: &str) -> Response {
        self.token(json!({ "grant_type": "refresh_token", "refresh_token": refresh_token }))
            .await
    }

    pub(crate) async fn get_authorized(&self, path: &str, access_token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a string field of a JSON value.
pub(crate) fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {value}"))
        .to_owned()
}

/// Asserts a problem-details response and returns its body.
pub(crate) async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "problem details expected"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "{field} missing in {body}");
    }
    body
}

/// Asserts an OAuth 2.0 error response and returns its body.
pub(crate) async fn assert_oauth_error(
    response: Response,
    status: StatusCode,
    error: &str,
) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}

/// Runs `portcullis ARGS` in an empty folder and waits for it to exit
/// (panics if it keeps running, as a server that should have refused would).
pub(crate) fn run_to_exit(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("PORTCULLIS_")) {
        command.env_remove(key);
    }
    let child = command.spawn().expect("run portcullis");
    let pid = child.id().to_string();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    match done_rx.recv_timeout(Duration::from_secs(20)) {
        Ok(output) => output.expect("wait for portcullis"),
        Err(_) => {
            Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .expect("kill -KILL");
            panic!(
                "`portcullis {}` kept running; it should have exited",
                args.join(" ")
            );
        }
    }
}
