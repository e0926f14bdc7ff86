//! Every manifest under `examples/` loads and passes validation (schema, cron, templates).

use axon_api::loader::load_file;
use std::path::Path;

#[test]
fn every_example_loads_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let docs = load_file(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!docs.is_empty(), "{} has no documents", path.display());
        for d in &docs {
            axon_core::validate::validate_document(d).unwrap_or_else(|e| panic!("{e}"));
        }
        seen += 1;
    }
    assert!(seen >= 6, "expected the six examples, found {seen}");
}
