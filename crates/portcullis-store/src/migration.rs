//! What a schema migration is, shared by every backend's runner.
//!
//! Each backend embeds its own `migrations/<database>/NNNN_name.sql` files
//! (SQL differs between databases) and applies them with its own runner
//! (locking differs), but both describe a step the same way and check the
//! same rule: every file in the directory is embedded, in order, numbered
//! from 1 without gaps. This module must never touch a database.

/// One schema step, applied in order of `version`.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) file_name: &'static str,
    pub(crate) sql: &'static str,
}

/// Newest version in `migrations` (0 when there is none).
pub(crate) fn newest_version(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |migration| migration.version)
}

/// Panics unless `migrations` lists exactly the `.sql` files of `directory`,
/// in order, numbered 1, 2, 3… with the number as the file name's prefix. A
/// file added to the directory but not embedded would never run.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_embedded_in_order(directory: &str, migrations: &[Migration]) {
    let mut files: Vec<String> = std::fs::read_dir(directory)
        .expect("migrations directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    let embedded: Vec<&str> = migrations
        .iter()
        .map(|migration| migration.file_name)
        .collect();
    assert_eq!(files, embedded, "{directory}");
    for (index, migration) in migrations.iter().enumerate() {
        let expected_version = i64::try_from(index).expect("few migrations") + 1;
        assert_eq!(
            migration.version, expected_version,
            "{}",
            migration.file_name
        );
        assert!(
            migration
                .file_name
                .starts_with(&format!("{expected_version:04}_")),
            "{}",
            migration.file_name
        );
    }
}
