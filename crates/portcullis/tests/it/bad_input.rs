//! Hostile and careless input: malformed, mistyped, oversized, deeply
//! nested and non-UTF-8 bodies, odd characters, huge headers, unknown routes
//! and methods, and racing sign-ups.
//!
//! Whatever arrives, the server must answer with a precise 4xx in the
//! contract's error format and keep serving; it must never answer 500 nor
//! log an error, which every test here checks at its end.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{
    PASSWORD, Reply, TestServer, check_field_error, check_oauth_error, check_problem, login_body,
    read, sign_up_from, text,
};

const LIMIT: usize = 64 * 1024;

/// A request with raw bytes and an optional content type.
fn raw(
    server: &TestServer,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> RequestBuilder {
    let request = server.client.request(method, server.url(path)).body(bytes);
    match content_type {
        Some(content_type) => request.header("content-type", content_type),
        None => request,
    }
}

fn json_bytes(
    server: &TestServer,
    method: Method,
    path: &str,
    bytes: impl Into<Vec<u8>>,
) -> RequestBuilder {
    raw(server, method, path, Some("application/json"), bytes.into())
}

/// Asserts a refusal that is `400` or `422` problem details, never a crash.
#[track_caller]
fn check_refused_cleanly(reply: &Reply, case: &str) {
    assert!(
        [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&reply.status),
        "{case}: {} {}",
        reply.status,
        reply.text()
    );
    check_problem(reply, reply.status, case);
}

/// The server still answers, and has logged no error or panic.
async fn assert_still_healthy(server: &TestServer) {
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    let log = server.log();
    assert!(
        !log.contains("ERROR") && !log.contains("panicked"),
        "the server logged an error:\n{log}"
    );
}

async fn access_token(server: &TestServer, email: &str) -> String {
    text(&server.user_with_tokens(email).await, "access_token")
}

/// Sends a request over a raw socket and returns the status code, or `None`
/// when the server closed the connection without answering.
async fn raw_http(server: &TestServer, head: &str, body_chunks: &[&[u8]]) -> Option<u16> {
    let mut stream = TcpStream::connect(server.address()).await.unwrap();
    let mut written = stream.write_all(head.as_bytes()).await;
    for chunk in body_chunks {
        if written.is_err() {
            break;
        }
        written = stream.write_all(chunk).await;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

#[tokio::test]
async fn malformed_json_is_400() {
    let server = TestServer::spawn().await;
    let access = access_token(&server, "owner@example.com").await;
    let samples: [&[u8]; 6] = [
        b"{",
        b"not json",
        br#"{"name": }"#,
        br#"{"name": "x",}"#,
        b"{'name': 'x'}",
        b"",
    ];
    for sample in samples {
        let case = String::from_utf8_lossy(sample);
        let reply = read(json_bytes(&server, Method::POST, "/users", sample)).await;
        check_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            &format!("POST /users {case}"),
        );
        let reply =
            read(json_bytes(&server, Method::PATCH, "/me", sample).bearer_auth(&access)).await;
        check_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            &format!("PATCH /me {case}"),
        );
        let reply = read(json_bytes(&server, Method::POST, "/token", sample)).await;
        check_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("POST /token {case}"),
        );
    }
    // A complete object followed by more text is not one JSON value.
    let trailing = format!(r#"{{"email": "trailing@example.com", "password": "{PASSWORD}"}} {{}}"#);
    let reply = read(json_bytes(&server, Method::POST, "/users", trailing)).await;
    check_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "POST /users with trailing data",
    );
    let reply =
        read(json_bytes(&server, Method::PATCH, "/me", r#"{"name": "x"} x"#).bearer_auth(&access))
            .await;
    check_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "PATCH /me with trailing data",
    );
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn wrong_types_are_422_naming_the_field() {
    let server = TestServer::spawn().await;
    let access = access_token(&server, "owner@example.com").await;
    let sign_ups = [
        (json!({ "email": "a@b.io", "password": 5 }), "password"),
        (json!({ "email": "a@b.io", "password": null }), "password"),
        (
            json!({ "email": ["a@b.io"], "password": PASSWORD }),
            "email",
        ),
        (json!({ "email": 7, "password": PASSWORD }), "email"),
        (
            json!({ "email": "a@b.io", "password": PASSWORD, "name": 7 }),
            "name",
        ),
        (
            json!({ "email": "a@b.io", "password": PASSWORD, "name": { "first": "A" } }),
            "name",
        ),
        (json!({ "email": "a@b.io" }), "password"),
        (json!({ "password": PASSWORD }), "email"),
    ];
    for (body, field) in sign_ups {
        let reply = read(server.client.post(server.url("/users")).json(&body)).await;
        check_field_error(&reply, field, &format!("POST /users {body}"));
    }
    for (body, field) in [
        (json!({ "name": 5 }), "name"),
        (json!({ "name": ["x"] }), "name"),
        (
            json!({ "email": true, "current_password": PASSWORD }),
            "email",
        ),
        (
            json!({ "email": "new@b.io", "current_password": 12 }),
            "current_password",
        ),
    ] {
        let reply = read(
            server
                .client
                .patch(server.url("/me"))
                .bearer_auth(&access)
                .json(&body),
        )
        .await;
        check_field_error(&reply, field, &format!("PATCH /me {body}"));
    }
    // The token endpoint speaks OAuth 2.0, which has no 422: a mistyped
    // parameter is a malformed request.
    for body in [
        json!({ "grant_type": "password", "username": "owner@example.com", "password": 5 }),
        json!({ "grant_type": "password", "username": ["owner@example.com"], "password": PASSWORD }),
        json!({ "grant_type": 1, "username": "owner@example.com", "password": PASSWORD }),
    ] {
        let reply = read(server.client.post(server.url("/token")).json(&body)).await;
        check_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("POST /token {body}"),
        );
    }
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn bodies_that_are_not_json_are_415() {
    let server = TestServer::spawn().await;
    let access = access_token(&server, "owner@example.com").await;
    let body = json!({ "email": "typed@example.com", "password": PASSWORD })
        .to_string()
        .into_bytes();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
    ] {
        let case = format!("POST /users with {content_type:?}");
        let reply = read(raw(
            &server,
            Method::POST,
            "/users",
            content_type,
            body.clone(),
        ))
        .await;
        check_problem(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, &case);
        let reply = read(
            raw(
                &server,
                Method::PATCH,
                "/me",
                content_type,
                br#"{"name":"x"}"#.to_vec(),
            )
            .bearer_auth(&access),
        )
        .await;
        check_problem(
            &reply,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("PATCH /me with {content_type:?}"),
        );
    }
    // A JSON type with parameters, or in another case, is JSON.
    let reply = read(raw(
        &server,
        Method::POST,
        "/users",
        Some("Application/JSON; charset=utf-8"),
        body,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_with_or_without_content_length() {
    let server = TestServer::spawn().await;
    let access = access_token(&server, "owner@example.com").await;
    let big =
        json!({ "email": "big@example.com", "password": PASSWORD, "name": "x".repeat(100 * 1024) })
            .to_string();

    let reply = read(json_bytes(&server, Method::POST, "/users", big.clone())).await;
    check_problem(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "POST /users, 100 KiB",
    );
    let reply =
        read(json_bytes(&server, Method::PATCH, "/me", big.clone()).bearer_auth(&access)).await;
    check_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "PATCH /me, 100 KiB");
    let big_grant = login_body("owner@example.com", &"x".repeat(100 * 1024));
    let reply = read(server.client.post(server.url("/token")).json(&big_grant)).await;
    check_oauth_error(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        "POST /token, 100 KiB",
    );

    // The same body sent in chunks, so no Content-Length announces its size.
    let head = "POST /users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let chunks: Vec<Vec<u8>> = big
        .as_bytes()
        .chunks(8 * 1024)
        .map(|chunk| [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat())
        .chain([b"0\r\n\r\n".to_vec()])
        .collect();
    let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    assert_eq!(
        raw_http(&server, head, &chunk_refs).await,
        Some(413),
        "chunked POST /users, 100 KiB"
    );

    let login = server.login("owner@example.com", PASSWORD).await;
    assert_eq!(login["token_type"], "Bearer");
    let nobody = read(
        server
            .client
            .post(server.url("/token"))
            .json(&json!({ "email": "big@example.com", "password": PASSWORD })),
    )
    .await;
    check_oauth_error(
        &nobody,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "the refused sign-up created nothing",
    );
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn the_limit_is_exactly_64_kib() {
    let server = TestServer::spawn().await;
    let body_of_length = |length: usize| {
        let frame =
            json!({ "email": "edge@example.com", "password": PASSWORD, "name": "" }).to_string();
        let padded = frame.replace(
            r#""name":"""#,
            &format!(r#""name":"{}""#, "x".repeat(length - frame.len())),
        );
        assert_eq!(padded.len(), length);
        padded
    };
    // Exactly at the limit the body is read (and its 65 000-character name refused).
    let at_limit = read(json_bytes(
        &server,
        Method::POST,
        "/users",
        body_of_length(LIMIT),
    ))
    .await;
    check_field_error(&at_limit, "name", "a body of exactly 64 KiB");
    let over = read(json_bytes(
        &server,
        Method::POST,
        "/users",
        body_of_length(LIMIT + 1),
    ))
    .await;
    check_problem(&over, StatusCode::PAYLOAD_TOO_LARGE, "a body of 64 KiB + 1");
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn invalid_utf8_is_400() {
    let server = TestServer::spawn().await;
    let access = access_token(&server, "owner@example.com").await;
    let body =
        b"{\"email\":\"a\xff\xfe@example.com\",\"password\":\"correct horse battery staple\"}"
            .to_vec();
    let reply = read(json_bytes(&server, Method::POST, "/users", body.clone())).await;
    check_problem(&reply, StatusCode::BAD_REQUEST, "POST /users");
    let reply = read(
        json_bytes(
            &server,
            Method::PATCH,
            "/me",
            b"{\"name\":\"\xc3\x28\"}".to_vec(),
        )
        .bearer_auth(&access),
    )
    .await;
    check_problem(&reply, StatusCode::BAD_REQUEST, "PATCH /me");
    let grant =
        b"{\"grant_type\":\"password\",\"username\":\"owner@example.com\",\"password\":\"\xff\"}"
            .to_vec();
    let reply = read(json_bytes(&server, Method::POST, "/token", grant)).await;
    check_oauth_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "POST /token",
    );
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn a_one_megabyte_body_is_413_and_the_server_keeps_serving() {
    let server = TestServer::spawn().await;
    // A client of its own, so that connections the server closes after a
    // refusal are not reused (that is checked on its own, below).
    let oversized = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let megabyte = vec![b' '; 1024 * 1024];
    let send = |path: &str, content_type: &str| {
        oversized
            .post(server.url(path))
            .header("content-type", content_type)
            .body(megabyte.clone())
    };
    let reply = read(send("/users", "application/json")).await;
    check_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "POST /users, 1 MB");
    let reply = read(send("/token", "application/json")).await;
    check_oauth_error(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        "POST /token, 1 MB",
    );
    let reply = read(send("/token", "application/x-www-form-urlencoded")).await;
    check_oauth_error(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        "POST /token form, 1 MB",
    );
    server.user_with_tokens("after@example.com").await;
    assert_still_healthy(&server).await;
}

/// Reads one HTTP/1.1 response with a `Content-Length`; `None` when the
/// connection ends first. Returns the status and the lower-cased head.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().unwrap());
            if received.len() >= end + 4 + length {
                let status = head.get(9..12)?.parse().ok()?;
                return Some((status, head));
            }
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await {
            Ok(Ok(read)) if read > 0 => received.extend_from_slice(&buffer[..read]),
            _ => return None,
        }
    }
}

#[tokio::test]
async fn a_413_that_ends_the_connection_says_so() {
    let server = TestServer::spawn().await;
    for size in [100 * 1024, 1024 * 1024] {
        let mut stream = TcpStream::connect(server.address()).await.unwrap();
        let head = format!(
            "POST /users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        );
        let body = vec![b' '; size];
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await
        })
        .await;
        let (status, head) = read_response(&mut stream)
            .await
            .expect("an answer to the oversized body");
        assert_eq!(status, 413, "{size} bytes: {head}");
        if head
            .lines()
            .any(|line| line.replace(' ', "") == "connection:close")
        {
            continue;
        }
        // Kept alive, as HTTP/1.1 defaults to: the next request must be served.
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        let next = read_response(&mut stream).await;
        assert_eq!(
            next.map(|(status, _)| status),
            Some(200),
            "after a 413 for {size} bytes the server closed the connection without `Connection: close`, \
             so clients that reuse connections fail their next request"
        );
    }
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn a_huge_header_is_refused_and_the_server_keeps_serving() {
    let server = TestServer::spawn().await;
    for size in [100 * 1024, 1024 * 1024] {
        let huge = format!("Bearer {}", "a".repeat(size));
        for (method, path) in [(Method::GET, "/me"), (Method::POST, "/token")] {
            let case = format!("{method} {path} with a {size}-byte Authorization");
            match server
                .client
                .request(method.clone(), server.url(path))
                .header("authorization", &huge)
                .send()
                .await
            {
                Ok(response) => assert!(
                    response.status().is_client_error(),
                    "{case}: {}",
                    response.status()
                ),
                Err(error) => panic!("{case}: no answer at all ({error})"),
            }
        }
    }
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn a_json_value_that_is_not_an_object_is_422() {
    let server = TestServer::spawn().await;
    let access = access_token(&server, "owner@example.com").await;
    let positional_sign_up = format!(r#"["array@example.com", "{PASSWORD}"]"#);
    let positional_change = format!(r#"["moved@example.com", null, "{PASSWORD}"]"#);
    let positional_delete = format!(r#"["{PASSWORD}"]"#);
    let mut samples = vec!["[]", r#""a@b.io""#, "42", "null", "true"];
    samples.extend([
        positional_sign_up.as_str(),
        &positional_change,
        &positional_delete,
    ]);
    // Every sample on every endpoint; the mismatches are reported together.
    let mut wrong = Vec::new();
    for sample in &samples {
        for (method, path) in [
            (Method::POST, "/users"),
            (Method::PATCH, "/me"),
            (Method::DELETE, "/me"),
        ] {
            let reply =
                read(json_bytes(&server, method.clone(), path, *sample).bearer_auth(&access)).await;
            assert_ne!(
                reply.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {path} {sample}"
            );
            if reply.status != StatusCode::UNPROCESSABLE_ENTITY {
                wrong.push(format!("{method} {path} {sample} -> {}", reply.status));
            } else {
                check_problem(
                    &reply,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("{method} {path} {sample}"),
                );
            }
        }
        let reply = read(json_bytes(&server, Method::POST, "/token", *sample)).await;
        check_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("POST /token {sample}"),
        );
    }
    assert!(
        wrong.is_empty(),
        "a JSON value that is not an object was not refused with 422:\n{}",
        wrong.join("\n")
    );
    let me = server.get_authorized("/me", &access).await;
    assert_eq!(me.status(), StatusCode::OK, "an array deleted the account");
    assert_eq!(
        me.json::<Value>().await.unwrap()["email"],
        "owner@example.com",
        "an array changed the email"
    );
    let login = read(
        server
            .client
            .post(server.url("/token"))
            .json(&json!({ "email": "array@example.com", "password": PASSWORD })),
    )
    .await;
    check_oauth_error(
        &login,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "an array created an account",
    );
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_a_crash() {
    let server = TestServer::spawn().await;
    let access = access_token(&server, "owner@example.com").await;
    let open_only = "[".repeat(10_000);
    let balanced = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let in_a_field = format!(
        r#"{{"email":"a@b.io","password":"{PASSWORD}","name":{}"#,
        "{\"a\":".repeat(5_000)
    );
    for sample in [&open_only, &balanced, &in_a_field] {
        let case = format!("{}...", &sample[..20]);
        let reply = read(json_bytes(&server, Method::POST, "/users", sample.clone())).await;
        check_refused_cleanly(&reply, &format!("POST /users {case}"));
        let reply =
            read(json_bytes(&server, Method::PATCH, "/me", sample.clone()).bearer_auth(&access))
                .await;
        check_refused_cleanly(&reply, &format!("PATCH /me {case}"));
        let reply = read(json_bytes(&server, Method::POST, "/token", sample.clone())).await;
        check_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("POST /token {case}"),
        );
    }
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn odd_characters_in_names_are_kept_or_refused_never_mangled() {
    let server = TestServer::spawn().await;
    let long = "😀".repeat(200);
    let too_long = "😀".repeat(201);
    let names = [
        "Zoë Ångström 🦀",
        "שלום עולם",
        "مرحبا بالعالم",
        "\u{202E}gnp.exe",
        "🏳\u{fe0f}\u{200d}🌈",
        "\u{feff}byte order mark",
        "a\u{0}b",
        "bell\u{7}",
        "  padded  ",
        &long,
        &too_long,
    ];
    for (index, name) in names.into_iter().enumerate() {
        let email = format!("odd{index}@example.com");
        let case = format!("sign-up with name {name:?}");
        let body = json!({ "email": email, "password": PASSWORD, "name": name });
        let reply = read(server.client.post(server.url("/users")).json(&body)).await;
        if reply.status == StatusCode::CREATED {
            let kept = reply.json()["name"].clone();
            assert!(
                kept == name || kept == name.trim(),
                "{case}: stored as {kept}"
            );
            let tokens = server.login(&email, PASSWORD).await;
            let me = server
                .get_authorized("/me", &text(&tokens, "access_token"))
                .await;
            assert_eq!(me.json::<Value>().await.unwrap()["name"], kept, "{case}");
        } else {
            check_field_error(&reply, "name", &case);
        }
    }
    let access = access_token(&server, "owner@example.com").await;
    for name in names {
        let case = format!("PATCH /me with name {name:?}");
        let reply = read(
            server
                .client
                .patch(server.url("/me"))
                .bearer_auth(&access)
                .json(&json!({ "name": name })),
        )
        .await;
        if reply.status == StatusCode::OK {
            let kept = reply.json()["name"].clone();
            assert!(
                kept == name || kept == name.trim(),
                "{case}: stored as {kept}"
            );
        } else {
            check_field_error(&reply, "name", &case);
        }
    }
    // A lone surrogate is not valid JSON text.
    let lone = format!(r#"{{"email":"lone@example.com","password":"{PASSWORD}","name":"\ud800"}}"#);
    let reply = read(json_bytes(&server, Method::POST, "/users", lone)).await;
    check_refused_cleanly(&reply, "a lone surrogate");
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let server = TestServer::spawn().await;
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::POST, "/nope"),
        (Method::GET, "/me/nope"),
        (
            Method::GET,
            "/users/00000000-0000-0000-0000-000000000000/extra",
        ),
        (Method::GET, "/.well-known/nope"),
        (Method::DELETE, "/token/revoke/all"),
        (Method::GET, "/%00"),
    ] {
        let reply = read(server.client.request(method.clone(), server.url(path))).await;
        check_problem(&reply, StatusCode::NOT_FOUND, &format!("{method} {path}"));
    }
    assert_still_healthy(&server).await;
}

#[tokio::test]
async fn wrong_methods_are_405_problems_with_allow() {
    let server = TestServer::spawn().await;
    for (method, path, allowed) in [
        (Method::GET, "/token", "POST"),
        (Method::PUT, "/token", "POST"),
        (Method::GET, "/token/revoke", "POST"),
        (Method::PUT, "/users", "POST"),
        (Method::DELETE, "/healthz", "GET"),
        (Method::POST, "/me", "GET"),
        (Method::PUT, "/logout", "POST"),
    ] {
        let case = format!("{method} {path}");
        let reply = read(server.client.request(method.clone(), server.url(path))).await;
        check_problem(&reply, StatusCode::METHOD_NOT_ALLOWED, &case);
        // RFC 9110 §15.5.6: a 405 must say what is allowed.
        assert!(
            reply.header("allow").contains(allowed),
            "{case}: Allow is {:?}",
            reply.header("allow")
        );
    }
    assert_still_healthy(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sign_ups_create_one_account_per_email() {
    // Every racer comes from 127.0.0.1: no limit per address here.
    let server = TestServer::spawn_with(&["--signup-per-address", "0"]).await;
    let mut tasks = Vec::new();
    for index in 0..80 {
        let email = if index < 64 {
            format!("racer{index}@example.com")
        } else {
            "same@example.com".to_owned()
        };
        let client = server.client.clone();
        let url = server.url("/users");
        tasks.push(tokio::spawn(async move {
            let response = sign_up_from(&client, url, &email, PASSWORD).await;
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (email, status, content_type)
        }));
    }
    let mut same_created = 0;
    let mut same_conflicts = 0;
    for task in tasks {
        let (email, status, content_type) = task.await.unwrap();
        if email == "same@example.com" {
            match status {
                StatusCode::CREATED => same_created += 1,
                StatusCode::CONFLICT => {
                    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
                    same_conflicts += 1;
                }
                other => panic!("{email}: {other}"),
            }
        } else {
            assert_eq!(status, StatusCode::CREATED, "{email}");
        }
    }
    assert_eq!((same_created, same_conflicts), (1, 15));
    server.login("same@example.com", PASSWORD).await;
    server.login("racer63@example.com", PASSWORD).await;
    assert_still_healthy(&server).await;
}
