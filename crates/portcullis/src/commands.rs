//! What each subcommand does: open the store, start the use cases, act as
//! the operator, and print a short answer meant for both people and scripts.

use std::io::{IsTerminal as _, Read as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use portcullis_core::clients::ClientKind;
use portcullis_core::keys::KeyState;
use portcullis_core::services::accounts::NewAccount;
use portcullis_core::services::clients::NewClient;
use portcullis_core::services::feeds::ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN;
use portcullis_core::services::signing_keys::Activation;
use portcullis_core::services::users::UserChange;
use portcullis_core::{
    AuthError, ExposeSecret as _, ManageClients, ManageRoles, ManageUsers, Operator,
    PersonalTokensOnNewPassword, SecretString, Services, SystemClock,
};
use portcullis_mail::{
    Delivery, Mailer, MessageContent, OutgoingMessage, Recipient, RequestOrigin,
};
use time::format_description::well_known::Rfc3339;

use crate::cli::{
    AccountEmail, Cli, ClientCommand, Command, KeysCommand, MailCommand, RoleCommand, TokenCommand,
    UserCommand,
};
use crate::config::Config;
use crate::database::{open_store, without_password};
use crate::startup::{Application, shutdown_signal};

/// Runs the parsed command with its configuration; `Ok` carries the exit
/// code for outcomes that are not errors.
pub(crate) async fn run(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(_) => {
            let metrics = portcullis_server::install_metrics_recorder()
                .map_err(|error| anyhow!("installing the metrics recorder: {error}"))?;
            Application::build(config, Arc::new(SystemClock), Some(metrics))
                .await?
                .run_until(shutdown_signal())
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            open_store(&config).await?;
            println!(
                "migrations applied to {}",
                without_password(&config.database)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User(command) => user(&start(&config).await?, command).await,
        Command::Role(command) => role(&start(&config).await?, command).await,
        Command::Client(command) => client(&start(&config).await?, command).await,
        Command::Keys(command) => keys(&start(&config).await?, command).await,
        Command::Import(args) => crate::import::run(&start(&config).await?, args).await,
        Command::Export { file } => crate::export::run(&start(&config).await?, file).await,
        Command::Mail(MailCommand::Test { to }) => mail_test(&config, &to).await,
        Command::Token(TokenCommand::Verify { token }) => {
            match start(&config)
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

/// `portcullis mail test --to E`: one message, sent once, and the answer.
async fn mail_test(config: &Config, to: &str) -> anyhow::Result<ExitCode> {
    let mailer = Mailer::new(config.mail.clone()).context("setting up mail")?;
    if config.mail.smtp_url.is_none() {
        eprintln!("no SMTP URL (--smtp-url or PORTCULLIS_SMTP_URL): the message goes to the log");
    }
    let message = OutgoingMessage {
        to: Recipient {
            email: to.to_owned(),
            name: None,
        },
        content: MessageContent::Test {
            requested: RequestOrigin {
                at: time::OffsetDateTime::now_utc(),
                client_address: None,
            },
        },
    };
    let delivery = mailer.deliver(&message).await;
    println!("{delivery}");
    Ok(match delivery {
        Delivery::Sent { .. } => ExitCode::SUCCESS,
        Delivery::Transient { .. } | Delivery::Permanent { .. } => ExitCode::FAILURE,
    })
}

/// Opens the store and starts the use cases, for a command that acts once.
async fn start(config: &Config) -> anyhow::Result<Services> {
    Services::start(
        open_store(config).await?,
        config.auth.clone(),
        Arc::new(SystemClock),
    )
    .await
    .map_err(describe)
}

async fn user(services: &Services, command: UserCommand) -> anyhow::Result<ExitCode> {
    let operator = Operator::at_command_line().authorize::<ManageUsers>();
    match command {
        UserCommand::Add {
            account: AccountEmail { email },
            name,
            roles,
            password_stdin,
            verified,
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
            if verified {
                let change = UserChange {
                    email_verified: Some(true),
                    ..UserChange::default()
                };
                services
                    .users
                    .update(&operator, user.id, change)
                    .await
                    .map_err(describe)?;
            }
            println!("{}", user.id);
        }
        UserCommand::List => {
            for user in services.users.all(&operator).await.map_err(describe)? {
                let state = if user.disabled { "disabled" } else { "active" };
                let verified = if user.email_verified {
                    "verified"
                } else {
                    "unverified"
                };
                println!(
                    "{}\t{}\t{}\t{state}\t{verified}",
                    user.id,
                    user.email,
                    user.roles.join(",")
                );
            }
        }
        UserCommand::Disable {
            account: AccountEmail { email },
        } => {
            let user = services
                .users
                .disable_by_email(&operator, &email)
                .await
                .map_err(describe)?;
            until_running_servers_see_it().await;
            println!("disabled {}; its sessions are revoked", user.email);
        }
        UserCommand::Passwd {
            account: AccountEmail { email },
            password_stdin,
            revoke_tokens,
        } => {
            let tokens = if revoke_tokens {
                PersonalTokensOnNewPassword::Revoke
            } else {
                PersonalTokensOnNewPassword::Keep
            };
            let password = read_password(password_stdin)?;
            services
                .users
                .set_password_by_email(&operator, &email, &password, tokens)
                .await
                .map_err(describe)?;
            until_running_servers_see_it().await;
            match tokens {
                PersonalTokensOnNewPassword::Revoke => println!(
                    "password set for {email}; its sessions and personal access tokens are revoked"
                ),
                PersonalTokensOnNewPassword::Keep => println!(
                    "password set for {email}; its sessions are revoked (its personal access tokens are kept: --revoke-tokens ends them too)"
                ),
            }
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

async fn client(services: &Services, command: ClientCommand) -> anyhow::Result<ExitCode> {
    let operator = Operator::at_command_line().authorize::<ManageClients>();
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            first_party,
            scopes,
            id_token_alg,
        } => {
            let new = NewClient {
                name: &name,
                redirect_uris,
                post_logout_redirect_uris,
                kind: if public {
                    ClientKind::Public
                } else {
                    ClientKind::Confidential
                },
                first_party,
                allowed_scopes: scopes,
                id_token_signed_response_alg: Some(&id_token_alg),
            };
            let registered = services
                .clients
                .register(&operator, new)
                .await
                .map_err(describe)?;
            println!("{}", registered.client.client_id);
            if let Some(secret) = registered.secret {
                println!("{}", secret.expose_secret());
            }
        }
        ClientCommand::List => {
            for client in services.clients.list(&operator).await.map_err(describe)? {
                let party = if client.first_party {
                    "first-party"
                } else {
                    "third-party"
                };
                println!(
                    "{}\t{}\t{}\t{party}\t{}",
                    client.client_id,
                    client.name,
                    client.kind.as_str(),
                    client.redirect_uris.join(" ")
                );
            }
        }
        ClientCommand::Remove { id } => match services.clients.remove(&operator, id).await {
            Ok(()) => println!("removed client {id}"),
            Err(AuthError::NotFound) => bail!("no such client: {id}"),
            Err(other) => return Err(describe(other)),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits until every server running on this database has seen a change
/// just made to an account or a role, so that a script calling the API
/// right after this command finds it in effect.
pub(crate) async fn until_running_servers_see_it() {
    tokio::time::sleep(ACCOUNT_CHANGES_SEEN_EVERYWHERE_WITHIN).await;
}

async fn keys(services: &Services, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let operator = Operator::at_command_line();
    match command {
        KeysCommand::Rotate { lead, now } => {
            let activation = if now {
                Activation::Now
            } else {
                Activation::AfterPublication(lead)
            };
            let keys = services
                .signing_keys
                .rotate(&operator, activation)
                .await
                .map_err(describe)?;
            for key in &keys {
                println!("{}\t{}", key.kid, key.algorithm);
            }
            if let Some(key) = keys.first() {
                eprintln!(
                    "published now; signs from {}",
                    key.active_from.format(&Rfc3339)?
                );
            }
        }
        KeysCommand::Revoke { kid } => {
            let revoked = services
                .signing_keys
                .revoke(&operator, &kid)
                .await
                .map_err(|error| match error {
                    AuthError::NotFound => anyhow!("no signing key {kid}"),
                    other => describe(other),
                })?;
            until_running_servers_see_it().await;
            match revoked.replaced_by {
                Some(new) => println!("revoked {kid}; {new} signs from now"),
                None => println!("revoked {kid}"),
            }
        }
        KeysCommand::List => {
            for (key, state) in services
                .signing_keys
                .list(&operator)
                .await
                .map_err(describe)?
            {
                let state = match state {
                    KeyState::Next { .. } => "next",
                    KeyState::Active => "active",
                    KeyState::Retiring { .. } => "retiring",
                };
                println!(
                    "{}\t{}\t{state}\t{}",
                    key.kid,
                    key.algorithm,
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

/// A domain failure as one line for a person at a terminal.
pub(crate) fn describe(error: AuthError) -> anyhow::Error {
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
