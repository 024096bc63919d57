-- Personal access tokens: only the SHA-256 of the secret is kept.
CREATE TABLE personal_tokens (
    id           UUID   NOT NULL PRIMARY KEY,
    user_id      UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    secret_hash  BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);

CREATE INDEX personal_tokens_by_user ON personal_tokens (user_id);
