//! Accounts and roles: users, their role names, and each role's permissions.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use uuid::Uuid;

use portcullis_core::email::Email;
use portcullis_core::hashing::PasswordHashString;
use portcullis_core::roles::Role;
use portcullis_core::store::{
    AccountStore, ProfileChange, StoreError, UserQuery, UserRecord, UserUpdate,
};

use crate::dialect::Dialect;
use crate::rows::{Columns as _, found, roles_from_rows, select_users, users_from_rows};
use crate::sql_store::SqlStore;
use crate::statement::Statement;
use crate::store_impl::insert_user_roles;
use crate::transaction::Transaction;

#[async_trait]
impl<D: Dialect> AccountStore for SqlStore<D> {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let insert = Statement::new(
            "INSERT INTO users (id, email, name, password_hash, disabled, email_verified, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user.id)
        .bind(user.email.as_str())
        .bind(user.name.as_deref())
        .bind(user.password_hash.0.as_str())
        .bind(user.disabled)
        .bind(user.email_verified)
        .bind(user.created_at.unix_timestamp());
        let mut statements = vec![insert];
        statements.extend(insert_user_roles::<D>(user.id, &user.roles));
        self.write_together(statements).await.map(drop)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        let statement = Statement::new(select_users!("WHERE u.id = $1 ORDER BY r.role")).bind(id);
        Ok(users_from_rows(&self.fetch_all(statement).await?)?.pop())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError> {
        let statement = Statement::new(select_users!("WHERE u.email = $1 ORDER BY r.role"))
            .bind(email.as_str());
        Ok(users_from_rows(&self.fetch_all(statement).await?)?.pop())
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let statement = Statement::new(select_users!("ORDER BY u.created_at, u.id, r.role"));
        users_from_rows(&self.fetch_all(statement).await?)
    }

    async fn query_users(&self, query: &UserQuery) -> Result<Vec<UserRecord>, StoreError> {
        let statement = Statement::new(D::QUERY_USERS)
            .bind(query.after)
            .bind(query.email_contains.as_deref().map(str::to_lowercase))
            .bind(i64::from(query.limit));
        users_from_rows(&self.fetch_all(statement).await?)
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        let statement = Statement::new("SELECT COUNT(*) AS count FROM users");
        let count = match self.fetch_optional(statement).await? {
            Some(row) => row.integer("count")?,
            None => 0,
        };
        u64::try_from(count).map_err(|_| StoreError::Other(format!("negative user count {count}")))
    }

    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> Result<(), StoreError> {
        let statement = Statement::new(
            "UPDATE users SET email = COALESCE($1, email), name = CASE WHEN $2 THEN $3 ELSE name END
             WHERE id = $4",
        )
        .bind(change.email.as_ref().map(Email::as_str))
        .bind(change.name.is_some())
        .bind(change.name.as_ref().and_then(Option::as_deref))
        .bind(id);
        found(self.write_one(statement).await?)
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &PasswordHashString,
    ) -> Result<(), StoreError> {
        // A hash set here is the server's own: no imported class any more.
        let statement = Statement::new(
            "UPDATE users SET password_hash = $1, password_hash_class = NULL WHERE id = $2",
        )
        .bind(hash.0.as_str())
        .bind(id);
        found(self.write_one(statement).await?)
    }

    async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<(), StoreError> {
        let statement = Statement::new("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id);
        let changed = self
            .keeping_an_administrator(Some(id), vec![statement])
            .await?;
        found(changed.iter().sum())
    }

    async fn update_user(&self, id: Uuid, update: &UserUpdate) -> Result<(), StoreError> {
        let mut statements = Vec::new();
        if let Some(roles) = &update.roles {
            statements.push(Statement::new("DELETE FROM user_roles WHERE user_id = $1").bind(id));
            statements.extend(insert_user_roles::<D>(id, roles));
        }
        if let Some(name) = &update.name {
            statements.push(
                Statement::new("UPDATE users SET name = $1 WHERE id = $2")
                    .bind(name.as_deref())
                    .bind(id),
            );
        }
        if let Some(verified) = update.email_verified {
            statements.push(
                Statement::new("UPDATE users SET email_verified = $1 WHERE id = $2")
                    .bind(verified)
                    .bind(id),
            );
        }
        if let Some(disabled) = update.disabled {
            statements.push(
                Statement::new("UPDATE users SET disabled = $1 WHERE id = $2")
                    .bind(disabled)
                    .bind(id),
            );
        }
        let statements: Vec<Statement<'static>> =
            statements.into_iter().map(Statement::into_owned).collect();
        self.keeping_an_administrator(Some(id), statements)
            .await
            .map(drop)
    }

    async fn set_roles(&self, id: Uuid, roles: &[String]) -> Result<(), StoreError> {
        let mut replace =
            vec![Statement::new("DELETE FROM user_roles WHERE user_id = $1").bind(id)];
        replace.extend(insert_user_roles::<D>(id, roles));
        let replace: Vec<Statement<'static>> =
            replace.into_iter().map(Statement::into_owned).collect();
        self.keeping_an_administrator(Some(id), replace)
            .await
            .map(drop)
    }

    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError> {
        // Sessions and role assignments go with it (ON DELETE CASCADE).
        let delete = Statement::new("DELETE FROM users WHERE id = $1").bind(id);
        let changed = self
            .keeping_an_administrator(Some(id), vec![delete])
            .await?;
        found(changed.iter().sum())
    }

    async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        let statement = Statement::new(
            "SELECT r.name, p.permission FROM roles AS r LEFT JOIN role_permissions AS p ON p.role = r.name
             ORDER BY r.name, p.permission",
        );
        roles_from_rows(&self.fetch_all(statement).await?)
    }

    async fn put_role(&self, role: &Role) -> Result<(), StoreError> {
        let name = role.name.as_str();
        // DO UPDATE (a change to the same name) rather than DO NOTHING: it
        // locks an existing row, so two `put_role` of one name replace each
        // other's permissions whole where writers are not serialised.
        let mut statements = vec![
            Statement::new(
                "INSERT INTO roles (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name",
            )
            .bind(name),
            Statement::new("DELETE FROM role_permissions WHERE role = $1").bind(name),
        ];
        if !role.permissions.is_empty() {
            let permissions: Vec<&str> = role.permissions.iter().map(String::as_str).collect();
            statements.push(
                Statement::new(D::INSERT_ROLE_PERMISSIONS)
                    .bind(name)
                    .bind(permissions),
            );
        }
        self.write_together(statements).await.map(drop)
    }

    async fn delete_role(&self, name: &str) -> Result<(), StoreError> {
        // Users keep the name in `user_roles`; a name without a role grants nothing.
        found(
            self.write_one(Statement::new("DELETE FROM roles WHERE name = $1").bind(name))
                .await?,
        )
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Runs `change` (to `user`, whose row it locks, or to any users) in one
    /// write transaction that refuses (with [`StoreError::LastAdministrator`])
    /// to leave no active administrator where there was one; the rows each
    /// statement changed. [`StoreError::NotFound`] when there is no such user.
    pub(crate) async fn keeping_an_administrator(
        &self,
        user: Option<Uuid>,
        change: Vec<Statement<'_>>,
    ) -> Result<Vec<u64>, StoreError> {
        let change: Vec<Statement<'static>> =
            change.into_iter().map(Statement::into_owned).collect();
        self.write(move |store| async move {
            let mut transaction = store.begin().await?;
            let outcome = async {
                if let Some(lock) = D::LOCK_ADMINISTRATORS {
                    transaction.fetch_optional(Statement::new(lock)).await?;
                }
                // The user's row, locked where writers are not serialised, so
                // that a concurrent change of the same user waits and then
                // sees this one's rows.
                if let Some(id) = user {
                    let lock = Statement::new(D::LOCK_USER).bind(id);
                    if transaction.fetch_optional(lock).await?.is_none() {
                        return Err(StoreError::NotFound);
                    }
                }
                let before = count_active_administrators(&mut transaction).await?;
                let mut changed = Vec::with_capacity(change.len());
                for statement in change {
                    changed.push(transaction.execute(statement).await?);
                }
                if before > 0 && count_active_administrators(&mut transaction).await? == 0 {
                    return Err(StoreError::LastAdministrator);
                }
                Ok(changed)
            }
            .await;
            match outcome {
                Ok(changed) => transaction.finish(Ok(())).await.map(|()| changed),
                Err(error) => transaction.finish(Err(error)).await.map(|()| Vec::new()),
            }
        })
        .await
    }
}

/// Users holding the built-in `admin` role who are not disabled.
async fn count_active_administrators<D: Dialect>(
    transaction: &mut Transaction<D>,
) -> Result<i64, StoreError> {
    let count = Statement::new(
        "SELECT COUNT(*) AS administrators FROM users AS u
         JOIN user_roles AS r ON r.user_id = u.id
         WHERE r.role = 'admin' AND NOT u.disabled",
    );
    transaction
        .fetch_optional(count)
        .await?
        .map_or(Ok(0), |row| row.integer("administrators"))
}
