-- Signing keys of several algorithms (Ed25519, P-256, RSA), one line of
-- keys each: `algorithm` is the JOSE name of what the key signs with
-- (`EdDSA`, `ES256`, `RS256`); every key made before it is Ed25519. The
-- public key is now of the algorithm's length (32 bytes for Ed25519, 65 for
-- P-256, about 270 for RSA), which a BYTEA already allows.
ALTER TABLE signing_keys ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'EdDSA';
