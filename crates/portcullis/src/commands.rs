//! What each subcommand does: open the store, start the use cases, act as
//! the operator, and print a short answer meant for both people and scripts.

use std::io::{IsTerminal as _, Read as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use portcullis_core::keys::{ALGORITHM, KeyState};
use portcullis_core::services::accounts::NewAccount;
use portcullis_core::services::feeds::ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN;
use portcullis_core::store::Store;
use portcullis_core::{
    AuthError, ManageRoles, ManageUsers, Operator, SecretString, Services, SystemClock,
};
use portcullis_server::AppState;
use portcullis_store::{PgStore, PgStoreOptions, SqliteStore, SqliteStoreOptions};
use time::format_description::well_known::Rfc3339;

use crate::cli::{Cli, Command, KeysCommand, RoleCommand, TokenCommand, UserCommand};
use crate::config::Config;

/// Runs the parsed command with its configuration; `Ok` carries the exit
/// code for outcomes that are not errors.
pub(crate) async fn run(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    let store = open_store(&config).await?;
    match cli.command {
        Command::Serve(_) => serve(store, config).await,
        Command::Migrate => {
            println!(
                "migrations applied to {}",
                without_password(&config.database)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User(command) => user(&start(store, &config).await?, command).await,
        Command::Role(command) => role(&start(store, &config).await?, command).await,
        Command::Keys(command) => keys(&start(store, &config).await?, command).await,
        Command::Token(TokenCommand::Verify { token }) => {
            match start(store, &config)
                .await?
                .verification
                .inspect_access_token(&SecretString::from(token))
                .await
            {
                Ok(claims) => {
                    println!("{}", serde_json::to_string_pretty(&claims)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(AuthError::InvalidToken(reason)) => {
                    eprintln!("invalid token: {reason}");
                    Ok(ExitCode::FAILURE)
                }
                Err(other) => Err(describe(other)),
            }
        }
    }
}

/// Opens the database named in `config` (PostgreSQL for `postgres://` URLs,
/// SQLite otherwise) and applies its migrations.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database.as_str();
    let pool = config.pool;
    let context = || format!("opening the database {}", without_password(url));
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let defaults = PgStoreOptions::default();
        let options = PgStoreOptions {
            max_connections: pool.max_connections.unwrap_or(defaults.max_connections),
            acquire_timeout: pool.acquire_timeout,
            statement_timeout: pool.statement_timeout,
        };
        let store = PgStore::connect_with(url, options)
            .await
            .with_context(context)?;
        store.migrate().await.context("applying migrations")?;
        Ok(Arc::new(store))
    } else {
        let defaults = SqliteStoreOptions::default();
        let options = SqliteStoreOptions {
            max_connections: pool.max_connections.unwrap_or(defaults.max_connections),
            acquire_timeout: pool.acquire_timeout,
        };
        let store = SqliteStore::connect_with(url, options)
            .await
            .with_context(context)?;
        store.migrate().await.context("applying migrations")?;
        Ok(Arc::new(store))
    }
}

async fn start(store: Arc<dyn Store>, config: &Config) -> anyhow::Result<Services> {
    Services::start(store, config.auth.clone(), Arc::new(SystemClock))
        .await
        .map_err(describe)
}

async fn serve(store: Arc<dyn Store>, config: Config) -> anyhow::Result<ExitCode> {
    let services = Arc::new(start(store, &config).await?);
    let operator = Operator::at_command_line().authorize::<ManageUsers>();
    if services.users.count(&operator).await.map_err(describe)? == 0 {
        tracing::info!(
            "no users yet: create the first admin with `portcullis user add --email you@example.com --role admin`"
        );
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(database = %without_password(&config.database), issuer = %config.auth.issuer, "portcullis listening on http://{address}");
    let maintenance = portcullis_server::spawn_maintenance(Arc::clone(&services));
    let metrics = portcullis_server::install_metrics_recorder()
        .map_err(|error| anyhow!("installing the metrics recorder: {error}"))?;
    let state = AppState {
        services: Arc::clone(&services),
        http: Arc::new(config.http),
        metrics: Some(metrics),
    };
    portcullis_server::serve(listener, state, shutdown_signal())
        .await
        .context("serving")?;
    maintenance.abort();
    if let Err(error) = services.personal_tokens.flush_uses().await {
        tracing::warn!(%error, "could not record personal access token uses");
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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

async fn user(services: &Services, command: UserCommand) -> anyhow::Result<ExitCode> {
    let operator = Operator::at_command_line().authorize::<ManageUsers>();
    match command {
        UserCommand::Add {
            email,
            name,
            roles,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let account = NewAccount {
                email: &email,
                password: &password,
                name: name.as_deref(),
                roles,
            };
            let user = services
                .users
                .create(&operator, account)
                .await
                .map_err(describe)?;
            println!("{}", user.id);
        }
        UserCommand::List => {
            for user in services.users.all(&operator).await.map_err(describe)? {
                let state = if user.disabled { "disabled" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{state}",
                    user.id,
                    user.email,
                    user.roles.join(",")
                );
            }
        }
        UserCommand::Disable { email } => {
            let user = services
                .users
                .disable_by_email(&operator, &email)
                .await
                .map_err(describe)?;
            until_running_servers_see_it().await;
            println!("disabled {}; its sessions are revoked", user.email);
        }
        UserCommand::Passwd {
            email,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            services
                .users
                .set_password_by_email(&operator, &email, &password)
                .await
                .map_err(describe)?;
            until_running_servers_see_it().await;
            println!("password set for {email}; its sessions are revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn role(services: &Services, command: RoleCommand) -> anyhow::Result<ExitCode> {
    let operator = Operator::at_command_line().authorize::<ManageRoles>();
    match command {
        RoleCommand::Set { name, permissions } => {
            let role = services
                .roles
                .put(&operator, &name, &permissions)
                .await
                .map_err(describe)?;
            until_running_servers_see_it().await;
            println!(
                "{}\t{}",
                role.name,
                role.permissions.into_iter().collect::<Vec<_>>().join(" ")
            );
        }
        RoleCommand::List => {
            for role in services.roles.list(&operator).await.map_err(describe)? {
                println!(
                    "{}\t{}",
                    role.name,
                    role.permissions.into_iter().collect::<Vec<_>>().join(" ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits until every server running on this database has seen a change
/// just made to an account or a role, so that a script calling the API
/// right after this command finds it in effect.
async fn until_running_servers_see_it() {
    tokio::time::sleep(ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN).await;
}

async fn keys(services: &Services, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let operator = Operator::at_command_line();
    match command {
        KeysCommand::Rotate => println!(
            "{}",
            services
                .signing_keys
                .rotate(&operator)
                .await
                .map_err(describe)?
        ),
        KeysCommand::List => {
            for key in services
                .signing_keys
                .list(&operator)
                .await
                .map_err(describe)?
            {
                let state = match key.state {
                    KeyState::Active => "active",
                    KeyState::Retiring { .. } => "retiring",
                };
                println!(
                    "{}\t{ALGORITHM}\t{state}\t{}",
                    key.kid,
                    key.created_at.format(&Rfc3339)?
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The password from standard input (one trailing newline dropped), or typed at a prompt without echo.
fn read_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    if from_stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("reading the password from standard input")?;
        let trimmed = input
            .strip_suffix('\n')
            .map_or(input.as_str(), |s| s.strip_suffix('\r').unwrap_or(s));
        return Ok(trimmed.into());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to prompt for a password: pass --password-stdin and pipe it in");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Password again: ")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(first.into())
}

/// The database URL with any password replaced, for logs and messages: the
/// one after the user name, and any query parameter named like `password`
/// (PostgreSQL takes `?password=` and `?sslpassword=` too). When the URL is
/// ambiguous (an `@` in the query), more is hidden rather than less.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The query first, since a password there may hold an `@`.
    let rest = match rest.split_once('?') {
        Some((location, query)) => {
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                        format!("{name}=***")
                    }
                    _ => parameter.to_owned(),
                })
                .collect();
            format!("{location}?{}", parameters.join("&"))
        }
        None => rest.to_owned(),
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => format!("{scheme}://{rest}"),
    }
}

/// A domain failure as one line for a person at a terminal.
fn describe(error: AuthError) -> anyhow::Error {
    match error {
        AuthError::Invalid(fields) => anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{} {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        AuthError::NotFound => anyhow!("no such user"),
        other => anyhow!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_never_reach_the_log() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db:5432/auth",
                "postgres://app:***@db:5432/auth",
            ),
            ("postgres://app@db/auth", "postgres://app@db/auth"),
            (
                "postgres://app@db/auth?password=s3cret",
                "postgres://app@db/auth?password=***",
            ),
            (
                "postgresql://db/auth?sslmode=require&Password=s3cret&application_name=x",
                "postgresql://db/auth?sslmode=require&Password=***&application_name=x",
            ),
            (
                "postgres://app:s3cret@db/auth?sslpassword=k3y&password=s3cret",
                "postgres://app:***@db/auth?sslpassword=***&password=***",
            ),
            ("postgres://app:p@ss@db/auth", "postgres://app:***@db/auth"),
            ("postgres://app:p?ss@db/auth", "postgres://app:***@db/auth"),
            (
                "postgres://db:5432/auth?password=p@ss",
                "postgres://db:5432/auth?password=***",
            ),
            (
                "postgres://app:s3cret@db/auth?password=p@ss",
                "postgres://app:***@db/auth?password=***",
            ),
            ("sqlite://portcullis.db", "sqlite://portcullis.db"),
            (
                "sqlite://portcullis.db?mode=rwc",
                "sqlite://portcullis.db?mode=rwc",
            ),
            ("portcullis.db", "portcullis.db"),
        ] {
            assert_eq!(without_password(url), shown);
        }
    }
}
