//! A real SMTP server for tests (feature `test-support`): Python's
//! `aiosmtpd` running `test-support/smtp_server.py`, on a free port of
//! 127.0.0.1, in plain text, with STARTTLS or with implicit TLS (a CA and a
//! server certificate made at start with `rcgen`), optionally requiring
//! AUTH, refusing (550) or deferring (451) chosen recipients. It can be
//! stopped and started again on the same port, and it keeps every message
//! it accepts, raw, with its envelope, so a test reads what really arrived.
//!
//! The project's rule is that mail tests talk to a real server, never only
//! to a stub transport. A test that cannot start one must not pass:
//! [`unavailable`] says why it cannot, so the harness reports the test as
//! ignored, and panics instead when `PORTCULLIS_REQUIRE_SERVICES=1` (CI).
//! Processes are ended by their own handle, never by name.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use serde::Deserialize;

/// Set to `1` to make a missing `aiosmtpd` fail the tests instead of
/// skipping them.
pub const REQUIRE_VARIABLE: &str = "PORTCULLIS_REQUIRE_SERVICES";

const SCRIPT: &str = include_str!("../test-support/smtp_server.py");
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How the test server protects its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestSecurity {
    #[default]
    Plain,
    /// Offers STARTTLS (does not require it).
    StartTls,
    /// TLS from the first byte.
    ImplicitTls,
}

/// What the test server does.
#[derive(Debug, Clone, Default)]
pub struct TestSmtpOptions {
    pub security: TestSecurity,
    /// Require AUTH with this user name and password (offered even without
    /// TLS, so a client that sends credentials in clear is seen doing it).
    pub login: Option<(String, String)>,
    /// Recipients containing one of these are refused with `550`.
    pub refuse: Vec<String>,
    /// Recipients containing one of these are deferred with `451`.
    pub defer: Vec<String>,
}

/// A running (or stopped) test server. Stopped when dropped.
pub struct TestSmtpServer {
    child: Option<Child>,
    port: u16,
    options: TestSmtpOptions,
    directory: tempfile::TempDir,
}

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The bytes received after `DATA`: headers and body, as sent.
    pub raw: Vec<u8>,
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// Whether the session was encrypted (STARTTLS or implicit TLS).
    pub tls: bool,
    pub authenticated_as: Option<String>,
}

/// One `AUTH` the server saw.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthAttempt {
    pub login: Option<String>,
    /// Whether the credentials travelled encrypted.
    pub tls: bool,
    pub accepted: bool,
}

#[derive(Deserialize)]
struct Envelope {
    mail_from: String,
    recipients: Vec<String>,
    tls: bool,
    authenticated_as: Option<String>,
}

/// `None` when the test server can run here; otherwise why not (no
/// `python3`, no `aiosmtpd`), for the harness to report the test ignored.
///
/// # Panics
/// When it cannot run and `PORTCULLIS_REQUIRE_SERVICES=1`: a run that must
/// test mail does not quietly skip it.
#[must_use]
pub fn unavailable() -> Option<String> {
    let reason = python().as_ref().err().cloned();
    if let Some(reason) = &reason
        && std::env::var(REQUIRE_VARIABLE).is_ok_and(|value| value == "1")
    {
        panic!("{REQUIRE_VARIABLE}=1 but the test SMTP server cannot run: {reason}");
    }
    reason
}

/// The interpreter of the first of `python3` (on `PATH`) and
/// `/usr/bin/python3` (Debian's, where `apt-get install python3-aiosmtpd`
/// puts it) that imports aiosmtpd, by its real path (`sys.executable`):
/// version-manager shims cost half a second per start.
fn python() -> &'static Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let mut tried = Vec::new();
        for candidate in ["python3", "/usr/bin/python3"] {
            let probe = "import sys, aiosmtpd; print(sys.executable)";
            match Command::new(candidate).args(["-c", probe]).stderr(Stdio::null()).output() {
                Ok(output) if output.status.success() => {
                    let executable = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                    return Ok(PathBuf::from(if executable.is_empty() { candidate } else { &executable }));
                }
                Ok(_) => tried.push(format!("not in {candidate}")),
                Err(error) => tried.push(format!("{candidate}: {error}")),
            }
        }
        Err(format!(
            "needs aiosmtpd, {}: `python3 -m pip install aiosmtpd` or `apt-get install python3-aiosmtpd`",
            tried.join(", ")
        ))
    })
}

impl TestSmtpServer {
    /// Starts a server on a free port and waits until it listens.
    ///
    /// # Errors
    /// Why it did not start (its standard error included).
    pub fn start(options: TestSmtpOptions) -> Result<Self, String> {
        let directory = tempfile::tempdir().map_err(|error| error.to_string())?;
        std::fs::create_dir(directory.path().join("messages"))
            .map_err(|error| error.to_string())?;
        std::fs::write(directory.path().join("smtp_server.py"), SCRIPT)
            .map_err(|error| error.to_string())?;
        if options.security != TestSecurity::Plain {
            write_certificates(directory.path())?;
        }
        let mut server = Self {
            child: None,
            port: 0,
            options,
            directory,
        };
        server.spawn()?;
        Ok(server)
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL a mailer uses to reach this server with the matching
    /// protection: `smtp://…?tls=none`, `smtp://…` (STARTTLS required) or
    /// `smtps://…`, on 127.0.0.1. Credentials are not included.
    #[must_use]
    pub fn smtp_url(&self) -> String {
        match self.options.security {
            TestSecurity::Plain => format!("smtp://127.0.0.1:{}?tls=none", self.port),
            TestSecurity::StartTls => format!("smtp://127.0.0.1:{}", self.port),
            TestSecurity::ImplicitTls => format!("smtps://127.0.0.1:{}", self.port),
        }
    }

    /// The PEM file of the CA that signed the server's certificate (valid
    /// for 127.0.0.1 and localhost), for the TLS modes.
    #[must_use]
    pub fn ca_certificate(&self) -> Option<PathBuf> {
        (self.options.security != TestSecurity::Plain).then(|| self.directory.path().join("ca.pem"))
    }

    /// Ends the server process; connections are refused until
    /// [`TestSmtpServer::restart`]. Messages received so far are kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Our own child, by its handle; it may have exited already.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the same options.
    ///
    /// # Errors
    /// Why it did not start.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.spawn()
    }

    /// Every message accepted so far, in order.
    ///
    /// # Panics
    /// When the server's files cannot be read (a broken test set-up).
    #[must_use]
    pub fn received(&self) -> Vec<ReceivedMessage> {
        let folder = self.directory.path().join("messages");
        let mut envelopes: Vec<PathBuf> = std::fs::read_dir(&folder)
            .expect("the messages folder")
            .map(|entry| entry.expect("a folder entry").path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "json")
            })
            .collect();
        envelopes.sort();
        envelopes
            .into_iter()
            .map(|path| {
                let envelope: Envelope =
                    serde_json::from_slice(&std::fs::read(&path).expect("an envelope"))
                        .expect("an envelope's JSON");
                ReceivedMessage {
                    raw: std::fs::read(path.with_extension("eml"))
                        .expect("the message beside its envelope"),
                    mail_from: envelope.mail_from,
                    recipients: envelope.recipients,
                    tls: envelope.tls,
                    authenticated_as: envelope.authenticated_as,
                }
            })
            .collect()
    }

    /// Every `AUTH` seen so far, accepted or not.
    ///
    /// # Panics
    /// When the server's log of them cannot be parsed.
    #[must_use]
    pub fn auth_attempts(&self) -> Vec<AuthAttempt> {
        let log = std::fs::read_to_string(self.directory.path().join("messages/auth.jsonl"))
            .unwrap_or_default();
        log.lines()
            .map(|line| serde_json::from_str(line).expect("an AUTH record"))
            .collect()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let python = python().as_ref().map_err(Clone::clone)?;
        let folder = self.directory.path();
        let log =
            std::fs::File::create(folder.join("stderr.log")).map_err(|error| error.to_string())?;
        let mut command = Command::new(python);
        command
            .arg(folder.join("smtp_server.py"))
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--out")
            .arg(folder.join("messages"))
            .arg("--security")
            .arg(match self.options.security {
                TestSecurity::Plain => "plain",
                TestSecurity::StartTls => "starttls",
                TestSecurity::ImplicitTls => "implicit",
            })
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if self.options.security != TestSecurity::Plain {
            command
                .arg("--cert")
                .arg(folder.join("server.pem"))
                .arg("--key")
                .arg(folder.join("server.key"));
        }
        if let Some((user, password)) = &self.options.login {
            command.args(["--user", user, "--password", password]);
        }
        for part in &self.options.refuse {
            command.args(["--refuse", part]);
        }
        for part in &self.options.defer {
            command.args(["--defer", part]);
        }
        let mut child = command
            .spawn()
            .map_err(|error| format!("{}: {error}", python.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut stdout = BufReader::new(stdout);
            let _ = sender.send(stdout.read_line(&mut line).map(|_| line));
            // Keep reading so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut stdout.take(u64::MAX), &mut std::io::sink());
        });
        let ready = receiver.recv_timeout(START_TIMEOUT);
        let port = ready
            .ok()
            .and_then(Result::ok)
            .and_then(|line| line.strip_prefix("READY ")?.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(folder.join("stderr.log")).unwrap_or_default();
            return Err(format!("the test SMTP server did not start: {stderr}"));
        };
        self.port = port;
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `ca.pem`, and `server.pem` and `server.key` signed by it, for
/// 127.0.0.1 and localhost.
fn write_certificates(folder: &Path) -> Result<(), String> {
    let failed = |error: rcgen::Error| format!("making the test certificates: {error}");
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Portcullis test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca =
        CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(failed)?).map_err(failed)?;
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .map_err(failed)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "test SMTP server");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().map_err(failed)?;
    let server = server.signed_by(&server_key, &ca).map_err(failed)?;
    for (name, contents) in [
        ("ca.pem", ca.pem()),
        ("server.pem", server.pem()),
        ("server.key", server_key.serialize_pem()),
    ] {
        std::fs::write(folder.join(name), contents)
            .map_err(|error| format!("writing {name}: {error}"))?;
    }
    Ok(())
}
