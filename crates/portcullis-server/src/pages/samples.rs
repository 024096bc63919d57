//! A view of every page with sample values, each optional value both given
//! and absent: rendering them all when the templates are loaded proves
//! that every template (built in or replaced) works before a user opens it.

use crate::pages::views::{
    AccountErrors, AccountView, ApplicationRow, Hidden, SessionRow, SignUpErrors, TokenRow, View,
};

/// Every view, with and without its optional values.
pub(super) fn samples() -> Vec<View> {
    let text = |value: &str| value.to_owned();
    let error = || Some(text("An error."));
    let csrf = || text("AAAAAAAAAAAAAAAAAAAAAA");
    let request = || {
        vec![Hidden {
            name: text("client_id"),
            value: text("0190a1b2-0000-7000-8000-000000000000"),
        }]
    };
    let mut views = Vec::new();
    for form_error in [None, error()] {
        views.push(View::SignIn {
            csrf: csrf(),
            return_to: text("/account"),
            return_to_query: text("return_to=%2Faccount"),
            email: text("ada@example.com"),
            form_error: form_error.clone(),
        });
        views.push(View::SignUp {
            csrf: csrf(),
            return_to: text("/account"),
            return_to_query: text("return_to=%2Faccount"),
            email: text("ada@example.com"),
            name: text("Ada"),
            password_min_length: 12,
            form_error: form_error.clone(),
            errors: if form_error.is_some() {
                SignUpErrors {
                    email: error(),
                    password: error(),
                    name: error(),
                }
            } else {
                SignUpErrors::default()
            },
        });
        views.push(View::Account(AccountView {
            csrf: csrf(),
            email: text("ada@example.com"),
            name: text("Ada"),
            form_error: form_error.clone(),
            errors: if form_error.is_some() {
                AccountErrors {
                    name: error(),
                    current_password: error(),
                    new_password: error(),
                }
            } else {
                AccountErrors::default()
            },
            sessions: vec![
                SessionRow {
                    id: text("0190a1b2-0000-7000-8000-000000000001"),
                    device: text("Firefox"),
                    current: true,
                    since: text("2026-12-07T10:00:00Z"),
                },
                SessionRow {
                    id: text("0190a1b2-0000-7000-8000-000000000002"),
                    device: text("unknown device"),
                    current: false,
                    since: text("2026-12-06T10:00:00Z"),
                },
            ],
            tokens: if form_error.is_some() {
                Vec::new()
            } else {
                vec![
                    TokenRow {
                        id: text("0190a1b2-0000-7000-8000-000000000003"),
                        name: text("deploy"),
                        created: text("2026-12-01T10:00:00Z"),
                        last_used: None,
                    },
                    TokenRow {
                        id: text("0190a1b2-0000-7000-8000-000000000004"),
                        name: text("laptop"),
                        created: text("2026-12-01T10:00:00Z"),
                        last_used: Some(text("2026-12-07T09:00:00Z")),
                    },
                ]
            },
            applications: if form_error.is_some() {
                Vec::new()
            } else {
                vec![ApplicationRow {
                    id: text("0190a1b2-0000-7000-8000-000000000000"),
                    name: text("Bookstore"),
                    scope: text("openid profile"),
                }]
            },
        }));
        views.push(View::ForgotPassword {
            csrf: csrf(),
            form_error: form_error.clone(),
            email_error: form_error.clone(),
        });
        for token in [None, Some(text("a-link-token"))] {
            views.push(View::EmailVerify {
                token: token.clone(),
                form_error: form_error.clone(),
            });
            views.push(View::PasswordReset {
                token,
                form_error: form_error.clone(),
                new_password_error: form_error.clone(),
            });
        }
    }
    views.extend([
        View::Consent {
            csrf: csrf(),
            client: text("Bookstore"),
            scopes: vec![text("know who you are on this site")],
            request: request(),
        },
        View::SignOut {
            csrf: csrf(),
            request: request(),
        },
        View::SignOut {
            csrf: csrf(),
            request: Vec::new(),
        },
        View::SignedOut {},
        View::Error {
            message: text("Something went wrong on our side. Try again later."),
        },
        View::EmailVerified {
            email: text("ada@example.com"),
        },
        View::PasswordChanged {},
        View::CheckYourMail {},
        View::ConfirmYourAddress {},
    ]);
    views
}
