//! The single-page app of `examples/spa`, as the README runs it: served as
//! static files by `python3 -m http.server`, registered with the README's one
//! `portcullis client add`, calling the bookstore (`examples/bookstore`,
//! here in process) with the access token it got by authorization code +
//! PKCE. Chromium signs up, signs in, comments, buys, downloads, waits for a
//! refresh and signs out.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::{Run, add_client};
use crate::harness::free_port;
use crate::helpers::{PASSWORD, TestServer, read, text};

/// Short, so that the app's timed refresh (at three quarters of the token's
/// life) comes 6 s after the last one; the test makes no request while it
/// waits for it, so only that timer can refresh then.
const ACCESS_TTL: &str = "8s";

pub(super) async fn spa_example(run: Run) {
    let app = StaticServer::start();
    let origin = app.origin();
    let portcullis = run
        .portcullis(&["--cors-origin", &origin, "--access-ttl", ACCESS_TTL])
        .await;
    portcullis.set_role("customer", &["books:download"]);
    let api = start_bookstore(&portcullis, &origin).await;
    // The README's registration, with this test's port.
    let redirect = format!("{origin}/");
    let client = add_client(
        &portcullis,
        &[
            "--name",
            "Bookstore SPA",
            "--public",
            "--first-party",
            "--redirect-uri",
            &redirect,
            "--post-logout-redirect-uri",
            &redirect,
            "--scope",
            "books:download",
        ],
    );
    run.script(
        "spa.mjs",
        &portcullis,
        json!({ "spa": { "url": redirect, "api": api, "client_id": client["client_id"] } }),
    )
    .await;
}

/// The bookstore with its administrator's token, allowing the app's origin;
/// returns its base URL.
async fn start_bookstore(portcullis: &TestServer, origin: &str) -> String {
    portcullis.add_user("admin@example.com", &["admin"]);
    let admin = text(
        &portcullis.login("admin@example.com", PASSWORD).await,
        "access_token",
    );
    let reply = read(
        portcullis
            .client
            .post(portcullis.url("/me/tokens"))
            .bearer_auth(&admin)
            .json(&json!({
                "name": "bookstore",
                "scopes": ["admin:users", "books:download", "tokens:introspect"],
            })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let app = ::bookstore::app(::bookstore::Config {
        portcullis_url: portcullis.base.clone(),
        admin_token: text(&reply.json(), "token"),
        issuer: None,
        cors_origins: vec![origin.to_owned()],
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// `python3 -m http.server` serving `examples/spa`, as the README says;
/// stopped when dropped.
struct StaticServer {
    port: u16,
    child: Child,
}

impl StaticServer {
    fn start() -> Self {
        let port = free_port();
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spa");
        let mut child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(folder)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("python3 -m http.server exited with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "python3 -m http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
