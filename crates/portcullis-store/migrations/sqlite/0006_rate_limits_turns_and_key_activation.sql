-- Counts of events per key in fixed windows (sign-ups per client address,
-- mail requests per address and per email), shared by every instance.
CREATE TABLE rate_limits (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limits_by_window ON rate_limits (window_start);

-- When a key starts signing: a rotation publishes the next key ahead of
-- it. NULL for keys made before, which signed from their making.
ALTER TABLE signing_keys ADD COLUMN active_from INTEGER;
