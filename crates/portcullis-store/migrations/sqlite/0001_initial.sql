-- The first Portcullis schema for SQLite.
-- Times are INTEGER unix seconds; ids are hyphenated lower-case UUID text.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    -- Canonical form (portcullis_core::email): comparing text is comparing addresses.
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT,
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX users_created_at ON users (created_at);

-- Role names a user holds. Not a foreign key to `roles`: the built-in `admin`
-- is never stored, and a name without a stored role grants nothing.
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE roles (
    name TEXT NOT NULL PRIMARY KEY
) STRICT, WITHOUT ROWID;

CREATE TABLE role_permissions (
    role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    id                 TEXT    NOT NULL PRIMARY KEY,
    user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    revoked_at         INTEGER,
    refresh_key        BLOB    NOT NULL,
    refresh_generation INTEGER NOT NULL CHECK (refresh_generation >= 0),
    refresh_hash       BLOB    NOT NULL,
    -- Space-separated permissions; NULL when the session was not narrowed.
    scope              TEXT,
    user_agent         TEXT,
    ip                 TEXT
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);
-- Only revoked rows are ever searched by revocation time.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE signing_keys (
    kid            TEXT    NOT NULL PRIMARY KEY,
    private_pkcs8  BLOB    NOT NULL,
    public_key     BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    -- NULL while the key is the active one.
    retiring_since INTEGER
) STRICT;

CREATE TABLE login_failures (
    key     TEXT    NOT NULL PRIMARY KEY,
    count   INTEGER NOT NULL,
    last_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
