//! `portcullis import` and `portcullis export` against the real binary, on
//! the suite's database (SQLite, or PostgreSQL with
//! `PORTCULLIS_IT_BACKEND=postgres`): exports of other systems made by those
//! systems (`tests/fixtures/import`, see its `make_import_fixtures.py`) log
//! in over HTTP with their passwords; bad files are reported line by line;
//! dry runs, conflicts, reruns and roles do what the help says; an export
//! imports into an empty instance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, TestDatabase, TestServer, assert_exit, stdout, text};

/// A fixture of `tests/fixtures/import`.
pub(crate) fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `portcullis import ARGS` on the server's database.
fn import(server: &TestServer, args: &[&str]) -> std::process::Output {
    server.cli(&[&["import"], args].concat(), None)
}

/// Every line of `portcullis export`, by email.
fn export(server: &TestServer) -> BTreeMap<String, Value> {
    let output = server.cli(&["export"], None);
    assert_exit(&output, 0, "export");
    stdout(&output)
        .lines()
        .map(|line| {
            let user: Value = serde_json::from_str(line).expect("a JSON line");
            (text(&user, "email"), user)
        })
        .collect()
}

/// A file of `content` in a folder that lives as long as the returned guard.
fn file(name: &str, content: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join(name);
    std::fs::write(&path, content).unwrap();
    (folder, path)
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[track_caller]
fn assert_says(output: &std::process::Output, expected: &[&str]) {
    let said = stdout(output);
    for line in expected {
        assert!(said.contains(line), "{line:?} missing from:\n{said}");
    }
}

async fn status(server: &TestServer, email: &str, password: &str) -> StatusCode {
    server.password_grant(email, password).await.status()
}

#[tokio::test]
async fn every_user_of_each_export_logs_in_with_the_password_it_had() {
    let server = TestServer::spawn_with(&["--throttle", "false"]).await;
    for (file, extra, says) in [
        (
            "django.jsonl",
            &[][..],
            "5 imported, 0 updated, 0 skipped, 0 failed",
        ),
        (
            "supabase-users.csv",
            &[],
            "2 imported, 0 updated, 0 skipped, 0 failed",
        ),
        (
            "auth0.jsonl",
            &[],
            "2 imported, 0 updated, 0 skipped, 0 failed",
        ),
        (
            "keycloak-realm.json",
            &["--create-roles"],
            "5 imported, 0 updated, 1 skipped, 0 failed",
        ),
    ] {
        let output = import(&server, &[&[fixture(file).as_str()], extra].concat());
        assert_exit(&output, 0, file);
        assert_says(&output, &[says]);
    }
    let passwords: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(fixture("passwords.json")).unwrap()).unwrap();
    assert_eq!(passwords.len(), 12);
    let disabled = ["gone@example.com", "kip@example.com"];
    for (email, password) in &passwords {
        let wrong = format!("{password}!");
        assert_eq!(
            status(&server, email, &wrong).await,
            StatusCode::BAD_REQUEST,
            "{email}"
        );
        let right = if disabled.contains(&email.as_str()) {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        assert_eq!(status(&server, email, password).await, right, "{email}");
    }
    // Without a password, only a reset gets in: every login fails as a wrong one.
    for email in ["nopass@example.com", "kev@example.com"] {
        assert_eq!(
            status(&server, email, PASSWORD).await,
            StatusCode::BAD_REQUEST
        );
    }

    let exported = export(&server);
    assert_eq!(exported.len(), 14);
    for (email, user) in &exported {
        let hash = user["password_hash"].as_str();
        if disabled.contains(&email.as_str()) {
            assert!(
                !hash.unwrap().starts_with("$argon2id$"),
                "{email}: never logged in"
            );
        } else if passwords.contains_key(email) {
            assert!(
                hash.unwrap().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
                "{email}: the server's own hash after the first login, not {hash:?}"
            );
        } else {
            assert_eq!(user["password_hash"], Value::Null, "{email}");
        }
    }
    let roles = |email: &str| exported[email]["roles"].clone();
    assert_eq!(roles("root@example.com"), serde_json::json!(["admin"]));
    assert_eq!(roles("kim@example.com"), serde_json::json!(["editor"]));
    assert_eq!(
        roles("kai@example.com"),
        serde_json::json!([]),
        "Keycloak's own roles are left out"
    );
    let verified = |email: &str| exported[email]["email_verified"].as_bool().unwrap();
    assert!(
        verified("sam@example.com") && verified("amy@example.com") && verified("kim@example.com")
    );
    assert!(
        !verified("sue@example.com")
            && !verified("abe@example.com")
            && !verified("kat@example.com")
    );
    assert_eq!(
        exported["sam@example.com"]["created_at"],
        "2023-01-01T10:00:00Z"
    );
    assert_eq!(exported["kim@example.com"]["name"], "Kim Park");
    assert_eq!(exported["kip@example.com"]["disabled"], true);

    // Fiona typed a ligature in Django; her hash is now the server's, of the
    // NFKC form, which the login passes: both forms get in from now on.
    assert_eq!(
        status(&server, "fiona@example.com", "ﬁve boxing wizards jump").await,
        StatusCode::OK
    );
    assert_eq!(
        status(&server, "fiona@example.com", "five boxing wizards jump").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_typed_form_counts_only_for_hashes_made_elsewhere() {
    let server = TestServer::spawn().await;
    // Django hashed what Fiona typed, ligature included: its NFKC form is
    // another password there, so it does not get in.
    assert_exit(&import(&server, &[&fixture("django.jsonl")]), 0, "import");
    assert_eq!(
        status(&server, "fiona@example.com", "five boxing wizards jump").await,
        StatusCode::BAD_REQUEST
    );
    // A password set here was hashed in its NFKC form: the typed form of
    // another password never matches it.
    server
        .sign_up_with("ned@example.com", "ﬁve boxing wizards jump")
        .await;
    assert_eq!(
        status(&server, "ned@example.com", "five boxing wizards jump").await,
        StatusCode::OK
    );
    assert_eq!(
        status(&server, "ned@example.com", "ﬁve boxing wizards jump").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_lines_are_reported_with_their_numbers_and_the_rest_is_imported() {
    let server = TestServer::spawn().await;
    let bcrypt = "$2b$10$Et4jh9KP9baW9zgFXq3QHeIX6oLvwk4FDyEfRRJcL/lSNXkM.eTD6";
    let mut content = Vec::new();
    for line in [
        format!(r#"{{"email": "one@example.com", "password_hash": "{bcrypt}"}}"#),
        r#"{"email": "not an address"}"#.to_owned(),
        r#"{"email": "two@example.com", "password_hash": "md5$abc$def"}"#.to_owned(),
        format!(
            r#"{{"email": "three@example.com", "password_hash": "{}"}}"#,
            bcrypt.replace("$10$", "$31$")
        ),
        r#"{"email": "ONE@example.com"}"#.to_owned(),
        String::new(),
        r#"{"email": "four@example.com", "roles": ["ghost"]}"#.to_owned(),
    ] {
        content.extend(line.as_bytes());
        content.push(b'\n');
    }
    content.extend(b"{\"email\": \"five@example.com\", \"name\": \"\xff\"}\n");
    content.extend(br#"{"email": "six@example.com"}"#);
    content.extend(b"\n{\"email\": \"seven@exa");
    let (_folder, jsonl) = file("users.jsonl", content);
    let output = import(&server, &[path(&jsonl)]);
    assert_exit(&output, 1, "failed lines");
    assert_says(
        &output,
        &[
            "2 imported, 0 updated, 0 skipped, 7 failed",
            "failed: line 2: email: ",
            "failed: line 3: password_hash: not a password hash format",
            "failed: line 4: password_hash: bcrypt cost is 31, outside the accepted 4 to 14",
            "failed: line 5: email one@example.com is on an earlier line too",
            "failed: line 7: roles: the role ghost does not exist",
            "failed: line 8: not UTF-8",
            "failed: line 10: truncated",
        ],
    );
    let exported = export(&server);
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        ["one@example.com", "six@example.com"]
    );
    assert!(!stdout(&output).contains(bcrypt), "no hash is ever printed");

    // CSV: a record short of a column fails alone; a header without email fails all.
    let (_folder, csv) = file(
        "users.csv",
        "email,name,password_hash\neight@example.com,Eight,\nnine@example.com,Nine\n\"ten@example.com\",\"Ten, Esq.\",\n",
    );
    let output = import(&server, &[path(&csv)]);
    assert_exit(&output, 1, "a short record");
    assert_says(
        &output,
        &[
            "2 imported",
            "failed: line 3: 2 fields where the header has 3",
        ],
    );
    let (_folder, headless) = file("users.csv", "name,password_hash\nEleven,\n");
    let output = import(&server, &[path(&headless)]);
    assert_exit(&output, 1, "no email column");
    assert!(crate::helpers::stderr(&output).contains("no email column"));
    assert_eq!(export(&server).len(), 4);

    // A realm export cut short: the users before the cut are imported.
    let (_folder, realm) = file(
        "realm.json",
        r#"{"realm": "acme", "users": [{"username": "k1", "email": "k1@example.com"}, {"username": "k2", "email": "k2@exa"#,
    );
    let output = import(&server, &[path(&realm)]);
    assert_exit(&output, 1, "cut short");
    assert_says(&output, &["1 imported, 0 updated, 0 skipped, 0 failed"]);
    assert!(crate::helpers::stderr(&output).contains("cut short"));
    assert!(export(&server).contains_key("k1@example.com"));
}

#[tokio::test]
async fn dry_runs_conflicts_reruns_and_roles() {
    let server = TestServer::spawn().await;
    let users: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"email": "user{i}@example.com", "roles": ["reader"]}}"#))
        .collect();
    let (_folder, whole) = file("users.jsonl", users.join("\n") + "\n");
    let (_half_folder, half) = file("half.jsonl", users[..5].join("\n") + "\n");

    // The role does not exist: every user fails, nothing is written.
    let output = import(&server, &[path(&whole)]);
    assert_exit(&output, 1, "no role");
    assert_says(&output, &["0 imported, 0 updated, 0 skipped, 10 failed"]);
    // A dry run checks against the database and writes nothing.
    let output = import(&server, &[path(&half), "--create-roles", "--dry-run"]);
    assert_exit(&output, 0, "dry run");
    assert_says(
        &output,
        &[
            "dry run, nothing written: 5 to import, 0 to update, 0 to skip, 0 failed",
            "roles to create (with no permission): reader",
        ],
    );
    assert!(export(&server).is_empty());

    // Interrupted after the first half; the rerun imports only the rest.
    let output = import(&server, &[path(&half), "--create-roles"]);
    assert_exit(&output, 0, "the first half");
    assert_says(
        &output,
        &["5 imported", "roles created (with no permission): reader"],
    );
    let output = import(&server, &[path(&whole)]);
    assert_exit(&output, 0, "the rerun");
    assert_says(&output, &["5 imported, 0 updated, 5 skipped, 0 failed"]);
    let roles = server.cli(&["role", "list"], None);
    assert!(
        stdout(&roles)
            .lines()
            .any(|line| line.trim_end() == "reader"),
        "{}",
        stdout(&roles)
    );

    // --on-conflict fail reports each existing account.
    let output = import(&server, &[path(&half), "--on-conflict", "fail"]);
    assert_exit(&output, 1, "fail");
    assert_says(
        &output,
        &[
            "0 imported, 0 updated, 0 skipped, 5 failed",
            "failed: line 1: email: an account with user0@example.com exists",
        ],
    );

    // --on-conflict update replaces what the line gives and ends the
    // sessions of an account whose hash changed.
    server.sign_up("ada@example.com").await;
    let tokens = server.login("ada@example.com", PASSWORD).await;
    let amy = "$2b$10$Et4jh9KP9baW9zgFXq3QHeIX6oLvwk4FDyEfRRJcL/lSNXkM.eTD6";
    let (_folder, update) = file(
        "update.jsonl",
        format!(
            "{{\"email\": \"ada@example.com\", \"name\": \"Ada\", \"password_hash\": \"{amy}\", \"email_verified\": true}}\n\
             {{\"email\": \"user0@example.com\", \"roles\": [], \"disabled\": true}}\n"
        ),
    );
    let output = import(&server, &[path(&update), "--on-conflict", "update"]);
    assert_exit(&output, 0, "update");
    assert_says(&output, &["0 imported, 2 updated, 0 skipped, 0 failed"]);
    assert_eq!(
        status(&server, "ada@example.com", PASSWORD).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(&server, "ada@example.com", "all along the watchtower").await,
        StatusCode::OK
    );
    let refresh = server.refresh(&text(&tokens, "refresh_token")).await;
    assert_eq!(
        refresh.status(),
        StatusCode::BAD_REQUEST,
        "the old session ended"
    );
    let exported = export(&server);
    assert_eq!(exported["ada@example.com"]["name"], "Ada");
    assert_eq!(exported["ada@example.com"]["email_verified"], true);
    assert_eq!(exported["user0@example.com"]["disabled"], true);
    assert_eq!(
        exported["user0@example.com"]["roles"],
        serde_json::json!([])
    );
    assert_eq!(
        exported["user1@example.com"]["roles"],
        serde_json::json!(["reader"])
    );
}

#[tokio::test]
async fn an_export_imports_into_an_empty_instance_where_everyone_logs_in() {
    let first = TestServer::spawn().await;
    first.sign_up("native@example.com").await;
    assert_exit(&import(&first, &[&fixture("auth0.jsonl")]), 0, "auth0");
    assert_exit(&import(&first, &[&fixture("django.jsonl")]), 0, "django");
    // One imported user has logged in (the server's hash), one has not.
    assert_eq!(
        status(&first, "amy@example.com", "all along the watchtower").await,
        StatusCode::OK
    );
    let folder = tempfile::tempdir().unwrap();
    let exported = folder.path().join("users.jsonl");
    let output = first.cli(&["export", path(&exported)], None);
    assert_exit(&output, 0, "export to a file");
    assert_exit(
        &first.cli(&["export", path(&exported)], None),
        1,
        "never over a file",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&exported).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }

    let second = TestServer::spawn_on(&TestDatabase::fresh(), &[]).await;
    let output = import(&second, &[path(&exported)]);
    assert_exit(&output, 0, "import of the export");
    assert_says(&output, &["8 imported, 0 updated, 0 skipped, 0 failed"]);
    for (email, password) in [
        ("native@example.com", PASSWORD),
        ("amy@example.com", "all along the watchtower"),
        ("abe@example.com", "abe's long password"),
        ("ada@example.com", "analytical engine notes"),
        ("root@example.com", "the root of all evil"),
    ] {
        assert_eq!(
            status(&second, email, password).await,
            StatusCode::OK,
            "{email}"
        );
    }
    assert_eq!(
        status(&second, "nopass@example.com", PASSWORD).await,
        StatusCode::BAD_REQUEST
    );
    let (before, after) = (export(&first), export(&second));
    for (email, user) in &before {
        for field in ["name", "email_verified", "roles", "disabled", "created_at"] {
            assert_eq!(after[email][field], user[field], "{email}: {field}");
        }
    }
}

/// `--on-conflict update` cannot take the last active administrator away:
/// the batch that would demote or disable it is refused whole.
#[tokio::test]
async fn an_import_keeps_the_last_administrator() {
    let server = TestServer::spawn().await;
    server.add_user("root@example.com", &["admin"]);
    server.sign_up("ada@example.com").await;
    for (case, change) in [
        ("demoted", r#""roles": []"#),
        ("disabled", r#""disabled": true"#),
    ] {
        let (_folder, update) = file(
            "update.jsonl",
            format!(
                "{{\"email\": \"ada@example.com\", \"name\": \"Ada\"}}\n\
                 {{\"email\": \"root@example.com\", {change}}}\n"
            ),
        );
        let output = import(&server, &[path(&update), "--on-conflict", "update"]);
        assert_exit(&output, 1, case);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("administrator"),
            "{case}: {output:?}"
        );
        let exported = export(&server);
        assert_eq!(
            exported["root@example.com"]["roles"],
            serde_json::json!(["admin"]),
            "{case}"
        );
        assert_eq!(exported["root@example.com"]["disabled"], false, "{case}");
        assert_eq!(
            exported["ada@example.com"]["name"],
            Value::Null,
            "{case}: the batch is whole or nothing"
        );
    }
}
