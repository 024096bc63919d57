//! The real router in process: a fresh SQLite file (or, with
//! [`TestApp::start_on_postgres`], a fresh PostgreSQL database, dropped
//! after), the real use cases (`Services`, with their upkeep loops) and
//! `portcullis_server::router`, driven with `tower::ServiceExt::oneshot`,
//! every response checked against the served OpenAPI document
//! (`portcullis_server::conformance`); a test whose responses are not all
//! documented fails when its app is dropped.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use portcullis_core::hashing::Argon2Settings;
use portcullis_core::services::accounts::NewAccount;
use portcullis_core::settings::AuthSettings;
use portcullis_core::store::Store;
use portcullis_core::{ManageUsers, Operator, SecretString, Services, SystemClock};
use portcullis_server::conformance::Conformance;
use portcullis_server::{AppState, HttpSettings, PageSettings, Pages};
use portcullis_store::{PgStore, SqliteStore};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt as _;

/// The password of every account made by [`TestApp::account`].
pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) struct TestApp {
    router: Router,
    conformance: Conformance,
    /// The SQLite store and its folder; `None` on PostgreSQL.
    sqlite: Option<(Arc<SqliteStore>, TempDir)>,
    services: Arc<Services>,
    maintenance: tokio::task::JoinHandle<()>,
}

/// The server that [`TestApp::start_on_postgres`] makes its database on.
pub(crate) const POSTGRES_VARIABLE: &str = "PORTCULLIS_TEST_POSTGRES";

/// The in-process app on a PostgreSQL database of its own, which is
/// dropped with it.
pub(crate) struct PostgresTestApp {
    app: TestApp,
    database: ScratchDatabase,
}

impl std::ops::Deref for PostgresTestApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// An account and a session's access token for it.
pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
}

impl TestApp {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with the contract's defaults, changed by `configure`, and a
    /// cheap Argon2 so that tests that hash stay fast.
    pub(crate) async fn start_with(configure: impl FnOnce(&mut AuthSettings)) -> Self {
        let directory = tempfile::tempdir().expect("a temporary folder");
        let file = directory.path().join("portcullis.db");
        let store = SqliteStore::connect(file.to_str().expect("a UTF-8 path"))
            .await
            .expect("the database opens");
        store.migrate().await.expect("the migrations apply");
        let store = Arc::new(store);
        let services_store: Arc<dyn Store> = store.clone();
        Self::start_on(services_store, Some((store, directory)), configure).await
    }

    /// Starts on a new database on the PostgreSQL server named by
    /// `PORTCULLIS_TEST_POSTGRES`, which must answer.
    pub(crate) async fn start_on_postgres() -> PostgresTestApp {
        let server = std::env::var(POSTGRES_VARIABLE)
            .unwrap_or_else(|_| panic!("this test needs {POSTGRES_VARIABLE} (a server URL)"));
        let database = ScratchDatabase::create(&server).await;
        let store = PgStore::connect(&database.url)
            .await
            .expect("the PostgreSQL database opens");
        store.migrate().await.expect("the migrations apply");
        let app = Self::start_on(Arc::new(store), None, |_| {}).await;
        PostgresTestApp { app, database }
    }

    async fn start_on(
        store: Arc<dyn Store>,
        sqlite: Option<(Arc<SqliteStore>, TempDir)>,
        configure: impl FnOnce(&mut AuthSettings),
    ) -> Self {
        let mut settings = AuthSettings::with_defaults("http://localhost:8080".to_owned());
        settings.argon2 = Argon2Settings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        settings.hashing_workers = 2;
        configure(&mut settings);
        let services = Arc::new(
            Services::start(store, settings, Arc::new(SystemClock))
                .await
                .expect("the use cases start"),
        );
        let maintenance = portcullis_server::spawn_maintenance(Arc::clone(&services), None);
        let conformance = Conformance::of_this_server();
        let state = AppState {
            services: Arc::clone(&services),
            http: Arc::new(HttpSettings::default()),
            pages: Arc::new(
                Pages::load(&PageSettings::default()).expect("the built-in pages load"),
            ),
            metrics: None,
        };
        let router = portcullis_server::router(state).layer(conformance.layer());
        Self {
            router,
            conformance,
            sqlite,
            services,
            maintenance,
        }
    }

    pub(crate) async fn send(&self, call: Call) -> Reply {
        let mut request = Request::builder().method(call.method).uri(&call.path);
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Body::from(call.body))
            .expect("a well-formed request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("the body reads");
        Reply {
            request: call.description,
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// An account with `roles`, logged in through `POST /token`.
    pub(crate) async fn account(&self, email: &str, roles: &[&str]) -> Account {
        let operator = Operator::at_command_line().authorize::<ManageUsers>();
        let account = NewAccount {
            email,
            password: &SecretString::from(PASSWORD),
            name: None,
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        };
        let user = self
            .services
            .users
            .create(&operator, account)
            .await
            .expect("the account is created");
        let tokens = self
            .send(call("POST", "/token").json(json!({"email": email, "password": PASSWORD})))
            .await
            .expect(StatusCode::OK)
            .json();
        Account {
            id: user.id.to_string(),
            email: email.to_owned(),
            access_token: text(&tokens, "access_token"),
            refresh_token: text(&tokens, "refresh_token"),
        }
    }

    /// A personal access token of `owner` with `scopes`.
    pub(crate) async fn personal_token(&self, owner: &Account, scopes: &[&str]) -> String {
        let created = self
            .send(
                call("POST", "/me/tokens")
                    .bearer(&owner.access_token)
                    .json(json!({"name": "ci", "scopes": scopes})),
            )
            .await
            .expect(StatusCode::CREATED)
            .json();
        text(&created, "token")
    }

    /// Makes every later database access fail, as an outage would.
    pub(crate) async fn close_database(&self) {
        let (store, _) = self.sqlite.as_ref().expect("an app on SQLite");
        store.close().await;
    }
}

/// A database of its own on a PostgreSQL server, dropped with this.
struct ScratchDatabase {
    url: String,
    name: String,
    admin_url: String,
}

impl ScratchDatabase {
    async fn create(server: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let server = server.trim_end_matches('/');
        let name = format!(
            "portcullis_server_it_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let database = Self {
            url: format!("{server}/{name}"),
            admin_url: format!("{server}/postgres"),
            name,
        };
        database
            .administer(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                database.name
            ))
            .await;
        database
            .administer(format!("CREATE DATABASE {}", database.name))
            .await;
        database
    }

    async fn administer(&self, statement: String) {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .unwrap_or_else(|error| panic!("PostgreSQL at {}: {error}", self.admin_url));
        sqlx::raw_sql(&statement)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
}

impl Drop for PostgresTestApp {
    fn drop(&mut self) {
        // A runtime of its own: `Drop` cannot await, and the test's runtime
        // may be ending.
        let statement = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database.name
        );
        let database = ScratchDatabase {
            url: self.database.url.clone(),
            name: self.database.name.clone(),
            admin_url: self.database.admin_url.clone(),
        };
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(database.administer(statement));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("the test database {} was not dropped", self.database.name);
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.maintenance.abort();
        if !std::thread::panicking() {
            assert!(self.conformance.checked() > 0, "no response was checked");
            self.conformance.assert_all_documented();
        }
    }
}

/// A request to send: `call("GET", "/me").bearer(token)`.
pub(crate) struct Call {
    method: Method,
    path: String,
    headers: Vec<(header::HeaderName, String)>,
    body: Vec<u8>,
    description: String,
}

pub(crate) fn call(method: &str, path: &str) -> Call {
    Call {
        method: Method::from_bytes(method.as_bytes()).expect("a method"),
        path: path.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
        description: format!("{method} {path}"),
    }
}

impl Call {
    pub(crate) fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub(crate) fn has_header(&self, name: &header::HeaderName) -> bool {
        self.headers.iter().any(|(present, _)| present == name)
    }

    pub(crate) fn bearer(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION, &format!("Bearer {token}"))
    }

    pub(crate) fn json(self, body: Value) -> Self {
        self.body("application/json", body.to_string().into_bytes())
    }

    pub(crate) fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header(header::CONTENT_TYPE, content_type)
    }
}

/// A response, read in full.
pub(crate) struct Reply {
    request: String,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// Asserts the status; returns the reply for more checks.
    #[track_caller]
    pub(crate) fn expect(self, status: StatusCode) -> Self {
        assert_eq!(
            self.status,
            status,
            "{}: {}",
            self.request,
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("{}: the body is not JSON: {error}", self.request))
    }

    pub(crate) fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|value| {
            value
                .to_str()
                .unwrap_or_else(|_| panic!("{}: {value:?} is not text", self.request))
        })
    }

    /// The problem type's slug (`urn:portcullis:problem:<slug>`).
    #[track_caller]
    pub(crate) fn problem(&self) -> String {
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            Some("application/problem+json"),
            "{}",
            self.request
        );
        let problem_type = text(&self.json(), "type");
        problem_type
            .strip_prefix("urn:portcullis:problem:")
            .unwrap_or(&problem_type)
            .to_owned()
    }

    /// The fields a `422` names.
    #[track_caller]
    pub(crate) fn invalid_fields(&self) -> Vec<String> {
        assert_eq!(self.problem(), "validation-error", "{}", self.request);
        self.json()["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|error| text(error, "field"))
            .collect()
    }

    /// The OAuth 2.0 `error` code.
    #[track_caller]
    pub(crate) fn oauth_error(&self) -> String {
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            Some("application/json"),
            "{}",
            self.request
        );
        text(&self.json(), "error")
    }
}

#[track_caller]
pub(crate) fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {value}"))
        .to_owned()
}
