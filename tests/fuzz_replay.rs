//! The fuzz corpus, replayed on every `cargo test`: each file under
//! `fuzz/corpus/<target>/` (seed pages from real leak sites, hand-made
//! hostile inputs, and every input a fuzz run ever crashed on) goes through
//! the same function its cargo-fuzz target calls (`fuzz/harness.rs`), on
//! stable Rust, in a few seconds.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

#[test]
fn every_fuzz_corpus_file_passes_its_target() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus"));
    let mut replayed = Vec::new();
    for (target, run) in harness::TARGETS {
        let dir = root.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} has no seed", dir.display());
        for file in &files {
            let data = std::fs::read(file).expect("read corpus file");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "fuzz target {target} fails on {}", file.display());
        }
        replayed.push(format!("{target} {}", files.len()));
    }
    println!("fuzz corpus replayed: {}", replayed.join(", "));
}
