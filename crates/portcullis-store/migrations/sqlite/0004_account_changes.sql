-- A feed of account changes, so that every process sharing the database can
-- forget what it keeps in memory about an account (the account cache of
-- portcullis_core) within a second of a change made anywhere: by another
-- instance, by the command line, or by hand in SQL. Triggers write it, so
-- no way of changing these tables can skip it. `kind` is 'user' (that
-- account's email, name, disabled flag or roles held, or the account is
-- gone) or 'roles' (a role itself changed, so any account's permissions may
-- have). A password change is not recorded: no process keeps password
-- hashes in memory.
--
-- Readers continue from the last `id` they read. SQLite has one writer at a
-- time, so ids become visible in order, and AUTOINCREMENT never hands out
-- an id again, even after pruning has emptied the table. Housekeeping
-- prunes entries by age.
CREATE TABLE account_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('user', 'roles')),
    user_id    TEXT,
    changed_at INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;

CREATE INDEX account_changes_by_time ON account_changes (changed_at);

CREATE TRIGGER users_record_change
AFTER UPDATE OF id, email, name, disabled ON users
BEGIN
    INSERT INTO account_changes (kind, user_id) VALUES ('user', OLD.id), ('user', NEW.id);
END;

-- A new account is in no cache, but INSERT OR REPLACE deletes an existing
-- row without firing its delete trigger (recursive_triggers is off).
CREATE TRIGGER users_record_insertion
AFTER INSERT ON users
BEGIN
    INSERT INTO account_changes (kind, user_id) VALUES ('user', NEW.id);
END;

CREATE TRIGGER users_record_deletion
AFTER DELETE ON users
BEGIN
    INSERT INTO account_changes (kind, user_id) VALUES ('user', OLD.id);
END;

CREATE TRIGGER user_roles_record_grant
AFTER INSERT ON user_roles
BEGIN
    INSERT INTO account_changes (kind, user_id) VALUES ('user', NEW.user_id);
END;

CREATE TRIGGER user_roles_record_change
AFTER UPDATE ON user_roles
BEGIN
    INSERT INTO account_changes (kind, user_id) VALUES ('user', OLD.user_id), ('user', NEW.user_id);
END;

CREATE TRIGGER user_roles_record_removal
AFTER DELETE ON user_roles
BEGIN
    INSERT INTO account_changes (kind, user_id) VALUES ('user', OLD.user_id);
END;

CREATE TRIGGER roles_record_creation AFTER INSERT ON roles
BEGIN
    INSERT INTO account_changes (kind) VALUES ('roles');
END;

CREATE TRIGGER roles_record_change AFTER UPDATE ON roles
BEGIN
    INSERT INTO account_changes (kind) VALUES ('roles');
END;

CREATE TRIGGER roles_record_deletion AFTER DELETE ON roles
BEGIN
    INSERT INTO account_changes (kind) VALUES ('roles');
END;

CREATE TRIGGER role_permissions_record_grant AFTER INSERT ON role_permissions
BEGIN
    INSERT INTO account_changes (kind) VALUES ('roles');
END;

CREATE TRIGGER role_permissions_record_change AFTER UPDATE ON role_permissions
BEGIN
    INSERT INTO account_changes (kind) VALUES ('roles');
END;

CREATE TRIGGER role_permissions_record_removal AFTER DELETE ON role_permissions
BEGIN
    INSERT INTO account_changes (kind) VALUES ('roles');
END;
