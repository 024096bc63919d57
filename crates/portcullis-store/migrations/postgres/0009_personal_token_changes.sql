-- Personal access tokens are kept in the account cache (portcullis_core)
-- with their owner, so a use reads no database. A token deleted, or
-- changed in what it grants, must stop counting on every process within a
-- second, as an account change does: these triggers name the owner in the
-- account-change feed, which makes every reader forget the account and,
-- with it, every token of that account it keeps. Recording a use
-- (`last_used_at`) changes nothing a cache keeps and is not recorded.
-- (Numbered 0009: 0008 is taken by another change.)
CREATE TRIGGER personal_tokens_record_change
AFTER UPDATE OF id, user_id, scopes, secret_hash, expires_at OR DELETE ON personal_tokens
FOR EACH ROW EXECUTE FUNCTION record_account_change();

CREATE TRIGGER personal_tokens_record_truncation
AFTER TRUNCATE ON personal_tokens
FOR EACH STATEMENT EXECUTE FUNCTION record_account_changes('everything');
