"""Verify a Portcullis access token from Python, with PyJWT and the JWKS.

    pip install "PyJWT[crypto]"
    python3 verify_token.py http://localhost:8080 "$ACCESS"

Prints the token's claims as JSON, or exits 1 saying why the token is refused.
Any language works the same way: fetch the JWKS once (cache it), accept only
EdDSA, and check typ, iss, aud and exp.
"""

import json
import sys

import jwt


def verify(token: str, base_url: str) -> dict:
    if jwt.get_unverified_header(token).get("typ") != "at+jwt":
        raise jwt.InvalidTokenError("not an access token")
    signing_key = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        signing_key,
        algorithms=["EdDSA"],
        issuer=base_url,
        audience=base_url,
        leeway=1,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


if __name__ == "__main__":
    base_url, token = sys.argv[1].rstrip("/"), sys.argv[2]
    try:
        print(json.dumps(verify(token, base_url)))
    except jwt.PyJWTError as error:
        print(f"invalid token: {error}", file=sys.stderr)
        sys.exit(1)
