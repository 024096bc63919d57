//! Templates replaced from a folder, read once at start: the mail's
//! (`--templates DIR`) here, and the hosted pages' (`--page-templates DIR`)
//! through [`read_template_folder`], so both refuse and skip alike.
//!
//! A file named like a built-in template replaces it; a file with one of
//! the templates' extensions and any other name is refused, since a
//! misspelt name would otherwise be ignored in silence and the built-in
//! template used instead.

use std::path::{Path, PathBuf};

use crate::settings::MailError;
use crate::templates::BUILT_IN;

/// A template file that replaces the built-in template of its name.
#[derive(Debug)]
pub struct TemplateFile {
    pub name: String,
    pub source: String,
    pub path: PathBuf,
}

/// The files of `folder` that replace the `built_in` templates (name and
/// source). Only
/// names ending in one of `extensions` count: any other file (a README)
/// and hidden ones are skipped.
///
/// # Errors
/// Why the folder or a file could not be read, or the name of a counted
/// file that is not a built-in `kind` ("template", "page template") with
/// the names that are.
pub fn read_template_folder(
    folder: &Path,
    extensions: &[&str],
    built_in: &[(&str, &str)],
    kind: &str,
) -> Result<Vec<TemplateFile>, String> {
    let entries = std::fs::read_dir(folder).map_err(|error| error.to_string())?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|error| error.to_string())?.path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        if name.starts_with('.') || !extensions.iter().any(|extension| name.ends_with(extension)) {
            continue;
        }
        if !built_in.iter().any(|(built_in, _)| *built_in == name) {
            let names: Vec<&str> = built_in.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "{name} is not a {kind} name; the names are {}",
                names.join(", ")
            ));
        }
        let source = std::fs::read_to_string(&path).map_err(|error| format!("{name}: {error}"))?;
        files.push(TemplateFile { name, source, path });
    }
    Ok(files)
}

/// The mail templates of `folder` by name.
pub(super) fn read_overrides(folder: &Path) -> Result<Vec<(String, String)>, MailError> {
    read_template_folder(folder, &[".txt", ".html"], &BUILT_IN, "template")
        .map(|files| {
            files
                .into_iter()
                .map(|file| (file.name, file.source))
                .collect()
        })
        .map_err(|reason| MailError::TemplatesFolder {
            path: folder.to_owned(),
            reason,
        })
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
