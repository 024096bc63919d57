//! What an operator chooses of the pages' look: the product's name, logo
//! and colour, and a folder of templates ([`PageSettings`]), each value
//! checked when it is read, so that a server never starts with a colour a
//! stylesheet cannot hold or a logo its policy cannot allow.
//!
//! The colour is the brand's: buttons are filled with it, their text white
//! or black, whichever reads better on it (WCAG contrast), and links,
//! focus rings and the product's name use it darkened until it reads on
//! the white page (at least 4.5:1).

use std::fmt;
use std::path::PathBuf;

/// The pages' branding and where their templates may be replaced.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// Shown in every page's header and title.
    pub product_name: String,
    /// Shown in the header instead of the name (which becomes its alt text).
    pub logo: Option<LogoUrl>,
    /// The brand colour of buttons and links.
    pub colour: Colour,
    /// A folder whose templates replace the built-in ones of the same name.
    pub templates_dir: Option<PathBuf>,
}

impl PageSettings {
    /// The product name when none is set.
    pub const DEFAULT_PRODUCT_NAME: &str = "Portcullis";
    /// The colour when none is set, as `--product-colour` takes it.
    pub const DEFAULT_COLOUR: &str = "#1d4ed8";
}

impl Default for PageSettings {
    fn default() -> Self {
        Self {
            product_name: Self::DEFAULT_PRODUCT_NAME.to_owned(),
            logo: None,
            colour: Colour::parse(Self::DEFAULT_COLOUR).expect("the default colour is valid"),
            templates_dir: None,
        }
    }
}

/// A branding value that is refused; says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidBranding(&'static str);

/// An sRGB colour, written in CSS as `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    red: u8,
    green: u8,
    blue: u8,
}

const WHITE: Colour = Colour {
    red: 255,
    green: 255,
    blue: 255,
};
const BLACK: Colour = Colour {
    red: 0,
    green: 0,
    blue: 0,
};

/// The contrast WCAG 2 asks of body text (level AA).
const READABLE_CONTRAST: f64 = 4.5;

impl Colour {
    /// Reads a CSS hex colour, `#rgb` or `#rrggbb` (either case).
    ///
    /// # Errors
    /// Anything else: a name, `rgb()`, an alpha channel, spaces.
    pub fn parse(text: &str) -> Result<Self, InvalidBranding> {
        const EXPECTED: InvalidBranding =
            InvalidBranding("expected a CSS hex colour such as #1d4ed8 or #07c");
        let digits = text.strip_prefix('#').ok_or(EXPECTED)?;
        if !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(EXPECTED);
        }
        let channel = |text: &str| u8::from_str_radix(text, 16).map_err(|_| EXPECTED);
        match digits.len() {
            3 => {
                let doubled = |index: usize| channel(&digits[index..=index].repeat(2));
                Ok(Self {
                    red: doubled(0)?,
                    green: doubled(1)?,
                    blue: doubled(2)?,
                })
            }
            6 => Ok(Self {
                red: channel(&digits[0..2])?,
                green: channel(&digits[2..4])?,
                blue: channel(&digits[4..6])?,
            }),
            _ => Err(EXPECTED),
        }
    }

    /// White or black, whichever contrasts more with this colour: the text
    /// of a button filled with it.
    #[must_use]
    pub fn text_on(self) -> Self {
        if self.contrast_with(WHITE) >= self.contrast_with(BLACK) {
            WHITE
        } else {
            BLACK
        }
    }

    /// This colour, darkened just enough to read on white (4.5:1): text and
    /// lines on the page.
    #[must_use]
    pub fn readable_on_white(self) -> Self {
        (0..=20)
            .map(|step| self.darkened(f64::from(step) / 20.0))
            .find(|colour| colour.contrast_with(WHITE) >= READABLE_CONTRAST)
            .unwrap_or(BLACK)
    }

    /// The WCAG 2 contrast ratio of two colours, from 1 to 21.
    #[must_use]
    pub fn contrast_with(self, other: Self) -> f64 {
        let (first, second) = (self.luminance(), other.luminance());
        (first.max(second) + 0.05) / (first.min(second) + 0.05)
    }

    /// WCAG 2 relative luminance, from 0 (black) to 1 (white).
    fn luminance(self) -> f64 {
        let linear = |channel: u8| {
            let value = f64::from(channel) / 255.0;
            if value <= 0.040_45 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.red) + 0.7152 * linear(self.green) + 0.0722 * linear(self.blue)
    }

    /// Each channel moved `amount` (0 to 1) of the way to black.
    fn darkened(self, amount: f64) -> Self {
        // A channel times a factor in [0, 1]: in 0..=255, the cast loses nothing.
        let scale = |channel: u8| (f64::from(channel) * (1.0 - amount)).round() as u8;
        Self {
            red: scale(self.red),
            green: scale(self.green),
            blue: scale(self.blue),
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.red, self.green, self.blue)
    }
}

/// Where the logo comes from: an `https` URL, or a `data:` URL of an image
/// (the page then loads nothing from elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoUrl {
    /// The image's `src`.
    src: String,
    /// What the Content-Security-Policy's `img-src` allows: the URL's
    /// origin, or `data:`.
    policy_source: String,
}

/// Longest `data:` URL taken, in bytes: it is sent with every page.
const MAX_DATA_URL_BYTES: usize = 64 * 1024;

/// The image types a `data:` logo may have.
const DATA_IMAGE_TYPES: [&str; 6] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/svg+xml",
];

impl LogoUrl {
    /// Reads `https://HOST/PATH` or `data:image/TYPE[;base64],DATA`.
    ///
    /// # Errors
    /// Another scheme, credentials in the URL, a `data:` URL that is not of
    /// an image or is longer than 64 KiB.
    pub fn parse(text: &str) -> Result<Self, InvalidBranding> {
        if let Some(data) = text.strip_prefix("data:") {
            return Self::data(text, data);
        }
        let refused = InvalidBranding(
            "expected an https URL (https://example.com/logo.svg) or a data: URL of an image",
        );
        let url = url::Url::parse(text).map_err(|_| refused.clone())?;
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err(refused);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidBranding("the logo URL must not hold credentials"));
        }
        Ok(Self {
            policy_source: url.origin().ascii_serialization(),
            src: url.into(),
        })
    }

    fn data(text: &str, data: &str) -> Result<Self, InvalidBranding> {
        let (header, _) = data.split_once(',').ok_or(InvalidBranding(
            "a data: URL is data:image/TYPE;base64,DATA",
        ))?;
        let media_type = header.split(';').next().unwrap_or_default();
        if !DATA_IMAGE_TYPES
            .iter()
            .any(|known| known.eq_ignore_ascii_case(media_type))
        {
            return Err(InvalidBranding(
                "a data: logo must be an image: image/png, image/jpeg, image/gif, image/webp, image/avif or image/svg+xml",
            ));
        }
        if text.len() > MAX_DATA_URL_BYTES {
            return Err(InvalidBranding(
                "a data: logo is sent with every page: at most 64 KiB",
            ));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidBranding(
                "a data: URL must not hold spaces or line breaks",
            ));
        }
        Ok(Self {
            src: text.to_owned(),
            policy_source: "data:".to_owned(),
        })
    }

    /// The image's `src`.
    #[must_use]
    pub fn src(&self) -> &str {
        &self.src
    }

    /// The source the page's `img-src` allows: the URL's origin or `data:`.
    #[must_use]
    pub fn policy_source(&self) -> &str {
        &self.policy_source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn colour(text: &str) -> Colour {
        Colour::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn colours_are_css_hex_only() {
        for (text, expected) in [
            ("#1d4ed8", "#1d4ed8"),
            ("#1D4ED8", "#1d4ed8"),
            ("#07c", "#0077cc"),
            ("#FFF", "#ffffff"),
            ("#000000", "#000000"),
        ] {
            assert_eq!(colour(text).to_string(), expected, "{text}");
        }
        for refused in [
            "",
            "#",
            "1d4ed8",
            "#1d4ed",
            "#1d4ed8ff",
            "#12",
            "#ggg",
            "red",
            "#1d4ed8;",
            " #fff",
            "#fff ",
            "rgb(0,0,0)",
            "#+12",
            "#-1f",
            "#１２３",
        ] {
            assert!(Colour::parse(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn button_text_is_whichever_of_white_and_black_reads_better() {
        for (background, text) in [
            ("#1d4ed8", "#ffffff"),
            ("#000", "#ffffff"),
            ("#ffcc00", "#000000"),
            ("#fff", "#000000"),
            ("#6b21a8", "#ffffff"),
            ("#767676", "#000000"),
        ] {
            let on = colour(background).text_on();
            assert_eq!(on.to_string(), text, "{background}");
            assert!(colour(background).contrast_with(on) >= 4.5, "{background}");
        }
    }

    #[test]
    fn link_colours_are_darkened_until_they_read_on_white() {
        assert_eq!(
            colour("#1d4ed8").readable_on_white(),
            colour("#1d4ed8"),
            "dark enough already"
        );
        for light in ["#ffcc00", "#fff", "#7fdbff", "#0f0"] {
            let readable = colour(light).readable_on_white();
            assert!(readable.contrast_with(WHITE) >= 4.5, "{light}: {readable}");
            assert_ne!(readable, colour(light), "{light}");
        }
        assert!((WHITE.contrast_with(BLACK) - 21.0).abs() < 1e-9);
        assert!((WHITE.contrast_with(WHITE) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_logo_is_an_https_or_data_image_url_with_its_policy_source() {
        let https = LogoUrl::parse("https://cdn.example.com:8443/brand/logo.svg?v=2").unwrap();
        assert_eq!(
            https.src(),
            "https://cdn.example.com:8443/brand/logo.svg?v=2"
        );
        assert_eq!(https.policy_source(), "https://cdn.example.com:8443");
        let idn = LogoUrl::parse("https://bücher.example/logo.png").unwrap();
        assert_eq!(idn.policy_source(), "https://xn--bcher-kva.example");
        let data = LogoUrl::parse("data:image/png;base64,iVBORw0KGgo=").unwrap();
        assert_eq!(data.src(), "data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(data.policy_source(), "data:");
        for refused in [
            "http://cdn.example.com/logo.png",
            "https://user:secret@cdn.example.com/logo.png",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "data:image/png;base64",
            "data:image/png;base64,iVBOR w0KGgo=",
            "//cdn.example.com/logo.png",
            "logo.png",
            "",
        ] {
            assert!(LogoUrl::parse(refused).is_err(), "{refused:?}");
        }
        let huge = format!("data:image/png;base64,{}", "A".repeat(MAX_DATA_URL_BYTES));
        assert!(LogoUrl::parse(&huge).is_err());
    }
}
