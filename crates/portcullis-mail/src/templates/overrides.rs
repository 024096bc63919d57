//! Templates replaced from a folder (`--templates DIR`): which files of it
//! count, read once at start.
//!
//! A file named like a built-in template replaces it; a `.txt` or `.html`
//! file with any other name is refused, since a misspelt name would
//! otherwise be ignored in silence and the built-in template sent instead.

use std::path::Path;

use crate::settings::MailError;
use crate::templates::BUILT_IN;

/// The folder's templates by name. A `.txt` or `.html` file not named like
/// a built-in template is refused (a misspelt name would otherwise be
/// ignored in silence); other files (a README) and hidden ones are skipped.
pub(super) fn read_overrides(folder: &Path) -> Result<Vec<(String, String)>, MailError> {
    let folder_error = |reason: String| MailError::TemplatesFolder {
        path: folder.to_owned(),
        reason,
    };
    let entries = std::fs::read_dir(folder).map_err(|error| folder_error(error.to_string()))?;
    let mut overrides = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|error| folder_error(error.to_string()))?
            .path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        if name.starts_with('.') || !(name.ends_with(".txt") || name.ends_with(".html")) {
            continue;
        }
        if !BUILT_IN.iter().any(|(built_in, _)| *built_in == name) {
            let known: Vec<&str> = BUILT_IN.iter().map(|(name, _)| *name).collect();
            return Err(folder_error(format!(
                "{name} is not a template name; the names are {}",
                known.join(", ")
            )));
        }
        let source = std::fs::read_to_string(&path)
            .map_err(|error| folder_error(format!("{name}: {error}")))?;
        overrides.push((name, source));
    }
    Ok(overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_reported() {
        let error = read_overrides(Path::new("/nonexistent/templates")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/templates"),
            "{error}"
        );
    }
}
