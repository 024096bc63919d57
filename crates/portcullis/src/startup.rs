//! Starting the server: the store, the use cases, their upkeep loops and
//! the listener, in the order a real start needs. `portcullis serve` runs
//! it, and so do the integration tests that run the whole server inside
//! their own process (with a clock they can move).
//!
//! Nothing here holds a rule of the contract; it only wires the parts the
//! configuration names and stops them in order: in-flight requests finish,
//! then the upkeep and the mail sender stop (a message being sent is
//! claimed, and goes out after its claim runs out) and the personal-token
//! use times are written.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use portcullis_core::{Clock, ManageUsers, Operator, Services};
use portcullis_mail::Mailer;
use portcullis_server::{AppState, Pages};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{self, Config};
use crate::database::{open_store, without_password};

/// A server that is listening, with its upkeep running, not yet serving.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    services: Arc<Services>,
    state: AppState,
    maintenance: JoinHandle<()>,
    mail_sender: JoinHandle<()>,
}

impl Application {
    /// Builds the server `portcullis serve ARGS` would run (flags, the
    /// `PORTCULLIS_*` environment and a `--config` file alike), reading the
    /// time from `clock`, with no metrics recorder.
    ///
    /// # Errors
    /// A refused setting, an unreachable database, a port that cannot be bound.
    pub async fn from_serve_args(args: &[&str], clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let command_line = ["portcullis", "serve"]
            .iter()
            .chain(args)
            .map(OsString::from);
        let (_, config) = config::load(command_line).map_err(|refusal| anyhow!("{refusal:?}"))?;
        Self::build(config, clock, None).await
    }

    /// Opens the store, starts the use cases and their upkeep, and binds
    /// the listener.
    pub(crate) async fn build(
        config: Config,
        clock: Arc<dyn Clock>,
        metrics: Option<portcullis_server::MetricsHandle>,
    ) -> anyhow::Result<Self> {
        let development_mail = config.mail.smtp_url.is_none();
        let mailer = Arc::new(Mailer::new(config.mail.clone()).context("setting up mail")?);
        let pages = Arc::new(Pages::load(&config.pages).context("loading the page templates")?);
        let store = open_store(&config).await?;
        let services = Arc::new(
            Services::start(store, config.auth.clone(), clock)
                .await
                .map_err(|error| anyhow!("{error}"))?,
        );
        // Before the first login: a wrong password for an imported account
        // must cost what an unknown email does from the start.
        services
            .imports
            .expect_imported_hashes()
            .await
            .map_err(|error| anyhow!("timing the imported password hashes: {error}"))?;
        let operator = Operator::at_command_line().authorize::<ManageUsers>();
        if services
            .users
            .count(&operator)
            .await
            .map_err(|error| anyhow!("{error}"))?
            == 0
        {
            tracing::info!(
                "no users yet: create the first admin with `portcullis user add --email you@example.com --role admin`"
            );
        }
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let address = listener.local_addr()?;
        tracing::info!(database = %without_password(&config.database), issuer = %config.auth.issuer, "portcullis listening on http://{address}");
        let maintenance =
            portcullis_server::spawn_maintenance(Arc::clone(&services), metrics.clone());
        if development_mail {
            tracing::warn!(
                "no --smtp-url: mail is not sent but written to this log, links and codes included (development mode)"
            );
        }
        let mail_sender = portcullis_server::spawn_mail_sender(Arc::clone(&services), mailer);
        let state = AppState {
            services: Arc::clone(&services),
            http: Arc::new(config.http),
            pages,
            metrics,
        };
        Ok(Self {
            listener,
            address,
            services,
            state,
            maintenance,
            mail_sender,
        })
    }

    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The use cases this server answers with, for acting beside it as the
    /// operator would.
    #[must_use]
    pub fn services(&self) -> Arc<Services> {
        Arc::clone(&self.services)
    }

    /// Serves until `shutdown` resolves and in-flight requests have
    /// finished, then stops the upkeep and writes what it gathered.
    ///
    /// # Errors
    /// The listener's I/O error.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        portcullis_server::serve(self.listener, self.state, shutdown)
            .await
            .context("serving")?;
        self.maintenance.abort();
        self.mail_sender.abort();
        if let Err(error) = self.services.personal_tokens.flush_uses().await {
            tracing::warn!(%error, "could not record personal access token uses");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
