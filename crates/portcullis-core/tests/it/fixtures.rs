//! The legacy-hash fixtures, and a lock that keeps the tests that hash a lot
//! from running beside the timing test.

use tokio::sync::{Mutex, MutexGuard};

use portcullis_core::hashing::{Argon2Settings, PasswordHashString, StoredHash};

/// One hash from `testdata/legacy_hashes/fixtures.json`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Case {
    pub(crate) id: String,
    pub(crate) scheme: String,
    pub(crate) password: String,
    hash: Option<String>,
    keycloak: Option<KeycloakCredential>,
    /// Other passwords the originating system accepts (bcrypt's 72 bytes).
    #[serde(default)]
    pub(crate) also_matches: Vec<String>,
    #[serde(default)]
    pub(crate) never_matches: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeycloakCredential {
    secret_data: String,
    credential_data: String,
}

#[derive(serde::Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

/// Held by tests that keep the hashing threads busy for long.
static HEAVY_HASHING: Mutex<()> = Mutex::const_new(());

pub(crate) async fn heavy_hashing() -> MutexGuard<'static, ()> {
    HEAVY_HASHING.lock().await
}

pub(crate) fn cases() -> Vec<Case> {
    let fixtures: Fixtures =
        serde_json::from_str(include_str!("../../testdata/legacy_hashes/fixtures.json"))
            .expect("fixtures.json is what make_fixtures.py writes");
    fixtures.cases
}

pub(crate) fn case(id: &str) -> Case {
    cases()
        .into_iter()
        .find(|case| case.id == id)
        .unwrap_or_else(|| panic!("no fixture {id}"))
}

impl Case {
    /// The hash as the importer would store it.
    pub(crate) fn stored(&self) -> StoredHash {
        match (&self.hash, &self.keycloak) {
            (Some(hash), None) => StoredHash::parse(hash),
            (None, Some(keycloak)) => StoredHash::from_keycloak_credential(
                &keycloak.secret_data,
                &keycloak.credential_data,
            ),
            _ => panic!("{}: a fixture has a hash or a Keycloak credential", self.id),
        }
        .unwrap_or_else(|error| panic!("{}: {error}", self.id))
    }

    pub(crate) fn stored_string(&self) -> PasswordHashString {
        self.stored().into()
    }
}

/// An Argon2id cost far below the default, so rehashes are cheap in tests.
pub(crate) fn cheap_argon2() -> Argon2Settings {
    Argon2Settings {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    }
}
