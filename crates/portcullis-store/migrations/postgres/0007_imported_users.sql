-- Users brought from another system (issue 13); the twin of
-- migrations/sqlite/0007_imported_users.sql, which explains the column.
ALTER TABLE users ADD COLUMN password_hash_class TEXT COLLATE "C";

CREATE INDEX users_password_hash_class ON users (password_hash_class)
    WHERE password_hash_class IS NOT NULL;
