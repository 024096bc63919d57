//! Starts the real server on a random port with its own database, and talks
//! to it over real HTTP.
//!
//! Each [`TestServer`] is one server with one fresh database (a SQLite file
//! in a temporary folder, or a PostgreSQL schema of its own). Most run
//! inside the test process ([`TestServer::spawn`]): the very
//! `portcullis::Application` that `portcullis serve` runs, on a runtime of
//! its own, with a clock the test can move ([`TestServer::advance_clock`]).
//! What only a process can show (its log, flags read from the environment,
//! signals, `kill -9`, several instances) uses the binary
//! ([`TestServer::spawn_process`]), whose log (stderr) is collected so tests
//! can assert what is, and is not, logged. Dropping either stops it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::services::accounts::NewAccount;
use portcullis_core::{ManageRoles, ManageUsers, OffsetClock, Operator, SecretString, Services};
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
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

/// The backend every test server runs on unless a test asks for one:
/// SQLite, or PostgreSQL when `PORTCULLIS_IT_BACKEND=postgres` (on the server
/// named by `PORTCULLIS_TEST_POSTGRES`).
const BACKEND_VARIABLE: &str = "PORTCULLIS_IT_BACKEND";
const POSTGRES_VARIABLE: &str = "PORTCULLIS_TEST_POSTGRES";

/// Where a test server keeps its data: a folder (its working directory and,
/// for SQLite, home of the database file) and, for PostgreSQL, a schema
/// made for this test alone in this run's database ([`RunDatabase`]),
/// dropped when the last server using it is.
pub(crate) struct TestDatabase {
    folder: TempDir,
    url: String,
    postgres: Option<PostgresSchema>,
}

/// A test's schema in the run's database (at `run_url`) on `server_url`.
struct PostgresSchema {
    server_url: String,
    run_url: String,
    name: String,
}

/// The database a test run keeps on one PostgreSQL server while any of its
/// tests has a schema there: made by the first, dropped by the last.
///
/// A schema per test rather than a database: `DROP DATABASE` waits for a
/// checkpoint (0.7–1 s on this machine, one after another), `DROP SCHEMA`
/// does not. The run's database is dropped whenever its last schema is, so
/// nothing outlives the run; if the tests happen to leave it empty mid-run,
/// the next makes another.
struct RunDatabase {
    name: String,
    schemas: usize,
}

/// This process's run databases, by server URL.
static RUN_DATABASES: Mutex<Vec<(String, RunDatabase)>> = Mutex::new(Vec::new());

impl TestDatabase {
    /// A fresh database on the suite's backend.
    pub(crate) fn fresh() -> Arc<Self> {
        if std::env::var(BACKEND_VARIABLE).is_ok_and(|backend| backend == "postgres") {
            let server = std::env::var(POSTGRES_VARIABLE).unwrap_or_else(|_| {
                panic!("{BACKEND_VARIABLE}=postgres needs {POSTGRES_VARIABLE} (a server URL)")
            });
            Self::on_postgres(&server)
        } else {
            Self::on_sqlite()
        }
    }

    /// A new SQLite database file in a folder of its own, whatever the
    /// suite's backend.
    pub(crate) fn on_sqlite() -> Arc<Self> {
        let folder = tempfile::tempdir().expect("temporary folder");
        let url = folder.path().join("portcullis.db").display().to_string();
        Arc::new(Self {
            folder,
            url,
            postgres: None,
        })
    }

    /// A new schema, alone on the search path of every connection made with
    /// [`TestDatabase::url`], in this run's database on the PostgreSQL
    /// server at `server_url`.
    pub(crate) fn on_postgres(server_url: &str) -> Arc<Self> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let server_url = server_url.trim_end_matches('/').to_owned();
        let folder = tempfile::tempdir().expect("temporary folder");
        let name = format!(
            "test_{}",
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let run_url = database_url(&server_url, &RunDatabase::join(&server_url));
        // The application name lets a test tell its own server's
        // connections from the other tests' in `pg_stat_activity`.
        let url = format!("{run_url}?options=-c%20search_path%3D{name}&application_name={name}");
        let create = format!("CREATE SCHEMA {name}");
        // Made before the schema, so that dropping it leaves the run's
        // database whatever happens next.
        let test_database = Arc::new(Self {
            folder,
            url,
            postgres: Some(PostgresSchema {
                server_url,
                run_url: run_url.clone(),
                name,
            }),
        });
        postgres_admin(&run_url, &create).unwrap_or_else(|error| panic!("{error}"));
        test_database
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The SQLite database file; `None` on PostgreSQL (for the few tests
    /// that look at the file itself).
    pub(crate) fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        (!self.is_postgres()).then(|| self.folder.path().join("portcullis.db"))
    }

    /// Runs one statement on the database behind the server's back, for
    /// the tests that break a table under it.
    pub(crate) async fn execute(&self, statement: &str) {
        use sqlx::Connection as _;
        if self.is_postgres() {
            let mut connection = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::raw_sql(statement)
                .execute(&mut connection)
                .await
                .expect(statement);
        } else {
            let mut connection = self.sqlite_connection().await;
            sqlx::raw_sql(statement)
                .execute(&mut connection)
                .await
                .expect(statement);
        }
    }

    /// Runs a query that counts, for the tests that watch a table the API
    /// does not show.
    pub(crate) async fn count(&self, query: &str) -> i64 {
        use sqlx::Connection as _;
        let count: (i64,) = if self.is_postgres() {
            let mut connection = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query_as(query).fetch_one(&mut connection).await
        } else {
            let mut connection = self.sqlite_connection().await;
            sqlx::query_as(query).fetch_one(&mut connection).await
        }
        .expect(query);
        count.0
    }

    /// A connection of the test's own to the SQLite file, waiting its turn
    /// behind the server's writes.
    async fn sqlite_connection(&self) -> sqlx::SqliteConnection {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&self.url)
            .busy_timeout(std::time::Duration::from_secs(5));
        sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("open SQLite")
    }

    /// The store itself, for checking what was written.
    pub(crate) async fn store(&self) -> Box<dyn portcullis_core::store::Store> {
        if self.is_postgres() {
            Box::new(
                portcullis_store::PgStore::connect(&self.url)
                    .await
                    .expect("open PostgreSQL"),
            )
        } else {
            Box::new(
                portcullis_store::SqliteStore::connect(&self.url)
                    .await
                    .expect("open SQLite"),
            )
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(schema) = &self.postgres else {
            return;
        };
        // Ends the connections a server of the test may still hold, as
        // `DROP DATABASE … WITH (FORCE)` would (only this run's database's:
        // another run's schemas have the same names).
        let dropped = postgres_admin(
            &schema.run_url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = '{name}'
                   AND pid <> pg_backend_pid();
                 DROP SCHEMA IF EXISTS {name} CASCADE",
                name = schema.name
            ),
        );
        if let Err(error) = dropped {
            eprintln!("could not drop test schema {}: {error}", schema.name);
        }
        RunDatabase::leave(&schema.server_url);
    }
}

impl RunDatabase {
    /// Counts one more schema in this run's database on `server_url`,
    /// made first if there is none; its name.
    fn join(server_url: &str) -> String {
        let mut runs = RUN_DATABASES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, run)) = runs.iter_mut().find(|(server, _)| server == server_url) {
            run.schemas += 1;
            return run.name.clone();
        }
        let name = format!(
            "portcullis_it_{}_{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        postgres_admin(
            &database_url(server_url, "postgres"),
            &format!("CREATE DATABASE {name}"),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        runs.push((
            server_url.to_owned(),
            Self {
                name: name.clone(),
                schemas: 1,
            },
        ));
        name
    }

    /// Counts one schema fewer in this run's database on `server_url`, and
    /// drops the database when that was the last.
    fn leave(server_url: &str) {
        let mut runs = RUN_DATABASES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(position) = runs.iter().position(|(server, _)| server == server_url) else {
            return;
        };
        let run = &mut runs[position].1;
        run.schemas -= 1;
        if run.schemas == 0 {
            let dropped = postgres_admin(
                &database_url(server_url, "postgres"),
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", run.name),
            );
            if let Err(error) = dropped {
                eprintln!("could not drop test database {}: {error}", run.name);
            }
            runs.remove(position);
        }
    }
}

/// The URL of `database` on the server at `server_url`.
fn database_url(server_url: &str, database: &str) -> String {
    format!("{server_url}/{database}")
}

/// Runs statements on the database at `url`, on a thread of its own (this
/// is called from async tests and from `Drop`); what went wrong, if
/// anything did.
fn postgres_admin(url: &str, statements: &str) -> Result<(), String> {
    let url = url.to_owned();
    let statements = statements.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(&url)
                .await
                .map_err(|error| format!("connecting to {url}: {error}"))?;
            sqlx::raw_sql(&statements)
                .execute(&mut connection)
                .await
                .map_err(|error| format!("{statements}: {error}"))?;
            Ok(())
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the administration thread panicked".to_owned()))
}

pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) client: Client,
    database: Arc<TestDatabase>,
    running: Running,
    args: Vec<String>,
}

/// How a [`TestServer`] runs.
enum Running {
    /// The `portcullis` binary: for what only a process shows (its log,
    /// flags read from the environment, signals, `kill -9`).
    Process {
        child: Child,
        log: Arc<Mutex<Vec<String>>>,
    },
    /// The same server ([`portcullis::Application`]) inside the test
    /// process, on a runtime of its own, reading a clock the test moves.
    InProcess(InProcessServer),
}

/// The log lines of one in-process server: its runtime's threads write
/// their events here, formatted as the binary formats them.
#[derive(Clone, Default)]
struct LogSink(Arc<Mutex<Vec<String>>>);

/// One event being written to a [`LogSink`]; its lines land when it drops.
struct LogEvent {
    sink: LogSink,
    bytes: Vec<u8>,
}

impl std::io::Write for LogEvent {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogEvent {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.bytes);
        let mut lines = self.sink.0.lock().unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LogEvent;

    fn make_writer(&'a self) -> Self::Writer {
        LogEvent {
            sink: self.clone(),
            bytes: Vec::new(),
        }
    }
}

impl LogSink {
    /// A dispatcher that writes into this sink, filtered as the binary
    /// filters by default.
    fn dispatch(&self) -> tracing::Dispatch {
        tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    "info,sqlx=warn,tower_http=warn",
                ))
                .with_ansi(false)
                .with_writer(self.clone())
                .finish(),
        )
    }
}

struct InProcessServer {
    runtime: tokio::runtime::Handle,
    services: Arc<Services>,
    clock: Arc<OffsetClock>,
    log: LogSink,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl TestServer {
    /// A server with the defaults of the contract, but cheap hashing, in
    /// this process.
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// A server with extra `serve` flags, in this process.
    pub(crate) async fn spawn_with(extra: &[&str]) -> Self {
        Self::spawn_on(&TestDatabase::fresh(), extra).await
    }

    /// A server on an existing database (several may share one), in this process.
    pub(crate) async fn spawn_on(database: &Arc<TestDatabase>, extra: &[&str]) -> Self {
        let args: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let mut flags: Vec<String> = ["--listen", "127.0.0.1:0", "--database", database.url()]
            .map(str::to_owned)
            .into();
        for (variable, value) in FAST_HASHING {
            let flag = format!(
                "--{}",
                variable
                    .trim_start_matches("PORTCULLIS_")
                    .to_lowercase()
                    .replace('_', "-")
            );
            if !args.contains(&flag) {
                flags.extend([flag, value.to_owned()]);
            }
        }
        flags.extend(args.iter().cloned());
        let clock = Arc::new(OffsetClock::default());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let server_clock = Arc::clone(&clock);
        let log = LogSink::default();
        let dispatch = log.dispatch();
        std::thread::spawn(move || {
            let on_start = dispatch.clone();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .on_thread_start(move || {
                    // Held for the thread's whole life.
                    std::mem::forget(tracing::dispatcher::set_default(&on_start));
                })
                .build()
                .expect("a runtime for the server");
            let _log = tracing::dispatcher::set_default(&dispatch);
            runtime.block_on(async move {
                let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
                let application =
                    match portcullis::Application::from_serve_args(&flags, server_clock).await {
                        Ok(application) => application,
                        Err(error) => {
                            let _ = started_tx.send(Err(format!("{error:#}")));
                            return;
                        }
                    };
                let _ = started_tx.send(Ok((
                    application.address(),
                    application.services(),
                    tokio::runtime::Handle::current(),
                )));
                let shutdown = async {
                    let _ = shutdown_rx.await;
                };
                if let Err(error) = application.run_until(shutdown).await {
                    eprintln!("the in-process server stopped with: {error:#}");
                }
            });
            let _ = stopped_tx.send(());
        });
        let (address, services, runtime) = started_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server starts within 30 s")
            .unwrap_or_else(|error| panic!("the server did not start: {error}"));
        Self {
            base: format!("http://{address}"),
            client: test_client(),
            database: Arc::clone(database),
            running: Running::InProcess(InProcessServer {
                runtime,
                services,
                clock,
                log,
                shutdown: Some(shutdown_tx),
                stopped: Mutex::new(stopped_rx),
            }),
            args,
        }
    }

    /// The `portcullis` binary with the defaults of the contract, but cheap hashing.
    pub(crate) async fn spawn_process() -> Self {
        Self::spawn_process_with(&[]).await
    }

    /// The `portcullis` binary with extra `serve` flags.
    pub(crate) async fn spawn_process_with(extra: &[&str]) -> Self {
        Self::spawn_process_on(&TestDatabase::fresh(), extra).await
    }

    /// The `portcullis` binary with extra environment variables (`PORTCULLIS_*`).
    pub(crate) async fn spawn_with_env(env: &[(&str, &str)]) -> Self {
        Self::start_process(TestDatabase::fresh(), Vec::new(), env).await
    }

    /// The `portcullis` binary on an existing database (several may share one).
    pub(crate) async fn spawn_process_on(database: &Arc<TestDatabase>, extra: &[&str]) -> Self {
        let args = extra.iter().map(|s| (*s).to_owned()).collect();
        Self::start_process(Arc::clone(database), args, &[]).await
    }

    async fn start_process(
        database: Arc<TestDatabase>,
        args: Vec<String>,
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        command.arg("serve");
        // A test that must know the address before the start (an issuer
        // that is the server's own URL) names it; else any free port.
        if !args.iter().any(|arg| arg == "--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command
            .args(["--database", database.url()])
            .args(&args)
            .current_dir(database.folder.path())
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
        Self {
            base: format!("http://{address}"),
            client: test_client(),
            database,
            running: Running::Process { child, log },
            args,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `host:port` the server listens on, for raw TCP connections.
    pub(crate) fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub(crate) fn database(&self) -> &Arc<TestDatabase> {
        &self.database
    }

    /// Everything the server has logged so far (a process's only).
    pub(crate) fn log(&self) -> String {
        self.log_lines().lock().unwrap().join("\n")
    }

    fn log_lines(&self) -> &Arc<Mutex<Vec<String>>> {
        match &self.running {
            Running::Process { log, .. } => log,
            Running::InProcess(server) => &server.log.0,
        }
    }

    fn child(&mut self) -> &mut Child {
        match &mut self.running {
            Running::Process { child, .. } => child,
            Running::InProcess(_) => panic!("this needs a process: use spawn_process"),
        }
    }

    /// Stops with SIGTERM and waits; returns whether it exited successfully.
    pub(crate) fn terminate(&mut self) -> bool {
        let pid = self.child().id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child().wait().expect("wait").success()
    }

    /// Stops the server and starts a new one on the same database and
    /// flags: a process is killed with `kill -9`, an in-process server is
    /// stopped.
    pub(crate) async fn kill_and_restart(self) -> Self {
        let args = self.args.clone();
        self.kill_and_start(args).await
    }

    /// As [`TestServer::kill_and_restart`], with other flags.
    pub(crate) async fn restart_with(self, extra: &[&str]) -> Self {
        self.kill_and_start(extra.iter().map(|s| (*s).to_owned()).collect())
            .await
    }

    async fn kill_and_start(mut self, args: Vec<String>) -> Self {
        let database = Arc::clone(&self.database);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Running::Process { child, .. } = &mut self.running {
            child.kill().expect("kill -9");
            child.wait().expect("wait");
            drop(self);
            return Self::spawn_process_on(&database, &args).await;
        }
        drop(self);
        Self::spawn_on(&database, &args).await
    }

    /// Runs another `portcullis` command on this server's database.
    pub(crate) fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .args(["--database", self.database.url()])
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

    /// Creates or replaces a role as the operator would; asserts success.
    /// A process's database gets `portcullis role set`; an in-process
    /// server is told directly, so nothing waits for the change feed.
    pub(crate) fn set_role(&self, name: &str, permissions: &[&str]) {
        let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
        if let Running::InProcess(server) = &self.running {
            let name = name.to_owned();
            server.operate(move |services| async move {
                let operator = Operator::at_command_line().authorize::<ManageRoles>();
                services
                    .roles
                    .put(&operator, &name, &permissions)
                    .await
                    .expect("the role is set");
            });
            return;
        }
        let mut args = vec!["role", "set", name];
        for permission in &permissions {
            args.extend(["--permission", permission]);
        }
        assert_exit(&self.cli(&args, None), 0, "role set");
    }

    /// A new administrator's (`admin@example.com`) access token.
    pub(crate) async fn admin_access_token(&self) -> String {
        self.add_user("admin@example.com", &["admin"]);
        text(
            &self.login("admin@example.com", PASSWORD).await,
            "access_token",
        )
    }

    /// A user with [`PASSWORD`] and `roles`, added as the operator would
    /// (`portcullis user add` for a process); asserts success and returns the id.
    pub(crate) fn add_user(&self, email: &str, roles: &[&str]) -> String {
        if let Running::InProcess(server) = &self.running {
            let email = email.to_owned();
            let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
            return server.operate(move |services| async move {
                let operator = Operator::at_command_line().authorize::<ManageUsers>();
                let password = SecretString::from(PASSWORD);
                let account = NewAccount {
                    email: &email,
                    password: &password,
                    name: None,
                    roles,
                };
                let user = services
                    .users
                    .create(&operator, account)
                    .await
                    .expect("the user is added");
                user.id.to_string()
            });
        }
        let mut args = vec!["user", "add", "--email", email, "--password-stdin"];
        for role in roles {
            args.extend(["--role", role]);
        }
        let output = self.cli(&args, Some(&format!("{PASSWORD}\n")));
        assert_exit(&output, 0, "user add");
        stdout(&output).trim().to_owned()
    }

    /// `POST /users` with an email and a password, whatever the answer.
    pub(crate) async fn sign_up_with(&self, email: &str, password: &str) -> Response {
        sign_up_from(&self.client, self.url("/users"), email, password).await
    }

    pub(crate) async fn sign_up(&self, email: &str) -> Value {
        let response = self.sign_up_with(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up of {email}");
        response.json().await.unwrap()
    }

    /// The JSON password grant, whatever the answer.
    pub(crate) async fn password_grant(&self, email: &str, password: &str) -> Response {
        self.token(login_body(email, password)).await
    }

    /// Logs in with the JSON password grant and returns the token response.
    pub(crate) async fn login(&self, email: &str, password: &str) -> Value {
        let response = self.password_grant(email, password).await;
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

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub(crate) async fn get_authorized(&self, path: &str, access_token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /logout` with `access_token`, whatever the answer.
    pub(crate) async fn logout(&self, access_token: &str) -> Response {
        self.client
            .post(self.url("/logout"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// The keys of `GET /.well-known/jwks.json`; asserts `200`.
    pub(crate) async fn jwks(&self) -> Vec<Value> {
        let response = self.get("/.well-known/jwks.json").await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["keys"].as_array().expect("keys is an array").clone()
    }

    /// The keys of the JWKS whose `alg` is `algorithm`.
    pub(crate) async fn jwks_of(&self, algorithm: &str) -> Vec<Value> {
        self.jwks()
            .await
            .into_iter()
            .filter(|key| key["alg"] == algorithm)
            .collect()
    }
}

impl TestServer {
    /// Moves the in-process server's clock forward: what expires, expires.
    pub(crate) fn advance_clock(&self, by: time::Duration) {
        self.in_process().clock.advance(by);
    }

    /// Reads both feeds now, as the server does every half second.
    pub(crate) fn follow_feeds(&self) {
        self.in_process().operate(|services| async move {
            services
                .feeds
                .follow_revocations()
                .await
                .expect("revocations read");
            services
                .feeds
                .follow_account_changes()
                .await
                .expect("account changes read");
        });
    }

    /// Runs housekeeping now, as the server does every minute; returns how
    /// many rows went.
    pub(crate) fn housekeeping(&self) -> u64 {
        self.in_process().operate(|services| async move {
            services
                .feeds
                .housekeeping()
                .await
                .expect("housekeeping runs")
        })
    }

    /// The issuer the server signs with and names in redirects.
    pub(crate) fn issuer(&self) -> String {
        self.in_process().services.settings().issuer.clone()
    }

    /// `claims` signed as an id token by the server's `algorithm` key, as
    /// the OpenID Connect use cases sign them (the key is made if this is
    /// its first token).
    pub(crate) fn sign_id_token(
        &self,
        claims: Value,
        algorithm: portcullis_core::keys::SigningAlgorithm,
    ) -> String {
        self.in_process().operate(move |services| async move {
            services
                .signing_keys
                .sign_id_token(&claims, algorithm)
                .await
                .expect("an id token is signed")
        })
    }

    /// Who an `id_token_hint` names, as RP-initiated logout reads it.
    pub(crate) fn verify_id_token_hint(
        &self,
        token: &str,
    ) -> Result<portcullis_core::tokens::IdTokenHint, portcullis_core::AuthError> {
        let token = token.to_owned();
        self.in_process().operate(move |services| async move {
            services.signing_keys.verify_id_token_hint(&token).await
        })
    }

    fn in_process(&self) -> &InProcessServer {
        match &self.running {
            Running::InProcess(server) => server,
            Running::Process { .. } => panic!("a process is reached over HTTP only: use spawn"),
        }
    }
}

impl InProcessServer {
    /// Runs `work` on the server's own runtime and waits for its answer,
    /// from synchronous test code as from async.
    fn operate<F, T>(&self, work: impl FnOnce(Arc<Services>) -> F + Send + 'static) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (answer_tx, answer_rx) = std::sync::mpsc::channel();
        let services = Arc::clone(&self.services);
        self.runtime.spawn(async move {
            let _ = answer_tx.send(work(services).await);
        });
        answer_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the operator's work finishes")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        match &mut self.running {
            Running::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Running::InProcess(server) => {
                if let Some(shutdown) = server.shutdown.take() {
                    let _ = shutdown.send(());
                }
                if let Ok(stopped) = server.stopped.lock() {
                    let _ = stopped.recv_timeout(Duration::from_secs(10));
                }
            }
        }
    }
}

fn test_client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Reads a string field of a JSON value.
pub(crate) fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {value}"))
        .to_owned()
}

/// `POST` of an email and a password to `users_url` (`/users`) from `client`,
/// whatever the answer; for tasks that hold their own clone of the client.
pub(crate) async fn sign_up_from(
    client: &Client,
    users_url: String,
    email: &str,
    password: &str,
) -> Response {
    client
        .post(users_url)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The JSON body of the password grant.
pub(crate) fn login_body(email: &str, password: &str) -> Value {
    json!({ "grant_type": "password", "username": email, "password": password })
}

/// A response read to the end, so checks can be plain synchronous functions.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) bytes: Vec<u8>,
}

impl Reply {
    pub(crate) async fn of(response: Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap().to_vec();
        Self {
            status,
            headers,
            bytes,
        }
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|_| {
            panic!(
                "{}: body is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }

    /// The body as text, for messages.
    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// A header's value, or `""` when it is missing.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// Sends `request` and reads the whole response.
pub(crate) async fn read(request: RequestBuilder) -> Reply {
    Reply::of(request.send().await.unwrap()).await
}

/// Asserts a problem-details response with `status`.
#[track_caller]
pub(crate) fn check_problem(reply: &Reply, status: StatusCode, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        "application/problem+json",
        "{case}: problem details expected"
    );
    let body = reply.json();
    assert_eq!(body["status"], status.as_u16(), "{case}: {body}");
    for member in ["type", "title", "detail"] {
        assert!(
            body[member].is_string(),
            "{case}: {member} missing in {body}"
        );
    }
}

/// Asserts a `422` problem whose `errors` name `field`, each entry with a message.
#[track_caller]
pub(crate) fn check_field_error(reply: &Reply, field: &str, case: &str) {
    check_problem(reply, StatusCode::UNPROCESSABLE_ENTITY, case);
    let body = reply.json();
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{case}: no errors in {body}"));
    for error in errors {
        assert!(
            error["message"].is_string(),
            "{case}: an error without a message in {body}"
        );
    }
    assert!(
        errors.iter().any(|error| error["field"] == field),
        "{case}: no error for {field:?} in {body}"
    );
}

/// Asserts an OAuth 2.0 error (RFC 6749 §5.2): JSON with
/// `Cache-Control: no-store`.
#[track_caller]
pub(crate) fn check_oauth_error(reply: &Reply, status: StatusCode, error: &str, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.text());
    assert_eq!(reply.header("cache-control"), "no-store", "{case}");
    assert!(
        reply.header("content-type").starts_with("application/json"),
        "{case}: {}",
        reply.header("content-type")
    );
    let body = reply.json();
    assert_eq!(body["error"], error, "{case}: {body}");
    assert!(body["error_description"].is_string(), "{case}: {body}");
}

/// Asserts a problem-details response and returns its body.
pub(crate) async fn assert_problem(response: Response, status: StatusCode) -> Value {
    let reply = Reply::of(response).await;
    check_problem(&reply, status, "problem details");
    reply.json()
}

/// Asserts an OAuth 2.0 error response and returns its body.
pub(crate) async fn assert_oauth_error(
    response: Response,
    status: StatusCode,
    error: &str,
) -> Value {
    let reply = Reply::of(response).await;
    check_oauth_error(&reply, status, error, "OAuth 2.0 error");
    reply.json()
}

/// Part `index` of a JWT (0 the header, 1 the payload), decoded without
/// checking anything.
pub(crate) fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The decoded header of a JWT.
pub(crate) fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

/// The decoded claims of a JWT.
pub(crate) fn jwt_claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// `token` with byte `index` of its signature XORed with `mask`.
pub(crate) fn with_signature_changed(token: &str, index: usize, mask: u8) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("a JWT has a signature");
    let mut signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    signature[index] ^= mask;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The `sid` claim of a token response's access token: the id of its session.
pub(crate) fn session_id(token_response: &Value) -> String {
    text(&jwt_claims(&text(token_response, "access_token")), "sid")
}

/// The member names of a JSON object, sorted.
pub(crate) fn sorted_keys(object: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {object}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Whether `value` has the shape of a UUID (8-4-4-4-12 hex digits).
pub(crate) fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(at, c)| {
            if [8, 13, 18, 23].contains(&at) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_unix() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A command's standard output; it must be UTF-8.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// A command's standard error, lossily decoded.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a command's exit code; the message shows what it printed.
#[track_caller]
pub(crate) fn assert_exit(output: &Output, code: i32, case: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{case}: stdout {:?}, stderr {:?}",
        stdout(output),
        stderr(output)
    );
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

/// What `portcullis keys rotate` printed: one `(kid, algorithm)` a line,
/// one line per algorithm; asserts exit 0.
#[track_caller]
pub(crate) fn rotated_keys(output: &Output) -> Vec<(String, String)> {
    assert_exit(output, 0, "keys rotate");
    let lines: Vec<(String, String)> = stdout(output)
        .lines()
        .map(|line| {
            let (kid, algorithm) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("{line:?} is not `kid<TAB>algorithm`"));
            (kid.to_owned(), algorithm.to_owned())
        })
        .collect();
    let mut algorithms: Vec<&str> = lines
        .iter()
        .map(|(_, algorithm)| algorithm.as_str())
        .collect();
    algorithms.sort_unstable();
    assert_eq!(algorithms, ALGORITHMS, "one new key per algorithm");
    lines
}

/// Every signing algorithm, as `keys list` and the JWKS name them, sorted.
pub(crate) const ALGORITHMS: [&str; 3] = ["ES256", "EdDSA", "RS256"];

/// The kid of `algorithm` among `(kid, algorithm)` pairs.
#[track_caller]
pub(crate) fn kid_of_algorithm(keys: &[(String, String)], algorithm: &str) -> String {
    keys.iter()
        .find(|(_, of)| of == algorithm)
        .map(|(kid, _)| kid.clone())
        .unwrap_or_else(|| panic!("no {algorithm} key in {keys:?}"))
}

/// Runs `portcullis serve --listen 127.0.0.1:0 EXTRA` in an empty folder and
/// waits for it to exit (see [`run_to_exit`]).
pub(crate) fn serve_to_exit(extra: &[&str]) -> Output {
    run_to_exit(&[&["serve", "--listen", "127.0.0.1:0"], extra].concat())
}
