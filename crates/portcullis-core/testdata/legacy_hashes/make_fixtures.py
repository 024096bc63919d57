#!/usr/bin/env python3
"""Writes fixtures.json: password hashes made by the tools that make them in
real life, for the legacy-hash tests of portcullis-core.

The hashes must come from the systems Portcullis imports from, never from
the code under test:

- passlib 1.7.4 (Argon2 through argon2-cffi, bcrypt through pyca/bcrypt
  4.0.1, scrypt and PBKDF2 in passlib's own code and formats);
- pyca/bcrypt and argon2-cffi directly, as applications use them;
- Django's own hashers (django.contrib.auth.hashers.make_password);
- Keycloak credentials, written by hand in the shape of a realm export
  (secretData / credentialData) and computed with hashlib.pbkdf2_hmac and
  argon2-cffi's low-level API exactly as Keycloak's Pbkdf2PasswordHashProvider
  and Argon2PasswordHashProvider do, including Keycloak's padding of
  passwords shorter than 14 UTF-16 units with NUL characters;
- PBKDF2 PHC strings ($pbkdf2-sha256$i=...,l=...$salt$hash, as RustCrypto's
  pbkdf2 crate writes them), computed with hashlib.pbkdf2_hmac: no Python
  tool writes that form.

Run (Python 3.10+, from this directory):

    python3 -m venv /tmp/fixvenv
    /tmp/fixvenv/bin/pip install passlib==1.7.4 bcrypt==4.0.1 argon2-cffi 'django>=5.2,<6'
    /tmp/fixvenv/bin/python make_fixtures.py

pyca/bcrypt is pinned to 4.0.1: passlib 1.7.4 fails to load later versions
(5.0 refuses passwords over 72 bytes, which passlib's start-up check uses),
and 4.0.1 cuts long passwords at 72 bytes as PHP, OpenBSD and older systems
do, which is what imported hashes were made with. Salts are random, so each
run writes different hashes; commit the file the tests ran against.
"""

import base64
import hashlib
import json
import os
import unicodedata
from importlib.metadata import version
from pathlib import Path

import argon2
import bcrypt as pyca_bcrypt
import django
from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ]
)
django.setup()

from django.contrib.auth.hashers import PBKDF2SHA1PasswordHasher, make_password  # noqa: E402
from passlib import hash as passlib_hash  # noqa: E402

ASCII = "correct horse battery staple"
UNICODE = "Grüße aus Köln, ❤ 東京"
SHORT = "hunter2"
# 80 bytes: bcrypt uses only the first 72.
LONG = "this passphrase is far longer than the seventy-two bytes bcrypt reads: TAIL0123"
# 71 ASCII bytes then "é" (2 bytes): the cut at 72 falls inside the "é".
SPLIT = "x" * 71 + "é and more"

cases = []


def case(id, scheme, password, hash=None, keycloak=None, also_matches=(), never_matches=()):
    assert unicodedata.normalize("NFKC", password) == password, "Portcullis verifies NFKC"
    entry = {"id": id, "scheme": scheme, "password": password}
    if hash is not None:
        entry["hash"] = hash
    if keycloak is not None:
        entry["keycloak"] = keycloak
    if also_matches:
        entry["also_matches"] = list(also_matches)
    if never_matches:
        entry["never_matches"] = list(never_matches)
    cases.append(entry)


# --- Argon2: passlib (argon2-cffi backend) and argon2-cffi itself ----------
case("passlib-argon2id-default", "argon2id", ASCII, passlib_hash.argon2.hash(ASCII))
case(
    "passlib-argon2i-m8192-t4-p2",
    "argon2i",
    UNICODE,
    passlib_hash.argon2.using(type="I", memory_cost=8192, rounds=4, parallelism=2).hash(UNICODE),
)
case(
    "passlib-argon2d-m4096-t2-p1",
    "argon2d",
    ASCII,
    passlib_hash.argon2.using(type="D", memory_cost=4096, rounds=2, parallelism=1).hash(ASCII),
)
case("argon2-cffi-default", "argon2id", UNICODE, argon2.PasswordHasher().hash(UNICODE))
case(
    "argon2-cffi-v16-m2048",
    "argon2id",
    ASCII,
    argon2.low_level.hash_secret(
        ASCII.encode(), os.urandom(16), time_cost=2, memory_cost=2048, parallelism=1,
        hash_len=32, type=argon2.low_level.Type.ID, version=0x10,
    ).decode(),
)

# --- scrypt: passlib writes the PHC form --------------------------------------
case("passlib-scrypt-default", "scrypt", ASCII, passlib_hash.scrypt.hash(ASCII))
case(
    "passlib-scrypt-ln12-r4-p2",
    "scrypt",
    UNICODE,
    passlib_hash.scrypt.using(rounds=12, block_size=4, parallelism=2).hash(UNICODE),
)

# --- PBKDF2: passlib's own format and adapted Base64 --------------------------
case("passlib-pbkdf2-sha256-default", "pbkdf2-sha256", ASCII, passlib_hash.pbkdf2_sha256.hash(ASCII))
case("passlib-pbkdf2-sha512-default", "pbkdf2-sha512", UNICODE, passlib_hash.pbkdf2_sha512.hash(UNICODE))
# SHA-1 with fewer rounds than passlib's and Django's defaults: unlike
# SHA-256/512 it runs unoptimised in debug test builds (see decisions.md).
case(
    "passlib-pbkdf2-sha1-20000",
    "pbkdf2-sha1",
    ASCII,
    passlib_hash.pbkdf2_sha1.using(rounds=20_000).hash(ASCII),
)
# A salt whose Base64 is all "+" and "/": passlib writes "." for "+".
dotted = passlib_hash.pbkdf2_sha256.using(salt=bytes([0xFB] * 16), rounds=1500).hash(SHORT)
assert "." in dotted.split("$")[3], dotted
case("passlib-pbkdf2-sha256-dotted-salt-1500", "pbkdf2-sha256", SHORT, dotted)


# --- PBKDF2 PHC strings, as RustCrypto's pbkdf2 crate writes them -------------
def b64(data):
    return base64.b64encode(data).decode().rstrip("=")


def phc_pbkdf2(digest, password, iterations, length):
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations, length)
    ident = {"sha1": "pbkdf2", "sha256": "pbkdf2-sha256", "sha512": "pbkdf2-sha512"}[digest]
    return f"${ident}$i={iterations},l={length}${b64(salt)}${b64(dk)}"


case("phc-pbkdf2-sha256-600000", "pbkdf2-sha256", ASCII, phc_pbkdf2("sha256", ASCII, 600_000, 32))
case("phc-pbkdf2-sha512-210000-l64", "pbkdf2-sha512", UNICODE, phc_pbkdf2("sha512", UNICODE, 210_000, 64))

# --- bcrypt: passlib and pyca/bcrypt, $2a$ $2b$ $2y$ and the 72-byte rule -----
case("passlib-bcrypt-2b-12", "bcrypt", ASCII, passlib_hash.bcrypt.using(ident="2b", rounds=12).hash(ASCII))
case("passlib-bcrypt-2y-5", "bcrypt", UNICODE, passlib_hash.bcrypt.using(ident="2y", rounds=5).hash(UNICODE))
case(
    "pyca-bcrypt-2a-10",
    "bcrypt",
    ASCII,
    pyca_bcrypt.hashpw(ASCII.encode(), pyca_bcrypt.gensalt(10, prefix=b"2a")).decode(),
)
long_hash = passlib_hash.bcrypt.using(ident="2b", rounds=6).hash(LONG)
case(
    "passlib-bcrypt-80-bytes",
    "bcrypt",
    LONG,
    long_hash,
    also_matches=[LONG[:72], LONG[:72] + "another tail entirely"],
    never_matches=[LONG[:71], LONG[:71] + "X"],
)
assert passlib_hash.bcrypt.verify(LONG[:72] + "another tail entirely", long_hash)
split_hash = pyca_bcrypt.hashpw(SPLIT.encode(), pyca_bcrypt.gensalt(6, prefix=b"2b")).decode()
# "è" shares "é"'s first UTF-8 byte: bcrypt sees the same 72 bytes.
assert pyca_bcrypt.checkpw(("x" * 71 + "è").encode(), split_hash.encode())
case(
    "pyca-bcrypt-cut-inside-a-character",
    "bcrypt",
    SPLIT,
    split_hash,
    also_matches=["x" * 71 + "è"],
    never_matches=["x" * 71, "x" * 71 + "a"],
)

# --- Django's own hashers ------------------------------------------------------
case("django-pbkdf2-sha256", "pbkdf2-sha256", UNICODE, make_password(UNICODE, hasher="pbkdf2_sha256"))
case(
    "django-pbkdf2-sha1-20000",
    "pbkdf2-sha1",
    ASCII,
    PBKDF2SHA1PasswordHasher().encode(ASCII, PBKDF2SHA1PasswordHasher().salt(), iterations=20_000),
)
case("django-argon2", "argon2id", ASCII, make_password(ASCII, hasher="argon2"))
case("django-scrypt", "scrypt", UNICODE, make_password(UNICODE, hasher="scrypt"))


# --- Keycloak realm-export credentials -----------------------------------------
def keycloak_padded(password):
    """Pbkdf2PasswordHashProvider.pbkdf2PasswordPadding: NULs up to 14 UTF-16 units."""
    units = len(password.encode("utf-16-le")) // 2
    return password + "\0" * max(0, 14 - units)


def keycloak_pbkdf2(algorithm, password, iterations):
    digest = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}[algorithm]
    salt = os.urandom(16)
    # DEFAULT_DERIVED_KEY_SIZE = 512 bits; Java's PBKDF2 encodes chars as UTF-8.
    dk = hashlib.pbkdf2_hmac(digest, keycloak_padded(password).encode(), salt, iterations, 64)
    return {
        "type": "password",
        "secretData": json.dumps(
            {"value": base64.b64encode(dk).decode(), "salt": base64.b64encode(salt).decode(), "additionalParameters": {}},
            separators=(",", ":"),
        ),
        "credentialData": json.dumps(
            {"hashIterations": iterations, "algorithm": algorithm, "additionalParameters": {}},
            separators=(",", ":"),
        ),
    }


def keycloak_argon2(password):
    # Keycloak's defaults (Argon2Parameters): id, 1.3, 32 bytes, 7168 KiB, 5 passes, 1 lane.
    salt = os.urandom(16)
    raw = argon2.low_level.hash_secret_raw(
        password.encode(), salt, time_cost=5, memory_cost=7168, parallelism=1,
        hash_len=32, type=argon2.low_level.Type.ID, version=0x13,
    )
    parameters = {"hashLength": ["32"], "memory": ["7168"], "type": ["id"], "version": ["1.3"], "parallelism": ["1"]}
    return {
        "type": "password",
        "secretData": json.dumps(
            {"value": base64.b64encode(raw).decode(), "salt": base64.b64encode(salt).decode(), "additionalParameters": {}},
            separators=(",", ":"),
        ),
        "credentialData": json.dumps(
            {"hashIterations": 5, "algorithm": "argon2", "additionalParameters": parameters},
            separators=(",", ":"),
        ),
    }


case("keycloak-pbkdf2-sha256-27500", "pbkdf2-sha256", ASCII, keycloak=keycloak_pbkdf2("pbkdf2-sha256", ASCII, 27_500))
case("keycloak-pbkdf2-sha256-short-padded", "pbkdf2-sha256", SHORT, keycloak=keycloak_pbkdf2("pbkdf2-sha256", SHORT, 27_500))
case("keycloak-pbkdf2-sha512-210000", "pbkdf2-sha512", UNICODE, keycloak=keycloak_pbkdf2("pbkdf2-sha512", UNICODE, 210_000))
case("keycloak-pbkdf2-sha1-short-padded", "pbkdf2-sha1", SHORT, keycloak=keycloak_pbkdf2("pbkdf2", SHORT, 27_500))
case("keycloak-argon2-default", "argon2id", UNICODE, keycloak=keycloak_argon2(UNICODE))

fixtures = {
    "made_by": {
        name: version(name) for name in ["passlib", "bcrypt", "argon2-cffi", "django"]
    },
    "cases": cases,
}
path = Path(__file__).with_name("fixtures.json")
path.write_text(json.dumps(fixtures, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
print(f"wrote {len(cases)} cases to {path}")
