-- Readers of `revoked_sessions` continue from where they read, not from a
-- time: a time window lost revocations stamped by an instance whose clock
-- ran behind, or committed late by a long transaction. Each entry carries
-- the id of the transaction that wrote it; a reader notes the oldest
-- transaction still running when it reads (its snapshot's xmin) and next
-- time reads every entry from that transaction on, as for account_changes.
-- Entries already here get this migration's transaction id.
ALTER TABLE revoked_sessions
    ADD COLUMN xact BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::BIGINT);

CREATE INDEX revoked_sessions_by_xact ON revoked_sessions (xact);
