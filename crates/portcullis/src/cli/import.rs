//! The arguments of `portcullis import`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// `portcullis import`; the formats and fields are in the README's
/// "Moving from another system".
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The file to read.
    pub(crate) file: PathBuf,
    /// Its format; guessed from the extension, then from the content, when not given.
    #[arg(long, value_enum)]
    pub(crate) format: Option<ImportFormat>,
    /// Check every user against the database and write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// For a user whose email already has an account: leave the account as
    /// it is (a rerun imports only what is missing), replace what the file
    /// gives (name, hash, roles, flags; a new hash or disabling ends its
    /// sessions), or count the user as failed.
    #[arg(long, value_enum, default_value_t = ConflictChoice::Skip)]
    pub(crate) on_conflict: ConflictChoice,
    /// Create the roles the file names that do not exist, with no
    /// permission, instead of failing their users.
    #[arg(long)]
    pub(crate) create_roles: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImportFormat {
    /// One JSON object per line: email, name, password_hash, email_verified, roles, disabled, created_at.
    Jsonl,
    /// A header row naming those columns; roles separated by spaces.
    Csv,
    /// A Keycloak realm export (`kc.sh export --users realm_file` or `different_files`).
    Keycloak,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ConflictChoice {
    Skip,
    Update,
    Fail,
}
