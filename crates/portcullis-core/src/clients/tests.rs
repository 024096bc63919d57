use proptest::prelude::*;

use super::*;

fn client(redirect_uris: &[&str]) -> Client {
    Client {
        client_id: Uuid::now_v7(),
        name: "Bookstore".into(),
        redirect_uris: redirect_uris.iter().map(|uri| (*uri).to_owned()).collect(),
        post_logout_redirect_uris: vec!["https://app.example/bye".into()],
        kind: ClientKind::Public,
        first_party: false,
        allowed_scopes: vec!["books:download".into()],
        id_token_signed_response_alg: DEFAULT_ID_TOKEN_ALGORITHM.into(),
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[test]
fn redirect_uris_that_may_be_registered() {
    for accepted in [
        "https://app.example/callback",
        "https://app.example",
        "https://app.example:8443/cb?tenant=a&x=%2F",
        "https://Mixed.Case.example/cb",
        "https://[2001:db8::1]/cb",
        "https://192.0.2.7/cb",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]:51004/",
        "http://localhost:3000/callback",
        "http://127.0.0.1",
        "com.example.app:/oauth2redirect/example-provider",
        "com.example.app://callback",
        "app.example.native:/cb",
    ] {
        assert_eq!(
            RedirectUri::parse(accepted).map(RedirectUri::into_string),
            Ok(accepted.to_owned()),
            "{accepted}"
        );
    }
}

#[test]
fn redirect_uris_that_are_refused_and_why() {
    #[track_caller]
    fn check(input: &str, reason: &str) {
        let refused = RedirectUri::parse(input).expect_err(input).to_string();
        assert!(refused.contains(reason), "{input}: {refused}");
    }
    check("", "empty");
    check(
        &format!("https://a.example/{}", "a".repeat(2000)),
        "at most 2000",
    );
    check("https://app.example/cb#done", "fragment");
    check("https://app.example/cb#", "fragment");
    check("/callback", "absolute");
    check("app.example/callback", "absolute");
    check("//app.example/cb", "absolute");
    check("1https://app.example/cb", "absolute");
    check("HTTPS://app.example/cb", "lower case");
    check("https://user@app.example/cb", "user information");
    check("https://user:pass@app.example/cb", "user information");
    check("http://127.0.0.1@evil.example/cb", "user information");
    check("https:///cb", "host");
    check("https:app.example/cb", "host");
    check("http://app.example/cb", "loopback");
    check("http://127.0.0.1.evil.example/cb", "loopback");
    check("http://localhost.evil.example/cb", "loopback");
    check("http://[::2]/cb", "loopback");
    check("http://127.0.0.2/cb", "loopback");
    check("https://app.example:/cb", "host or port");
    check("https://app.example:0/cb", "host or port");
    check("https://app.example:65536/cb", "host or port");
    check("https://app.example:080/cb", "host or port");
    check("https://app.example:+80/cb", "host or port");
    check("https://[::1/cb", "host or port");
    check("https://[zz::1]/cb", "host or port");
    check("https://a[b]/cb", "host or port");
    check("javascript:alert(1)", "private-use");
    check("data:text/html,hi", "private-use");
    check("file:///etc/passwd", "private-use");
    check("myapp://callback", "private-use");
    check("https://app.example/a b", "characters of a URI");
    check("https://app.example/\u{e9}", "characters of a URI");
    check("https://app.example/cb\n", "characters of a URI");
    check("https://app.example/cb\0", "characters of a URI");
    check("https://app.example/<script>", "characters of a URI");
    check("https://app.example/%zz", "%");
    check("https://app.example/%4", "%");
}

#[test]
fn a_registered_redirect_uri_matches_only_itself() {
    let registered = client(&[
        "https://app.example/cb",
        "https://app.example/cb?tenant=a",
        "com.example.app:/cb",
    ]);
    for presented in [
        "https://app.example/cb",
        "https://app.example/cb?tenant=a",
        "com.example.app:/cb",
    ] {
        assert!(registered.redirect_uri_matches(presented), "{presented}");
    }
    for presented in [
        "https://app.example/cb/",
        "https://app.example/cb?",
        "https://app.example/cb?tenant=b",
        "https://app.example/cb?tenant=a&x=1",
        "https://app.example/cb#x",
        "https://APP.example/cb",
        "HTTPS://app.example/cb",
        "https://app.example:443/cb",
        "https://app.example/%63b",
        "https://app.example/CB",
        "https://app.example/cb/../cb",
        "http://app.example/cb",
        "https://app.example.evil.example/cb",
        "https://evil.example/https://app.example/cb",
        "https://app.example@evil.example/cb",
        " https://app.example/cb",
        "com.example.app:/cb/",
        "",
    ] {
        assert!(!registered.redirect_uri_matches(presented), "{presented}");
    }
}

#[test]
fn a_loopback_ip_literal_matches_on_any_port_and_nothing_else() {
    let registered = client(&[
        "http://127.0.0.1/cb",
        "http://[::1]:8080/cb?x=1",
        "http://localhost:3000/cb",
    ]);
    for presented in [
        "http://127.0.0.1/cb",
        "http://127.0.0.1:1/cb",
        "http://127.0.0.1:51234/cb",
        "http://127.0.0.1:65535/cb",
        "http://[::1]/cb?x=1",
        "http://[::1]:8080/cb?x=1",
        "http://[::1]:9/cb?x=1",
        "http://localhost:3000/cb",
    ] {
        assert!(registered.redirect_uri_matches(presented), "{presented}");
    }
    for presented in [
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:65536/cb",
        "http://127.0.0.1:080/cb",
        "http://127.0.0.1:/cb",
        "http://127.0.0.1:+80/cb",
        "http://127.0.0.1:80x/cb",
        "http://127.0.0.1.evil.example/cb",
        "http://127.0.0.1.evil.example:80/cb",
        "http://127.0.0.1@evil.example/cb",
        "http://127.0.0.1:80@evil.example/cb",
        "http://127.0.0.1:8080/cb/",
        "http://127.0.0.1:8080/cb?",
        "http://127.0.0.1:8080/cb#x",
        "http://127.0.0.1:8080/CB",
        "https://127.0.0.1:8080/cb",
        "http://127.0.0.2:8080/cb",
        "http://[::1]:8080/cb",
        "http://[::1]:8080/cb?x=2",
        "http://127.0.0.1:8080/cb?x=1",
        "http://[0:0:0:0:0:0:0:1]:8080/cb?x=1",
        "http://localhost:3001/cb",
        "http://localhost/cb",
    ] {
        assert!(!registered.redirect_uri_matches(presented), "{presented}");
    }
}

#[test]
fn post_logout_redirect_uris_match_exactly() {
    let mut registered = client(&["https://app.example/cb"]);
    registered.post_logout_redirect_uris = vec![
        "https://app.example/bye".into(),
        "http://127.0.0.1:8080/bye".into(),
    ];
    assert!(registered.post_logout_redirect_uri_matches("https://app.example/bye"));
    assert!(registered.post_logout_redirect_uri_matches("http://127.0.0.1:8080/bye"));
    for presented in [
        "http://127.0.0.1:8081/bye",
        "https://app.example/bye/",
        "https://app.example/cb",
        "https://app.example/bye?x",
    ] {
        assert!(
            !registered.post_logout_redirect_uri_matches(presented),
            "{presented}"
        );
    }
}

#[test]
fn openid_scopes_and_allowed_permissions_may_be_requested() {
    let registered = client(&["https://app.example/cb"]);
    for scope in OPENID_SCOPES.into_iter().chain(["books:download"]) {
        assert!(registered.may_request(scope), "{scope}");
    }
    for scope in ["admin:users", "books:download2", "", "OPENID"] {
        assert!(!registered.may_request(scope), "{scope}");
    }
}

#[test]
fn kinds_round_trip_through_their_names() {
    for kind in [ClientKind::Public, ClientKind::Confidential] {
        assert_eq!(ClientKind::from_stored(kind.as_str()), Some(kind));
    }
    assert_eq!(ClientKind::from_stored("Public"), None);
}

#[test]
fn only_the_canonical_form_is_a_client_id() {
    let id = Uuid::now_v7();
    assert_eq!(parse_client_id(&id.to_string()), Some(id));
    for other in [
        id.simple().to_string(),
        id.braced().to_string(),
        id.urn().to_string(),
        id.to_string().to_uppercase(),
        format!(" {id}"),
        "not-a-uuid".to_owned(),
        String::new(),
    ] {
        assert_eq!(parse_client_id(&other), None, "{other}");
    }
}

#[test]
fn secrets_are_prefixed_random_and_hashed() {
    let (secret, hash) = new_client_secret();
    let text = secret.expose_secret();
    assert!(text.starts_with(CLIENT_SECRET_PREFIX), "{text}");
    assert_eq!(text.len(), CLIENT_SECRET_PREFIX.len() + 43);
    assert!(hash.matches(&ClientSecretHash::of(&secret)));
    let (other, other_hash) = new_client_secret();
    assert_ne!(other.expose_secret(), text);
    assert!(!hash.matches(&other_hash));
    assert!(
        !hash.matches(&ClientSecretHash::of(&SecretString::from(format!(
            "{text} "
        ))))
    );
    assert_eq!(format!("{hash:?}"), "ClientSecretHash([redacted])");
}

/// An authority of a URI that may be registered: a name, an IP literal or
/// a loopback host, with or without a port.
fn authority() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){1,2}",
            Just("127.0.0.1".to_owned()),
            Just("[::1]".to_owned()),
            Just("localhost".to_owned()),
        ],
        proptest::option::of(1u16..=u16::MAX),
    )
        .prop_map(|(host, port)| match port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        })
}

/// A redirect URI that may be registered.
fn registrable() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("https"), Just("http"), Just("com.example.app")],
        authority(),
        "(/[a-zA-Z0-9._~-]{0,8}){0,3}",
        proptest::option::of("[a-z0-9=&]{0,8}"),
    )
        .prop_map(|(scheme, authority, path, query)| {
            let query = query.map(|query| format!("?{query}")).unwrap_or_default();
            format!("{scheme}://{authority}{path}{query}")
        })
        .prop_filter("registrable", |uri| RedirectUri::parse(uri).is_ok())
}

/// What `uri` leads to: its scheme and host, the port set aside.
fn destination(uri: &str) -> (String, String) {
    let (scheme, rest) = uri.split_once(':').expect("a scheme");
    let authority = rest
        .strip_prefix("//")
        .map(|after| after.split(['/', '?']).next().unwrap_or_default())
        .unwrap_or_default();
    (
        scheme.to_owned(),
        host_of(authority).unwrap_or_default().to_owned(),
    )
}

proptest! {
    #[test]
    fn every_registered_uri_matches_itself(uris in proptest::collection::vec(registrable(), 1..4)) {
        let registered = client(&uris.iter().map(String::as_str).collect::<Vec<_>>());
        for uri in &uris {
            prop_assert!(registered.redirect_uri_matches(uri), "{}", uri);
        }
    }

    /// Whatever is presented, a match is a registrable URI with the scheme
    /// and host of a registered one, and differs from it at most in the
    /// port of a loopback IP literal.
    #[test]
    fn a_match_goes_where_a_registered_uri_goes(
        registered_uri in registrable(),
        presented in prop_oneof![
            registrable(),
            "\\PC{0,40}",
            "http://(127\\.0\\.0\\.1|\\[::1\\])[:@.a-z0-9/?#]{0,12}",
        ],
    ) {
        let registered = client(&[registered_uri.as_str()]);
        if registered.redirect_uri_matches(&presented) {
            prop_assert!(RedirectUri::parse(&presented).is_ok(), "{}", presented);
            prop_assert_eq!(destination(&presented), destination(&registered_uri));
            if presented != registered_uri {
                let loopback = loopback_ip_parts(&registered_uri);
                prop_assert!(loopback.is_some(), "{} for {}", presented, registered_uri);
                prop_assert_eq!(loopback_ip_parts(&presented), loopback);
            }
        }
    }

    #[test]
    fn a_loopback_ip_literal_matches_on_every_port(
        origin in prop_oneof![Just("http://127.0.0.1"), Just("http://[::1]")],
        registered_port in proptest::option::of(1u16..=u16::MAX),
        presented_port in proptest::option::of(1u16..=u16::MAX),
        rest in "(/[a-z0-9]{0,6}){0,2}(\\?[a-z=]{0,6})?",
    ) {
        let with_port = |port: Option<u16>| match port {
            Some(port) => format!("{origin}:{port}{rest}"),
            None => format!("{origin}{rest}"),
        };
        let registered = client(&[with_port(registered_port).as_str()]);
        prop_assert!(registered.redirect_uri_matches(&with_port(presented_port)));
        let with_slash = format!("{}/", with_port(presented_port));
        prop_assert!(!registered.redirect_uri_matches(&with_slash), "{}", with_slash);
    }

    #[test]
    fn a_changed_character_of_a_name_host_uri_never_matches(
        uri in registrable().prop_filter("not a loopback IP literal", |uri| loopback_ip_parts(uri).is_none()),
        at in any::<proptest::sample::Index>(),
        replacement in "[ -~]",
    ) {
        let index = at.index(uri.len());
        let mut changed = uri.clone();
        changed.replace_range(index..=index, &replacement);
        prop_assume!(changed != uri);
        prop_assert!(!client(&[uri.as_str()]).redirect_uri_matches(&changed), "{}", changed);
    }
}
