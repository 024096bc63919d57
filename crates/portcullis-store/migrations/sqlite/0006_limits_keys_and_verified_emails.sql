-- Counts of events per key in fixed windows (sign-ups per client address,
-- mail requests per address and per email), shared by every instance.
CREATE TABLE rate_limits (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limits_by_window ON rate_limits (window_start);

-- When a key starts signing: a rotation publishes the next key ahead of
-- it. NULL for keys made before, which signed from their making.
ALTER TABLE signing_keys ADD COLUMN active_from INTEGER;

-- Whether the owner of the address proved it (a link or code sent there),
-- or an operator or an import said so. Cached with the account, so its
-- changes go to the account-change feed like the other columns'.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER users_record_change;
CREATE TRIGGER users_record_change
AFTER UPDATE OF id, email, name, disabled, email_verified ON users
BEGIN
    INSERT INTO account_changes (kind, user_id) VALUES ('user', OLD.id), ('user', NEW.id);
END;

-- The feeds are pruned by position (the position a read returned a
-- retention period ago), no longer by the time an entry was written.
DROP INDEX account_changes_by_time;
DROP INDEX revoked_sessions_by_time;
