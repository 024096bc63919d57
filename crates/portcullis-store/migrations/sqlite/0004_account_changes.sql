-- A feed of account changes, so that every process sharing the database can
-- forget what it keeps in memory about an account (the account cache of
-- portcullis_core) within a second of a change made anywhere: by another
-- instance, by the command line, or by hand in SQL. Triggers write it, so
-- no way of making a change can skip it. A NULL `user_id` means a role
-- itself changed, so the permissions of any account may have; a password
-- change is not recorded, because no process keeps password hashes in
-- memory. Housekeeping prunes old rows.
CREATE TABLE account_changes (
    user_id    TEXT,
    changed_at INTEGER NOT NULL
) STRICT;

CREATE INDEX account_changes_by_time ON account_changes (changed_at);

CREATE TRIGGER users_record_change
AFTER UPDATE OF email, name, disabled ON users
BEGIN
    INSERT INTO account_changes (user_id, changed_at) VALUES (NEW.id, unixepoch());
END;

CREATE TRIGGER users_record_deletion
AFTER DELETE ON users
BEGIN
    INSERT INTO account_changes (user_id, changed_at) VALUES (OLD.id, unixepoch());
END;

CREATE TRIGGER user_roles_record_grant
AFTER INSERT ON user_roles
BEGIN
    INSERT INTO account_changes (user_id, changed_at) VALUES (NEW.user_id, unixepoch());
END;

CREATE TRIGGER user_roles_record_removal
AFTER DELETE ON user_roles
BEGIN
    INSERT INTO account_changes (user_id, changed_at) VALUES (OLD.user_id, unixepoch());
END;

CREATE TRIGGER roles_record_creation
AFTER INSERT ON roles
BEGIN
    INSERT INTO account_changes (user_id, changed_at) VALUES (NULL, unixepoch());
END;

CREATE TRIGGER roles_record_deletion
AFTER DELETE ON roles
BEGIN
    INSERT INTO account_changes (user_id, changed_at) VALUES (NULL, unixepoch());
END;

CREATE TRIGGER role_permissions_record_grant
AFTER INSERT ON role_permissions
BEGIN
    INSERT INTO account_changes (user_id, changed_at) VALUES (NULL, unixepoch());
END;

CREATE TRIGGER role_permissions_record_removal
AFTER DELETE ON role_permissions
BEGIN
    INSERT INTO account_changes (user_id, changed_at) VALUES (NULL, unixepoch());
END;
