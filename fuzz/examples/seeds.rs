//! Writes the seed corpus, `corpus/<target>/<name>`, from the fixtures in
//! `src/lib.rs`: valid tokens and bodies, and the edge cases each target's
//! properties are about. Deterministic, so a re-run rewrites the same bytes;
//! files it does not name (reproducers of findings, inputs the fuzzer found
//! and someone chose to keep) are left alone.
//!
//! Run from `fuzz/`: `cargo run --example seeds`.

use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis_fuzz::{
    AUDIENCE, ISSUER, LIFETIME_SECONDS, NOW, encode_personal_token, refresh_fixture, sign_with,
    token_fixture,
};
use serde_json::json;

fn main() -> std::io::Result<()> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, seeds) in [
        ("access_token", access_token()),
        ("access_token_forged", access_token_forged()),
        ("refresh_token", refresh_token()),
        ("personal_token", personal_token()),
        ("json_body", json_body()),
        ("token_body", token_body()),
        ("authorization_header", authorization_header()),
        ("email", email()),
        ("password", password()),
    ] {
        let folder = corpus.join(target);
        fs::create_dir_all(&folder)?;
        for (name, bytes) in &seeds {
            fs::write(folder.join(name), bytes)?;
        }
        println!("{target}: {} seeds", seeds.len());
    }
    Ok(())
}

type Seeds = Vec<(&'static str, Vec<u8>)>;

fn header(alg: &str, typ: &str, kid: &str) -> serde_json::Value {
    json!({"typ": typ, "alg": alg, "kid": kid})
}

fn claims() -> serde_json::Value {
    json!({
        "iss": ISSUER,
        "sub": "01900000-0000-7000-8000-000000000001",
        "aud": AUDIENCE,
        "exp": NOW + LIFETIME_SECONDS - 60,
        "iat": NOW - 60,
        "jti": "01900000-0000-7000-8000-0000000000aa",
        "sid": "01900000-0000-7000-8000-000000000002",
        "roles": ["admin"],
        "scope": "users:read users:write",
    })
}

fn with(mut value: serde_json::Value, key: &str, new: serde_json::Value) -> serde_json::Value {
    value[key] = new;
    value
}

fn bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON serialises")
}

/// A token signed by the ring over this header and these claims.
fn signed(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    token_fixture().sign(&bytes(header), &bytes(claims))
}

fn genuine_header() -> serde_json::Value {
    header("EdDSA", "at+jwt", &token_fixture().kid)
}

fn access_token() -> Seeds {
    let fixture = token_fixture();
    let genuine = signed(&genuine_header(), &claims());
    let parts: Vec<&str> = genuine.split('.').collect();
    let reheaded = |header: serde_json::Value| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(bytes(&header)),
            parts[1],
            parts[2]
        )
    };
    let expired = with(claims(), "exp", json!(NOW - 2));
    vec![
        ("genuine", genuine.clone().into_bytes()),
        (
            "genuine-media-type",
            signed(
                &header("EdDSA", "application/at+jwt", &fixture.kid),
                &claims(),
            )
            .into_bytes(),
        ),
        ("expired", signed(&genuine_header(), &expired).into_bytes()),
        (
            "alg-none-unsigned",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(bytes(&header("none", "at+jwt", &fixture.kid))),
                parts[1]
            )
            .into_bytes(),
        ),
        (
            "alg-hs256-reheaded",
            reheaded(header("HS256", "at+jwt", &fixture.kid)).into_bytes(),
        ),
        (
            "typ-jwt-reheaded",
            reheaded(header("EdDSA", "JWT", &fixture.kid)).into_bytes(),
        ),
        (
            "stranger-signed",
            sign_with(
                &fixture.stranger_key,
                &bytes(&genuine_header()),
                &bytes(&claims()),
            )
            .into_bytes(),
        ),
        ("signature-padded", format!("{genuine}==").into_bytes()),
        ("four-parts", format!("{genuine}.AAAA").into_bytes()),
        ("not-a-jwt", b"not.a.jwt".to_vec()),
        ("empty", Vec::new()),
    ]
}

fn access_token_forged() -> Seeds {
    let kid = token_fixture().kid.clone();
    let line = |header: serde_json::Value, claims: serde_json::Value| {
        let mut seed = bytes(&header);
        seed.push(b'\n');
        seed.extend(bytes(&claims));
        seed
    };
    vec![
        ("genuine", line(genuine_header(), claims())),
        (
            "typ-uppercase",
            line(header("EdDSA", "AT+JWT", &kid), claims()),
        ),
        ("alg-none", line(header("none", "at+jwt", &kid), claims())),
        ("alg-hs256", line(header("HS256", "at+jwt", &kid), claims())),
        (
            "alg-lowercase",
            line(header("eddsa", "at+jwt", &kid), claims()),
        ),
        (
            "alg-ed25519",
            line(header("Ed25519", "at+jwt", &kid), claims()),
        ),
        ("typ-jwt", line(header("EdDSA", "JWT", &kid), claims())),
        (
            "no-kid",
            line(json!({"typ": "at+jwt", "alg": "EdDSA"}), claims()),
        ),
        (
            "embedded-jwk",
            line(
                json!({"typ": "at+jwt", "alg": "EdDSA", "kid": kid,
                       "jwk": {"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([1u8; 32])}}),
                claims(),
            ),
        ),
        (
            "expired",
            line(genuine_header(), with(claims(), "exp", json!(NOW - 2))),
        ),
        (
            "not-yet-valid",
            line(genuine_header(), with(claims(), "nbf", json!(NOW + 60))),
        ),
        (
            "other-issuer",
            line(
                genuine_header(),
                with(claims(), "iss", json!("https://evil.test")),
            ),
        ),
        (
            "audience-array",
            line(genuine_header(), with(claims(), "aud", json!([AUDIENCE]))),
        ),
        (
            "lives-too-long",
            line(
                genuine_header(),
                with(claims(), "exp", json!(NOW + 24 * 3600)),
            ),
        ),
        (
            "exp-as-string",
            line(
                genuine_header(),
                with(claims(), "exp", json!("99999999999")),
            ),
        ),
        (
            "exp-huge",
            line(genuine_header(), with(claims(), "exp", json!(i64::MAX))),
        ),
        (
            "iat-most-negative",
            line(genuine_header(), with(claims(), "iat", json!(i64::MIN))),
        ),
        ("no-payload", bytes(&genuine_header())),
    ]
}

fn refresh_token() -> Seeds {
    let fixture = refresh_fixture();
    let token = |generation: usize| fixture.chain[generation].encode().into_bytes();
    let mut forged = fixture.chain[5].clone();
    forged.generation = 6;
    let mut far = fixture.chain[0].clone();
    far.generation = u64::MAX;
    let genuine = fixture.chain[1].encode();
    let mut trailing_bits = genuine.clone().into_bytes();
    // The last character carries 2 unused bits; setting one is a different string, same bytes.
    let last = trailing_bits.len() - 1;
    trailing_bits[last] = match trailing_bits[last] {
        b'A' => b'B',
        other => other ^ 1,
    };
    vec![
        ("generation-0", token(0)),
        ("generation-1", token(1)),
        ("generation-2", token(2)),
        ("generation-1000", token(1000)),
        ("generation-1099", token(1099)),
        ("forged-generation", forged.encode().into_bytes()),
        ("generation-max", far.encode().into_bytes()),
        ("trailing-bits", trailing_bits),
        ("padded", format!("{genuine}=").into_bytes()),
        ("too-short", genuine.as_bytes()[1..].to_vec()),
        ("not-base64url", "!".repeat(75).into_bytes()),
        ("empty", Vec::new()),
    ]
}

fn personal_token() -> Seeds {
    let valid = encode_personal_token(&[0x11; 16], &[0x22; 32]);
    let mut typo = valid.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    vec![
        ("valid", valid.clone().into_bytes()),
        ("typo", typo),
        (
            "uppercase-prefix",
            valid.replacen("pat_", "PAT_", 1).into_bytes(),
        ),
        ("truncated", valid.as_bytes()[..valid.len() - 1].to_vec()),
        ("prefix-only", b"pat_".to_vec()),
        ("empty", Vec::new()),
    ]
}

fn json_body() -> Seeds {
    let seed = |content_type: &str, body: &str| format!("{content_type}\n{body}").into_bytes();
    vec![
        (
            "sign-up",
            seed(
                "application/json",
                r#"{"email":"ada@example.com","password":"correct horse battery","name":"Ada"}"#,
            ),
        ),
        (
            "update-me-null-name",
            seed("application/json", r#"{"name":null}"#),
        ),
        (
            "change-password",
            seed(
                "application/json; charset=utf-8",
                r#"{"current_password":"a","new_password":"b"}"#,
            ),
        ),
        (
            "admin-change",
            seed(
                "application/merge-patch+json",
                r#"{"roles":["admin"],"disabled":true}"#,
            ),
        ),
        (
            "put-role",
            seed("APPLICATION/JSON", r#"{"permissions":["books:read"]}"#),
        ),
        (
            "new-personal-token",
            seed(
                "application/json",
                r#"{"name":"ci","scopes":["books:read"],"expires_in_days":4294967296}"#,
            ),
        ),
        (
            "unknown-field",
            seed(
                "application/json",
                r#"{"email":"a@b.io","password":"x","roles":["admin"]}"#,
            ),
        ),
        (
            "duplicate-field",
            seed(
                "application/json",
                r#"{"email":"a@b.io","email":"c@d.io","password":"x"}"#,
            ),
        ),
        (
            "array-by-position",
            seed(
                "application/json",
                r#"["a@b.io","correct horse battery",null]"#,
            ),
        ),
        (
            "lone-surrogate",
            seed("application/json", r#"{"name":"\ud800"}"#),
        ),
        (
            "huge-number",
            seed("application/json", r#"{"expires_in_days":1e400}"#),
        ),
        (
            "deep",
            seed(
                "application/json",
                &format!("{}{}", "[".repeat(200), "]".repeat(200)),
            ),
        ),
        ("trailing-garbage", seed("application/json", "{} {}")),
        ("byte-order-mark", seed("application/json", "\u{feff}{}")),
        ("text-plain", seed("text/plain", r#"{"name":"x"}"#)),
        ("no-content-type", br#"{"name":"x"}"#.to_vec()),
    ]
}

fn token_body() -> Seeds {
    let seed = |content_type: &str, body: &str| format!("{content_type}\n{body}").into_bytes();
    const FORM: &str = "application/x-www-form-urlencoded";
    vec![
        (
            "form-password-grant",
            seed(
                FORM,
                "grant_type=password&username=ada%40example.com&password=correct+horse+battery",
            ),
        ),
        (
            "form-refresh-grant",
            seed(
                FORM,
                "grant_type=refresh_token&refresh_token=abc&scope=a%3Ab+c%3Ad",
            ),
        ),
        (
            "form-repeated",
            seed(FORM, "grant_type=password&grant_type=refresh_token"),
        ),
        ("form-encoded-repeat", seed(FORM, "token=a&%74oken=b")),
        ("form-bad-escape", seed(FORM, "token=%zz&x=%+1")),
        (
            "form-charset",
            seed(
                "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                "token=a",
            ),
        ),
        (
            "json-password-grant",
            seed(
                "application/json",
                r#"{"grant_type":"password","username":"a@b.io","password":"x"}"#,
            ),
        ),
        ("json-number", seed("application/json", r#"{"token":5}"#)),
        (
            "json-array",
            seed(
                "application/json",
                r#"["password","a@b.io",null,"x",null,null]"#,
            ),
        ),
        ("json-single-array", seed("application/json", r#"["abc"]"#)),
        ("text-plain", seed("text/plain", "token=a")),
        ("empty-content-type-with-body", seed("", "token=a")),
        ("empty", Vec::new()),
    ]
}

fn authorization_header() -> Seeds {
    let genuine = signed(&genuine_header(), &claims());
    vec![
        ("bearer", format!("Bearer {genuine}").into_bytes()),
        ("bearer-any-case", b"bEaReR   abc ".to_vec()),
        ("bearer-alone", b"Bearer".to_vec()),
        ("bare-token", genuine.into_bytes()),
        ("bearer-tab", b"Bearer\tabc".to_vec()),
        (
            "basic",
            format!("Basic {}", STANDARD.encode("ada@example.com:pa:ss")).into_bytes(),
        ),
        (
            "basic-no-colon",
            format!("Basic {}", STANDARD.encode("ada")).into_bytes(),
        ),
        ("basic-unpadded", b"Basic dXNlcjpwYXNzdw".to_vec()),
        ("basic-non-canonical", b"Basic dXNlcjpwYXNzdx==".to_vec()),
        (
            "basic-not-utf8",
            format!("Basic {}", STANDARD.encode([0xff, b':', 0xfe])).into_bytes(),
        ),
        ("basic-spaces", b"  basic   dXNlcjpwYXNz  ".to_vec()),
        ("other-scheme", b"Token abc".to_vec()),
        ("obs-text", b"Bearer \xe9t\xe9".to_vec()),
        (
            "personal-token",
            encode_personal_token(&[1; 16], &[2; 32]).into_bytes(),
        ),
        ("empty", Vec::new()),
    ]
}

fn email() -> Seeds {
    let text = |value: &str| value.as_bytes().to_vec();
    vec![
        ("mixed-case", text("  Alice@Example.COM ")),
        ("accented", text("ÉLODIE@exemple.fr")),
        ("decomposed", text("e\u{301}lodie@exemple.fr")),
        ("cjk", text("用户@例子.广告")),
        ("plus-tag", text("a+tag@x.io")),
        ("dotted-capital-i", text("İ@x.io")),
        ("dotted-capital-i-overlay", text("\u{130}\u{338}@x.io")),
        ("final-sigma", text("ΑΣ@ΑΣ.gr")),
        ("kelvin-sign", text("\u{212a}@x.io")),
        ("sharp-s", text("STRASSE\u{1e9e}@x.de")),
        ("ligature", text("ﬃ@x.io")),
        (
            "longest",
            format!("{}@{}.io", "a".repeat(64), "b".repeat(186)).into_bytes(),
        ),
        (
            "too-long",
            format!("{}@{}.io", "a".repeat(64), "b".repeat(187)).into_bytes(),
        ),
        ("nul", text("a\u{0}@x.io")),
        ("two-at", text("a@b@c.io")),
        ("angle", text("<a@x.io>")),
        ("empty", Vec::new()),
    ]
}

fn password() -> Seeds {
    let text = |value: &str| value.as_bytes().to_vec();
    vec![
        ("passphrase", text("correct horse battery")),
        ("too-short", text("short pass")),
        ("common", text("PassWord1")),
        (
            "email-local-part",
            text("alice.smith@example.com\nAlice.Smith"),
        ),
        (
            "email-whole",
            text("alice.smith@example.com\nALICE.SMITH@EXAMPLE.COM"),
        ),
        ("emoji", "🦀".repeat(12).into_bytes()),
        ("ligatures", text("ﬃﬃﬃﬃ")),
        ("nfkc-expands", "\u{fdfa}".repeat(57).into_bytes()),
        ("longest", "x".repeat(1024).into_bytes()),
        ("one-too-long", "x".repeat(1025).into_bytes()),
        ("decomposed", text("cafe\u{301} au lait!")),
        ("empty", Vec::new()),
    ]
}
