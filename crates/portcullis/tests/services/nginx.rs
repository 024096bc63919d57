//! The nginx example (`examples/nginx/`) with the real nginx in front of a
//! tiny echo API, and Portcullis deciding through `GET /auth/verify`.
//!
//! What matters is what reaches the API: only requests Portcullis let
//! through, carrying the identity Portcullis gave and never one the client
//! sent. When Portcullis cannot answer, nginx must refuse (`500`), never pass
//! the request on.
//!
//! They need nginx (see `crate::harness`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::free_port;
use crate::helpers::{PASSWORD, Reply, TestServer, read, text};

/// The directives of the example that name its addresses.
const EXAMPLE_PORTCULLIS: &str = "server 127.0.0.1:8080;";
const EXAMPLE_API: &str = "server 127.0.0.1:3000;";
const EXAMPLE_NGINX: &str = "listen 127.0.0.1:8000;";

/// The nginx binary: on `PATH`, or where Debian puts it (`sbin` is not on
/// every user's `PATH`).
pub(crate) fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// The echo API: answers `200` with the `X-Auth-*` headers it received, and
/// counts the requests that reached it.
struct EchoApi {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl EchoApi {
    async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut identity: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (name, value) in &headers {
                    if name.as_str().starts_with("x-auth-") {
                        identity
                            .entry(name.as_str().to_owned())
                            .or_default()
                            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
                    }
                }
                axum::Json(json!({ "path": uri.path(), "headers": identity }))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// nginx running the example configuration; stopped when dropped.
struct Nginx {
    base: String,
    child: Child,
    _prefix: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nginx")
}

/// `text` with `from` replaced by `to`, which must occur exactly once (so a
/// change of the example's ports fails here, loudly).
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the nginx example should name {from} exactly once"
    );
    text.replace(from, to)
}

impl Nginx {
    fn start(binary: &Path, portcullis: &str, api: SocketAddr) -> Self {
        let prefix = tempfile::tempdir().unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let config = std::fs::read_to_string(examples_dir().join("portcullis.conf")).unwrap();
        let config = replace_once(
            &config,
            EXAMPLE_PORTCULLIS,
            &format!("server {portcullis};"),
        );
        let config = replace_once(&config, EXAMPLE_API, &format!("server {api};"));
        let config = replace_once(&config, EXAMPLE_NGINX, &format!("listen {listen};"));
        std::fs::write(prefix.path().join("portcullis.conf"), config).unwrap();
        std::fs::copy(
            examples_dir().join("portcullis-identity.conf"),
            prefix.path().join("portcullis-identity.conf"),
        )
        .unwrap();
        std::fs::create_dir(prefix.path().join("tmp")).unwrap();
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(prefix.path())
            .arg("-c")
            .arg(prefix.path().join("portcullis.conf"))
            .args(["-e", "stderr"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&listen).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut log = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
                panic!("nginx exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            base: format!("http://{listen}"),
            child,
            _prefix: prefix,
        }
    }
}

/// Portcullis, the echo API and nginx in front of both.
struct Stack {
    portcullis: TestServer,
    api: EchoApi,
    nginx: Nginx,
}

impl Stack {
    async fn start() -> Self {
        let binary = find_nginx().expect("the harness found nginx");
        let portcullis = TestServer::spawn_process().await;
        let api = EchoApi::start().await;
        let nginx = Nginx::start(&binary, portcullis.address(), api.address);
        Self {
            portcullis,
            api,
            nginx,
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self
            .portcullis
            .client
            .get(format!("{}{path}", self.nginx.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request).await
    }
}

/// The `X-Auth-*` headers the echo API received, by name.
fn echoed(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["headers"].clone()
}

/// `Authorization: Bearer {token}`.
fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub(crate) async fn requests_without_a_valid_token_never_reach_the_api() {
    let stack = Stack::start().await;
    let tokens = stack.portcullis.user_with_tokens("ada@example.com").await;
    let logged_out = text(
        &stack.portcullis.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    assert_eq!(
        stack.portcullis.logout(&logged_out).await.status(),
        StatusCode::NO_CONTENT
    );

    let reply = stack
        .get("/api/hello", &[("x-auth-user-id", "forged")])
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="portcullis""#
    );

    let garbage = bearer("not-a-token");
    let logged_out = bearer(&logged_out);
    let refresh = bearer(&text(&tokens, "refresh_token"));
    for (case, authorization) in [
        ("garbage", garbage.as_str()),
        ("a logged-out token", &logged_out),
        ("a refresh token", &refresh),
    ] {
        for path in ["/api/hello", "/api/books/1"] {
            let reply = stack
                .get(
                    path,
                    &[
                        ("authorization", authorization),
                        ("x-auth-user-id", "forged"),
                    ],
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{case} on {path}: {}",
                reply.text()
            );
            let challenge = reply.header("www-authenticate");
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{case} on {path}: {challenge}"
            );
        }
    }
    assert_eq!(stack.api.hits(), 0, "a refused request reached the API");

    let reply = stack
        .get(
            "/api/hello",
            &[("authorization", &bearer(&text(&tokens, "access_token")))],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "the live token, for contrast");
    assert_eq!(stack.api.hits(), 1);
}

pub(crate) async fn the_api_gets_the_real_identity_and_never_a_forged_one() {
    let stack = Stack::start().await;
    stack.portcullis.set_role("reader", &["books:read"]);
    stack.portcullis.set_role("writer", &["books:write"]);
    let ada = stack
        .portcullis
        .add_user("ada@example.com", &["reader", "writer"]);
    let access = text(
        &stack.portcullis.login("ada@example.com", PASSWORD).await,
        "access_token",
    );
    let authorization = bearer(&access);

    let plain = echoed(
        &stack
            .get("/api/hello", &[("authorization", &authorization)])
            .await,
    );
    let forged = echoed(
        &stack
            .get(
                "/api/hello",
                &[
                    ("authorization", &authorization),
                    ("x-auth-user-id", "forged"),
                    ("x-auth-email", "forged@example.com"),
                    ("x-auth-roles", "admin"),
                    ("x-auth-scope", "admin:users"),
                ],
            )
            .await,
    );
    for (case, headers) in [("no forged headers", plain), ("forged headers", forged)] {
        assert_eq!(headers["x-auth-user-id"], json!([ada]), "{case}");
        assert_eq!(
            headers["x-auth-email"],
            json!(["ada@example.com"]),
            "{case}"
        );
        let roles = headers["x-auth-roles"][0].as_str().unwrap_or_default();
        let mut roles: Vec<&str> = roles.split(',').collect();
        roles.sort_unstable();
        assert_eq!(roles, ["reader", "writer"], "{case}");
        let scope = headers["x-auth-scope"][0].as_str().unwrap_or_default();
        let mut scope: Vec<&str> = scope.split(' ').collect();
        scope.sort_unstable();
        assert_eq!(scope, ["books:read", "books:write"], "{case}");
        for name in ["x-auth-roles", "x-auth-scope"] {
            assert_eq!(headers[name].as_array().map(Vec::len), Some(1), "{case}");
        }
    }
    assert_eq!(stack.api.hits(), 2);
}

pub(crate) async fn downloads_need_books_download() {
    let stack = Stack::start().await;
    let without = text(
        &stack.portcullis.user_with_tokens("bob@example.com").await,
        "access_token",
    );
    stack.portcullis.set_role("customer", &["books:download"]);
    let ada = stack.portcullis.add_user("ada@example.com", &["customer"]);
    let with = text(
        &stack.portcullis.login("ada@example.com", PASSWORD).await,
        "access_token",
    );

    let reply = stack
        .get(
            "/api/books/1",
            &[
                ("authorization", &bearer(&without)),
                ("x-auth-scope", "books:download"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let challenge = reply.header("www-authenticate");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="books:download""#),
        "{challenge}"
    );
    assert_eq!(stack.api.hits(), 0, "a refused download reached the API");
    // Other paths need only a login.
    let reply = stack
        .get("/api/hello", &[("authorization", &bearer(&without))])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let reply = stack
        .get("/api/books/1", &[("authorization", &bearer(&with))])
        .await;
    let headers = echoed(&reply);
    assert_eq!(reply.json()["path"], "/api/books/1");
    assert_eq!(headers["x-auth-user-id"], json!([ada]));
    assert_eq!(headers["x-auth-scope"], json!(["books:download"]));
    assert_eq!(stack.api.hits(), 2);
}

pub(crate) async fn nginx_fails_closed_when_portcullis_is_down() {
    let mut stack = Stack::start().await;
    let access = text(
        &stack.portcullis.user_with_tokens("ada@example.com").await,
        "access_token",
    );
    let authorization = bearer(&access);
    let reply = stack
        .get("/api/hello", &[("authorization", &authorization)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "while Portcullis runs");
    assert!(stack.portcullis.terminate(), "Portcullis stops cleanly");
    for path in ["/api/hello", "/api/books/1"] {
        let reply = stack
            .get(
                path,
                &[
                    ("authorization", &authorization),
                    ("x-auth-user-id", "forged"),
                ],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path} with Portcullis down: {}",
            reply.text()
        );
    }
    assert_eq!(stack.api.hits(), 1, "a request reached the API unchecked");
}
