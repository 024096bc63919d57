//! Users moved in and out: a batch read of existing accounts, a batch
//! written in one transaction, the distinct costs of imported hashes, and
//! users page by page for an export.
//!
//! Part of [`crate::store_impl`]. A batch travels as one JSON document per
//! statement (each row an object), which both databases read as a table in
//! one pass: SQLite with `json_each`, PostgreSQL with `jsonb_to_recordset`.
//! Only those row sources differ, and each dialect gives them to
//! [`import_statements!`], which writes every statement around them once.
//! Every text of a row is checked for NUL before it is encoded, as
//! [`Statement`] checks what it binds. This module must never hold a row
//! source of its own.

use async_trait::async_trait;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use portcullis_core::email::Email;
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::store::{
    AccountUpdate, ExistingAccount, ImportBatch, ImportStore, ImportedAccount, StoreError,
    UserRecord,
};

use crate::dialect::Dialect;
use crate::rows::{BackendRow as _, Columns as _, select_users, users_from_rows};
use crate::sql_store::SqlStore;
use crate::statement::{Statement, refuse_nul};

/// The statements of an import, for one database: [`import_statements!`]
/// makes them from its row sources.
#[derive(Debug)]
pub struct ImportStatements {
    pub(crate) existing_accounts: &'static str,
    pub(crate) create_roles: &'static str,
    pub(crate) insert_accounts: &'static str,
    pub(crate) update_accounts: &'static str,
    pub(crate) clear_roles: &'static str,
    pub(crate) grant_roles: &'static str,
    pub(crate) end_sessions: &'static str,
    pub(crate) delete_personal_tokens: &'static str,
}

/// [`ImportStatements`] around a database's row sources, each reading `$1`:
/// `accounts`, a table of `id, email, name, password_hash,
/// password_hash_class, email_verified, disabled, created_at` from a JSON
/// array of objects with those keys; `grants`, of `user_id, role`, the same
/// way; `ids`, of `id`, from a bound list of ids; `names`, of `name`, from a
/// bound list of texts.
macro_rules! import_statements {
    (accounts: $accounts:literal, grants: $grants:literal, ids: $ids:literal, names: $names:literal $(,)?) => {
        $crate::store_impl::import::ImportStatements {
            existing_accounts: concat!(
                "SELECT id, email, password_hash, disabled FROM users WHERE email IN (SELECT name FROM ",
                $names,
                " AS n)"
            ),
            // `WHERE true` tells SQLite's parser that ON CONFLICT is the upsert's.
            create_roles: concat!(
                "INSERT INTO roles (name) SELECT name FROM ",
                $names,
                " AS n WHERE true ON CONFLICT (name) DO NOTHING"
            ),
            insert_accounts: concat!(
                "INSERT INTO users (id, email, name, password_hash, password_hash_class,
                                    email_verified, disabled, created_at)
                 SELECT id, email, name, password_hash, password_hash_class, email_verified,
                        disabled, created_at FROM ",
                $accounts,
                " AS r"
            ),
            update_accounts: concat!(
                "UPDATE users SET
                    name = COALESCE(r.name, users.name),
                    password_hash = COALESCE(r.password_hash, users.password_hash),
                    password_hash_class = CASE WHEN r.password_hash IS NULL
                        THEN users.password_hash_class ELSE r.password_hash_class END,
                    email_verified = COALESCE(r.email_verified, users.email_verified),
                    disabled = COALESCE(r.disabled, users.disabled)
                 FROM ",
                $accounts,
                " AS r WHERE users.id = r.id"
            ),
            clear_roles: concat!(
                "DELETE FROM user_roles WHERE user_id IN (SELECT id FROM ",
                $ids,
                " AS i)"
            ),
            grant_roles: concat!(
                "INSERT INTO user_roles (user_id, role) SELECT user_id, role FROM ",
                $grants,
                " AS g"
            ),
            end_sessions: concat!(
                "UPDATE sessions SET revoked_at = $2
                 WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM ",
                $ids,
                " AS i)"
            ),
            delete_personal_tokens: concat!(
                "DELETE FROM personal_tokens WHERE user_id IN (SELECT id FROM ",
                $ids,
                " AS i)"
            ),
        }
    };
}

pub(crate) use import_statements;

/// The distinct cost stand-ins, by a skip scan of the partial index on
/// `password_hash_class`: one index probe per class, however many users.
const IMPORTED_HASH_COSTS: &str = "WITH RECURSIVE classes (class) AS (
        SELECT MIN(password_hash_class) FROM users WHERE password_hash_class IS NOT NULL
        UNION ALL
        SELECT (SELECT MIN(u.password_hash_class) FROM users AS u
                WHERE u.password_hash_class > c.class)
        FROM classes AS c WHERE c.class IS NOT NULL
    )
    SELECT class FROM classes WHERE class IS NOT NULL";

#[async_trait]
impl<D: Dialect> ImportStore for SqlStore<D> {
    async fn existing_accounts(
        &self,
        emails: &[Email],
    ) -> Result<Vec<ExistingAccount>, StoreError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        let emails: Vec<&str> = emails.iter().map(Email::as_str).collect();
        let statement = Statement::new(D::IMPORT.existing_accounts).bind(emails);
        self.fetch_all(statement)
            .await?
            .iter()
            .map(|row| {
                Ok(ExistingAccount {
                    id: row.uuid("id")?,
                    email: Email::from_trusted(row.text("email")?),
                    password_hash: PasswordHashString(row.text("password_hash")?),
                    disabled: row.flag("disabled")?,
                })
            })
            .collect()
    }

    async fn write_import_batch(&self, batch: &ImportBatch) -> Result<(), StoreError> {
        let statements = &D::IMPORT;
        let mut writes = Vec::new();
        if !batch.roles_to_create.is_empty() {
            let names: Vec<&str> = batch.roles_to_create.iter().map(String::as_str).collect();
            writes.push(Statement::new(statements.create_roles).bind(names));
        }
        if !batch.end_sessions_of.is_empty() {
            writes.push(
                Statement::new(statements.end_sessions)
                    .bind(batch.end_sessions_of.clone())
                    .bind(batch.now.unix_timestamp()),
            );
        }
        if !batch.delete_personal_tokens_of.is_empty() {
            writes.push(
                Statement::new(statements.delete_personal_tokens)
                    .bind(batch.delete_personal_tokens_of.clone()),
            );
        }
        let mut grants = Vec::new();
        if !batch.new_accounts.is_empty() {
            let rows = batch
                .new_accounts
                .iter()
                .map(new_account_row)
                .collect::<Result<Vec<_>, _>>()?;
            writes.push(
                Statement::new(statements.insert_accounts).bind(Json::Array(rows).to_string()),
            );
            for account in &batch.new_accounts {
                grants.extend(grant_rows(account.id, &account.roles)?);
            }
        }
        if !batch.updates.is_empty() {
            let rows = batch
                .updates
                .iter()
                .map(update_row)
                .collect::<Result<Vec<_>, _>>()?;
            writes.push(
                Statement::new(statements.update_accounts).bind(Json::Array(rows).to_string()),
            );
            let replaced: Vec<&AccountUpdate> =
                batch.updates.iter().filter(|u| u.roles.is_some()).collect();
            if !replaced.is_empty() {
                let ids = replaced.iter().map(|update| update.id).collect::<Vec<_>>();
                writes.push(Statement::new(statements.clear_roles).bind(ids));
                for update in replaced {
                    grants.extend(grant_rows(
                        update.id,
                        update.roles.as_deref().unwrap_or_default(),
                    )?);
                }
            }
        }
        if !grants.is_empty() {
            writes
                .push(Statement::new(statements.grant_roles).bind(Json::Array(grants).to_string()));
        }
        if writes.is_empty() {
            return Ok(());
        }
        if batch.updates.is_empty() {
            self.write_together(writes).await.map(drop)
        } else {
            // An update may take `admin` away or disable its holder.
            self.keeping_an_administrator(None, writes).await.map(drop)
        }
    }

    async fn imported_hash_costs(&self) -> Result<Vec<PasswordHashString>, StoreError> {
        self.fetch_all(Statement::new(IMPORTED_HASH_COSTS))
            .await?
            .iter()
            .map(|row| row.text("class").map(PasswordHashString))
            .collect()
    }

    async fn users_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StoreError> {
        // The nil id sorts before every other, as text and as a UUID.
        let statement = Statement::new(select_users!(
            "WHERE u.id IN (SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2)
             ORDER BY u.id, r.role"
        ))
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(i64::from(limit));
        users_from_rows(&self.fetch_all(statement).await?)
    }
}

/// A text for a row, refused when it holds NUL.
fn text(value: &str) -> Result<Json, StoreError> {
    refuse_nul(value)?;
    Ok(Json::from(value))
}

fn optional_text(value: Option<&str>) -> Result<Json, StoreError> {
    value.map_or(Ok(Json::Null), text)
}

fn new_account_row(account: &ImportedAccount) -> Result<Json, StoreError> {
    Ok(json!({
        "id": account.id.hyphenated().to_string(),
        "email": text(account.email.as_str())?,
        "name": optional_text(account.name.as_deref())?,
        "password_hash": text(&account.password.hash.0)?,
        "password_hash_class": optional_text(account.password.cost_stand_in.as_ref().map(|c| c.0.as_str()))?,
        "email_verified": account.email_verified,
        "disabled": account.disabled,
        "created_at": account.created_at.unix_timestamp(),
    }))
}

/// An update's row: `null` keeps a field.
fn update_row(update: &AccountUpdate) -> Result<Json, StoreError> {
    let password = update.password.as_ref();
    Ok(json!({
        "id": update.id.hyphenated().to_string(),
        "email": Json::Null,
        "name": optional_text(update.name.as_deref())?,
        "password_hash": optional_text(password.map(|p| p.hash.0.as_str()))?,
        "password_hash_class": optional_text(password.and_then(|p| p.cost_stand_in.as_ref()).map(|c| c.0.as_str()))?,
        "email_verified": update.email_verified,
        "disabled": update.disabled,
        "created_at": Json::Null,
    }))
}

/// One row per role, each once.
fn grant_rows(user_id: Uuid, roles: &[String]) -> Result<Vec<Json>, StoreError> {
    let unique: std::collections::BTreeSet<&str> = roles.iter().map(String::as_str).collect();
    let user_id = user_id.hyphenated().to_string();
    unique
        .into_iter()
        .map(|role| Ok(json!({ "user_id": user_id, "role": text(role)? })))
        .collect()
}
