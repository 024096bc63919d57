//! Finding 11: Portcullis is reached over TLS. The fake serves HTTPS with a
//! certificate made at test time; the verifier trusts it only when told to,
//! and refuses plain HTTP to any host that is not loopback unless the
//! developer opts in by name.

use portcullis_verify::{ConfigError, Verifier, VerifyError};

use crate::fake::{
    FakePortcullis, INTROSPECTION_CREDENTIAL, ISSUER, PAT_ADA, Signer, active_personal_token,
};

#[tokio::test]
async fn tokens_are_verified_over_https_with_an_added_root_certificate() {
    let signer = Signer::new();
    let (fake, certificate) = FakePortcullis::start_tls(&[&signer]).await;
    assert!(fake.base.starts_with("https://127.0.0.1:"), "{}", fake.base);
    let user_id = uuid::Uuid::now_v7().to_string();
    fake.answer(
        PAT_ADA.as_str(),
        active_personal_token(&user_id, "books:read"),
    );
    let verifier = fake.builder().add_root_certificate(certificate).build();

    let (token, token_user) = signer.token(&[]);
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, token_user);
    assert_eq!(
        verifier.verify(PAT_ADA.as_str()).await.unwrap().user_id,
        user_id
    );
    assert_eq!(fake.jwks_hits(), 1);
    assert_eq!(fake.introspection_hits(), 1);
    assert!(fake.tls_handshakes() >= 1);
}

#[tokio::test]
async fn an_untrusted_certificate_is_unavailable_never_a_pass() {
    let signer = Signer::new();
    let (fake, _) = FakePortcullis::start_tls(&[&signer]).await;
    let verifier = Verifier::builder(&fake.base)
        .issuer(ISSUER)
        .introspection(INTROSPECTION_CREDENTIAL)
        .build();
    let (token, _) = signer.token(&[]);
    let outcome = verifier.verify(&token).await;
    assert!(
        outcome.as_ref().is_err_and(VerifyError::is_unavailable),
        "{outcome:?}"
    );
    let VerifyError::Unavailable(reason) = outcome.unwrap_err() else {
        unreachable!()
    };
    assert!(reason.contains("certificate"), "{reason}");
    assert!(fake.tls_handshakes() >= 1, "TLS was attempted");
    assert_eq!(fake.jwks_hits(), 0, "nothing was served");
}

#[test]
fn plain_http_is_refused_unless_the_host_is_loopback_or_the_developer_opts_in() {
    #[track_caller]
    fn check(base_url: &str, allow_plain_http: bool, accepted: bool) {
        let mut builder = Verifier::builder(base_url);
        if allow_plain_http {
            builder = builder.danger_allow_plain_http_to_any_host();
        }
        let outcome = builder.try_build();
        assert_eq!(outcome.is_ok(), accepted, "{base_url}: {outcome:?}");
        if !accepted && !allow_plain_http && base_url.starts_with("http://") {
            assert!(
                matches!(outcome, Err(ConfigError::PlainHttpToRemoteHost { .. })),
                "{base_url}: {outcome:?}"
            );
        }
    }
    check("https://auth.example.com", false, true);
    check("https://auth.example.com/portcullis/", false, true);
    check("https://10.0.0.7:8443", false, true);
    check("http://localhost:8080", false, true);
    check("http://LOCALHOST.:8080/", false, true);
    check("http://127.0.0.1:8080", false, true);
    check("http://127.8.9.10", false, true);
    check("http://[::1]:8080", false, true);
    check("http://[::ffff:127.0.0.1]:8080", false, true);
    check("http://auth.example.com", false, false);
    check("http://10.0.0.7:8080", false, false);
    check("http://localhost.example.com", false, false);
    check("http://127.0.0.1.example.com", false, false);
    check("http://auth.example.com", true, true);
    check("ftp://auth.example.com", false, false);
    check("ftp://auth.example.com", true, false);
    check("https://auth.example.com/?next=/", false, false);
    check("auth.example.com", false, false);
    check("", false, false);
}
