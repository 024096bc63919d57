//! Bringing users from another system, with the hashes they already have.
//!
//! The command line reads a file and hands each user to an [`ImportRun`];
//! the run checks every field with the rules of sign-up (the email rule,
//! display names, role names) and reads the hash with
//! [`StoredHash::parse`] or [`StoredHash::from_keycloak_credential`], which
//! refuse unknown formats and absurd costs here rather than at login. A
//! user that fails is reported with its place in the file (`L`, whatever
//! the reader counts in) and the reason, and the rest goes on. Users that
//! pass are written [`BATCH_SIZE`] at a time: one read finds which emails
//! exist, [`OnConflict`] decides for those, and one transaction writes the
//! whole batch with its roles, so a failed or interrupted import leaves
//! whole batches behind and a rerun (skipping what exists) imports the rest.
//!
//! An email seen twice in one file is imported once, from its first line;
//! the run remembers a 64-bit keyed hash of each email, not the email (16
//! bytes a user, about 32 MB for a million). A collision, about one chance
//! in 30 million for a million users, reports a line as a duplicate that a
//! rerun imports.
//!
//! Hashes made elsewhere are stored with the stand-in of their cost, which
//! the server reads through [`Imports::expect_imported_hashes`] so that the
//! verification floor covers them. An update that gives an account a new
//! hash, or disables it, ends its sessions in the same transaction (and a
//! disabled account's personal access tokens), like the administration
//! does; servers learn of it from the revocation feed.
//!
//! This module must never write part of a batch, and never put a hash in a
//! failure's reason.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::core::Core;
use crate::email::Email;
use crate::error::AuthError;
use crate::hashing::{PasswordHashString, StoredHash};
use crate::names::{DisplayName, RoleName};
use crate::principal::{Administrator, Authorized, ManageUsers};
use crate::roles::{self, ADMIN_ROLE, Role};
use crate::store::{
    AccountUpdate, ExistingAccount, ImportBatch, ImportedAccount, StoreError, StoredPassword,
};

/// Users written per transaction.
pub const BATCH_SIZE: usize = 1_000;

/// Failures kept with their reason; beyond, only counted.
pub const MAX_FAILURES_KEPT: usize = 100;

/// A `created_at` later than this past now is refused.
const CLOCK_SKEW_ALLOWED: Duration = Duration::DAY;

/// What to do with a user whose email already has an account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnConflict {
    /// Leave the account as it is (so a rerun imports only what is missing).
    #[default]
    Skip,
    /// Replace what the file gives: name, hash, roles, flags.
    Update,
    /// Report the user as failed.
    Fail,
}

/// What to do with a role that no account may hold yet because it does not exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingRoles {
    /// Report the user as failed.
    #[default]
    Refuse,
    /// Create the role, with no permission.
    Create,
}

/// Whether a run writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImportMode {
    #[default]
    Write,
    /// Check everything, write nothing.
    DryRun,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    pub on_conflict: OnConflict,
    pub missing_roles: MissingRoles,
    pub mode: ImportMode,
}

/// A user's password as the file gives it. `Debug` shows no hash.
#[derive(Clone, Default)]
pub enum ImportedPassword {
    /// None: the account can only get in through a password reset.
    #[default]
    None,
    /// A hash string in a format [`StoredHash::parse`] reads.
    Hash(String),
    /// A Keycloak credential's `secretData` and `credentialData`.
    Keycloak {
        secret_data: String,
        credential_data: String,
    },
}

impl std::fmt::Debug for ImportedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Hash(_) => "Hash([redacted])",
            Self::Keycloak { .. } => "Keycloak([redacted])",
        })
    }
}

/// One user as a file gives it, before any check; `None` is a field the
/// file does not give (an update keeps the stored value).
#[derive(Debug, Clone, Default)]
pub struct ImportedUser {
    pub email: String,
    pub name: Option<String>,
    pub password: ImportedPassword,
    pub email_verified: Option<bool>,
    pub roles: Option<Vec<String>>,
    pub disabled: Option<bool>,
    pub created_at: Option<OffsetDateTime>,
}

/// What a run did (or, dry, would do), with the first failures and where.
#[derive(Debug, Clone)]
pub struct ImportReport<L> {
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    /// The first [`MAX_FAILURES_KEPT`] failures, as they were found.
    pub failures: Vec<(L, String)>,
    /// Roles created (or, dry, to be created), sorted.
    pub roles_created: BTreeSet<String>,
}

/// Imports, for administrators, and the costs of imported hashes, for the server.
pub struct Imports {
    core: Arc<Core>,
    /// Cost stand-ins already given to the password hasher.
    costs_expected: Mutex<HashSet<String>>,
}

impl Imports {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self {
            core,
            costs_expected: Mutex::default(),
        }
    }

    /// Starts an import with `options`.
    ///
    /// # Errors
    /// [`AuthError`] when the roles cannot be read.
    pub async fn begin<L>(
        &self,
        authorized: &Authorized<ManageUsers>,
        options: ImportOptions,
    ) -> Result<ImportRun<L>, AuthError> {
        let stored_roles = self.core.accounts.stored_roles().await?;
        Ok(ImportRun {
            core: Arc::clone(&self.core),
            administrator: authorized.administrator().clone(),
            options,
            now: self.core.clock.now_seconds(),
            roles_known: stored_roles
                .iter()
                .map(|role| role.name.clone())
                .chain([ADMIN_ROLE.to_owned()])
                .collect(),
            roles_allowed: HashMap::new(),
            stored_roles,
            roles_to_create: BTreeSet::new(),
            seen: HashSet::new(),
            seen_key: RandomState::new(),
            pending: Vec::with_capacity(BATCH_SIZE),
            report: ImportReport {
                imported: 0,
                updated: 0,
                skipped: 0,
                failed: 0,
                failures: Vec::new(),
                roles_created: BTreeSet::new(),
            },
        })
    }

    /// Tells the password hasher the cost of each kind of hash imported
    /// that it was not told of yet, so that a wrong password costs as much
    /// as an unknown email whatever the account's hash. The server calls
    /// it at start and then every few seconds (an import may run beside
    /// it); each call is one small query. Returns how many were new.
    ///
    /// # Errors
    /// [`AuthError`] when the store or the hashing pool fails.
    pub async fn expect_imported_hashes(&self) -> Result<usize, AuthError> {
        let costs = self.core.store.imported_hash_costs().await?;
        let new: Vec<PasswordHashString> = {
            let expected = self.expected();
            costs
                .into_iter()
                .filter(|cost| !expected.contains(&cost.0))
                .collect()
        };
        if new.is_empty() {
            return Ok(0);
        }
        let floor = self.core.hasher.expect_stored(&new).await?;
        tracing::info!(
            costs = new.len(),
            ?floor,
            "timed the imported password hashes; every verification lasts at least the floor"
        );
        self.expected()
            .extend(new.iter().map(|cost| cost.0.clone()));
        Ok(new.len())
    }

    fn expected(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.costs_expected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One import under way; see the module documentation. `L` says where a
/// user is in the file (a line number, an index and a username).
pub struct ImportRun<L> {
    core: Arc<Core>,
    administrator: Administrator,
    options: ImportOptions,
    now: OffsetDateTime,
    stored_roles: Vec<Role>,
    /// Roles that exist, or will once the pending batch is written.
    roles_known: BTreeSet<String>,
    /// Whether the administrator may grant each role named so far.
    roles_allowed: HashMap<String, bool>,
    /// Roles the pending batch creates.
    roles_to_create: BTreeSet<String>,
    /// Keyed hashes of the emails seen so far.
    seen: HashSet<u64>,
    seen_key: RandomState,
    pending: Vec<(L, CheckedUser)>,
    report: ImportReport<L>,
}

/// A user whose every field passed.
struct CheckedUser {
    email: Email,
    name: Option<String>,
    password: Option<StoredPassword>,
    email_verified: Option<bool>,
    roles: Option<Vec<String>>,
    disabled: Option<bool>,
    created_at: OffsetDateTime,
}

/// What one batch does, decided from which of its emails exist.
struct Plan<L> {
    batch: ImportBatch,
    imported: u64,
    updated: u64,
    skipped: u64,
    failures: Vec<(L, String)>,
}

impl<L: Clone> ImportRun<L> {
    /// Checks `user`, found at `at`, and queues it; writes the queue when
    /// it holds a batch.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails (what was written stays written).
    pub async fn add(&mut self, at: L, user: ImportedUser) -> Result<(), AuthError> {
        match self.check(user) {
            Ok(checked) => self.pending.push((at, checked)),
            Err(reason) => self.fail(at, reason),
        }
        if self.pending.len() >= BATCH_SIZE {
            self.flush().await?;
        }
        Ok(())
    }

    /// Records a user the reader could not read (bad syntax, wrong encoding).
    pub fn fail(&mut self, at: L, reason: String) {
        self.report.failed += 1;
        if self.report.failures.len() < MAX_FAILURES_KEPT {
            self.report.failures.push((at, reason));
        }
    }

    /// Records an entry the reader leaves out on purpose.
    pub fn skip(&mut self) {
        self.report.skipped += 1;
    }

    /// What the run has done so far (users still queued are not counted).
    #[must_use]
    pub fn report(&self) -> &ImportReport<L> {
        &self.report
    }

    /// Writes what is queued and returns the report.
    ///
    /// # Errors
    /// [`AuthError`] when the store fails.
    pub async fn finish(mut self) -> Result<ImportReport<L>, AuthError> {
        self.flush().await?;
        Ok(self.report)
    }

    fn check(&mut self, user: ImportedUser) -> Result<CheckedUser, String> {
        let email = Email::parse(&user.email).map_err(|e| format!("email: {e}"))?;
        if !self.seen.insert(self.seen_key.hash_one(email.as_str())) {
            return Err(format!(
                "email {email} is on an earlier line too, which is the one imported"
            ));
        }
        let name = match user.name {
            Some(name) => DisplayName::parse(&name)
                .map_err(|e| format!("name: {e}"))?
                .map(DisplayName::into_string),
            None => None,
        };
        let roles = match user.roles {
            Some(roles) => Some(
                roles
                    .iter()
                    .map(|role| self.role(role))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let parsed = match user.password {
            ImportedPassword::None => None,
            ImportedPassword::Hash(text) => Some(StoredHash::parse(&text)),
            ImportedPassword::Keycloak {
                secret_data,
                credential_data,
            } => Some(StoredHash::from_keycloak_credential(
                &secret_data,
                &credential_data,
            )),
        };
        let password = parsed
            .transpose()
            .map_err(|e| format!("password_hash: {e}"))?
            .map(|hash| StoredPassword {
                cost_stand_in: Some(hash.cost_stand_in()),
                hash: hash.into(),
            });
        let created_at = match user.created_at {
            Some(at) if at > self.now + CLOCK_SKEW_ALLOWED => {
                return Err("created_at: in the future".to_owned());
            }
            Some(at) => at.replace_nanosecond(0).unwrap_or(at),
            None => self.now,
        };
        // Only a user that passed makes a role to create.
        for role in roles.iter().flatten() {
            if self.roles_known.insert(role.clone()) {
                self.roles_to_create.insert(role.clone());
            }
        }
        Ok(CheckedUser {
            email,
            name,
            password,
            email_verified: user.email_verified,
            roles,
            disabled: user.disabled,
            created_at,
        })
    }

    /// A role named by a user: valid, existing (or else allowed to be
    /// created), and one the administrator may grant.
    fn role(&mut self, name: &str) -> Result<String, String> {
        let role = RoleName::parse(name)
            .map_err(|e| format!("roles: {e}"))?
            .into_string();
        if !self.roles_known.contains(&role) && self.options.missing_roles == MissingRoles::Refuse {
            return Err(format!("roles: the role {role} does not exist"));
        }
        let allowed = *self.roles_allowed.entry(role.clone()).or_insert_with(|| {
            let permissions =
                roles::permissions_of(std::slice::from_ref(&role), &self.stored_roles);
            self.administrator.require_all(&permissions).is_ok()
        });
        if allowed {
            Ok(role)
        } else {
            Err(format!(
                "roles: {role} grants permissions the importer does not hold"
            ))
        }
    }

    /// Writes the queued users as one batch, deciding for those whose
    /// email exists; plans again if an email was taken meanwhile.
    async fn flush(&mut self) -> Result<(), AuthError> {
        if self.pending.is_empty() && self.roles_to_create.is_empty() {
            return Ok(());
        }
        let store = &self.core.store;
        let emails: Vec<Email> = self.pending.iter().map(|(_, u)| u.email.clone()).collect();
        let mut attempts = 0;
        let plan = loop {
            let existing: HashMap<Email, ExistingAccount> = store
                .existing_accounts(&emails)
                .await?
                .into_iter()
                .map(|account| (account.email.clone(), account))
                .collect();
            let plan = self.plan(&existing);
            if self.options.mode == ImportMode::DryRun {
                break plan;
            }
            let touched: Vec<Uuid> = plan.batch.updates.iter().map(|u| u.id).collect();
            let written = self
                .core
                .accounts
                .writing_accounts_and_roles(&touched, store.write_import_batch(&plan.batch))
                .await;
            match written {
                Ok(()) => break plan,
                // Another process took one of these emails since the read.
                Err(StoreError::Conflict) if attempts < 3 => attempts += 1,
                Err(error) => return Err(error.into()),
            }
        };
        self.pending.clear();
        self.report.roles_created.append(&mut self.roles_to_create);
        self.report.imported += plan.imported;
        self.report.updated += plan.updated;
        self.report.skipped += plan.skipped;
        for (at, reason) in plan.failures {
            self.fail(at, reason);
        }
        Ok(())
    }

    fn plan(&self, existing: &HashMap<Email, ExistingAccount>) -> Plan<L> {
        let mut plan = Plan {
            batch: ImportBatch {
                roles_to_create: self.roles_to_create.iter().cloned().collect(),
                new_accounts: Vec::new(),
                updates: Vec::new(),
                end_sessions_of: Vec::new(),
                delete_personal_tokens_of: Vec::new(),
                now: self.now,
            },
            imported: 0,
            updated: 0,
            skipped: 0,
            failures: Vec::new(),
        };
        for (at, user) in &self.pending {
            let Some(account) = existing.get(&user.email) else {
                plan.imported += 1;
                plan.batch.new_accounts.push(ImportedAccount {
                    id: Uuid::now_v7(),
                    email: user.email.clone(),
                    name: user.name.clone(),
                    password: user.password.clone().unwrap_or(StoredPassword {
                        hash: PasswordHashString::no_password(),
                        cost_stand_in: None,
                    }),
                    email_verified: user.email_verified.unwrap_or(false),
                    disabled: user.disabled.unwrap_or(false),
                    created_at: user.created_at,
                    roles: user.roles.clone().unwrap_or_default(),
                });
                continue;
            };
            match self.options.on_conflict {
                OnConflict::Skip => plan.skipped += 1,
                OnConflict::Fail => plan.failures.push((
                    at.clone(),
                    format!("email: an account with {} exists", user.email),
                )),
                OnConflict::Update => {
                    plan.updated += 1;
                    let new_hash = user
                        .password
                        .as_ref()
                        .is_some_and(|p| p.hash != account.password_hash);
                    let now_disabled = user.disabled == Some(true) && !account.disabled;
                    if new_hash || now_disabled {
                        plan.batch.end_sessions_of.push(account.id);
                    }
                    if now_disabled {
                        plan.batch.delete_personal_tokens_of.push(account.id);
                    }
                    plan.batch.updates.push(AccountUpdate {
                        id: account.id,
                        name: user.name.clone(),
                        password: user.password.clone(),
                        email_verified: user.email_verified,
                        disabled: user.disabled,
                        roles: user.roles.clone(),
                    });
                }
            }
        }
        plan
    }
}
