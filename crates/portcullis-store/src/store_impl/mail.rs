//! The mail outbox (queued messages, claims with a lease, outcomes) and
//! the one-time tokens the messages carry.
//!
//! A claim is one `UPDATE … RETURNING` whose outer `WHERE` repeats the
//! conditions of the rows it picks: on PostgreSQL, a second claimer that
//! picked the same rows waits for the first one's row locks, then re-checks
//! that condition on the rows as the first one left them and skips them;
//! SQLite runs one writer at a time. So concurrent claims never share a
//! row, on either database, with the same text. Spending a token is the
//! same kind of compare-and-set: an `UPDATE` that matches only an unused,
//! live token, in the transaction that applies its effect.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::email_tokens::{EmailTokenPurpose, LinkTokenHash};
use portcullis_core::store::{
    ClaimedMail, EmailTokenRecord, EmailTokenStore, MailAttempt, MailStore, QueuedMail, StoreError,
    TokenEffect,
};

use crate::dialect::Dialect;
use crate::rows::{BackendRow as _, Columns as _, email_token_from_row, select_email_tokens};
use crate::sql_store::SqlStore;
use crate::statement::Statement;

/// The statement that queues `mail`, alone or beside the change it reports.
pub(crate) fn insert_mail(mail: &QueuedMail) -> Statement<'_> {
    Statement::new(
        "INSERT INTO mail_outbox (id, kind, payload, state, queued_at, next_attempt_at)
         VALUES ($1, $2, $3, 'waiting', $4, $4)",
    )
    .bind(mail.id)
    .bind(mail.kind)
    .bind(mail.payload.as_str())
    .bind(mail.queued_at.unix_timestamp())
}

#[async_trait]
impl<D: Dialect> MailStore for SqlStore<D> {
    async fn queue_mail(&self, mail: &QueuedMail) -> Result<(), StoreError> {
        self.write_one(insert_mail(mail)).await.map(drop)
    }

    async fn claim_mail(
        &self,
        claim: Uuid,
        now: OffsetDateTime,
        claimed_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        let statement = Statement::new(
            "UPDATE mail_outbox SET claim_id = $1, claimed_until = $3
             WHERE id IN (SELECT id FROM mail_outbox
                          WHERE state = 'waiting' AND next_attempt_at <= $2
                            AND (claimed_until IS NULL OR claimed_until <= $2)
                          ORDER BY next_attempt_at, id LIMIT $4)
               AND state = 'waiting' AND (claimed_until IS NULL OR claimed_until <= $2)
             RETURNING id, claim_id, payload, failed_attempts, first_attempt_at",
        )
        .bind(claim)
        .bind(now.unix_timestamp())
        .bind(claimed_until.unix_timestamp())
        .bind(i64::from(limit))
        .into_owned();
        let rows = self
            .write(|store| async move { store.fetch_all(statement).await })
            .await?;
        rows.iter()
            .map(|row| {
                let failed_attempts = row.integer("failed_attempts")?;
                Ok(ClaimedMail {
                    id: row.uuid("id")?,
                    claim: row.uuid("claim_id")?,
                    payload: row.text("payload")?,
                    failed_attempts: u32::try_from(failed_attempts).map_err(|_| {
                        StoreError::Other(format!(
                            "failed_attempts out of range: {failed_attempts}"
                        ))
                    })?,
                    first_attempt_at: row.optional_timestamp("first_attempt_at")?,
                })
            })
            .collect()
    }

    async fn record_mail_attempt(
        &self,
        id: Uuid,
        claim: Uuid,
        now: OffsetDateTime,
        attempt: &MailAttempt,
    ) -> Result<bool, StoreError> {
        // `$1` the message, `$2` the claim, `$3` now, `$4` the answer or
        // reason; a retry's time is `$5`.
        let statement = match attempt {
            MailAttempt::Sent { answer } => Statement::new(
                "UPDATE mail_outbox SET state = 'sent', payload = NULL, finished_at = $3,
                     last_answer = $4, claim_id = NULL, claimed_until = NULL,
                     first_attempt_at = COALESCE(first_attempt_at, $3)
                 WHERE id = $1 AND claim_id = $2 AND state = 'waiting'",
            )
            .bind(id)
            .bind(claim)
            .bind(now.unix_timestamp())
            .bind(answer.as_str()),
            MailAttempt::RetryAt { at, reason } => Statement::new(
                "UPDATE mail_outbox SET next_attempt_at = $5, failed_attempts = failed_attempts + 1,
                     last_answer = $4, claim_id = NULL, claimed_until = NULL,
                     first_attempt_at = COALESCE(first_attempt_at, $3)
                 WHERE id = $1 AND claim_id = $2 AND state = 'waiting'",
            )
            .bind(id)
            .bind(claim)
            .bind(now.unix_timestamp())
            .bind(reason.as_str())
            .bind(at.unix_timestamp()),
            MailAttempt::GaveUp { reason } => Statement::new(
                "UPDATE mail_outbox SET state = 'failed', payload = NULL, finished_at = $3,
                     failed_attempts = failed_attempts + 1, last_answer = $4,
                     claim_id = NULL, claimed_until = NULL,
                     first_attempt_at = COALESCE(first_attempt_at, $3)
                 WHERE id = $1 AND claim_id = $2 AND state = 'waiting'",
            )
            .bind(id)
            .bind(claim)
            .bind(now.unix_timestamp())
            .bind(reason.as_str()),
        };
        Ok(self.write_one(statement).await? == 1)
    }

    async fn count_waiting_mail(&self) -> Result<u64, StoreError> {
        let row = self
            .fetch_optional(Statement::new(
                "SELECT COUNT(*) AS waiting FROM mail_outbox WHERE state = 'waiting'",
            ))
            .await?
            .ok_or_else(|| StoreError::Other("COUNT returned no row".into()))?;
        let waiting = row.integer("waiting")?;
        u64::try_from(waiting).map_err(|_| StoreError::Other(format!("negative count {waiting}")))
    }

    async fn prune_finished_mail(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.write_one(
            Statement::new(
                "DELETE FROM mail_outbox WHERE id IN
                     (SELECT id FROM mail_outbox
                      WHERE state <> 'waiting' AND finished_at < $1 LIMIT $2)",
            )
            .bind(before.unix_timestamp())
            .bind(i64::from(limit)),
        )
        .await
    }
}

#[async_trait]
impl<D: Dialect> EmailTokenStore for SqlStore<D> {
    async fn issue_email_token(
        &self,
        token: &EmailTokenRecord,
        mail: &QueuedMail,
    ) -> Result<(), StoreError> {
        let cancel_older = Statement::new(
            "DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
        )
        .bind(token.user_id)
        .bind(token.purpose.as_str());
        let insert = Statement::new(
            "INSERT INTO email_tokens (id, user_id, purpose, link_hash, code_hash, email,
                                       created_at, expires_at, failed_tries, used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, NULL)",
        )
        .bind(token.id)
        .bind(token.user_id)
        .bind(token.purpose.as_str())
        .bind(token.link_hash.0.as_slice())
        .bind(token.code_hash.0.as_slice())
        .bind(token.email.as_str())
        .bind(token.created_at.unix_timestamp())
        .bind(token.expires_at.unix_timestamp());
        self.write_together(vec![cancel_older, insert, insert_mail(mail)])
            .await
            .map(drop)
    }

    async fn email_token_by_link(
        &self,
        hash: &LinkTokenHash,
    ) -> Result<Option<EmailTokenRecord>, StoreError> {
        let statement =
            Statement::new(select_email_tokens!("WHERE link_hash = $1")).bind(hash.0.as_slice());
        let row = self.fetch_optional(statement).await?;
        row.as_ref().map(email_token_from_row).transpose()
    }

    async fn live_email_tokens(
        &self,
        user_id: Uuid,
        purpose: EmailTokenPurpose,
        now: OffsetDateTime,
        max_tries: u32,
    ) -> Result<Vec<EmailTokenRecord>, StoreError> {
        let statement = Statement::new(select_email_tokens!(
            "WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL
               AND expires_at > $3 AND failed_tries < $4
             ORDER BY id"
        ))
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(now.unix_timestamp())
        .bind(i64::from(max_tries));
        self.fetch_all(statement)
            .await?
            .iter()
            .map(email_token_from_row)
            .collect()
    }

    async fn count_wrong_code(&self, id: Uuid) -> Result<(), StoreError> {
        let statement =
            Statement::new("UPDATE email_tokens SET failed_tries = failed_tries + 1 WHERE id = $1")
                .bind(id);
        self.write_one(statement).await.map(drop)
    }

    async fn spend_email_token(
        &self,
        token: &EmailTokenRecord,
        now: OffsetDateTime,
        max_tries: u32,
        effect: TokenEffect<'_>,
        notice: Option<&QueuedMail>,
    ) -> Result<bool, StoreError> {
        let spend = Statement::new(
            "UPDATE email_tokens SET used_at = $2
             WHERE id = $1 AND used_at IS NULL AND expires_at > $2 AND failed_tries < $3",
        )
        .bind(token.id)
        .bind(now.unix_timestamp())
        .bind(i64::from(max_tries));
        // A verification or a reset applies only while the account still
        // has the token's address.
        let effect = match effect {
            TokenEffect::VerifyEmail => Statement::new(
                "UPDATE users SET email_verified = $3 WHERE id = $1 AND email = $2",
            )
            .bind(token.user_id)
            .bind(token.email.as_str())
            .bind(true),
            TokenEffect::ResetPassword { hash } => Statement::new(
                "UPDATE users SET password_hash = $4, password_hash_class = NULL, email_verified = $3
                 WHERE id = $1 AND email = $2",
            )
            .bind(token.user_id)
            .bind(token.email.as_str())
            .bind(true)
            .bind(hash.0.as_str()),
            // The unique email index refuses an address taken meanwhile.
            TokenEffect::ChangeEmail => Statement::new(
                "UPDATE users SET email = $2, email_verified = $3 WHERE id = $1",
            )
            .bind(token.user_id)
            .bind(token.email.as_str())
            .bind(true),
        };
        let statements: Vec<Statement<'static>> = [spend, effect]
            .into_iter()
            .chain(notice.map(insert_mail))
            .map(Statement::into_owned)
            .collect();
        self.write(|store| async move {
            let mut transaction = store.begin().await?;
            let mut outcome = Ok(true);
            for statement in statements {
                match transaction.execute(statement).await {
                    // Every statement changes exactly one row, or nothing may change.
                    Ok(1) => {}
                    Ok(_) => {
                        outcome = Err(None);
                        break;
                    }
                    Err(error) => {
                        outcome = Err(Some(error));
                        break;
                    }
                }
            }
            match outcome {
                Ok(spent) => transaction.finish(Ok(spent)).await,
                Err(None) => transaction
                    .finish(Err(StoreError::NotFound))
                    .await
                    .or(Ok(false)),
                Err(Some(error)) => transaction.finish(Err(error)).await,
            }
        })
        .await
    }

    async fn prune_email_tokens(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.write_one(
            Statement::new(
                "DELETE FROM email_tokens WHERE id IN
                     (SELECT id FROM email_tokens WHERE expires_at < $1 LIMIT $2)",
            )
            .bind(before.unix_timestamp())
            .bind(i64::from(limit)),
        )
        .await
    }
}
