//! What each fuzz target does with one input, shared by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/*.rs`) and the corpus replay that runs in CI
//! (`tests/fuzz_replay.rs`), so the seed corpus is checked by `cargo test`
//! on stable and the long fuzz runs exercise exactly the same code.
//!
//! Only the library's public API is used: the config parser, the CSV
//! import, the extractor (with fixed source definitions built by the config
//! parser itself), normalization and the matcher. Besides "does not panic",
//! each target checks properties that must hold for any input: extracted
//! text is free of control characters, links are web links, a CSV that
//! imports exports and re-imports to the same entries, normalization is
//! idempotent, hits name a watched entry.

#![allow(dead_code)] // each fuzz target uses one function

use std::path::Path;
use std::sync::OnceLock;

use leakwatch::config::{Config, Source};
use leakwatch::extract;
use leakwatch::text;
use leakwatch::watch::{self, EntryKind, Matcher, WatchEntry};
use url::Url;

/// What a fuzz target runs on one input.
pub type Target = fn(&[u8]);

/// The targets, by the name of their corpus folder (`fuzz/corpus/<name>`).
pub const TARGETS: [(&str, Target); 7] = [
    ("config", config),
    ("csv", csv),
    ("registry", registry),
    ("html", html),
    ("feed", feed),
    ("json", json),
    ("matcher", matcher),
];

/// The fixed source definitions: an HTML source that uses every kind of
/// field spec (text, attribute, regex, date format, next page), a feed, and
/// a JSON API.
const SOURCES: &str = r#"
[database]
path = "fuzz.db"

[[source]]
name = "html"
kind = "html"
url = "http://leaksite.example/blog/"
[source.html]
item = "div.post, article, li.card, tr"
title = "h2, h3, .title, td:first-child, a"
link = { selector = "a", attr = "href" }
date = { selector = ".date, time, td:nth-child(2)", regex = "(\\d{4}-\\d{2}-\\d{2}|\\d{2}/\\d{2}/\\d{4})" }
body = "p, .desc, td:last-child"
next_page = { selector = "a.next, a[rel=next], .pagination a", attr = "href" }
max_pages = 3

[[source]]
name = "feed"
kind = "feed"
url = "https://vendor.example/security/feed.xml"
[source.feed]
title = { from = "title", regex = "new victim\\s*:\\s*(.+)$" }
group = { from = "category", regex = "^Actor:\\s*(.+)$" }
website = { from = "summary", regex = "Website: (\\S+)" }
id = "guid"

[[source]]
name = "registry"
kind = "csv"
url = "https://registry.example/breaches.csv"
[source.csv]
title = "Name"
date = { column = "Date", format = "%m/%d/%Y" }
body = ["Type", "Affected"]
link = "Link"
id = "Id"
website = "Website"

[[source]]
name = "json"
kind = "json"
url = "https://api.example/v1/victims"
[source.json]
items = ""
title = "/post_title"
link = "/link"
date = "/discovered"
body = ["/description", { label = "due", pointer = "/dueDate" }]
group = "/group_name"
website = "/website"
vendor = "/vendorProject"
product = "/product"
id = "/id"
"#;

fn sources() -> &'static [Source] {
    static SOURCES_PARSED: OnceLock<Vec<Source>> = OnceLock::new();
    SOURCES_PARSED.get_or_init(|| {
        Config::parse(Path::new("fuzz.toml"), SOURCES)
            .expect("the fuzz source definitions are valid")
            .sources
    })
}

fn source(name: &str) -> &'static Source {
    sources().iter().find(|s| s.name == name).expect("a fuzz source")
}

/// Any text as a config file: a config or a list of problems, never a panic.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Config::parse(Path::new("/fuzz/leakwatch.toml"), text) {
        assert!(!e.to_string().is_empty(), "an error says something");
    }
}

/// Any bytes as a watch-list CSV; what imports must survive export and re-import.
pub fn csv(data: &[u8]) {
    let Ok(entries) = watch::csv::read(data, Some("fuzz.csv")) else {
        return;
    };
    let mut out = Vec::new();
    // Both export forms, chosen by the input, must import back.
    watch::csv::write(&mut out, &entries, data.len() % 2 == 1).expect("export to memory");
    let again = watch::csv::read(out.as_slice(), Some("export.csv"))
        .unwrap_or_else(|e| panic!("the export of an imported list does not import: {e}"));
    assert_eq!(entries, again, "export and re-import change the entries");
}

/// Any bytes as a page of the fixed HTML source.
pub fn html(data: &[u8]) {
    page("html", data);
}

/// Any bytes as a feed.
pub fn feed(data: &[u8]) {
    page("feed", data);
}

/// Any bytes as a CSV registry (breach lists).
pub fn registry(data: &[u8]) {
    page("registry", data);
}

/// Any bytes as the body of the JSON source.
pub fn json(data: &[u8]) {
    page("json", data);
}

fn page(name: &str, data: &[u8]) {
    let source = source(name);
    let body = String::from_utf8_lossy(data);
    let x = match extract::extract(source, &source.url, &body) {
        Ok(x) => x,
        Err(e) => {
            // `run` prints it on stderr, which may be a terminal.
            let message = e.to_string();
            assert!(
                !message.chars().any(char::is_control),
                "an extraction error carries a control character: {message:?}"
            );
            return;
        }
    };
    // `source test` prints the blocked reason as it is (warnings go
    // through `text::clean` there).
    if let Some(reason) = &x.blocked {
        assert!(
            !reason.chars().any(char::is_control),
            "a blocked reason carries a control character: {reason:?}"
        );
    }
    for p in &x.postings {
        assert!(!p.title.is_empty(), "a posting has a title");
        let f = &p.facts;
        let facts = [&f.group, &f.website, &f.vendor, &f.product, &f.id];
        for field in [&p.title, &p.body].into_iter().chain(facts.into_iter().flatten()) {
            assert!(
                !field.chars().any(char::is_control),
                "extracted text carries a control character: {field:?}"
            );
        }
        if let Some(link) = &p.link {
            let url = Url::parse(link).expect("a link is a URL");
            assert!(matches!(url.scheme(), "http" | "https"), "not a web link: {link}");
        }
    }
    let _ = x.class();
}

/// Watch entries every matcher input is searched for, beside the fuzzed one.
fn fixed_entries() -> Vec<WatchEntry> {
    let mut accellion = WatchEntry::new("Accellion", EntryKind::Supplier);
    accellion.aliases = vec!["Accellion FTA".into()];
    accellion.domains = vec!["accellion.com".into()];
    let mut qualys = WatchEntry::new("Qualys, Inc.", EntryKind::Supplier);
    qualys.domains = vec!["qualys.com".into()];
    let kumho = WatchEntry::new("Kumho Tire", EntryKind::Customer);
    let mut example = WatchEntry::new("Example Corp", EntryKind::Own);
    example.exclude = vec!["Example Corpus".into()];
    vec![accellion, qualys, kumho, example]
}

/// The first line is a watch entry (`name|alias|domain|exclude`), the second
/// a posting title, the rest its body: normalized and searched.
pub fn matcher(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let mut lines = input.splitn(3, '\n');
    let spec = lines.next().unwrap_or("");
    let title = lines.next().unwrap_or("");
    let body = lines.next().unwrap_or("");

    for s in [spec, title, body] {
        let once = text::normalize(s);
        assert_eq!(text::normalize(&once), once, "normalize is not idempotent on {s:?}");
    }

    let mut entries = fixed_entries();
    let mut parts = spec.split('|');
    let name = parts.next().unwrap_or("");
    if !text::clean(name).is_empty() {
        let mut e = WatchEntry::new(name, EntryKind::Other);
        e.aliases = parts.next().map(|a| vec![a.to_owned()]).unwrap_or_default();
        e.domains = parts.next().map(|d| vec![d.to_owned()]).unwrap_or_default();
        e.exclude = parts.next().map(|x| vec![x.to_owned()]).unwrap_or_default();
        entries.push(e);
    }
    for (i, e) in entries.iter_mut().enumerate() {
        e.id = i as i64 + 1;
    }
    let matcher = Matcher::new(&entries);

    // The posting is built the way the pipeline builds one: extracted.
    let doc = serde_json::json!([{ "post_title": title, "description": body, "link": "/p/1" }]).to_string();
    let source = source("json");
    let x = extract::extract(source, &source.url, &doc).expect("a JSON array extracts");
    for posting in &x.postings {
        for hit in matcher.find(posting) {
            assert!(
                (1..=entries.len() as i64).contains(&hit.entry_id),
                "a hit names no entry: {hit:?}"
            );
            assert!(!hit.term.is_empty(), "a hit names its term");
        }
    }
}
