//! Secrets at rest (issue 10, finding 4): the SQLite files are readable by
//! their owner only, and the private signing keys are sealed under a
//! key-encryption key when one is given (a copy of the database then mints
//! no token); without one the server says at every start that they are
//! kept in the clear.

use portcullis_core::keys::PrivateKey;
use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestServer, run_to_exit, stderr, text};

/// A key-encryption key in a file of a temporary folder.
fn kek_file(byte: u8) -> (tempfile::TempDir, String) {
    use base64::Engine as _;
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("kek");
    std::fs::write(
        &path,
        base64::engine::general_purpose::STANDARD.encode([byte; 32]),
    )
    .unwrap();
    (folder, path.display().to_string())
}

async fn private_keys(server: &TestServer) -> Vec<PrivateKey> {
    server
        .database()
        .store()
        .await
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| key.private_key)
        .collect()
}

#[tokio::test]
async fn the_database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = TestServer::spawn().await;
    // SQLite's files only; PostgreSQL keeps its own.
    let Some(file) = server.database().sqlite_file() else {
        return;
    };
    server.user_with_tokens("ada@example.com").await;
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", file.display());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path}: {mode:o}");
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = server.kill_and_restart().await;
    assert!(
        server.log().contains("can be read by other users"),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn the_signing_keys_are_sealed_under_a_key_encryption_key() {
    let (_folder, kek) = kek_file(7);
    let server = TestServer::spawn_with(&["--key-encryption-key-file", &kek]).await;
    let keys = private_keys(&server).await;
    assert!(
        !keys.is_empty() && keys.iter().all(|key| matches!(key, PrivateKey::Sealed(_))),
        "{keys:?}"
    );
    let tokens = server.user_with_tokens("ada@example.com").await;
    let access = text(&tokens, "access_token");
    assert_eq!(
        server.get_authorized("/me", &access).await.status(),
        StatusCode::OK
    );
    // Commands other than `serve` read settings from the environment or a
    // configuration file.
    let config = std::path::Path::new(&kek).with_file_name("portcullis.toml");
    std::fs::write(&config, format!("key_encryption_key_file = {kek:?}\n")).unwrap();
    let config = config.display().to_string();
    let rotated = server.cli(&["keys", "rotate", "--now", "--config", &config], None);
    assert_eq!(rotated.status.code(), Some(0), "{rotated:?}");
    assert!(
        private_keys(&server)
            .await
            .iter()
            .all(|key| matches!(key, PrivateKey::Sealed(_))),
        "a rotated-in key is sealed too"
    );

    let database = server.database().url().to_owned();
    let serve = |extra: &[&str]| {
        run_to_exit(
            &[
                &["serve", "--listen", "127.0.0.1:0", "--database", &database],
                extra,
            ]
            .concat(),
        )
    };
    let without = serve(&[]);
    assert_eq!(without.status.code(), Some(1), "{without:?}");
    assert!(
        stderr(&without).contains("is encrypted"),
        "{}",
        stderr(&without)
    );
    let (_other, wrong) = kek_file(8);
    let wrong = serve(&["--key-encryption-key-file", &wrong]);
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    assert!(
        stderr(&wrong).contains("does not open"),
        "{}",
        stderr(&wrong)
    );
}

#[tokio::test]
async fn keys_kept_in_the_clear_are_sealed_once_a_key_encryption_key_is_given() {
    let server = TestServer::spawn().await;
    assert!(
        server.log().contains("stored in the clear"),
        "it says so at start: {}",
        server.log()
    );
    let tokens = server.user_with_tokens("ada@example.com").await;
    assert!(
        private_keys(&server)
            .await
            .iter()
            .all(|key| matches!(key, PrivateKey::Plain(_)))
    );
    let (_folder, kek) = kek_file(9);
    let server = server
        .restart_with(&["--key-encryption-key-file", &kek])
        .await;
    assert!(
        private_keys(&server)
            .await
            .iter()
            .all(|key| matches!(key, PrivateKey::Sealed(_)))
    );
    assert_eq!(
        server
            .get_authorized("/me", &text(&tokens, "access_token"))
            .await
            .status(),
        StatusCode::OK,
        "tokens signed before keep verifying"
    );
    assert_eq!(
        server
            .password_grant("ada@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}
