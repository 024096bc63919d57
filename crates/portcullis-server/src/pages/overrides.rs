//! Page templates replaced from a folder (`--page-templates DIR`): which
//! files of it count, read once at start.
//!
//! A file named like a built-in template replaces it; an `.html` or `.css`
//! file with any other name is refused, since a misspelt name would
//! otherwise be ignored in silence and the built-in page shown instead.

use std::path::{Path, PathBuf};

use crate::pages::{BUILT_IN, PagesError};

/// A template read from the folder.
pub(super) struct Override {
    pub(super) name: String,
    pub(super) source: String,
    pub(super) path: PathBuf,
}

/// The folder's templates. Files that are neither `.html` nor `.css` (a
/// README) and hidden ones are skipped.
pub(super) fn read_overrides(folder: &Path) -> Result<Vec<Override>, PagesError> {
    let folder_error = |reason: String| PagesError::Folder {
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
        if name.starts_with('.') || !(name.ends_with(".html") || name.ends_with(".css")) {
            continue;
        }
        if !BUILT_IN.iter().any(|(built_in, _)| *built_in == name) {
            let known: Vec<&str> = BUILT_IN.iter().map(|(name, _)| *name).collect();
            return Err(folder_error(format!(
                "{name} is not a page template name; the names are {}",
                known.join(", ")
            )));
        }
        let source = std::fs::read_to_string(&path)
            .map_err(|error| folder_error(format!("{name}: {error}")))?;
        overrides.push(Override { name, source, path });
    }
    Ok(overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_reported() {
        let Err(error) = read_overrides(Path::new("/nonexistent/page-templates")) else {
            panic!("a missing folder is refused");
        };
        assert!(
            error.to_string().contains("/nonexistent/page-templates"),
            "{error}"
        );
    }

    #[test]
    fn a_misspelt_name_is_refused_and_other_files_are_skipped() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("README.md"), "notes").unwrap();
        std::fs::write(folder.path().join(".sign_in.html.swp"), "x").unwrap();
        std::fs::write(folder.path().join("sign_in.html"), "mine").unwrap();
        let found = read_overrides(folder.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "sign_in.html");
        assert_eq!(found[0].source, "mine");
        std::fs::write(folder.path().join("signin.html"), "x").unwrap();
        let Err(error) = read_overrides(folder.path()) else {
            panic!("a misspelt name is refused");
        };
        let error = error.to_string();
        assert!(
            error.contains("signin.html is not a page template name"),
            "{error}"
        );
        assert!(error.contains("sign_in.html"), "{error}");
    }
}
