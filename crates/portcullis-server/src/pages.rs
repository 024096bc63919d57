//! The HTML pages the server hosts (sign in, sign up, consent, account,
//! sign out, and the pages a mailed link opens): their templates, their
//! branding, and the headers every page is sent with.
//!
//! A page is a [`Page`]: a status, a title and a [`View`], the plain values
//! its template shows. The templates (`templates/` in this crate, built in;
//! any of them replaceable from a folder) make all the markup, with
//! minijinja's auto-escaping on for `.html`, so no value becomes markup.
//! They are parsed and rendered with sample values when [`Pages::load`]
//! runs: a broken one stops the start naming its file, instead of failing
//! a user later.
//!
//! No outside asset, no script: one inline stylesheet (`style.css`, made
//! once at start from the brand colour) allowed by its hash in a strict
//! Content-Security-Policy, which also allows exactly the logo's source
//! when there is a logo. Framing refused, a referrer sent to this server
//! only (a page's URL may hold a token; `no-referrer` would make browsers
//! send `Origin: null` with every form, which the CSRF check must refuse),
//! never cached. Pages work without JavaScript: every action is a form
//! that POSTs. This module holds no rule of the contract.

mod branding;
mod overrides;
mod samples;
mod views;

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minijinja::value::Serde;
use minijinja::{Environment, Error, Value, context};
use portcullis_mail::strict_environment;
use sha2::{Digest as _, Sha256};

pub use branding::{Colour, InvalidBranding, LogoUrl, PageSettings};
pub(crate) use views::{
    AccountErrors, AccountView, ApplicationRow, Hidden, SessionRow, SignUpErrors, TokenRow, View,
    sort_field_errors,
};

use crate::pages::overrides::read_overrides;
use crate::pages::samples::samples;

/// One page: its status, title and what it shows.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) title: String,
    pub(crate) view: View,
    /// `Retry-After`, for a page that says to come back later.
    pub(crate) retry_after_seconds: Option<u64>,
}

impl Page {
    /// A `200` page.
    pub(crate) fn new(title: &str, view: View) -> Self {
        Self {
            status: StatusCode::OK,
            title: title.to_owned(),
            view,
            retry_after_seconds: None,
        }
    }

    /// `error.html` with `status`: what went wrong and what to do.
    pub(crate) fn error(status: StatusCode, title: &str, message: &str) -> Self {
        Self::new(
            title,
            View::Error {
                message: message.to_owned(),
            },
        )
        .with_status(status)
    }

    pub(crate) fn with_status(self, status: StatusCode) -> Self {
        Self { status, ..self }
    }
}

/// Why the page templates cannot be used; the server does not start.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    #[error("page templates folder {path}: {reason}")]
    Folder { path: PathBuf, reason: String },
    #[error("page template {name}: {reason}")]
    Template { name: String, reason: String },
}

/// The page templates, loaded and checked, with the branding they show.
pub struct Pages {
    environment: Environment<'static>,
    product: String,
    logo: Option<String>,
    /// `style.css` as rendered once with the brand colour: what every page
    /// inlines and the policy's hash covers.
    stylesheet: String,
    content_security_policy: HeaderValue,
}

macro_rules! built_in {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// The built-in templates: the layout, the form macros, the stylesheet,
/// then one per [`View`].
pub(crate) const BUILT_IN: [(&str, &str); 17] = built_in![
    "layout.html",
    "forms.html",
    "style.css",
    "sign_in.html",
    "sign_up.html",
    "consent.html",
    "account.html",
    "sign_out.html",
    "signed_out.html",
    "error.html",
    "email_verify.html",
    "email_verified.html",
    "password_reset.html",
    "password_changed.html",
    "forgot_password.html",
    "check_your_mail.html",
    "confirm_your_address.html",
];

const STYLESHEET: &str = "style.css";

impl Pages {
    /// Loads the built-in templates, replaces those the folder has, makes
    /// the stylesheet, and renders every page with sample values.
    ///
    /// # Errors
    /// The folder cannot be read or holds a file that is not a template's
    /// name; a template does not parse or fails with the sample values.
    pub fn load(settings: &PageSettings) -> Result<Self, PagesError> {
        let mut sources: BTreeMap<String, (String, Option<PathBuf>)> = BUILT_IN
            .iter()
            .map(|(name, source)| ((*name).to_owned(), ((*source).to_owned(), None)))
            .collect();
        if let Some(folder) = &settings.templates_dir {
            for found in read_overrides(folder)? {
                sources.insert(found.name, (found.source, Some(found.path)));
            }
        }
        let template_error = |name: &str, error: &Error| {
            let file = match sources.get(name) {
                Some((_, Some(path))) => path.display().to_string(),
                _ => name.to_owned(),
            };
            let mut reason = error.to_string();
            if let Some(line) = error.line() {
                reason = format!("line {line}: {reason}");
            }
            PagesError::Template { name: file, reason }
        };
        let mut environment = strict_environment("page");
        for (name, (source, _)) in &sources {
            environment
                .add_template_owned(name.clone(), source.clone())
                .map_err(|error| template_error(name, &error))?;
        }
        let colour = settings.colour;
        let stylesheet = environment
            .get_template(STYLESHEET)
            .and_then(|template| {
                template.render(context! {
                    colour => colour.to_string(),
                    on_colour => colour.text_on().to_string(),
                    link_colour => colour.readable_on_white().to_string(),
                })
            })
            .map_err(|error| template_error(STYLESHEET, &error))?;
        let pages = Self {
            content_security_policy: content_security_policy(&stylesheet, settings.logo.as_ref()),
            environment,
            product: settings.product_name.clone(),
            logo: settings.logo.as_ref().map(|logo| logo.src().to_owned()),
            stylesheet,
        };
        for view in samples() {
            let template = view.template();
            if let Err(error) = pages.html(&Page::new("Sample", view)) {
                return Err(template_error(error.name().unwrap_or(template), &error));
            }
        }
        Ok(pages)
    }

    /// The page as a response, with the headers every page has.
    pub(crate) fn render(&self, page: Page) -> Response {
        let (status, content_type, body) = match self.html(&page) {
            Ok(html) => (page.status, "text/html; charset=utf-8", html),
            Err(error) => {
                tracing::error!(template = page.view.template(), %error, "a page could not be rendered");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    "Something went wrong on our side. Try again later.".to_owned(),
                )
            }
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        self.add_headers(headers);
        if let Some(seconds) = page.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    fn html(&self, page: &Page) -> Result<String, Error> {
        self.environment
            .get_template(page.view.template())?
            .render(context! {
                title => page.title.clone(),
                product => self.product.clone(),
                logo => self.logo.clone(),
                stylesheet => Value::from_safe_string(self.stylesheet.clone()),
                ..Value::from(Serde(&page.view))
            })
    }

    fn add_headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            self.content_security_policy.clone(),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// `default-src 'none'` and the stylesheet's hash: nothing but the page's
/// own markup and style, and the logo's source when there is a logo. No
/// `form-action`: browsers apply it to the redirects that follow a form
/// too, and signing in ends in a redirect to the application (every form
/// here is ours).
fn content_security_policy(stylesheet: &str, logo: Option<&LogoUrl>) -> HeaderValue {
    let hash = STANDARD.encode(Sha256::digest(stylesheet.as_bytes()));
    let images = logo
        .map(|logo| format!("; img-src {}", logo.policy_source()))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'sha256-{hash}'{images}; base-uri 'none'; frame-ancestors 'none'"
    ))
    .expect("the policy is ASCII on one line: a hash and an origin")
}

#[cfg(test)]
mod tests;
