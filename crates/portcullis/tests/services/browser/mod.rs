//! Browser sign-in (issue 12) from the outside: the real binary, clients
//! registered with the real `portcullis client add`, and Node.js scripts in
//! `tests/oidc` that drive it as the world will: `openid-client` (a relying
//! party nobody here wrote) for the protocol, the system Chromium through
//! `puppeteer-core` where a real browser is the point, plain `fetch` where
//! it is not. Each scenario runs on SQLite and on PostgreSQL.
//!
//! A scenario fails with the script's output and the end of the server's
//! log. The scripts follow the contract (`API.md` "Browser sign-in" and the
//! markup contract of the hosted pages), never the server's code: when the
//! two disagree, the test says so and is not bent.
//!
//! The scripts share one Chromium (`tests/oidc/shared_browser.mjs`), each
//! in browser contexts of its own.
//!
//! Screenshots of every page a browser sees land in
//! `target/browser-screenshots/<trial>/NN-what.png` (CI keeps them).

mod spa;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::harness::{Needs, TestFuture, free_port, postgres_database, succeeds, trial_of};
use crate::helpers::{PASSWORD, TestDatabase, TestServer, assert_exit, stdout};

/// How long one script may run before it counts as hung.
const SCRIPT_TIME_LIMIT: Duration = Duration::from_secs(300);

/// Why the browser tests cannot run here, if they cannot; looked for once
/// (each trial asks, and a version manager's `python3` shim costs a
/// fraction of a second per start).
pub(crate) fn missing_tools() -> Option<String> {
    static MISSING: OnceLock<Option<String>> = OnceLock::new();
    MISSING.get_or_init(look_for_tools).clone()
}

fn look_for_tools() -> Option<String> {
    if chromium().is_none() {
        return Some("chromium: not on PATH (apt-get install chromium)".to_owned());
    }
    if !succeeds("node", &["--version"]) {
        return Some("node: `node --version` fails (apt-get install nodejs npm)".to_owned());
    }
    for package in ["openid-client", "puppeteer-core"] {
        if !scripts_dir()
            .join("node_modules")
            .join(package)
            .join("package.json")
            .is_file()
        {
            return Some(format!(
                "{package}: not in tests/oidc/node_modules (`npm ci` in crates/portcullis/tests/oidc)"
            ));
        }
    }
    (!succeeds("python3", &["--version"]))
        .then(|| "python3: `python3 --version` fails (it serves examples/spa)".to_owned())
}

/// Every scenario, once on SQLite and once on PostgreSQL, the longest
/// first (the harness starts trials in this order).
pub(crate) fn trials() -> Vec<Trial> {
    let scenarios: [(&str, Scenario); 7] = [
        ("spa_example", |run| Box::pin(spa::spa_example(run))),
        ("relying_party_with_a_confidential_client", |run| {
            Box::pin(relying_party(run, RelyingParty::Confidential))
        }),
        ("relying_party_with_a_public_client", |run| {
            Box::pin(relying_party(run, RelyingParty::Public))
        }),
        ("security", |run| Box::pin(security(run))),
        ("basic_op", |run| Box::pin(basic_op(run))),
        ("plumbing", |run| Box::pin(plumbing(run))),
        ("security_with_an_https_issuer", |run| {
            Box::pin(security_with_an_https_issuer(run))
        }),
    ];
    let mut trials = Vec::new();
    for (scenario, test) in scenarios {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let name = format!("browser::{scenario}::{}", backend.name());
            let run = Run {
                backend,
                name: format!("{scenario}-{}", backend.name()),
            };
            trials.push(trial_of(&name, backend.needs(), move || test(run)));
        }
    }
    trials
}

/// A scenario: an `async fn(Run)`, boxed.
type Scenario = fn(Run) -> TestFuture;

/// The database a trial's server runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    fn needs(self) -> Needs {
        match self {
            Self::Sqlite => Needs::Browser,
            Self::Postgres => Needs::BrowserOnPostgres,
        }
    }

    fn database(self) -> Arc<TestDatabase> {
        match self {
            Self::Sqlite => TestDatabase::on_sqlite(),
            Self::Postgres => postgres_database(),
        }
    }
}

/// One trial: its backend and its name (that of its screenshot folder).
struct Run {
    backend: Backend,
    name: String,
}

impl Run {
    /// `portcullis serve` (the binary) on a fresh database, listening on a
    /// port chosen first so that its issuer is its own URL, as discovery
    /// and every relying party require.
    async fn portcullis(&self, extra: &[&str]) -> TestServer {
        let listen = format!("127.0.0.1:{}", free_port());
        let issuer = format!("http://{listen}");
        let mut flags = vec!["--listen", listen.as_str(), "--issuer", issuer.as_str()];
        flags.extend_from_slice(extra);
        let server = TestServer::spawn_process_on(&self.backend.database(), &flags).await;
        assert_eq!(server.base, issuer, "the server listens where it was told");
        server
    }

    /// `target/browser-screenshots/<trial>`, emptied.
    fn screenshots(&self) -> PathBuf {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("CARGO_TARGET_TMPDIR is target/tmp");
        let folder = target.join("browser-screenshots").join(&self.name);
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).expect("a folder for screenshots");
        folder
    }

    /// Runs `tests/oidc/<script>` against `server` with `settings` (merged
    /// into what every script gets: the issuer, the password, the shared
    /// Chromium's endpoint and where screenshots go); panics with its output and
    /// the server's log unless it exits 0.
    async fn script(&self, script: &str, server: &TestServer, settings: Value) {
        let browser_endpoint = tokio::task::spawn_blocking(shared_browser)
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        let mut context = json!({
            "issuer": server.base,
            "password": PASSWORD,
            "browser_endpoint": browser_endpoint,
            "screenshots": self.screenshots(),
        });
        let Value::Object(settings) = settings else {
            panic!("settings are a JSON object");
        };
        context.as_object_mut().expect("an object").extend(settings);
        let run = tokio::process::Command::new("node")
            .arg(script)
            .current_dir(scripts_dir())
            .env("PORTCULLIS_OIDC_TEST", context.to_string())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(SCRIPT_TIME_LIMIT, run)
            .await
            .unwrap_or_else(|_| panic!("{script} ran over {SCRIPT_TIME_LIMIT:?}"))
            .expect("run node");
        if !output.status.success() {
            let log = server.log();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            panic!(
                "{script} failed ({}) on {}\n--- its output:\n{}{}\n--- the server's log, last lines:\n{}",
                output.status,
                self.backend.name(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// The folder of the Node.js scripts and their `package-lock.json`.
fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// The DevTools endpoint of the run's one Chromium, which every script
/// connects to (a launch costs about a second of CPU), started by the first
/// script that runs: `tests/oidc/shared_browser.mjs` keeps it until its
/// stdin ends, which is when this process exits, however it exits. A start
/// that failed is not tried again: every later script fails with its reason.
fn shared_browser() -> String {
    static SHARED: OnceLock<Result<(String, Child), String>> = OnceLock::new();
    match SHARED.get_or_init(start_shared_browser) {
        Ok((endpoint, _node)) => endpoint.clone(),
        Err(reason) => panic!("the shared Chromium did not start: {reason}"),
    }
}

fn start_shared_browser() -> Result<(String, Child), String> {
    let mut node = Command::new("node")
        .arg("shared_browser.mjs")
        .arg(chromium().expect("the harness found chromium"))
        .current_dir(scripts_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("node shared_browser.mjs: {error}"))?;
    // Chromium's own launch times out after 30 s, and the script then exits.
    let mut endpoint = String::new();
    let read = BufReader::new(node.stdout.take().expect("piped")).read_line(&mut endpoint);
    let endpoint = endpoint.trim().to_owned();
    if read.is_err() || !endpoint.starts_with("ws://") {
        let _ = node.kill();
        let _ = node.wait();
        return Err(format!(
            "shared_browser.mjs printed {endpoint:?}, not a DevTools endpoint ({read:?})"
        ));
    }
    Ok((endpoint, node))
}

/// Debian's `chromium` on `PATH`.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

/// A client registered with `portcullis client add`, as the scripts get it.
fn add_client(server: &TestServer, args: &[&str]) -> Value {
    let mut command = vec!["client", "add"];
    command.extend_from_slice(args);
    let output = server.cli(&command, None);
    assert_exit(&output, 0, "client add");
    let printed = stdout(&output);
    let mut lines = printed.lines();
    let client_id = lines
        .next()
        .expect("client add prints the client id")
        .trim();
    let secret = lines.next().map(str::trim);
    let confidential = !args.contains(&"--public");
    assert_eq!(
        secret.is_some(),
        confidential,
        "client add prints a secret for a confidential client only: {printed:?}"
    );
    let option = |flag: &str| -> Vec<&str> {
        args.windows(2)
            .filter(|pair| pair[0] == flag)
            .map(|pair| pair[1])
            .collect()
    };
    json!({
        "client_id": client_id,
        "client_secret": secret,
        "first_party": args.contains(&"--first-party"),
        "redirect_uri": option("--redirect-uri").first(),
        "post_logout_redirect_uri": option("--post-logout-redirect-uri").first(),
    })
}

/// The loopback URLs a script's tiny HTTP server answers on.
struct Callback {
    port: u16,
}

impl Callback {
    fn new() -> Self {
        Self { port: free_port() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A client of `kind` whose redirect URI is `/callback` and whose
    /// post-logout redirect URI is `/signed-out/<label>` on this server
    /// (each client's own).
    fn client(&self, server: &TestServer, label: &str, name: &str, kind: &[&str]) -> Value {
        let redirect = self.url("/callback");
        let signed_out = self.url(&format!("/signed-out/{label}"));
        let mut args = vec![
            "--name",
            name,
            "--redirect-uri",
            &redirect,
            "--post-logout-redirect-uri",
            &signed_out,
        ];
        args.extend_from_slice(kind);
        add_client(server, &args)
    }
}

/// A public client of the first party: no consent, no secret.
const FIRST_PARTY_PUBLIC: &[&str] = &["--public", "--first-party"];
/// A confidential client of a third party: a secret, and the user's consent.
const THIRD_PARTY_CONFIDENTIAL: &[&str] = &[];

/// The harness itself: Node.js reaches the server, Chromium renders it.
async fn plumbing(run: Run) {
    let server = run.portcullis(&[]).await;
    run.script("plumbing.mjs", &server, json!({})).await;
}

/// Which client `relying_party.mjs` signs in with.
#[derive(Clone, Copy)]
enum RelyingParty {
    Public,
    Confidential,
}

/// `openid-client` signs a user up, in, refreshes, reads userinfo and signs
/// out, with a browser doing the user's part.
async fn relying_party(run: Run, relying_party: RelyingParty) {
    let server = run.portcullis(&[]).await;
    let callback = Callback::new();
    let client = match relying_party {
        RelyingParty::Public => {
            callback.client(&server, "public", "Public app", FIRST_PARTY_PUBLIC)
        }
        RelyingParty::Confidential => callback.client(
            &server,
            "confidential",
            "Partner app",
            THIRD_PARTY_CONFIDENTIAL,
        ),
    };
    run.script(
        "relying_party.mjs",
        &server,
        json!({ "callback_port": callback.port, "clients": { "rp": client } }),
    )
    .await;
}

/// The intent of the OpenID Foundation's Basic OP test modules.
async fn basic_op(run: Run) {
    let server = run.portcullis(&[]).await;
    let callback = Callback::new();
    let clients = json!({
        "public": callback.client(&server, "public", "Public app", FIRST_PARTY_PUBLIC),
        "confidential": callback.client(&server, "confidential", "Partner app", THIRD_PARTY_CONFIDENTIAL),
    });
    run.script(
        "basic_op.mjs",
        &server,
        json!({ "callback_port": callback.port, "clients": clients }),
    )
    .await;
}

/// CSRF, open redirects, framing, fixation, cookie flags, code injection
/// and substitution, mix-up, caching.
async fn security(run: Run) {
    let server = run.portcullis(&[]).await;
    let callback = Callback::new();
    let clients = json!({
        "public": callback.client(&server, "public", "Public app", FIRST_PARTY_PUBLIC),
        "confidential": callback.client(&server, "confidential", "Partner app", THIRD_PARTY_CONFIDENTIAL),
    });
    run.script(
        "security.mjs",
        &server,
        json!({ "callback_port": callback.port, "clients": clients }),
    )
    .await;
}

/// The cookies of a server whose issuer is `https://` (behind a proxy that
/// ends TLS): `__Host-` prefixed and `Secure`.
async fn security_with_an_https_issuer(run: Run) {
    let issuer = "https://auth.example.test";
    let server = TestServer::spawn_process_on(&run.backend.database(), &["--issuer", issuer]).await;
    let base = server.base.clone();
    run.script(
        "https_issuer.mjs",
        &server,
        json!({ "issuer": issuer, "base": base }),
    )
    .await;
}
