#!/usr/bin/env python3
"""Validates the served OpenAPI document against the OpenAPI 3.1 schema.

`cargo test -p portcullis-server` writes the document that `GET /openapi.json`
serves to `<target dir>/tmp/openapi.json` (the integration test
`tests/it/openapi.rs`); this script checks that file with the PyPI package
`openapi-spec-validator`, which the Rust tests cannot do.

Usage: validate_openapi.py [PATH]   (default: $CARGO_TARGET_DIR or the
workspace's target/, then tmp/openapi.json). Exits 1 when the document is
invalid, 2 when it is missing.
"""

import json
import os
import sys
from pathlib import Path

from jsonschema_path import SchemaPath
from openapi_spec_validator import OpenAPIV31SpecValidator

WORKSPACE = Path(__file__).resolve().parents[3]


def default_path() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or WORKSPACE / "target")
    return target / "tmp" / "openapi.json"


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default_path()
    if not path.is_file():
        print(f"{path}: missing; run `cargo test -p portcullis-server` first", file=sys.stderr)
        return 2
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("openapi") != "3.1.0":
        print(f"{path}: openapi is {document.get('openapi')!r}, not '3.1.0'", file=sys.stderr)
        return 1
    validator = OpenAPIV31SpecValidator(SchemaPath.from_dict(document))
    try:
        errors = [
            ("/".join(str(part) for part in error.path) or "(document)", error.message)
            for error in validator.iter_errors()
        ]
    except Exception as error:  # an unresolvable $ref stops the validator
        errors = [("(document)", f"{type(error).__name__}: {error}")]
    for location, message in errors:
        print(f"{path}: {location}: {message[:500]}", file=sys.stderr)
    if errors:
        return 1
    operations = sum(
        1
        for item in document["paths"].values()
        for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace")
        if method in item
    )
    print(f"{path}: a valid OpenAPI 3.1.0 document, {operations} operations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
