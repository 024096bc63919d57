-- Revocations outlive their sessions: a deleted user's sessions go with the
-- user (ON DELETE CASCADE), yet every instance must still learn that they
-- were revoked, until the last access token of each has expired. The trigger
-- records every revocation, however it is made; housekeeping prunes old rows.
CREATE TABLE revoked_sessions (
    session_id TEXT    NOT NULL PRIMARY KEY,
    revoked_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX revoked_sessions_by_time ON revoked_sessions (revoked_at);

INSERT INTO revoked_sessions (session_id, revoked_at)
SELECT id, revoked_at FROM sessions WHERE revoked_at IS NOT NULL;

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
