//! Page templates replaced from a folder (`--page-templates DIR`), read
//! once at start by the mail's reader ([`read_template_folder`]), so that
//! page and mail templates are refused and skipped alike: a file named like
//! a built-in template replaces it; an `.html` or `.css` file with any
//! other name is refused, since a misspelt name would otherwise be ignored
//! in silence and the built-in page shown instead.

use std::path::Path;

use portcullis_mail::{TemplateFile, read_template_folder};

use crate::pages::{BUILT_IN, PagesError};

/// The folder's page templates. Files that are neither `.html` nor `.css`
/// (a README) and hidden ones are skipped.
pub(super) fn read_overrides(folder: &Path) -> Result<Vec<TemplateFile>, PagesError> {
    read_template_folder(folder, &[".html", ".css"], &BUILT_IN, "page template").map_err(|reason| {
        PagesError::Folder {
            path: folder.to_owned(),
            reason,
        }
    })
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
