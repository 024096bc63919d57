-- Readers of `revoked_sessions` continue from the last entry they read, not
-- from a time: a time window lost revocations stamped by an instance whose
-- clock ran behind, or committed late by a long transaction. `seq` grows
-- with each revocation (SQLite has one writer at a time, so entries become
-- visible in `seq` order, and AUTOINCREMENT never hands out a number again).
-- SQLite cannot add such a column to a table, so the table is rebuilt; the
-- triggers that fill it are recreated around the rebuild.
DROP TRIGGER sessions_record_revocation;
DROP TRIGGER sessions_record_revoked_insert;

CREATE TABLE revoked_sessions_by_seq (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT    NOT NULL UNIQUE,
    revoked_at INTEGER NOT NULL
) STRICT;

INSERT INTO revoked_sessions_by_seq (session_id, revoked_at)
SELECT session_id, revoked_at FROM revoked_sessions ORDER BY revoked_at, session_id;

DROP TABLE revoked_sessions;
ALTER TABLE revoked_sessions_by_seq RENAME TO revoked_sessions;

CREATE INDEX revoked_sessions_by_time ON revoked_sessions (revoked_at);

CREATE TRIGGER sessions_record_revocation
AFTER UPDATE OF revoked_at ON sessions
WHEN NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL
BEGIN
    INSERT OR IGNORE INTO revoked_sessions (session_id, revoked_at) VALUES (NEW.id, NEW.revoked_at);
END;

CREATE TRIGGER sessions_record_revoked_insert
AFTER INSERT ON sessions
WHEN NEW.revoked_at IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO revoked_sessions (session_id, revoked_at) VALUES (NEW.id, NEW.revoked_at);
END;
