//! `source suggest` through the real binary: the table it prints loads under
//! a `[[source]]` and extracts the postings; it fetches like `run`; blocked
//! captures get no suggestion; and on the real corpus its titles are compared
//! with those of the hand-written definitions in `config/sources/`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use leakwatch::config::Config;
use leakwatch::text;
use url::Url;

use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_exit, assert_ok, corpus, fixtures, stderr, stdout};

/// Every page of a site folder, in name order.
fn pages(group: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(corpus().join(group))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    found.sort();
    found
}

#[test]
fn the_printed_table_pastes_under_a_source_and_extracts_the_posts() {
    let ws = Workspace::new("");
    let page = fixtures().join("suggest/listing.html");
    let out = ws.run(&["source", "suggest", "--file", page.to_str().unwrap()]);
    assert_ok(&out);
    let table = stdout(&out);
    assert!(table.starts_with("[source.html]\nitem = \"article.post\"\n"), "{table}");
    assert_eq!(stderr(&out), "", "stdout holds the table alone, stderr is quiet");

    ws.write_config(&format!(
        "[[source]]\nname = \"pasted\"\nkind = \"html\"\nurl = \"http://leak.example/news/\"\n{table}"
    ));
    let out = ws.run(&["source", "test", "pasted", "--file", page.to_str().unwrap()]);
    assert_ok(&out);
    let listing = stdout(&out);
    assert!(listing.starts_with("pasted: 6 postings (Ok)"), "{listing}");
    let qualys = listing
        .lines()
        .find(|l| l.starts_with("Qualys, Inc. "))
        .expect(&listing);
    assert!(
        qualys.contains(" 2024-03-02 ") && qualys.contains(" http://leak.example/posts/qualys/ "),
        "{listing}"
    );
}

#[test]
fn all_ranks_the_alternatives_on_stderr() {
    let ws = Workspace::new("");
    let page = fixtures().join("suggest/listing.html");
    let out = ws.run(&["source", "suggest", "--all", "--file", page.to_str().unwrap()]);
    assert_ok(&out);
    let err = stderr(&out);
    let first = err.lines().next().unwrap();
    assert!(first.starts_with("#1 score "), "{err}");
    assert!(
        first.ends_with(
            "6 items `article.post` title `h3.post-title`: Acme Logistics GmbH | Qualys, Inc. | Northwind Traders"
        ),
        "{err}"
    );
    assert!(
        err.contains("4 items `nav > a`"),
        "the menu is ranked, below the posts: {err}"
    );
    assert!(stdout(&out).starts_with("[source.html]\nitem = \"article.post\""));
}

#[test]
fn a_url_is_fetched_through_the_configured_client() {
    let http = HttpServer::start();
    let page = std::fs::read_to_string(fixtures().join("suggest/redesigned.html")).unwrap();
    http.route("/news/", move |_| Reply::html(&page));
    let ws = Workspace::new("[crawl]\nuser_agent = \"suggest-test/1\"\nretries = 0\n");
    let out = ws.run(&["source", "suggest", &http.url("/news/")]);
    assert_ok(&out);
    assert!(stdout(&out).starts_with("[source.html]\nitem = \"tr.victim\"\ntitle = \"td.name\"\n"));
    let hits = http.hits("/news/");
    assert_eq!(hits.len(), 1);
    assert!(format!("{:?}", hits[0]).contains("suggest-test/1"), "{:?}", hits[0]);
}

#[test]
fn a_missing_page_is_a_usage_error() {
    let ws = Workspace::new("");
    assert_exit(&ws.run(&["source", "suggest"]), 2);
}

#[test]
fn blocked_captures_get_no_suggestion_and_say_why() {
    let ws = Workspace::new("");
    for (group, why) in [
        ("clop", "CAPTCHA"),
        ("cryptnet", "CAPTCHA"),
        ("avoslocker", "portal"),
        ("la_piovra", "portal"),
        ("dunghill_leak", "error page"),
    ] {
        for page in pages(group) {
            let out = ws.run(&["source", "suggest", "--file", page.to_str().unwrap()]);
            assert_exit(&out, 1);
            assert_eq!(stdout(&out), "", "{group}: nothing to paste");
            let err = stderr(&out);
            assert!(
                err.contains("no suggestion: the page is not a listing") && err.contains(why),
                "{group}: {err}"
            );
        }
    }
}

/// One page's suggested titles against the expected ones.
pub struct Row {
    pub page: String,
    pub expected: usize,
    pub got: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Row {
    pub fn new(page: String, got: &HashSet<String>, expected: &HashSet<String>) -> Row {
        let both = got.intersection(expected).count() as f64;
        let share = |of: &HashSet<String>| if of.is_empty() { 0.0 } else { both / of.len() as f64 };
        let (precision, recall) = (share(got), share(expected));
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Row {
            page,
            expected: expected.len(),
            got: got.len(),
            precision,
            recall,
            f1,
        }
    }
}

/// The table BENCHMARKS.md records.
pub fn print_rows(rows: &[Row]) {
    println!(
        "{:<36} {:>5} {:>5} {:>6} {:>6} {:>6}",
        "PAGE", "HAND", "SUGG", "P", "R", "F1"
    );
    for r in rows {
        println!(
            "{:<36} {:>5} {:>5} {:>6.2} {:>6.2} {:>6.2}",
            r.page, r.expected, r.got, r.precision, r.recall, r.f1
        );
    }
}

/// Titles as the matcher compares them.
pub fn title_set(source: &leakwatch::config::Source, url: &Url, page: &str) -> HashSet<String> {
    leakwatch::extract::extract(source, url, page)
        .unwrap()
        .postings
        .iter()
        .map(|p| text::normalize(&p.title))
        .collect()
}

/// Precision and recall of the suggested definition against the
/// hand-written one, on every listing page with named victims that has one.
#[test]
fn suggestions_match_the_hand_written_definitions_on_the_real_corpus() {
    let defs = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sources");
    let groups = [
        "8base",
        "akira",
        "babuk",
        "bianlian",
        "blacksuit",
        "crosslock",
        "daixin",
        "darkrace",
        "fog",
        "lockbit3",
        "play",
        "ransomhub",
    ];
    let mut rows = Vec::new();
    for group in groups {
        let file = defs.join(format!("{group}.toml"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let config =
            Config::parse(&file, &format!("[database]\npath = \"x.db\"\n{text}")).unwrap_or_else(|e| panic!("{e}"));
        let hand = &config.sources[0];
        for page in pages(group) {
            let body = String::from_utf8_lossy(&std::fs::read(&page).unwrap()).into_owned();
            let expected = title_set(hand, &hand.url, &body);
            let got = match leakwatch::suggest::suggest(&body) {
                Ok(c) => {
                    let s = leakwatch::suggest::source(&c[0].definition, &hand.url).unwrap();
                    // The selectors pick, through the real extractor, the
                    // very items the suggestion was scored on.
                    let x = leakwatch::extract::extract(&s, &hand.url, &body).unwrap();
                    assert_eq!(x.postings.len() + x.untitled, c[0].items, "{}", page.display());
                    title_set(&s, &hand.url, &body)
                }
                Err(_) => HashSet::new(),
            };
            let name = page
                .file_name()
                .unwrap()
                .to_string_lossy()
                .chars()
                .take(24)
                .collect::<String>();
            rows.push(Row::new(format!("{group}/{name}"), &got, &expected));
        }
    }
    print_rows(&rows);
    let good = rows.iter().filter(|r| r.f1 >= 0.9).count();
    println!("F1 >= 0.9 on {good} of {} pages", rows.len());
    assert!(
        good * 10 >= rows.len() * 8,
        "F1 >= 0.9 on only {good} of {} pages",
        rows.len()
    );
}

/// The admin-alert hint on a real page whose names are the items' own text.
#[test]
fn the_heal_hint_on_a_real_page_carries_a_definition_that_loads() {
    let page = corpus().join("play/Play.html");
    let body = String::from_utf8_lossy(&std::fs::read(&page).unwrap()).into_owned();
    let url = Url::parse("http://play.example.onion/index.php").unwrap();
    let hint = leakwatch::suggest::heal_hint(&body, &url).expect("a hint");
    assert!(
        hint.contains("[source.html]\nitem = \"th.News\"\ntitle = { own_text = true }\n"),
        "{hint}"
    );
    assert!(hint.contains("It extracts 24 postings"), "{hint}");
    assert!(hint.contains("  - Garvey\n"), "{hint}");
    assert!(hint.contains("… and 14 more"), "{hint}");

    let blocked = corpus().join("clop");
    for p in std::fs::read_dir(blocked).unwrap() {
        let body = String::from_utf8_lossy(&std::fs::read(p.unwrap().path()).unwrap()).into_owned();
        assert_eq!(leakwatch::suggest::heal_hint(&body, &url), None);
    }
}
