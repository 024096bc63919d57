"""Verify a Portcullis access token from Python, with PyJWT and the JWKS.

    pip install "PyJWT[crypto]"
    python3 verify_token.py http://localhost:8080 "$ACCESS" [ISSUER [ALGORITHM]]

Prints the token's claims as JSON, or exits 1 saying why the token is refused.
Any language works the same way: fetch the JWKS once (cache it), accept only
the server's algorithm, and check typ, iss, aud and exp. ISSUER is the
server's --issuer when it is not the URL you reach it at (the default
audience is the issuer too). ALGORITHM is the server's --access-token-alg:
EdDSA (the default), ES256 or RS256.
"""

import json
import sys

import jwt


def verify(token: str, base_url: str, issuer: str | None = None, algorithm: str = "EdDSA") -> dict:
    issuer = issuer or base_url
    if jwt.get_unverified_header(token).get("typ") != "at+jwt":
        raise jwt.InvalidTokenError("not an access token")
    jwks = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json")
    signing_key = jwks.get_signing_key_from_jwt(token).key  # .key: PyJWT before 2.10 needs the raw key
    return jwt.decode(
        token,
        signing_key,
        algorithms=[algorithm],
        issuer=issuer,
        audience=issuer,
        leeway=1,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


if __name__ == "__main__":
    base_url, token = sys.argv[1].rstrip("/"), sys.argv[2]
    issuer = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    algorithm = sys.argv[4] if len(sys.argv) > 4 else "EdDSA"
    try:
        print(json.dumps(verify(token, base_url, issuer, algorithm)))
    except jwt.PyJWTError as error:
        print(f"invalid token: {error}", file=sys.stderr)
        sys.exit(1)
