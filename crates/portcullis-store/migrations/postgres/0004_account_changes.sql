-- A feed of account changes, so that every process sharing the database can
-- forget what it keeps in memory about an account (the account cache of
-- portcullis_core) within a second of a change made anywhere: by another
-- instance, by the command line, or by hand in SQL. Triggers write it, so
-- no way of changing these tables can skip it. `kind` is 'user' (that
-- account's email, name, disabled flag or roles held, or the account is
-- gone), 'roles' (a role itself changed, so any account's permissions may
-- have) or 'everything' (a table was truncated). A password change is not
-- recorded: no process keeps password hashes in memory.
--
-- Each entry carries the id of the transaction that wrote it. A reader
-- notes the oldest transaction still running when it reads (the xmin of its
-- snapshot) and next time reads every entry from that transaction on, so an
-- entry committed late by a long transaction is never skipped: its
-- transaction was running, or had not started, at the previous read.
-- Housekeeping prunes entries by age, by the database's clock.
CREATE TABLE account_changes (
    xact       BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::BIGINT),
    kind       TEXT   NOT NULL CHECK (kind IN ('user', 'roles', 'everything')),
    user_id    UUID,
    changed_at BIGINT NOT NULL DEFAULT (floor(extract(epoch FROM clock_timestamp()))::BIGINT)
);

CREATE INDEX account_changes_by_xact ON account_changes (xact);
CREATE INDEX account_changes_by_time ON account_changes (changed_at);

CREATE FUNCTION record_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO account_changes (kind, user_id) VALUES ('user', OLD.id);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO account_changes (kind, user_id) VALUES ('user', NEW.id);
        END IF;
    ELSE
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO account_changes (kind, user_id) VALUES ('user', OLD.user_id);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO account_changes (kind, user_id) VALUES ('user', NEW.user_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- TG_ARGV[0]: the kind to record for the whole statement.
CREATE FUNCTION record_account_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_changes (kind) VALUES (TG_ARGV[0]);
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_record_change
AFTER UPDATE OF id, email, name, disabled OR DELETE ON users
FOR EACH ROW EXECUTE FUNCTION record_account_change();

CREATE TRIGGER user_roles_record_change
AFTER INSERT OR UPDATE OR DELETE ON user_roles
FOR EACH ROW EXECUTE FUNCTION record_account_change();

CREATE TRIGGER roles_record_change
AFTER INSERT OR UPDATE OR DELETE ON roles
FOR EACH STATEMENT EXECUTE FUNCTION record_account_changes('roles');

CREATE TRIGGER role_permissions_record_change
AFTER INSERT OR UPDATE OR DELETE ON role_permissions
FOR EACH STATEMENT EXECUTE FUNCTION record_account_changes('roles');

CREATE TRIGGER users_record_truncation
AFTER TRUNCATE ON users
FOR EACH STATEMENT EXECUTE FUNCTION record_account_changes('everything');

CREATE TRIGGER user_roles_record_truncation
AFTER TRUNCATE ON user_roles
FOR EACH STATEMENT EXECUTE FUNCTION record_account_changes('everything');

CREATE TRIGGER roles_record_truncation
AFTER TRUNCATE ON roles
FOR EACH STATEMENT EXECUTE FUNCTION record_account_changes('roles');

CREATE TRIGGER role_permissions_record_truncation
AFTER TRUNCATE ON role_permissions
FOR EACH STATEMENT EXECUTE FUNCTION record_account_changes('roles');
