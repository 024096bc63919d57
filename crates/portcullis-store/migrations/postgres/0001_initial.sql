-- The first Portcullis schema for PostgreSQL, the twin of migrations/sqlite/0001_initial.sql.
-- Times are BIGINT unix seconds (as on SQLite, so both backends keep the same
-- one-second semantics); ids are UUID; secrets and keys are BYTEA.
-- Text that is ordered or compared is COLLATE "C": byte order, as SQLite's
-- BINARY and Rust's `Ord for str`, whatever the database's locale.

CREATE TABLE users (
    id            UUID    NOT NULL PRIMARY KEY,
    -- Canonical form (portcullis_core::email): comparing text is comparing addresses.
    email         TEXT    COLLATE "C" NOT NULL UNIQUE,
    name          TEXT,
    password_hash TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL
);

CREATE INDEX users_created_at ON users (created_at);

-- Role names a user holds. Not a foreign key to `roles`: the built-in `admin`
-- is never stored, and a name without a stored role grants nothing.
CREATE TABLE user_roles (
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE roles (
    name TEXT COLLATE "C" NOT NULL PRIMARY KEY
);

CREATE TABLE role_permissions (
    role       TEXT COLLATE "C" NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (role, permission)
);

CREATE TABLE sessions (
    id                 UUID   NOT NULL PRIMARY KEY,
    user_id            UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at         BIGINT NOT NULL,
    last_used_at       BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    revoked_at         BIGINT,
    refresh_key        BYTEA  NOT NULL,
    refresh_generation BIGINT NOT NULL CHECK (refresh_generation >= 0),
    refresh_hash       BYTEA  NOT NULL,
    -- Space-separated permissions; NULL when the session was not narrowed.
    scope              TEXT,
    user_agent         TEXT,
    ip                 TEXT
);

CREATE INDEX sessions_user_id ON sessions (user_id);
-- Only revoked rows are ever searched by revocation time.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE signing_keys (
    kid            TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    private_pkcs8  BYTEA  NOT NULL,
    public_key     BYTEA  NOT NULL,
    created_at     BIGINT NOT NULL,
    -- NULL while the key is the active one.
    retiring_since BIGINT
);

CREATE TABLE login_failures (
    key     TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    count   BIGINT NOT NULL,
    last_at_ms BIGINT NOT NULL
);
