//! Tests of `crate::config`: the layers (flag, environment, file, default),
//! the refusals and their exit codes, and the one-declaration rule.

use std::process::Stdio;

use portcullis_core::PasswordPolicy;
use time::Duration;

use super::*;

impl Refusal {
    fn message(&self) -> String {
        match self {
            Self::CommandLine(error) => error.to_string(),
            Self::File(error) => format!("{error:#}"),
        }
    }
}

/// The command line with no `PORTCULLIS_*` variable: a test cannot
/// control its own environment, so only `each_layer_wins_over_the_next`
/// (in a child process) tests that layer.
fn without_environment() -> clap::Command {
    Cli::command()
        .mut_args(|argument| argument.env(None))
        .mut_subcommand("serve", |serve| {
            serve.mut_args(|argument| argument.env(None))
        })
}

/// Loads `portcullis [--config FILE] ARGS…`, the file holding `file`.
fn load_ignoring_environment(args: &[&str], file: Option<&str>) -> Result<Config, Refusal> {
    let folder = tempfile::tempdir().unwrap();
    let mut all: Vec<OsString> = vec!["portcullis".into()];
    if let Some(contents) = file {
        let path = folder.path().join("portcullis.toml");
        std::fs::write(&path, contents).unwrap();
        all.extend(["--config".into(), path.into()]);
    }
    all.extend(args.iter().map(OsString::from));
    load_with(without_environment(), &all).map(|(_, config)| config)
}

#[test]
fn flags_win_over_the_file_which_wins_over_defaults() {
    let config = load_ignoring_environment(
        &["serve", "--access-ttl", "2m"],
        Some(
            r#"
            issuer = "https://auth.example.com"
            access_ttl = "5m"
            listen = "0.0.0.0:9000"
            cors_origins = ["https://app.example.com"]
            "#,
        ),
    )
    .unwrap_or_else(|refusal| panic!("{}", refusal.message()));
    assert_eq!(config.auth.issuer, "https://auth.example.com");
    assert_eq!(config.auth.audience, "https://auth.example.com");
    assert_eq!(config.auth.access_token_ttl, Duration::minutes(2));
    assert_eq!(config.auth.refresh_idle_ttl, Duration::days(30));
    assert_eq!(config.listen, "0.0.0.0:9000");
    assert_eq!(config.database, "sqlite://portcullis.db");
    assert_eq!(config.http.cors_origins, ["https://app.example.com"]);
}

#[test]
fn the_declared_defaults_are_the_domain_s() {
    let config = load_ignoring_environment(&["serve"], None)
        .unwrap_or_else(|refusal| panic!("{}", refusal.message()));
    let domain = AuthSettings::with_defaults("http://localhost:8080".to_owned());
    assert_eq!(format!("{:?}", config.auth), format!("{domain:?}"));
    assert_eq!(config.database, "sqlite://portcullis.db");
    assert_eq!(config.listen, "127.0.0.1:8080");
    assert_eq!(
        config.pool,
        PoolSettings {
            max_connections: None,
            acquire_timeout: std::time::Duration::from_secs(5),
            statement_timeout: std::time::Duration::from_secs(5),
        }
    );
    let server = HttpSettings::default();
    assert_eq!(
        format!("{:?}", config.http),
        format!("{server:?}"),
        "the server's own defaults"
    );
    assert!(config.http.cors_origins.is_empty());
    assert!(config.http.trusted_proxies.is_empty());
}

#[test]
fn the_other_commands_read_the_serve_settings_from_the_file() {
    let config = load_ignoring_environment(
        &["user", "list"],
        Some("password_min_length = 10\ndatabase = \"users.db\"\n"),
    )
    .unwrap_or_else(|refusal| panic!("{}", refusal.message()));
    assert_eq!(
        config.auth.password_policy,
        PasswordPolicy::new(10).unwrap()
    );
    assert_eq!(config.database, "users.db");
}

#[test]
fn the_pages_branding_comes_from_the_layers_and_bad_values_are_refused() {
    let config = load_ignoring_environment(
        &["serve", "--product-colour", "#07C"],
        Some(
            r##"
            product_name = "Acme"
            product_logo_url = "https://cdn.example.com/logo.svg"
            product_colour = "#fff"
            page_templates = "/srv/portcullis/pages"
            "##,
        ),
    )
    .unwrap_or_else(|refusal| panic!("{}", refusal.message()));
    assert_eq!(config.pages.product_name, "Acme");
    assert_eq!(config.mail.product_name, "Acme", "one name for both");
    assert_eq!(config.pages.colour.to_string(), "#0077cc");
    let logo = config.pages.logo.expect("a logo");
    assert_eq!(logo.policy_source(), "https://cdn.example.com");
    assert_eq!(
        config.pages.templates_dir.as_deref(),
        Some(std::path::Path::new("/srv/portcullis/pages"))
    );
    let defaults = load_ignoring_environment(&["serve"], None)
        .unwrap_or_else(|refusal| panic!("{}", refusal.message()));
    assert_eq!(
        format!("{:?}", defaults.pages),
        format!("{:?}", PageSettings::default())
    );
    for (args, file, named) in [
        (
            &["serve", "--product-colour", "blue"][..],
            None,
            "--product-colour",
        ),
        (
            &["serve"][..],
            Some("product_colour = \"#12345\""),
            "product_colour",
        ),
        (
            &["serve", "--product-logo-url", "ftp://x/y.png"][..],
            None,
            "--product-logo-url",
        ),
        (
            &["serve"][..],
            Some("product_logo_url = \"logo.png\""),
            "product_logo_url",
        ),
    ] {
        let Err(refusal) = load_ignoring_environment(args, file) else {
            panic!("{args:?} {file:?} accepted");
        };
        assert_eq!(refusal.exit_code(), 1, "{args:?} {file:?}");
        assert!(refusal.message().contains(named), "{}", refusal.message());
    }
}

#[test]
fn refusals() {
    #[track_caller]
    fn check(args: &[&str], file: Option<&str>, exit_code: u8, named: &str) {
        let refusal = match load_ignoring_environment(args, file) {
            Ok(config) => panic!("{args:?} {file:?} accepted: {config:?}"),
            Err(refusal) => refusal,
        };
        let message = refusal.message();
        assert_eq!(
            refusal.exit_code(),
            exit_code,
            "{args:?} {file:?}: {message}"
        );
        assert!(message.contains(named), "{args:?} {file:?}: {message}");
    }
    // A value a rule refuses: 1, as any misconfiguration found at start.
    check(&["serve", "--leeway", "31s"], None, 1, "--leeway");
    check(&["serve", "--access-ttl", "soon"], None, 1, "--access-ttl");
    check(&["serve", "--access-ttl", "0s"], None, 1, "--access-ttl");
    check(
        &["serve", "--refresh-ttl", "300000000000y"],
        None,
        1,
        "--refresh-ttl",
    );
    check(
        &["serve", "--password-min-length", "7"],
        None,
        1,
        "--password-min-length",
    );
    check(
        &["serve", "--password-min-length", "1025"],
        None,
        1,
        "--password-min-length",
    );
    check(
        &["serve", "--hashing-workers", "0"],
        None,
        1,
        "--hashing-workers",
    );
    check(
        &["serve", "--db-max-connections", "0"],
        None,
        1,
        "--db-max-connections",
    );
    for timeout in [
        "--http-header-timeout",
        "--http-body-timeout",
        "--http-idle-timeout",
    ] {
        check(&["serve", timeout, "0s"], None, 1, timeout);
        check(&["serve", timeout, "soon"], None, 1, timeout);
    }
    check(
        &["serve", "--http-max-connections", "0"],
        None,
        1,
        "--http-max-connections",
    );
    check(&["serve", "--cors-origin", "*"], None, 1, "wildcard");
    check(
        &["serve", "--cors-origin", "https://*.example.com"],
        None,
        1,
        "--cors-origin",
    );
    // What clap itself refuses is bad usage: 2.
    check(
        &["serve", "--password-min-length", "twelve"],
        None,
        2,
        "--password-min-length",
    );
    check(&["serve", "--signup", "maybe"], None, 2, "--signup");
    check(&["serve", "--throttle", "maybe"], None, 2, "--throttle");
    check(
        &["serve", "--trusted-proxy", "proxy"],
        None,
        2,
        "--trusted-proxy",
    );
    check(
        &["serve", "--no-such-setting", "1"],
        None,
        2,
        "--no-such-setting",
    );
    // The file: 1, naming the key.
    for (file, named) in [
        ("no_such_setting = 1", "no_such_setting"),
        ("acess_tll = \"4m\"", "acess_tll"),
        ("[serve]\nlisten = \"0.0.0.0:80\"", "serve"),
        ("help = true", "help"),
        ("config = \"other.toml\"", "config"),
        ("leeway = \"31s\"", "leeway"),
        ("access_ttl = 300", "access_ttl"),
        ("access_ttl = [\"5m\"]", "access_ttl"),
        ("signup = \"maybe\"", "signup"),
        ("throttle = \"maybe\"", "throttle"),
        ("password_min_length = 7", "password_min_length"),
        ("cors_origins = \"https://app.example.com\"", "cors_origins"),
        ("cors_origins = [\"*\"]", "cors_origins"),
        ("trusted_proxies = [\"10.0.0.1\", \"proxy\"]", "proxy"),
        ("listen = { host = \"0.0.0.0\" }", "listen"),
        ("listen = ", "portcullis.toml"),
    ] {
        check(&["serve"], Some(file), 1, named);
        check(&["user", "list"], Some(file), 1, named);
    }
    check(
        &["--config", "/no/such/portcullis.toml", "migrate"],
        None,
        1,
        "/no/such",
    );
}

#[test]
fn every_setting_has_its_variable_key_help_and_default_from_one_declaration() {
    let mut command = Cli::command();
    command.build();
    let serve = command.find_subcommand_mut("serve").unwrap();
    for argument in serve
        .get_arguments()
        .filter(|a| a.get_action().takes_values())
    {
        let long = argument
            .get_long()
            .unwrap_or_else(|| panic!("{argument:?}"));
        let variable = format!("PORTCULLIS_{}", long.to_uppercase().replace('-', "_"));
        assert_eq!(
            argument.get_env().and_then(|name| name.to_str()),
            Some(variable.as_str()),
            "--{long}"
        );
        // The file's key is the field's name: the flag with underscores,
        // or its plural for a repeatable setting.
        let key = argument.get_id().as_str();
        let flag_as_key = long.replace('-', "_");
        let singular = key
            .strip_suffix("ies")
            .map(|stem| format!("{stem}y"))
            .or_else(|| key.strip_suffix('s').map(str::to_owned));
        let repeatable = matches!(argument.get_action(), ArgAction::Append);
        assert!(
            key == flag_as_key || (repeatable && singular == Some(flag_as_key)),
            "--{long} is `{key}` in the file"
        );
        let help = argument
            .get_help()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(!help.is_empty(), "--{long} has no help");
        assert!(
            !help.contains("default:"),
            "--{long} writes its default by hand: {help}"
        );
    }
    let help = serve.render_long_help().to_string();
    for default in [
        "15m", "30d", "90d", "10s", "1s", "open", "12", "19456", "true", "1h", "30s", "60s",
    ] {
        assert!(
            help.contains(&format!("[default: {default}]")),
            "{default}: {help}"
        );
    }
}

/// The environment variable that tells `child` what to load.
const CHILD_ARGS: &str = "PORTCULLIS_CONFIG_TEST_CHILD_ARGS";

/// A line of what `portcullis ARGS…` resolves to with `environment`
/// and no other `PORTCULLIS_*` variable: one value of each kind (a
/// string, a duration, a number, a choice, a truth and a list). A test
/// may not change its own environment, so this runs `child` in a new
/// process of this test binary.
fn resolved_in_child(args: &[&str], environment: &[(&str, &str)]) -> String {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "config::tests::child",
            "--ignored",
            "--nocapture",
        ])
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PORTCULLIS_") {
            command.env_remove(key);
        }
    }
    command
        .env(CHILD_ARGS, args.join("\n"))
        .envs(environment.iter().copied());
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{args:?} {environment:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("resolved: "))
        .unwrap_or_else(|| panic!("no resolved line in {stdout}"))
        .to_owned()
}

#[test]
#[ignore = "run by `each_layer_wins_over_the_next`, in a process of its own"]
fn child() {
    let args = std::env::var(CHILD_ARGS).unwrap_or_else(|_| "serve".to_owned());
    let args = std::iter::once("portcullis")
        .chain(args.split('\n'))
        .map(OsString::from);
    let (_, config) = load(args).unwrap_or_else(|refusal| panic!("{}", refusal.message()));
    println!(
        "resolved: {} {}s {} {:?} {} [{}]",
        config.database,
        config.auth.access_token_ttl.whole_seconds(),
        config.auth.password_policy.min_length(),
        config.auth.signup,
        config.auth.throttle.enabled,
        config.http.cors_origins.join(" "),
    );
}

#[test]
fn each_layer_wins_over_the_next() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("portcullis.toml");
    std::fs::write(
        &file,
        r#"
        database = "file.db"
        access_ttl = "2m"
        password_min_length = 9
        signup = "closed"
        throttle = false
        cors_origins = ["https://file.example"]
        "#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let environment = [
        ("PORTCULLIS_CONFIG", file),
        ("PORTCULLIS_DATABASE", "environment.db"),
        ("PORTCULLIS_ACCESS_TTL", "3m"),
        ("PORTCULLIS_PASSWORD_MIN_LENGTH", "10"),
        ("PORTCULLIS_SIGNUP", "open"),
        ("PORTCULLIS_THROTTLE", "true"),
        (
            "PORTCULLIS_CORS_ORIGIN",
            "https://a.example,https://b.example",
        ),
    ];
    let flags = [
        "--database",
        "flag.db",
        "--access-ttl",
        "4m",
        "--password-min-length",
        "11",
        "--signup",
        "closed",
        "--throttle",
        "false",
        "--cors-origin",
        "https://flag.example",
    ];
    let defaults = "sqlite://portcullis.db 900s 12 Open true []";
    let from_file = "file.db 120s 9 Closed false [https://file.example]";
    let from_environment = "environment.db 180s 10 Open true [https://a.example https://b.example]";
    let from_flags = "flag.db 240s 11 Closed false [https://flag.example]";

    for (case, args, environment, expected) in [
        ("defaults", &["serve"][..], &[][..], defaults),
        ("the file", &["--config", file, "serve"], &[], from_file),
        (
            "the environment",
            &["serve"],
            &environment[1..],
            from_environment,
        ),
        (
            "the environment over the file",
            &["serve"],
            &environment,
            from_environment,
        ),
        (
            "flags over everything",
            &[&["serve"], &flags[..]].concat(),
            &environment,
            from_flags,
        ),
        (
            "another command: the file",
            &["user", "list"],
            &environment[..1],
            from_file,
        ),
        (
            "another command: the environment",
            &["user", "list"],
            &environment,
            from_environment,
        ),
        (
            "flags only for the flag given",
            &["serve", "--signup", "closed"],
            &environment,
            "environment.db 180s 10 Closed true [https://a.example https://b.example]",
        ),
        (
            "the environment only for the variable given",
            &["serve"],
            &[environment[0], ("PORTCULLIS_THROTTLE", "true")],
            "file.db 120s 9 Closed true [https://file.example]",
        ),
    ] {
        assert_eq!(resolved_in_child(args, environment), expected, "{case}");
    }
}
