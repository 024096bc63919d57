-- A feed of account changes, so that every process sharing the database can
-- forget what it keeps in memory about an account (the account cache of
-- portcullis_core) within a second of a change made anywhere: by another
-- instance, by the command line, or by hand in SQL. Triggers write it, so
-- no way of making a change can skip it. A NULL `user_id` means a role
-- itself changed, so the permissions of any account may have; a password
-- change is not recorded, because no process keeps password hashes in
-- memory. `changed_at` is the database's clock (the start of the writing
-- transaction), and readers use the database's clock too, so the clocks of
-- instances never matter. Housekeeping prunes old rows.
CREATE TABLE account_changes (
    user_id    UUID,
    changed_at BIGINT NOT NULL
);

CREATE INDEX account_changes_by_time ON account_changes (changed_at);

CREATE FUNCTION record_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_user UUID;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        IF TG_OP = 'DELETE' THEN changed_user := OLD.id; ELSE changed_user := NEW.id; END IF;
    ELSE
        IF TG_OP = 'DELETE' THEN changed_user := OLD.user_id; ELSE changed_user := NEW.user_id; END IF;
    END IF;
    INSERT INTO account_changes (user_id, changed_at)
    VALUES (changed_user, extract(epoch FROM now())::BIGINT);
    RETURN NULL;
END;
$$;

CREATE FUNCTION record_roles_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_changes (user_id, changed_at)
    VALUES (NULL, extract(epoch FROM now())::BIGINT);
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_record_change
AFTER UPDATE OF email, name, disabled OR DELETE ON users
FOR EACH ROW EXECUTE FUNCTION record_account_change();

CREATE TRIGGER user_roles_record_change
AFTER INSERT OR DELETE ON user_roles
FOR EACH ROW EXECUTE FUNCTION record_account_change();

CREATE TRIGGER roles_record_change
AFTER INSERT OR UPDATE OR DELETE ON roles
FOR EACH STATEMENT EXECUTE FUNCTION record_roles_change();

CREATE TRIGGER role_permissions_record_change
AFTER INSERT OR UPDATE OR DELETE ON role_permissions
FOR EACH STATEMENT EXECUTE FUNCTION record_roles_change();
