//! Configuration of `portcullis serve`: CORS, the layering of flags and
//! `PORTCULLIS_*` variables over the TOML file over the defaults, the help
//! text, the issuer, and the exit codes of a bad command line.
//!
//! A misconfiguration must stop the server before it serves, with a message
//! naming what is wrong; it must never be silently ignored.

use std::process::Output;

use reqwest::header::HeaderMap;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::helpers::{PASSWORD, TestServer, jwt_claims, run_to_exit, serve_to_exit, text};

const APP: &str = "https://app.example.com";
const OTHER_APP: &str = "https://other.example.com";

/// `serve` on a random port with a database in `dir`, plus `extra`.
fn serve_in(dir: &tempfile::TempDir, extra: &[&str]) -> Output {
    let database = dir.path().join("portcullis.db");
    serve_to_exit(&[&["--database", database.to_str().unwrap()], extra].concat())
}

async fn preflight(server: &TestServer, origin: &str) -> HeaderMap {
    let response = server
        .client
        .request(Method::OPTIONS, server.url("/token"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    response.headers().clone()
}

/// A simple (non-preflighted) cross-origin request: `GET /healthz` from `origin`.
async fn simple_request(server: &TestServer, origin: &str) -> Response {
    server
        .client
        .get(server.url("/healthz"))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map_or("", |v| v.to_str().unwrap())
}

/// The names in a comma-separated header, lower-cased.
fn listed(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

#[track_caller]
fn check_no_cors_headers(headers: &HeaderMap, case: &str) {
    let cors: Vec<&str> = headers
        .keys()
        .map(reqwest::header::HeaderName::as_str)
        .filter(|name| name.starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{case}: unexpected CORS headers {cors:?}");
}

async fn expires_in(server: &TestServer) -> Value {
    let tokens = server.user_with_tokens("ttl@example.com").await;
    let claims = jwt_claims(&text(&tokens, "access_token"));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(
        tokens["expires_in"], lifetime,
        "expires_in disagrees with the token's exp - iat: {claims}"
    );
    tokens["expires_in"].clone()
}

fn config_file(dir: &tempfile::TempDir, contents: &str) -> String {
    let path = dir.path().join("portcullis.toml");
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn cors_admits_the_configured_origin_only() {
    let server = TestServer::spawn_with(&["--cors-origin", APP]).await;

    let allowed = preflight(&server, APP).await;
    assert_eq!(header(&allowed, "access-control-allow-origin"), APP);
    let headers = listed(&allowed, "access-control-allow-headers");
    for needed in ["authorization", "content-type"] {
        assert!(
            headers.contains(&needed.to_owned()),
            "{needed} not allowed: {headers:?}"
        );
    }
    assert!(
        listed(&allowed, "access-control-allow-methods").contains(&"post".to_owned()),
        "{allowed:?}"
    );
    // Answers depend on Origin, so shared caches must key on it.
    assert!(
        listed(&allowed, "vary").contains(&"origin".to_owned()),
        "Vary: {:?}",
        header(&allowed, "vary")
    );

    let simple = simple_request(&server, APP).await;
    assert_eq!(header(simple.headers(), "access-control-allow-origin"), APP);

    for stranger in [
        "https://evil.example.com",
        "https://app.example.com.evil.io",
        "http://app.example.com",
        "null",
    ] {
        let refused = preflight(&server, stranger).await;
        assert!(
            refused.get("access-control-allow-origin").is_none(),
            "{stranger}: {refused:?}"
        );
        let simple = simple_request(&server, stranger).await;
        assert!(
            simple
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{stranger}"
        );
    }
}

#[tokio::test]
async fn without_cors_origins_there_are_no_cors_headers() {
    let server = TestServer::spawn().await;
    check_no_cors_headers(&preflight(&server, APP).await, "preflight");
    let simple = simple_request(&server, APP).await;
    assert_eq!(simple.status(), StatusCode::OK);
    check_no_cors_headers(simple.headers(), "GET /healthz");
}

#[tokio::test]
async fn the_access_ttl_comes_from_the_environment() {
    let server = TestServer::spawn_with_env(&[("PORTCULLIS_ACCESS_TTL", "2m")]).await;
    assert_eq!(expires_in(&server).await, 120);
}

#[tokio::test]
async fn the_default_access_ttl_is_15_minutes() {
    let server = TestServer::spawn().await;
    assert_eq!(expires_in(&server).await, 900);
}

#[tokio::test]
async fn the_config_file_is_read_and_flags_and_environment_win_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(&dir, "access_ttl = \"3m\"\n");

    let from_file = TestServer::spawn_with(&["--config", &path]).await;
    assert_eq!(expires_in(&from_file).await, 180);

    let flag_wins = TestServer::spawn_with(&["--config", &path, "--access-ttl", "4m"]).await;
    assert_eq!(expires_in(&flag_wins).await, 240);

    let environment_wins = TestServer::spawn_with_env(&[
        ("PORTCULLIS_CONFIG", &path),
        ("PORTCULLIS_ACCESS_TTL", "2m"),
    ])
    .await;
    assert_eq!(expires_in(&environment_wins).await, 120);
}

#[tokio::test]
async fn the_config_file_sets_choices_and_lists_and_the_environment_wins_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(
        &dir,
        &format!("signup = \"closed\"\ncors_origins = [\"{APP}\"]\n"),
    );

    let from_file = TestServer::spawn_with(&["--config", &path]).await;
    let refused = from_file
        .sign_up_with("walk-in@example.com", PASSWORD)
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "signup from the file"
    );
    let allowed = preflight(&from_file, APP).await;
    assert_eq!(header(&allowed, "access-control-allow-origin"), APP);

    let environment_wins = TestServer::spawn_with_env(&[
        ("PORTCULLIS_CONFIG", &path),
        ("PORTCULLIS_SIGNUP", "open"),
        ("PORTCULLIS_CORS_ORIGIN", OTHER_APP),
    ])
    .await;
    environment_wins.sign_up("walk-in@example.com").await;
    let allowed = preflight(&environment_wins, OTHER_APP).await;
    assert_eq!(header(&allowed, "access-control-allow-origin"), OTHER_APP);
    let replaced = preflight(&environment_wins, APP).await;
    assert!(
        replaced.get("access-control-allow-origin").is_none(),
        "the environment's list replaces the file's: {replaced:?}"
    );
}

#[test]
fn a_wildcard_cors_origin_stops_serve_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    for origins in [
        &["--cors-origin", "*"][..],
        &["--cors-origin", APP, "--cors-origin", "*"],
    ] {
        let output = serve_in(&dir, origins);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{origins:?}: {stderr}");
        assert!(
            stderr.contains("--cors-origin") && stderr.contains("wildcard"),
            "{origins:?}: the message does not explain: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{origins:?}: {stderr}");
    }
}

#[test]
fn an_unknown_key_in_the_config_file_stops_serve() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(&dir, "access_ttl = \"3m\"\nacess_tll = \"4m\"\n");
    let output = serve_in(&dir, &["--config", &path]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("acess_tll"),
        "the message does not name the unknown key: {stderr}"
    );
}

#[test]
fn serve_help_lists_every_setting() {
    let output = run_to_exit(&["serve", "--help"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let help = String::from_utf8_lossy(&output.stdout);
    let missing: Vec<&str> = [
        "--listen",
        "--database",
        "--config",
        "--issuer",
        "--audience",
        "--access-ttl",
        "--access-token-alg",
        "--refresh-ttl",
        "--session-max-age",
        "--refresh-reuse-grace",
        "--leeway",
        "--signup",
        "--password-min-length",
        "--cors-origin",
        "--argon2-memory-kib",
        "--throttle",
        "PORTCULLIS_ACCESS_TTL",
    ]
    .into_iter()
    .filter(|needle| !help.contains(needle))
    .collect();
    assert!(
        missing.is_empty(),
        "serve --help does not mention {missing:?}:\n{help}"
    );
}

#[test]
fn serve_help_shows_each_default_once() {
    let output = run_to_exit(&["serve", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    // One paragraph per setting; clap writes the default, nobody else.
    let entries: Vec<&str> = help.split("\n\n").collect();
    let entry = |flag: &str| -> &str {
        entries
            .iter()
            .find(|entry| {
                entry
                    .lines()
                    .any(|line| line.trim_start().starts_with(&format!("{flag} <")))
            })
            .unwrap_or_else(|| panic!("no {flag} in:\n{help}"))
    };
    for (flag, default) in [
        ("--database", Some("sqlite://portcullis.db")),
        ("--listen", Some("127.0.0.1:8080")),
        ("--issuer", Some("http://localhost:8080")),
        ("--audience", None),
        ("--access-ttl", Some("15m")),
        ("--refresh-ttl", Some("30d")),
        ("--session-max-age", Some("90d")),
        ("--refresh-reuse-grace", Some("10s")),
        ("--leeway", Some("1s")),
        ("--password-min-length", Some("12")),
        ("--cors-origin", None),
        ("--argon2-memory-kib", Some("19456")),
        ("--throttle", Some("true")),
        ("--throttle-forget-after", Some("1h")),
    ] {
        let text = entry(flag);
        let defaults = text.matches("default").count();
        match default {
            Some(default) => {
                assert!(text.contains(&format!("[default: {default}]")), "{text}");
                assert_eq!(defaults, 1, "{flag} states its default once: {text}");
            }
            None => assert!(!text.contains("[default:"), "{text}"),
        }
    }
    // A choice's paragraph continues after its list of possible values.
    let signup = &help[help.find("--signup ").unwrap()..];
    let signup = &signup[..signup.find("--password-min-length").unwrap()];
    assert_eq!(signup.matches("[default: open]").count(), 1, "{signup}");
}

#[tokio::test]
async fn the_issuer_shows_in_discovery_and_in_tokens() {
    let issuer = "https://auth.example.com";
    let server = TestServer::spawn_with(&["--issuer", issuer]).await;
    let response = server.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), StatusCode::OK);
    let discovery: Value = response.json().await.unwrap();
    for (member, expected) in [
        ("issuer", issuer.to_owned()),
        ("jwks_uri", format!("{issuer}/.well-known/jwks.json")),
        ("token_endpoint", format!("{issuer}/token")),
        ("revocation_endpoint", format!("{issuer}/token/revoke")),
        (
            "introspection_endpoint",
            format!("{issuer}/token/introspect"),
        ),
    ] {
        assert_eq!(
            discovery[member],
            expected.as_str(),
            "{member}: {discovery}"
        );
    }
    let grants = discovery["grant_types_supported"].as_array().unwrap();
    for grant in ["password", "refresh_token"] {
        assert!(
            grants.iter().any(|g| g == grant),
            "{grant} missing: {discovery}"
        );
    }
    // Said for both; absent, request_uri_parameter_supported would mean
    // "supported" (OpenID Connect Discovery §3).
    for unsupported in [
        "request_parameter_supported",
        "request_uri_parameter_supported",
    ] {
        assert_eq!(discovery[unsupported], false, "{unsupported}: {discovery}");
    }

    let tokens = server.user_with_tokens("issued@example.com").await;
    assert_eq!(jwt_claims(&text(&tokens, "access_token"))["iss"], issuer);
}

#[tokio::test]
async fn the_default_issuer_is_not_derived_from_the_listen_address() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("default@example.com").await;
    assert_eq!(
        jwt_claims(&text(&tokens, "access_token"))["iss"],
        "http://localhost:8080"
    );
    let discovery: Value = server
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], "http://localhost:8080");
}

#[test]
fn a_bad_duration_exits_1_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = serve_in(&dir, &["--access-ttl", "soon"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("access-ttl") && stderr.contains("soon"),
        "the message does not explain: {stderr}"
    );
}

#[test]
fn an_unknown_flag_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = serve_in(&dir, &["--no-such-flag"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--no-such-flag"),
        "the message does not name the flag: {stderr}"
    );
}
