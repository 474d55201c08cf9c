//! Finding Prometheus's promqltest files, shared by the tests that read them.

use std::path::PathBuf;

/// The `.test` files of `../shared/promql-testdata` (or of the directory in
/// `AGENTMON_PROMQL_TESTDATA`), sorted; `None`, after saying so, when the
/// directory is absent (a failure instead with `AGENTMON_REQUIRE_TESTDATA=1`,
/// which CI sets).
pub fn testdata_files() -> Option<Vec<PathBuf>> {
    let dir = std::env::var_os("AGENTMON_PROMQL_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/promql-testdata")
        });
    if !dir.is_dir() {
        assert!(
            std::env::var("AGENTMON_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "{} not found and AGENTMON_REQUIRE_TESTDATA=1",
            dir.display()
        );
        println!("SKIPPED: {} not found", dir.display());
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the test data directory is readable")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    Some(files)
}
