//! The schemas of the names a request carries: display names, personal
//! access token and OAuth client names, role and permission names. The
//! fields themselves are `String`s, checked by the domain
//! (`portcullis_core::names`); these types exist only so that the document
//! states the same rule.

use utoipa::openapi::RefOr;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use portcullis_core::names::{
    CLIENT_NAME_PATTERN, DISPLAY_NAME_PATTERN, MAX_CLIENT_NAME_LENGTH, MAX_DISPLAY_NAME_LENGTH,
    MAX_TOKEN_NAME_LENGTH, TOKEN_NAME_PATTERN,
};

/// Role and permission names, as `portcullis_core::names` checks them: 1 to
/// 128 printable ASCII characters other than space, `"` and `\` (a
/// permission travels in the space-separated `scope` and in quoted
/// `WWW-Authenticate` parameters).
pub(crate) const NAME_PATTERN: &str = portcullis_core::names::ROLE_OR_PERMISSION_PATTERN;

/// The schema of a person's display name, or `null` for none; the field
/// itself is an `Option<String>` (or, where absent and `null` differ, an
/// `Option<Option<String>>`).
pub(crate) struct DisplayName;

impl PartialSchema for DisplayName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .description(Some(format!(
                "A person's name: at most {MAX_DISPLAY_NAME_LENGTH} characters once trimmed, no control characters; blank or `null` is no name. In a change, an absent name is left as it is and `null` or blank clears it."
            )))
            .pattern(Some(DISPLAY_NAME_PATTERN))
            .into()
    }
}

impl ToSchema for DisplayName {}

/// The schema of a personal access token's name; the field itself is a `String`.
pub(crate) struct TokenName;

impl PartialSchema for TokenName {
    fn schema() -> RefOr<Schema> {
        short_name_schema(
            "A personal access token's name",
            MAX_TOKEN_NAME_LENGTH,
            TOKEN_NAME_PATTERN,
        )
    }
}

impl ToSchema for TokenName {}

/// The schema of an OAuth client's name; the field itself is a `String`.
pub(crate) struct ClientName;

impl PartialSchema for ClientName {
    fn schema() -> RefOr<Schema> {
        short_name_schema(
            "An OAuth client's name, shown to users",
            MAX_CLIENT_NAME_LENGTH,
            CLIENT_NAME_PATTERN,
        )
    }
}

impl ToSchema for ClientName {}

/// A name that is not blank, bounded once trimmed by `pattern`.
fn short_name_schema(what: &str, longest: usize, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "{what}: 1 to {longest} characters once trimmed, no control characters."
        )))
        .min_length(Some(1))
        .pattern(Some(pattern))
        .into()
}

/// The schema of a role's name; the field itself is a `String`.
pub(crate) struct RoleName;

impl PartialSchema for RoleName {
    fn schema() -> RefOr<Schema> {
        name_schema("A role's name.", "librarian").into()
    }
}

impl ToSchema for RoleName {}

/// The schema of a permission's name; the field itself is a `String`.
pub(crate) struct PermissionName;

impl PartialSchema for PermissionName {
    fn schema() -> RefOr<Schema> {
        name_schema("A permission, such as `books:download`.", "books:download").into()
    }
}

impl ToSchema for PermissionName {}

/// The schema of a role that can be created, replaced or deleted: any
/// role's name but `admin`, which is built in (refused with `422`).
pub(crate) struct EditableRoleName;

impl PartialSchema for EditableRoleName {
    fn schema() -> RefOr<Schema> {
        // utoipa has no builder for `not`; JSON Schema's own keyword goes in
        // as a member of the object (`Extensions` collected from pairs keeps
        // its key as given).
        let not_admin: Extensions = [("not", serde_json::json!({"const": "admin"}))]
            .into_iter()
            .collect();
        name_schema(
            "A role's name, other than the built-in `admin`.",
            "librarian",
        )
        .extensions(Some(not_admin))
        .into()
    }
}

impl ToSchema for EditableRoleName {}

fn name_schema(description: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "{description} 1 to 128 printable ASCII characters other than space, `\"` and `\\`."
        )))
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some(NAME_PATTERN))
        .examples([example])
}

#[cfg(test)]
mod tests {
    use portcullis_core::names::Permission;
    use serde_json::json;

    use super::*;

    /// `NAME_PATTERN`'s character class admits exactly what `Permission::parse` does.
    #[test]
    fn the_name_pattern_is_validate_names() {
        let class = NAME_PATTERN
            .strip_prefix("^[")
            .and_then(|rest| rest.strip_suffix("]{1,128}$"))
            .expect("one character class, 1 to 128 times");
        // The class, unescaped: single characters and `a-b` ranges.
        let mut members = Vec::new();
        let mut characters = class.chars().peekable();
        let next_literal = |characters: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            characters.next().map(|c| {
                if c == '\\' {
                    characters.next().expect("an escaped character")
                } else {
                    c
                }
            })
        };
        while let Some(low) = next_literal(&mut characters) {
            if characters.peek() == Some(&'-') {
                characters.next();
                let high = next_literal(&mut characters).expect("a range's end");
                members.push(low..=high);
            } else {
                members.push(low..=low);
            }
        }
        for character in (0u8..=127).map(char::from).chain(['é', '\u{a0}']) {
            let admitted = members.iter().any(|range| range.contains(&character));
            assert_eq!(
                admitted,
                Permission::parse(&character.to_string()).is_ok(),
                "{character:?}"
            );
        }
        assert!(Permission::parse(&"a".repeat(128)).is_ok());
        assert!(Permission::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn an_editable_role_is_any_role_but_admin() {
        let schema = serde_json::to_value(EditableRoleName::schema()).expect("a schema");
        assert_eq!(schema["not"], json!({"const": "admin"}), "{schema}");
        assert_eq!(schema["pattern"], json!(NAME_PATTERN), "{schema}");
    }
}
