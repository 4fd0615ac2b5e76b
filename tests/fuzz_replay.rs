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

/// A feed is XML from a hostile server: a DTD must not read local files
/// (XXE) nor expand entities exponentially (billion laughs).
#[test]
fn feed_entities_read_no_file_and_do_not_multiply() {
    let config = leakwatch::config::Config::parse(
        Path::new("feed.toml"),
        "[database]\npath = \"x.db\"\n[[source]]\nname = \"f\"\nkind = \"feed\"\nurl = \"https://vendor.example/feed.xml\"\n",
    )
    .unwrap();
    let source = &config.sources[0];
    let bomb = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file://{}\"><!ENTITY a \"aaaaaaaaaa\">\
         <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\
         <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">]>\n\
         <rss version=\"2.0\"><channel><title>t</title><item><title>Qualys &xxe;</title><description>&e;&e;&e;&e;</description></item></channel></rss>",
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")
    );
    let x = leakwatch::extract::extract(source, &source.url, &bomb).expect("the feed parses");
    assert_eq!(x.postings.len(), 1);
    let p = &x.postings[0];
    assert!(p.title.starts_with("Qualys"), "{p:?}");
    assert!(
        !p.title.contains("[package]") && !p.body.contains("[package]"),
        "a local file was read: {p:?}"
    );
    assert!(p.body.len() < 1000, "entities were expanded: {} bytes", p.body.len());
}
