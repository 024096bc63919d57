//! How values read in a message: times and durations in one unambiguous
//! form, and text that must stay on one line.
//!
//! Names that reach a message from outside (an account's display name in
//! the `To` header, a token's name in a notice) pass through here, so that
//! they cannot break a header, start a line of their own in the plain-text
//! part, or turn the rest of their line around with bidirectional
//! controls. Escaping for HTML is not done here: minijinja does it when
//! rendering.

use std::time::Duration;

use time::OffsetDateTime;

/// Longest token name shown, in characters (the domain allows 100).
const TOKEN_NAME_MAX_CHARS: usize = 100;

/// `text` on one line: control characters and line breaks become spaces,
/// runs of whitespace one space, at most `max_chars` characters. Used for
/// every header value a template or a variable can reach.
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max_chars)
        .collect()
}

/// `24 hours`, `1 hour and 30 minutes`, `10 minutes`, `45 seconds`.
pub(super) fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let parts: Vec<String> = [
        (seconds / 3600, "hour"),
        (seconds % 3600 / 60, "minute"),
        (seconds % 60, "second"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, unit)| format!("{count} {unit}{}", if count == 1 { "" } else { "s" }))
    .collect();
    if parts.is_empty() {
        "0 seconds".to_owned()
    } else {
        parts.join(" and ")
    }
}

/// `2026-12-07 14:03 UTC`: unambiguous in any locale.
pub(super) fn format_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// A personal access token's name as a message shows it: one line, no
/// bidirectional controls (which could make the rest of the line read
/// backwards), at most 100 characters.
pub(super) fn token_name(name: &str) -> String {
    let without_bidi: String = name.chars().filter(|c| !is_bidi_control(*c)).collect();
    one_line(&without_bidi, TOKEN_NAME_MAX_CHARS)
}

/// The Unicode bidirectional formatting characters (UAX #9).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_one_line_whatever_the_template_says() {
        assert_eq!(
            one_line("Hello\r\nBcc: victim@example.com", 200),
            "Hello Bcc: victim@example.com"
        );
        assert_eq!(one_line("  a\t\u{0}b\u{2028}c\u{85}d  ", 200), "a b c d");
        assert_eq!(one_line(&"x".repeat(500), 200).len(), 200);
    }

    #[test]
    fn durations_and_times_read_naturally() {
        #[track_caller]
        fn check(seconds: u64, expected: &str) {
            assert_eq!(human_duration(Duration::from_secs(seconds)), expected);
        }
        check(24 * 3600, "24 hours");
        check(3600, "1 hour");
        check(600, "10 minutes");
        check(5400, "1 hour and 30 minutes");
        check(61, "1 minute and 1 second");
        check(0, "0 seconds");
        let at = time::macros::datetime!(2026-12-07 15:03:59 +01:00);
        assert_eq!(format_time(at), "2026-12-07 14:03 UTC");
    }

    #[test]
    fn a_token_name_stays_on_its_line_and_reads_forwards() {
        #[track_caller]
        fn check(name: &str, expected: &str) {
            assert_eq!(token_name(name), expected, "{name:?}");
        }
        check("deploy (CI)", "deploy (CI)");
        check(
            "a\r\nPlease visit http://evil",
            "a Please visit http://evil",
        );
        check("line\u{2028}separator\u{85}next", "line separator next");
        check("gnp.\u{202E}exe", "gnp.exe");
        check("\u{2066}isolated\u{2069}", "isolated");
        check("<script>", "<script>");
        assert_eq!(token_name(&"é".repeat(150)).chars().count(), 100);
    }
}
