//! Wall time of one Argon2id password hash and one verification at the
//! default settings (m = 19456 KiB, t = 2, p = 1), through [`PasswordHasher`]
//! as the server calls it from a Tokio runtime: queued to one of its hashing
//! threads (which reuse their Argon2 memory), awaited until the answer comes.
//!
//! - `password_hash/hash`: what sign-up and a password change pay (a fresh
//!   salt, then the hash).
//! - `password_hash/verify_match`: what a successful login pays (parsing the
//!   stored PHC string, then hashing again with its parameters). A login for
//!   an unknown email costs the same, against the dummy hash.
//!
//! - `password_hash_on_every_core/verify_match`: as many verifications at
//!   once as there are cores, on as many hashing threads, timed until the
//!   last one answers: the time one core takes per login when every core
//!   hashes, as during a login storm.
//!
//! The first two run one hash at a time: the cost per core when nothing else
//! runs, which the performance target divides the cores by (the Argon2
//! ceiling). Concurrent hashes (19 MiB each) contend for the last-level
//! cache and memory, so the third shows what all cores hashing at once can
//! really reach. A hash takes tens of milliseconds, so each benchmark takes
//! 10 samples over a few seconds (about 30 s in all). `cargo bench` builds with the `bench` profile, which
//! inherits `release`; an unoptimised Argon2 would be ~15× slower.
//!
//! Run with `cargo bench -p portcullis-core --bench password_hash`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use portcullis_core::Password;
use portcullis_core::hashing::{Argon2Settings, PasswordHasher, Verification};

fn password_hash(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let settings = Argon2Settings::default();
    assert_eq!(
        (
            settings.memory_kib,
            settings.iterations,
            settings.parallelism
        ),
        (19_456, 2, 1),
        "the documented defaults changed; update this benchmark's description"
    );
    // One hashing thread: the benchmark measures one hash, not a pool's throughput.
    let hasher = PasswordHasher::new(settings, 1).expect("valid default settings");
    let password = Password::normalise("correct horse battery staple");
    let stored = runtime
        .block_on(hasher.hash(&password))
        .expect("hashing works");
    assert_eq!(
        runtime
            .block_on(hasher.verify(&password, Some(&stored)))
            .expect("verifying works"),
        Verification::Match
    );

    let mut group = c.benchmark_group("password_hash");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(7));
    group.bench_function("hash", |b| {
        b.to_async(&runtime).iter(|| async {
            hasher
                .hash(black_box(&password))
                .await
                .expect("hashing works")
        });
    });
    group.bench_function("verify_match", |b| {
        b.to_async(&runtime).iter(|| async {
            hasher
                .verify(black_box(&password), Some(black_box(&stored)))
                .await
                .expect("verifying works")
        });
    });
    group.finish();

    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let every_core = PasswordHasher::new(settings, cores).expect("valid default settings");
    let mut group = c.benchmark_group("password_hash_on_every_core");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(7));
    group.bench_function("verify_match", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut verifications = tokio::task::JoinSet::new();
            for _ in 0..cores {
                let (hasher, password, stored) =
                    (every_core.clone(), password.clone(), stored.clone());
                verifications.spawn(async move {
                    hasher
                        .verify(black_box(&password), Some(black_box(&stored)))
                        .await
                        .expect("verifying works")
                });
            }
            verifications.join_all().await
        });
    });
    group.finish();
}

criterion_group!(benches, password_hash);
criterion_main!(benches);
