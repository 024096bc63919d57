-- Browser sign-in (OAuth 2.1 authorization code + PKCE, OpenID Connect).
--
-- A session now says where it came from: `api` (a grant of the token
-- endpoint without a client, as before), `browser` (the hosted pages'
-- cookie) or `client` (an authorization code redeemed by a registered
-- client, whose refresh token works for that client only). A client's
-- session keeps when the user last proved who they are and the OpenID
-- scopes granted, which the id tokens of its refreshes repeat.
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'api'
    CHECK (kind IN ('api', 'browser', 'client'));
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER;
ALTER TABLE sessions ADD COLUMN openid_scope TEXT;

CREATE INDEX sessions_client_id ON sessions (client_id) WHERE client_id IS NOT NULL;

-- An authorization code, kept as its SHA-256 only. `redeemed_at` is set by
-- the one redemption that wins; `session_id` names the session it opened,
-- which a second presentation of the code revokes.
CREATE TABLE authorization_codes (
    code_hash          BLOB    NOT NULL PRIMARY KEY,
    client_id          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri       TEXT    NOT NULL,
    code_challenge     TEXT    NOT NULL,
    scope              TEXT    NOT NULL,
    openid_scope       TEXT    NOT NULL,
    nonce              TEXT,
    browser_session_id TEXT    NOT NULL,
    authenticated_at   INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    redeemed_at        INTEGER,
    session_id         TEXT
) STRICT;

CREATE INDEX authorization_codes_created_at ON authorization_codes (created_at);

-- What a user allowed a third-party client, remembered so that it is not
-- asked again; the account page can take it back.
CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT, WITHOUT ROWID;
