//! Integration tests that need a service beside the server: PostgreSQL
//! (several instances on one database; a cluster of the test's own that it
//! stops), nginx in front of an API, Python with PyJWT, Chromium and
//! Node.js for browser sign-in.
//!
//! This binary has its own harness (`libtest-mimic`, which takes libtest's
//! flags and prints the same report) so that a test whose service cannot be
//! found here is reported as **ignored, with the reason**, never as passed.
//! CI sets `PORTCULLIS_REQUIRE_SERVICES=1`, which turns a missing service
//! into a failure.

#[path = "../it/helpers.rs"]
#[expect(
    dead_code,
    reason = "shared with the `it` binary, which uses what these tests do not"
)]
mod helpers;

mod browser;
mod database_outage;
mod harness;
mod multi_instance;
mod nginx;
mod python_jwks;

use std::process::ExitCode;

use harness::{Needs, trial};
use libtest_mimic::Trial;

fn main() -> ExitCode {
    let mut arguments = libtest_mimic::Arguments::from_args();
    // libtest reads `RUST_TEST_THREADS` (`.cargo/config.toml` sets it);
    // libtest-mimic only reads `--test-threads`.
    if arguments.test_threads.is_none() {
        arguments.test_threads = std::env::var("RUST_TEST_THREADS")
            .ok()
            .and_then(|threads| threads.parse().ok());
    }
    // Those that wait longest first.
    let others = vec![
        trial!(Needs::Postgres, multi_instance::a_transaction_left_open_shows_on_the_feeds_held_back_gauge),
        trial!(Needs::PostgresCluster, database_outage::a_lost_database_is_503_with_retry_after_and_the_server_recovers_by_itself),
        trial!(Needs::Postgres, multi_instance::a_logout_on_one_instance_is_refused_by_the_other_within_a_second),
        trial!(Needs::Postgres, multi_instance::a_user_disabled_from_the_command_line_is_refused_by_every_instance_within_a_second),
        trial!(Needs::Postgres, multi_instance::a_rotated_key_is_served_and_accepted_by_every_instance),
        trial!(Needs::Postgres, multi_instance::concurrent_refreshes_spread_over_two_instances_yield_one_successor),
        trial!(Needs::Postgres, multi_instance::failed_logins_count_across_instances),
        trial!(Needs::Postgres, multi_instance::concurrent_guesses_over_two_instances_get_only_the_free_attempts),
        trial!(Needs::Postgres, multi_instance::a_user_deleted_on_one_instance_is_refused_by_the_other_within_a_second),
        trial!(Needs::Postgres, multi_instance::account_and_role_changes_on_one_instance_show_in_me_on_the_other_within_a_second),
        trial!(Needs::Postgres, multi_instance::a_personal_token_deleted_on_one_instance_is_refused_by_every_instance_within_a_second),
        trial!(Needs::Postgres, multi_instance::a_personal_token_deleted_in_sql_or_of_a_disabled_owner_is_refused_by_every_instance_within_a_second),
        trial!(Needs::Nginx, nginx::requests_without_a_valid_token_never_reach_the_api),
        trial!(Needs::Nginx, nginx::the_api_gets_the_real_identity_and_never_a_forged_one),
        trial!(Needs::Nginx, nginx::downloads_need_books_download),
        trial!(Needs::Nginx, nginx::nginx_fails_closed_when_portcullis_is_down),
        trial!(Needs::Python, python_jwks::pyjwt_accepts_a_real_access_token_of_each_algorithm),
        trial!(Needs::Python, python_jwks::pyjwt_refuses_tampered_foreign_and_misaddressed_tokens),
    ];
    // Trials start in this order: a browser scenario (they compute, Chromium
    // most of all; the longest first), then one of the others (they mostly
    // wait, on timers and on other processes), and so on, so that the cores
    // stay busy and no long trial is left running alone at the end.
    libtest_mimic::run(&arguments, alternate(browser::trials(), others)).exit_code()
}

/// One of `first`, one of `second`, and so on; the rest of the longer at the end.
fn alternate(first: Vec<Trial>, second: Vec<Trial>) -> Vec<Trial> {
    let (mut first, mut second) = (first.into_iter(), second.into_iter());
    let mut all = Vec::new();
    loop {
        match (first.next(), second.next()) {
            (None, None) => return all,
            (one, other) => all.extend(one.into_iter().chain(other)),
        }
    }
}
