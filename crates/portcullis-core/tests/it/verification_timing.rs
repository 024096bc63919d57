//! A wrong password takes as long as an unknown email whatever the scheme of
//! the account's hash, measured on the hasher itself: medians of 30 checks
//! each, interleaved, within 20 % of each other.

use std::time::{Duration, Instant};

use portcullis_core::Password;
use portcullis_core::hashing::{PasswordHashString, PasswordHasher, Verification};

use crate::fixtures::{case, cheap_argon2, heavy_hashing};

const SAMPLES: usize = 30;

async fn timed(hasher: &PasswordHasher, stored: Option<&PasswordHashString>) -> Duration {
    let wrong = Password::normalise("not the password of anyone here");
    let started = Instant::now();
    let outcome = hasher.verify(&wrong, stored).await.unwrap();
    let took = started.elapsed();
    assert_eq!(outcome, Verification::Mismatch);
    took
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_costs_an_unknown_email_whatever_the_scheme() {
    let _heavy = heavy_hashing().await;
    // The dummy is a cheap Argon2id (about a millisecond); bcrypt cost 10 and
    // PBKDF2-SHA256 with 29,000 rounds cost far more and differ from each other.
    let hasher = PasswordHasher::new(cheap_argon2(), 1).unwrap();
    let bcrypt = case("pyca-bcrypt-2a-10").stored_string();
    let pbkdf2 = case("passlib-pbkdf2-sha256-default").stored_string();

    // Before the hasher knows of bcrypt, the first check tells it apart: the
    // leak `expect_stored` is there to close (and which shows this test can fail).
    let mut unknown = Vec::new();
    for _ in 0..5 {
        unknown.push(timed(&hasher, None).await);
    }
    let unknown = median(unknown);
    let first_bcrypt = timed(&hasher, Some(&bcrypt)).await;
    assert!(
        first_bcrypt > unknown * 3,
        "bcrypt {first_bcrypt:?} against an unknown email {unknown:?}"
    );

    let floor = hasher.expect_stored([&bcrypt, &pbkdf2]).await.unwrap();
    assert_eq!(floor, hasher.verification_floor());
    // One sample of bcrypt may be slowed by load; the floor is a median.
    assert!(
        floor > unknown * 2,
        "the floor {floor:?} is above the unknown email's {unknown:?}"
    );

    // A second round only when the first is out of bounds, so that a burst of
    // load on a shared machine does not fail the test; a missing floor fails both.
    let mut rounds = Vec::new();
    for _ in 0..2 {
        let (mut unknown, mut bcrypt_wrong, mut pbkdf2_wrong) =
            (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..SAMPLES {
            unknown.push(timed(&hasher, None).await);
            bcrypt_wrong.push(timed(&hasher, Some(&bcrypt)).await);
            pbkdf2_wrong.push(timed(&hasher, Some(&pbkdf2)).await);
        }
        let medians = [median(unknown), median(bcrypt_wrong), median(pbkdf2_wrong)];
        let (fastest, slowest) = (medians.iter().min().unwrap(), medians.iter().max().unwrap());
        eprintln!("floor {floor:?}; medians unknown, bcrypt, PBKDF2: {medians:?}");
        if slowest.as_secs_f64() <= fastest.as_secs_f64() * 1.2 {
            return;
        }
        rounds.push(format!("{medians:?}"));
    }
    panic!("medians of unknown email, bcrypt and PBKDF2 differ by more than 20 %: {rounds:?}");
}
