//! The command line on the database of a running server: `user add`, `user
//! list`, `user disable`, `user passwd`, `role set`, `role list`, `migrate`,
//! and the exit codes (0 success, 1 a failure the message explains, 2 bad
//! usage).
//!
//! What the command line changes must reach the running server: a disabled
//! user or a reset password cuts off live sessions within about a second
//! (the server polls revocations), and a role change shows in `GET /me`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestServer, assert_exit, assert_oauth_error, is_uuid, jwt_claims, stderr, stdout,
    text,
};

const NEW_PASSWORD: &str = "a brand new passphrase for alice";

/// `user list` as `[id, email, roles, state, verified]` rows.
fn user_list(server: &TestServer) -> Vec<Vec<String>> {
    let output = server.cli(&["user", "list"], None);
    assert_exit(&output, 0, "user list");
    stdout(&output)
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

fn role_list(server: &TestServer) -> Vec<String> {
    let output = server.cli(&["role", "list"], None);
    assert_exit(&output, 0, "role list");
    stdout(&output).lines().map(str::to_owned).collect()
}

/// Polls `path` with `access_token` until it is refused; fails after 2.5 s.
async fn assert_refused_soon(server: &TestServer, path: &str, access_token: &str) {
    let started = Instant::now();
    loop {
        let status = server.get_authorized(path, access_token).await.status();
        if status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{path} still accepts the token after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin_and_prints_the_id() {
    let server = TestServer::spawn().await;
    let output = server.cli(
        &[
            "user",
            "add",
            "--email",
            "Admin@Example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_exit(&output, 0, "user add");
    let id = stdout(&output).trim().to_owned();
    assert!(is_uuid(&id), "{id:?} is not a UUID");
    assert_eq!(stdout(&output), format!("{id}\n"), "only the id is printed");

    let with_newline = server
        .password_grant("admin@example.com", &format!("{PASSWORD}\n"))
        .await;
    assert_oauth_error(with_newline, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let tokens = server.login("admin@example.com", PASSWORD).await;
    let me: Value = server
        .get_authorized("/me", &text(&tokens, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["email"], "admin@example.com");
    assert_eq!(me["roles"], json!(["admin"]));
}

#[tokio::test]
async fn user_add_refuses_bad_input_with_exit_1_and_a_message() {
    let server = TestServer::spawn().await;
    server.add_user("taken@example.com", &[]);
    let password = format!("{PASSWORD}\n");
    for (case, email, stdin_flag, stdin, mentions) in [
        ("too short", "a@example.com", true, "short pw\n", "password"),
        (
            "too common",
            "b@example.com",
            true,
            "123qweasdzxc\n",
            "password",
        ),
        (
            "the email itself",
            "c@example.com",
            true,
            "c@example.com\n",
            "password",
        ),
        (
            "an invalid email",
            "not-an-email",
            true,
            password.as_str(),
            "email",
        ),
        (
            "a taken email",
            "Taken@Example.com",
            true,
            password.as_str(),
            "email",
        ),
        (
            "no terminal to prompt on",
            "d@example.com",
            false,
            password.as_str(),
            "password",
        ),
    ] {
        let mut args = vec!["user", "add", "--email", email];
        if stdin_flag {
            args.push("--password-stdin");
        }
        let output = server.cli(&args, Some(stdin));
        assert_exit(&output, 1, case);
        assert!(
            stderr(&output).to_lowercase().contains(mentions),
            "{case}: {:?}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "", "{case}: no id is printed");
    }
    let emails: Vec<String> = user_list(&server)
        .into_iter()
        .map(|row| row[1].clone())
        .collect();
    assert_eq!(emails, ["taken@example.com"], "no refused user was created");
}

#[tokio::test]
async fn user_list_prints_id_email_roles_state_and_whether_the_address_is_verified() {
    let server = TestServer::spawn().await;
    let admin_id = server.add_user("admin@example.com", &["admin"]);
    let bob = server.sign_up("bob@example.com").await;
    let added = server.cli(
        &[
            "user",
            "add",
            "--email",
            "carol@example.com",
            "--verified",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_exit(&added, 0, "user add --verified");
    let carol = stdout(&added).trim().to_owned();

    let mut rows = user_list(&server);
    rows.sort_by(|a, b| a[1].cmp(&b[1]));

    assert_eq!(
        rows,
        [
            vec![
                admin_id,
                "admin@example.com".to_owned(),
                "admin".to_owned(),
                "active".to_owned(),
                "unverified".to_owned()
            ],
            vec![
                text(&bob, "id"),
                "bob@example.com".to_owned(),
                String::new(),
                "active".to_owned(),
                "unverified".to_owned()
            ],
            vec![
                carol,
                "carol@example.com".to_owned(),
                String::new(),
                "active".to_owned(),
                "verified".to_owned()
            ],
        ]
    );
}

#[tokio::test]
async fn an_address_that_begins_with_a_hyphen_is_an_address_not_a_flag() {
    let server = TestServer::spawn().await;
    let email = "-dash@example.com";
    let stdin = format!("{PASSWORD}\n");
    let added = server.cli(
        &["user", "add", "--email", email, "--password-stdin"],
        Some(&stdin),
    );
    assert_exit(&added, 0, "user add");
    let changed = server.cli(
        &["user", "passwd", "--email", email, "--password-stdin"],
        Some(&stdin),
    );
    assert_exit(&changed, 0, "user passwd");
    let disabled = server.cli(&["user", "disable", "--email", email], None);
    assert_exit(&disabled, 0, "user disable");
    let rows = user_list(&server);
    assert!(
        rows.iter()
            .any(|row| row[1] == email && row[3] == "disabled"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn user_disable_cuts_off_a_live_session_within_two_seconds() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("alice@example.com").await;
    let bob = server.user_with_tokens("bob@example.com").await;
    let access = text(&tokens, "access_token");

    let output = server.cli(&["user", "disable", "--email", "alice@example.com"], None);

    assert_exit(&output, 0, "user disable");
    assert_refused_soon(&server, "/me/sessions", &access).await;
    assert_refused_soon(&server, "/me", &access).await;
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_oauth_error(refreshed, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let login = server.password_grant("alice@example.com", PASSWORD).await;
    assert_oauth_error(login, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let states: Vec<(String, String)> = user_list(&server)
        .into_iter()
        .map(|row| (row[1].clone(), row[3].clone()))
        .collect();
    assert!(
        states.contains(&("alice@example.com".to_owned(), "disabled".to_owned())),
        "{states:?}"
    );
    assert!(
        states.contains(&("bob@example.com".to_owned(), "active".to_owned())),
        "{states:?}"
    );
    let me = server
        .get_authorized("/me", &text(&bob, "access_token"))
        .await;
    assert_eq!(me.status(), StatusCode::OK, "another user is untouched");
}

#[tokio::test]
async fn user_passwd_sets_the_password_and_ends_every_session() {
    let server = TestServer::spawn().await;
    let tokens = server.user_with_tokens("alice@example.com").await;

    let output = server.cli(
        &[
            "user",
            "passwd",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        Some(&format!("{NEW_PASSWORD}\n")),
    );

    assert_exit(&output, 0, "user passwd");
    assert_refused_soon(&server, "/me/sessions", &text(&tokens, "access_token")).await;
    let refreshed = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_oauth_error(refreshed, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let old = server.password_grant("alice@example.com", PASSWORD).await;
    assert_oauth_error(old, StatusCode::BAD_REQUEST, "invalid_grant").await;
    server.login("alice@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn user_passwd_and_disable_refuse_bad_input_with_exit_1() {
    let server = TestServer::spawn().await;
    server.sign_up("alice@example.com").await;
    let new_password = format!("{NEW_PASSWORD}\n");
    for (case, args, stdin, mentions) in [
        (
            "passwd: an unknown email",
            vec![
                "user",
                "passwd",
                "--email",
                "nobody@example.com",
                "--password-stdin",
            ],
            new_password.as_str(),
            "user",
        ),
        (
            "passwd: a policy-breaking password",
            vec![
                "user",
                "passwd",
                "--email",
                "alice@example.com",
                "--password-stdin",
            ],
            "short pw\n",
            "password",
        ),
        (
            "disable: an unknown email",
            vec!["user", "disable", "--email", "nobody@example.com"],
            "",
            "user",
        ),
    ] {
        let output = server.cli(&args, Some(stdin));
        assert_exit(&output, 1, case);
        assert!(
            stderr(&output).to_lowercase().contains(mentions),
            "{case}: {:?}",
            stderr(&output)
        );
    }
    server.login("alice@example.com", PASSWORD).await;
    let states: Vec<String> = user_list(&server)
        .into_iter()
        .map(|row| row[3].clone())
        .collect();
    assert_eq!(states, ["active"]);
}

#[tokio::test]
async fn role_set_creates_or_replaces_a_role_and_role_list_shows_it() {
    let server = TestServer::spawn().await;
    let output = server.cli(
        &["role", "set", "reader", "--permission", "books:read"],
        None,
    );
    assert_exit(&output, 0, "role set");

    let roles = role_list(&server);
    assert!(
        roles.contains(&"reader\tbooks:read".to_owned()),
        "{roles:?}"
    );
    assert!(
        roles
            .iter()
            .any(|line| line.split('\t').next() == Some("admin")),
        "the built-in admin role is listed: {roles:?}"
    );

    let output = server.cli(
        &["role", "set", "reader", "--permission", "books:list"],
        None,
    );
    assert_exit(&output, 0, "role set again");
    let output = server.cli(
        &[
            "role",
            "set",
            "editor",
            "--permission",
            "books:read",
            "--permission",
            "books:write",
        ],
        None,
    );
    assert_exit(&output, 0, "role set with two permissions");
    let roles = role_list(&server);
    let reader: Vec<&String> = roles
        .iter()
        .filter(|line| line.starts_with("reader\t"))
        .collect();
    assert_eq!(
        reader,
        ["reader\tbooks:list"],
        "replaced, not merged: {roles:?}"
    );
    let editor = roles
        .iter()
        .find(|line| line.starts_with("editor\t"))
        .unwrap_or_else(|| panic!("{roles:?}"));
    let mut permissions: Vec<&str> = editor["editor\t".len()..].split([' ', ',', '\t']).collect();
    permissions.sort_unstable();
    assert_eq!(permissions, ["books:read", "books:write"], "{editor:?}");
}

#[tokio::test]
async fn a_role_s_permissions_show_in_me_and_in_the_token() {
    let server = TestServer::spawn().await;
    server.set_role("reader", &["books:read"]);
    server.add_user("reader@example.com", &["reader"]);

    let tokens = server.login("reader@example.com", PASSWORD).await;

    assert_eq!(tokens["scope"], "books:read");
    let claims = jwt_claims(&text(&tokens, "access_token"));
    assert_eq!(claims["scope"], "books:read", "{claims}");
    assert_eq!(claims["roles"], json!(["reader"]), "{claims}");
    let access = text(&tokens, "access_token");
    let me: Value = server
        .get_authorized("/me", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["reader"]), "{me}");
    assert_eq!(me["permissions"], json!(["books:read"]), "{me}");

    server.set_role("reader", &["books:list"]);
    let me: Value = server
        .get_authorized("/me", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["permissions"],
        json!(["books:list"]),
        "GET /me shows a role change at once: {me}"
    );
}

#[tokio::test]
async fn migrate_exits_0_and_can_run_again() {
    let server = TestServer::spawn().await;
    for run in ["first", "second"] {
        let output = server.cli(&["migrate"], None);
        assert_exit(&output, 0, run);
    }
    server.user_with_tokens("alice@example.com").await;
}

#[tokio::test]
async fn bad_usage_exits_2() {
    let server = TestServer::spawn().await;
    for args in [
        &["frobnicate"][..],
        &["user", "frobnicate"],
        &["user", "add"],
        &["user", "list", "--no-such-flag"],
        &["role", "set", "reader"],
        &["user", "disable"],
    ] {
        let output = server.cli(args, None);
        assert_exit(&output, 2, &args.join(" "));
        assert!(
            !stderr(&output).is_empty(),
            "{args:?}: bad usage is explained"
        );
    }
    assert_eq!(user_list(&server), Vec::<Vec<String>>::new());
}
