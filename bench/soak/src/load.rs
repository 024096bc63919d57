//! The load: clients each living one user's life after another, and an
//! administrator shared by them, with every request's latency recorded by
//! kind. An unexpected answer is counted as an error, with its first few
//! described on stderr, and the client carries on with its next life.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "soak test password, long enough";

/// Roles the administrator grants in turn.
const ROLES: usize = 4;

/// Reads of `/me` per access token.
const READS_PER_TOKEN: usize = 8;

/// Errors described on stderr; the rest are only counted.
const ERRORS_DESCRIBED: u64 = 20;

/// What a request did, for its latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    SignUp,
    Login,
    Me,
    Refresh,
    Admin,
    Logout,
}

impl Kind {
    /// Every kind, in the table's order.
    pub(crate) const ALL: [Self; 6] = [
        Self::SignUp,
        Self::Login,
        Self::Me,
        Self::Refresh,
        Self::Admin,
        Self::Logout,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SignUp => "sign-up",
            Self::Login => "login",
            Self::Me => "me",
            Self::Refresh => "refresh",
            Self::Admin => "admin",
            Self::Logout => "logout",
        }
    }
}

/// Latencies recorded since the last [`Latencies::take`], and errors.
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    recorded: Mutex<Vec<(Kind, Duration)>>,
    errors: AtomicU64,
}

/// One minute's latencies and errors.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub(crate) latencies: Vec<(Kind, Duration)>,
    pub(crate) errors: u64,
}

impl Latencies {
    fn record(&self, kind: Kind, took: Duration) {
        self.recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((kind, took));
    }

    fn error(&self, what: &str) {
        if self.errors.fetch_add(1, Ordering::Relaxed) < ERRORS_DESCRIBED {
            eprintln!("error: {what}");
        }
    }

    /// What was recorded since the last call.
    pub(crate) fn take(&self) -> Recorded {
        Recorded {
            latencies: std::mem::take(
                &mut *self
                    .recorded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            errors: self.errors.swap(0, Ordering::Relaxed),
        }
    }
}

/// The administrator: one access token, logged in again before it expires.
pub(crate) struct Admin {
    base_url: String,
    email: String,
    password: String,
    http: reqwest::Client,
    token: tokio::sync::Mutex<(String, Instant)>,
}

impl Admin {
    pub(crate) async fn log_in(
        base_url: &str,
        email: &str,
        password: &str,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let token = password_grant(&http, base_url, email, password).await?;
        Ok(Self {
            base_url: base_url.to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            http,
            token: tokio::sync::Mutex::new(token),
        })
    }

    async fn access_token(&self) -> anyhow::Result<String> {
        let mut token = self.token.lock().await;
        if Instant::now() >= token.1 {
            *token =
                password_grant(&self.http, &self.base_url, &self.email, &self.password).await?;
        }
        Ok(token.0.clone())
    }

    /// Sends one administrator's request; its status.
    async fn send(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<StatusCode> {
        let token = self.access_token().await?;
        let response = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?;
        Ok(response.status())
    }
}

/// Logs in; the access token and when to log in again (a minute before it
/// expires, or at once for a lifetime under a minute).
async fn password_grant(
    http: &reqwest::Client,
    base_url: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<(String, Instant)> {
    let response = http
        .post(format!("{base_url}/token"))
        .json(&json!({ "grant_type": "password", "username": email, "password": password }))
        .send()
        .await?;
    if response.status() != StatusCode::OK {
        bail!("the administrator's login answered {}", response.status());
    }
    let tokens: Value = response.json().await?;
    let lifetime = tokens["expires_in"].as_u64().context("expires_in")?;
    let access = tokens["access_token"].as_str().context("access_token")?;
    Ok((
        access.to_owned(),
        Instant::now() + Duration::from_secs(lifetime.saturating_sub(60)),
    ))
}

/// Creates the roles the administrator grants.
pub(crate) async fn define_roles(admin: &Admin) -> anyhow::Result<()> {
    for role in 0..ROLES {
        let status = admin
            .send(
                Method::PUT,
                &format!("/roles/soak-{role}"),
                &json!({ "permissions": [format!("soak:{role}")] }),
            )
            .await?;
        if !status.is_success() {
            bail!("PUT /roles/soak-{role} answered {status}");
        }
    }
    Ok(())
}

/// One client: one user's life after another.
pub(crate) struct Client {
    base_url: String,
    number: usize,
    http: reqwest::Client,
    admin: std::sync::Arc<Admin>,
    latencies: std::sync::Arc<Latencies>,
}

impl Client {
    pub(crate) fn new(
        base_url: &str,
        number: usize,
        admin: std::sync::Arc<Admin>,
        latencies: std::sync::Arc<Latencies>,
    ) -> Self {
        Self {
            base_url: base_url.to_owned(),
            number,
            http: reqwest::Client::new(),
            admin,
            latencies,
        }
    }

    /// Lives lives until `until`; returns how many were whole.
    pub(crate) async fn live_until(self, until: Instant) -> anyhow::Result<u64> {
        let mut whole = 0;
        let mut life = 0;
        while Instant::now() < until {
            match self.live(life).await {
                Ok(()) => whole += 1,
                Err(error) => self.latencies.error(&format!("{error:#}")),
            }
            life += 1;
        }
        Ok(whole)
    }

    async fn live(&self, life: usize) -> anyhow::Result<()> {
        let email = format!("soak-{}-{life}@soak.invalid", self.number);
        let user = self
            .expect(
                Kind::SignUp,
                self.http
                    .post(self.url("/users"))
                    .json(&json!({ "email": email, "password": PASSWORD })),
                StatusCode::CREATED,
            )
            .await?;
        let id = user["id"].as_str().context("id")?.to_owned();
        let tokens = self
            .expect(
                Kind::Login,
                self.http.post(self.url("/token")).json(
                    &json!({ "grant_type": "password", "username": email, "password": PASSWORD }),
                ),
                StatusCode::OK,
            )
            .await?;
        self.read_me(&tokens).await?;
        let refresh_token = tokens["refresh_token"].as_str().context("refresh_token")?;
        let tokens = self
            .expect(
                Kind::Refresh,
                self.http.post(self.url("/token")).form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ]),
                StatusCode::OK,
            )
            .await?;
        self.administer(&id, life).await?;
        self.read_me(&tokens).await?;
        let access = tokens["access_token"].as_str().context("access_token")?;
        self.expect(
            Kind::Logout,
            self.http.post(self.url("/logout")).bearer_auth(access),
            StatusCode::NO_CONTENT,
        )
        .await?;
        self.as_admin(
            Method::DELETE,
            &format!("/users/{id}"),
            &json!({}),
            StatusCode::NO_CONTENT,
        )
        .await
    }

    /// The administrator grants the user a role, and every eighth life
    /// changes a role's permissions.
    async fn administer(&self, id: &str, life: usize) -> anyhow::Result<()> {
        let role = format!("soak-{}", (self.number + life) % ROLES);
        let roles = json!({ "roles": [role] });
        self.as_admin(
            Method::PATCH,
            &format!("/users/{id}"),
            &roles,
            StatusCode::OK,
        )
        .await?;
        if life.is_multiple_of(8) {
            let permissions =
                json!({ "permissions": [format!("soak:{role}"), format!("soak:{life}")] });
            self.as_admin(
                Method::PUT,
                &format!("/roles/{role}"),
                &permissions,
                StatusCode::OK,
            )
            .await?;
        }
        Ok(())
    }

    /// One administrator's request, timed as [`Kind::Admin`].
    async fn as_admin(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        expected: StatusCode,
    ) -> anyhow::Result<()> {
        let status = self
            .timed(Kind::Admin, self.admin.send(method, path, body))
            .await?;
        check(status, expected).with_context(|| path.to_owned())
    }

    async fn read_me(&self, tokens: &Value) -> anyhow::Result<()> {
        let access = tokens["access_token"].as_str().context("access_token")?;
        for _ in 0..READS_PER_TOKEN {
            self.expect(
                Kind::Me,
                self.http.get(self.url("/me")).bearer_auth(access),
                StatusCode::OK,
            )
            .await?;
        }
        Ok(())
    }

    /// Sends `request`, records its latency as `kind`, and returns its JSON
    /// body (`null` when empty) if it answered `expected`.
    async fn expect(
        &self,
        kind: Kind,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let response = self
            .timed(kind, async {
                let response = request.send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                Ok((status, body))
            })
            .await;
        let (status, body) = response?;
        check(status, expected).with_context(|| String::from_utf8_lossy(&body).into_owned())?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&body)?)
    }

    async fn timed<T>(
        &self,
        kind: Kind,
        request: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        let answer = request.await;
        self.latencies.record(kind, started.elapsed());
        answer
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

fn check(status: StatusCode, expected: StatusCode) -> anyhow::Result<()> {
    if status == expected {
        Ok(())
    } else {
        bail!("answered {status}, not {expected}")
    }
}
