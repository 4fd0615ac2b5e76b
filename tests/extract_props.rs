//! The extractor takes hostile input: pages written by criminals, or
//! whatever a proxy or an interstitial returns. Property tests: arbitrary
//! bytes and arbitrary (often malformed) nested HTML never make it panic,
//! through every shipped source definition and each source kind.

use std::path::Path;
use std::sync::LazyLock;

use leakwatch::config::{Config, Source};
use leakwatch::extract::{PageClass, extract};
use proptest::prelude::*;
use url::Url;

/// Every shipped definition, plus a feed and a plain JSON source.
static SOURCES: LazyLock<Vec<Source>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sources");
    let text = format!(
        "include = [{:?}]\n[database]\npath = \"x.db\"\n\
         [[source]]\nname = \"feed\"\nkind = \"feed\"\nurl = \"http://f.example/\"\n\
         [[source]]\nname = \"api\"\nkind = \"json\"\nurl = \"http://j.example/\"\n[source.json]\nitems = \"/data\"\ntitle = \"/t\"\nlink = \"/l\"\ndate = \"/d\"\nbody = \"/b\"\n",
        dir.display().to_string()
    );
    Config::parse(&Path::new(env!("CARGO_MANIFEST_DIR")).join("test.toml"), &text)
        .expect("shipped sources load")
        .sources
});

fn run_all(body: &str) {
    let url = Url::parse("http://leak.example.onion/list/").unwrap();
    for s in SOURCES.iter() {
        if let Ok(x) = extract(s, &url, body) {
            // Whatever came out is consistent with its class.
            match x.class() {
                PageClass::Ok => assert!(!x.postings.is_empty()),
                PageClass::Empty => assert!(x.postings.is_empty() && x.blocked.is_none()),
                PageClass::Blocked => assert!(x.blocked.is_some()),
            }
            for p in &x.postings {
                assert!(!p.title.is_empty());
                assert!(p.body.len() <= leakwatch::extract::MAX_BODY_BYTES + '…'.len_utf8());
                assert!(!p.title.chars().any(|c| c.is_control()), "{:?}", p.title);
            }
        }
    }
}

const TAGS: &[&str] = &[
    "div", "a", "p", "table", "tr", "th", "td", "pre", "script", "form", "input", "h2", "h4", "h5", "li", "section",
    "article", "span", "b", "br", "title", "template", "svg", "math", "select", "option", "noscript",
];
const CLASSES: &[&str] = &[
    "post",
    "list-item",
    "title",
    "News",
    "card",
    "card-title",
    "card-body",
    "post-title",
    "post-block",
    "leak-card",
    "list-group-item",
    "stretched-link",
    "index-anchor",
    "basis-1",
    "text-lg",
    "ddos_form",
    "Page",
];
const TEXTS: &[&str] = &[
    "Acme Corp",
    "M*** ****",
    "Bombardier Recreational Pro...",
    "QUALYS.COM FILES  PART1 PUBLISHED",
    "&amp;amp;",
    "&#0;",
    "&#x110000;",
    "&#99999999999;",
    "&nosuch;",
    "\u{200B}\u{202E}\u{7}",
    "2024-02-30",
    "Updated: 99 Foo, 2024, 25:61 UTC",
    "3 days ago",
    "99999999999999999999",
    "[{\"title\":1}]",
    "{\"data\":[{\"t\":\"x\",\"l\":\"javascript:alert(1)\",\"d\":\"-1\"}]}",
    "viewtopic('x')",
    "goto_page('2')",
    "<",
    "]]>",
    "<!--",
];

fn attr() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(CLASSES).prop_map(|c| format!(" class=\"{c}\"")),
        prop::sample::select(TEXTS).prop_map(|t| format!(" href=\"{t}\"")),
        prop::sample::select(TEXTS).prop_map(|t| format!(" onclick=\"{t}\"")),
        Just(" style=\"color: #EA5455;\"".to_owned()),
        Just(" type=password".to_owned()),
        Just(" <a=\"\"".to_owned()),
    ]
}

/// Nested HTML from the tags, classes and texts leak sites use, with
/// unclosed and misnested tags on purpose.
fn html() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(TEXTS).prop_map(str::to_owned),
        ".{0,20}".prop_map(|s: String| s),
    ];
    leaf.prop_recursive(6, 200, 6, |inner| {
        (
            prop::sample::select(TAGS),
            prop::collection::vec(attr(), 0..3),
            prop::collection::vec(inner, 0..6),
            0u8..4,
        )
            .prop_map(|(tag, attrs, children, close)| {
                let mut s = format!("<{tag}{}>", attrs.concat());
                s.push_str(&children.concat());
                match close {
                    0 => {}                                // left open
                    1 => s.push_str("</div>"),             // misnested
                    _ => s.push_str(&format!("</{tag}>")), // proper
                }
                s
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        run_all(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_nested_html_never_panics(body in html()) {
        run_all(&format!("<html><head><title>x</title></head><body>{body}</body></html>"));
    }

    #[test]
    fn arbitrary_html_inside_pre_never_panics(body in html()) {
        run_all(&format!("<pre>{body}</pre>"));
    }
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let deep = "<div class=post><h2>x".repeat(1_000);
    run_all(&deep);
    let deep_json = format!("<pre>{}{}</pre>", "[".repeat(5_000), "]".repeat(5_000));
    run_all(&deep_json);
}
