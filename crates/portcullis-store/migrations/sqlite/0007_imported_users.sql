-- Users brought from another system (issue 13).
--
-- (`email_verified`, which the importer also writes, came with 0006.)
--
-- `password_hash_class`: for a hash made elsewhere (bcrypt, PBKDF2, scrypt,
-- Argon2 of other parameters), a stand-in hash of the same scheme and cost
-- with a zero salt and a zero hash, written by the importer; NULL for the
-- server's own hashes. It holds no secret. The server reads the distinct
-- values (a skip scan of the partial index below: one index probe per
-- class, however many users) and times one check of each, so that a wrong
-- password costs as much as an unknown email whatever the scheme. Replacing
-- a user's hash sets it back to NULL, so a class disappears once its last
-- user has logged in.
ALTER TABLE users ADD COLUMN password_hash_class TEXT;

CREATE INDEX users_password_hash_class ON users (password_hash_class)
    WHERE password_hash_class IS NOT NULL;
