//! HTTP to the Portcullis server, and the rules every request to it obeys.
//!
//! Exists so that no fetch can escape them: each request is bounded in time
//! by this crate (whatever client the application configured), never follows
//! a redirect (a `307` would re-post the user's token to wherever it points),
//! and reads at most a fixed number of bytes. The base URL is `https://`
//! unless the host is loopback or the developer opted in to plain HTTP.
//!
//! Never put a token, a credential or a response body into an error message:
//! the messages are logged.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::{StatusCode, Url};

use crate::errors::ConfigError;

/// Whether plain `http://` is accepted for a host that is not loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlainHttp {
    LoopbackOnly,
    AnyHost,
}

/// Checks the base URL against the scheme rule; returns it without a trailing `/`.
pub(crate) fn checked_base_url(base_url: &str, plain_http: PlainHttp) -> Result<Url, ConfigError> {
    let trimmed = base_url.trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|error| ConfigError::InvalidBaseUrl {
        url: base_url.to_owned(),
        reason: error.to_string(),
    })?;
    if url.query().is_some() || url.fragment().is_some() || url.host().is_none() {
        return Err(ConfigError::UnsupportedBaseUrl {
            url: base_url.to_owned(),
        });
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if plain_http == PlainHttp::AnyHost || is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::PlainHttpToRemoteHost {
            url: base_url.to_owned(),
        }),
        _ => Err(ConfigError::UnsupportedBaseUrl {
            url: base_url.to_owned(),
        }),
    }
}

/// Whether the URL's host is this machine: `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    match unbracketed.parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical().is_loopback(),
        Err(_) => host.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// Options an application applies to the HTTP client (proxies, a local
/// address, more root certificates); the rules of this module are applied after them.
pub(crate) type ClientOptions =
    Arc<dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync>;

/// The HTTP client and the time bound every request to Portcullis obeys.
pub(crate) struct Http {
    client: reqwest::Client,
    timeout: Duration,
}

/// Why a request to Portcullis gave no usable answer.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The server answered with this status, not a 2xx (a redirect included).
    Status(StatusCode),
    /// No answer, or one that could not be read: connection, TLS, time, size.
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(status) if status.is_redirection() => write!(
                f,
                "answered {status}; redirects are never followed, configure the final URL"
            ),
            Self::Status(status) => write!(f, "answered {status}"),
            Self::Failed(reason) => f.write_str(reason),
        }
    }
}

impl Http {
    pub(crate) fn new(
        base_url: &Url,
        timeout: Duration,
        root_certificates: &[reqwest::Certificate],
        options: Option<&ClientOptions>,
    ) -> Result<Self, ConfigError> {
        let mut builder = reqwest::Client::builder();
        for certificate in root_certificates {
            builder = builder.add_root_certificate(certificate.clone());
        }
        if let Some(options) = options {
            builder = options(builder);
        }
        // After the application's options, so that none of them undoes these.
        let client = builder
            .redirect(Policy::none())
            .https_only(base_url.scheme() == "https")
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|error| ConfigError::HttpClient(error.to_string()))?;
        Ok(Self { client, timeout })
    }

    /// `GET url`; the body of a 2xx answer, at most `limit` bytes.
    pub(crate) async fn get(&self, url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
        self.send(self.client.get(url), limit).await
    }

    /// `POST url` with a JSON body and a bearer credential; the body of a 2xx
    /// answer, at most `limit` bytes.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        bearer: &str,
        body: &serde_json::Value,
        limit: usize,
    ) -> Result<Vec<u8>, FetchError> {
        self.send(self.client.post(url).bearer_auth(bearer).json(body), limit)
            .await
    }

    /// Sends the request and reads its answer, all within the timeout,
    /// whatever the client was configured with.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        limit: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let exchange = async {
            let mut response = request
                .send()
                .await
                .map_err(|error| FetchError::Failed(describe(&error)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(FetchError::Status(status));
            }
            if response
                .content_length()
                .is_some_and(|length| length > limit as u64)
            {
                return Err(too_large(limit));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|error| FetchError::Failed(describe(&error)))?
            {
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(FetchError::Failed(format!(
                    "no complete answer within {:?}",
                    self.timeout
                )))
            })
    }
}

fn too_large(limit: usize) -> FetchError {
    FetchError::Failed(format!("the answer is larger than {limit} bytes"))
}

/// A reqwest error with its causes (the TLS reason is two levels down).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
