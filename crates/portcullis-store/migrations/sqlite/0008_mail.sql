-- Mail (issue 11): the outbox, and the one-time tokens the messages carry.
--
-- `email_tokens`: a link token and a code sent by mail, for one purpose of
-- one account. Only hashes are kept: `link_hash` is the SHA-256 of the
-- link's token (made for every purpose, even one whose message shows only
-- the code), `code_hash` the
-- SHA-256 of the row's id and the code. A row is spent when `used_at` is
-- set; a new request of the same purpose deletes the older rows; a code
-- dies after `failed_tries` reaches 5. `email`: the address the token
-- proves (the account's, or the new one of an email change).
CREATE TABLE email_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      TEXT    NOT NULL,
    link_hash    BLOB    NOT NULL UNIQUE,
    code_hash    BLOB    NOT NULL,
    email        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    failed_tries INTEGER NOT NULL DEFAULT 0,
    used_at      INTEGER
) STRICT;
CREATE INDEX email_tokens_by_user ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_by_expiry ON email_tokens (expires_at);

-- `mail_outbox`: one row per message, written in the same transaction as
-- the token it carries. `payload` is the message's JSON (link and code in
-- clear, since it has to be sent), cleared once the row is `sent` or
-- `failed`. A sender claims a `waiting` row whose `next_attempt_at` has
-- come by setting `claim_id` and `claimed_until` (a lease): no other
-- sender takes it before the lease ends, and a sender that died holding it
-- lets it be claimed again afterwards. Only the holder of the claim
-- records the outcome.
CREATE TABLE mail_outbox (
    id               TEXT    NOT NULL PRIMARY KEY,
    kind             TEXT    NOT NULL,
    payload          TEXT,
    state            TEXT    NOT NULL DEFAULT 'waiting',
    queued_at        INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    claim_id         TEXT,
    claimed_until    INTEGER,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    first_attempt_at INTEGER,
    finished_at      INTEGER,
    last_answer      TEXT
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'waiting';
CREATE INDEX mail_outbox_finished ON mail_outbox (finished_at) WHERE state <> 'waiting';
