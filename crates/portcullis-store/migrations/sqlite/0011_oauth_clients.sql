-- OAuth clients (RFC 6749 §2): the applications that sign users in through
-- the authorization endpoint. The lists (redirect URIs, post-logout
-- redirect URIs, allowed scopes) are their entries joined by single
-- spaces, as scopes are elsewhere: no entry holds white space. Only a
-- confidential client has a secret, of which only the SHA-256 is kept.
-- (Numbered 0011: 0010 is taken by another change.)
CREATE TABLE oauth_clients (
    id                           TEXT    NOT NULL PRIMARY KEY,
    name                         TEXT    NOT NULL,
    client_type                  TEXT    NOT NULL CHECK (client_type IN ('public', 'confidential')),
    secret_hash                  BLOB,
    redirect_uris                TEXT    NOT NULL,
    post_logout_redirect_uris    TEXT    NOT NULL,
    first_party                  INTEGER NOT NULL CHECK (first_party IN (0, 1)),
    allowed_scopes               TEXT    NOT NULL,
    id_token_signed_response_alg TEXT    NOT NULL,
    created_at                   INTEGER NOT NULL,
    CHECK ((client_type = 'confidential') = (secret_hash IS NOT NULL))
) STRICT;
