//! Writes the served OpenAPI document where outside validators read it.
//!
//! `tests/validate_openapi.py` checks the file against the OpenAPI 3.1
//! schema after `cargo test`; the document's own consistency is tested in
//! the crate (`src/openapi.rs`).

use std::path::Path;

#[test]
fn openapi_document_is_written_for_outside_validators() {
    let json = portcullis_server::openapi_json();
    let document: serde_json::Value = serde_json::from_str(json).expect("the document is JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi.json");
    std::fs::write(&path, json)
        .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
}
