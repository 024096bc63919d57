//! The mail outbox: queued messages, claims with a lease, outcomes.
//!
//! A claim is one `UPDATE … RETURNING` whose outer `WHERE` repeats the
//! conditions of the rows it picks: on PostgreSQL, a second claimer that
//! picked the same rows waits for the first one's row locks, then re-checks
//! that condition on the rows as the first one left them and skips them;
//! SQLite runs one writer at a time. So concurrent claims never share a
//! row, on either database, with the same text.
//!
//! Part of [`crate::store_impl`]: SQL written once for every database.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use portcullis_core::store::{ClaimedMail, MailAttempt, MailStore, QueuedMail, StoreError};

use crate::dialect::Dialect;
use crate::rows::{BackendRow as _, Columns as _};
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
