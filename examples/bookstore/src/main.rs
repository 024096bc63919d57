//! Runs the bookstore: `PORTCULLIS_URL` (default `http://localhost:8080`;
//! `https://` for any host but this one),
//! `BOOKSTORE_ADMIN_TOKEN` (a personal access token holding `admin:users`,
//! `books:download` and `tokens:introspect`), `PORTCULLIS_ISSUER` (Portcullis's `--issuer`; default
//! `PORTCULLIS_URL`), `BOOKSTORE_LISTEN` (default `127.0.0.1:3000`),
//! `BOOKSTORE_CORS_ORIGINS` (browser origins allowed to call it, separated
//! by commas; default `http://127.0.0.1:5173`, the single-page app of
//! `examples/spa`; empty for none).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let Ok(admin_token) = std::env::var("BOOKSTORE_ADMIN_TOKEN") else {
        eprintln!(
            "error: set BOOKSTORE_ADMIN_TOKEN to a personal access token holding admin:users, books:download and tokens:introspect"
        );
        return ExitCode::FAILURE;
    };
    let config = bookstore::Config {
        portcullis_url: std::env::var("PORTCULLIS_URL")
            .unwrap_or_else(|_| "http://localhost:8080".to_owned()),
        admin_token,
        issuer: std::env::var("PORTCULLIS_ISSUER").ok(),
        cors_origins: std::env::var("BOOKSTORE_CORS_ORIGINS")
            .unwrap_or_else(|_| "http://127.0.0.1:5173".to_owned())
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let listen = std::env::var("BOOKSTORE_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("bookstore listening on http://{listen}");
    let app = match bookstore::try_app(config) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
