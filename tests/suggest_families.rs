//! `source suggest` on listing layouts its rules were not written against,
//! through the real binary: the suggested table is pasted under a
//! `[[source]]`, the page is served on loopback, `run` crawls it and
//! `postings --json` says what was stored. Each family from issue 19 has a
//! hand-written page with its titles counted by hand (`fixtures/suggest/
//! families/NAME.expected`); the real JSON captures in the corpus are
//! compared with the titles a hand-written `[source.json]` extracts.
//! Precision, recall and F1 per page are printed for BENCHMARKS.md.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::suggest::{Row, print_rows, title_set};
use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_ok, corpus, fixtures, stderr, stdout};
use leakwatch::config::Config;
use leakwatch::text;

/// What `suggest`, pasted and run, stored from one page.
struct Outcome {
    table: String,
    stderr: String,
    titles: HashSet<String>,
}

/// Suggests a table for `page`, pastes it under a source of the kind it
/// names, serves the page and crawls it once.
fn suggest_then_run(page: &Path) -> Outcome {
    let ws = Workspace::new("");
    let out = ws.run(&["source", "suggest", "--file", page.to_str().unwrap()]);
    assert_ok(&out);
    let table = stdout(&out);
    let kind = if table.starts_with("[source.json]") {
        "json"
    } else {
        "html"
    };
    let body = std::fs::read(page).unwrap();
    let content_type = if page.extension().is_some_and(|e| e == "json") {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    };
    let http = HttpServer::start();
    http.route("/list", move |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.clone(),
    });
    ws.write_config(&format!(
        "[crawl]\nper_host_rate = \"50/s\"\nretries = 0\n\n[[source]]\nname = \"new\"\nkind = \"{kind}\"\nurl = \"{}\"\n{table}",
        http.url("/list")
    ));
    let run = ws.run(&["run"]);
    assert_ok(&run);
    let listed = ws.run(&["postings", "--json"]);
    assert_ok(&listed);
    let postings: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).expect("one JSON array");
    Outcome {
        table,
        stderr: stderr(&out),
        titles: postings
            .iter()
            .map(|p| text::normalize(p["title"].as_str().unwrap()))
            .collect(),
    }
}

fn family(name: &str) -> (PathBuf, HashSet<String>) {
    let dir = fixtures().join("suggest/families");
    let page = ["html", "json"]
        .iter()
        .map(|e| dir.join(format!("{name}.{e}")))
        .find(|p| p.exists())
        .unwrap();
    let expected = std::fs::read_to_string(dir.join(format!("{name}.expected"))).unwrap();
    (page, expected.lines().map(text::normalize).collect())
}

/// A hand-written `[source.json]` for a real capture: the titles a person
/// reading the JSON would take.
fn hand_titles(page: &Path, json_table: &str) -> HashSet<String> {
    let text = format!(
        "[database]\npath = \"x.db\"\n[[source]]\nname = \"hand\"\nkind = \"json\"\nurl = \"http://api.example/\"\n{json_table}"
    );
    let config = Config::parse(Path::new("hand.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let body = String::from_utf8_lossy(&std::fs::read(page).unwrap()).into_owned();
    let source = &config.sources[0];
    title_set(source, &source.url, &body)
}

#[test]
fn each_family_is_read_whole_through_the_suggested_table() {
    let mut rows = Vec::new();
    for name in ["oldtable", "sections", "grid", "pre", "api"] {
        let (page, expected) = family(name);
        let got = suggest_then_run(&page);
        rows.push(Row::new(format!("families/{name}"), &got.titles, &expected));
    }
    let corpus_json = [
        (
            corpus().join("akira/akira-akiral2iz6a7qgd3ayp3l6yub7xx2uep76idk3u2kollpj5z3z636bad.html"),
            "[source.json]\nembedded = \"pre\"\nitems = \"\"\ntitle = \"/title\"\ntitle_wrap = 20\n",
        ),
        (
            corpus().join("../disclosure/aggregators/ransomware.live_v1_recentvictims_2024-06-13.json"),
            "[source.json]\nitems = \"\"\ntitle = \"/post_title\"\n",
        ),
        (
            corpus().join("../disclosure/aggregators/ransomware.live_pro_recentvictims_2026-09-20.json"),
            "[source.json]\nitems = \"/victims\"\ntitle = \"/victim\"\n",
        ),
        (
            corpus().join("../disclosure/aggregators/ransomware.live_v1_recentcyberattacks_2024-06-14.json"),
            "[source.json]\nitems = \"\"\ntitle = \"/victim\"\n",
        ),
        (
            corpus().join("../disclosure/aggregators/publicvector_databreach-rss_data_2026-02-01.json"),
            "[source.json]\nitems = \"\"\ntitle = \"/company_name\"\n",
        ),
    ];
    for (page, hand) in corpus_json {
        let expected = hand_titles(&page, hand);
        let got = suggest_then_run(&page);
        let name: String = page.file_name().unwrap().to_string_lossy().chars().take(34).collect();
        rows.push(Row::new(name, &got.titles, &expected));
    }
    print_rows(&rows);
    let below: Vec<&String> = rows.iter().filter(|r| r.f1 < 0.9).map(|r| &r.page).collect();
    assert!(below.is_empty(), "F1 below 0.9 on {below:?}");
}

#[test]
fn a_shell_page_and_a_captcha_get_no_suggestion() {
    let ws = Workspace::new("");
    let shell = "<!DOCTYPE html><html><head><title>Loading</title><script src=\"/app.js\"></script>\
                 <script id=\"config\" type=\"application/json\">{\"api\":\"/api\",\"locale\":\"en\",\
                 \"features\":[{\"name\":\"Dark mode\"},{\"name\":\"Search\"},{\"name\":\"Mirrors\"}]}</script>\
                 </head><body><div id=\"root\"></div><noscript>Enable JavaScript</noscript></body></html>";
    let captcha_over_json = "<html><head><title>Checking your browser</title></head><body><form><p>Enter the \
                             captcha</p><input name=c></form><pre>[{\"title\":\"Acme\",\"date\":\"2024-01-01\"},\
                             {\"title\":\"Beta\",\"date\":\"2024-01-02\"},{\"title\":\"Gamma\",\"date\":\"2024-01-03\"}]</pre>\
                             </body></html>";
    for (page, why) in [(shell, "no repeated structure"), (captcha_over_json, "CAPTCHA")] {
        let file = ws.path("page.html");
        std::fs::write(&file, page).unwrap();
        let out = ws.run(&["source", "suggest", "--file", file.to_str().unwrap()]);
        crate::support::assert_exit(&out, 1);
        assert_eq!(stdout(&out), "");
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
}

#[test]
fn json_in_a_pre_viewer_gets_an_embedded_json_table_and_says_its_kind() {
    let (page, _) = family("pre");
    let got = suggest_then_run(&page);
    assert_eq!(
        got.table,
        "[source.json]\nembedded = \"pre\"\nitems = \"/data/posts\"\ntitle = \"/name\"\nlink = \"/url\"\n\
         date = \"/added\"\nbody = \"/info\"\n"
    );
    assert!(got.stderr.contains("kind = \"json\""), "{}", got.stderr);
}

#[test]
fn a_class_less_table_is_read_by_structure_and_names_split_by_br_are_whole() {
    let (page, _) = family("oldtable");
    let got = suggest_then_run(&page);
    let item = got.table.lines().nth(1).unwrap();
    assert!(item.starts_with("item = \"td > table > tbody > tr"), "{}", got.table);
    assert!(got.titles.contains(&text::normalize("Kessler & Sohn Maschinenbau AG")));
    assert!(!got.titles.contains("company"), "the header row is not a posting");
}

#[test]
fn all_says_why_the_non_postings_of_a_grid_are_left_out() {
    let (page, _) = family("grid");
    let ws = Workspace::new("");
    let out = ws.run(&["source", "suggest", "--all", "--file", page.to_str().unwrap()]);
    assert_ok(&out);
    let err = stderr(&out);
    let first: Vec<&str> = err.lines().take_while(|l| !l.starts_with("#2")).collect();
    let first = first.join("\n");
    assert!(
        first.contains("\"Happy New Year 2025!\": reads as a sentence or greeting, not a name; left out"),
        "{err}"
    );
    assert!(
        first.contains("\"Statement on the so-called Lynx team\": an announcement"),
        "{err}"
    );
}

/// Two sections of postings: five cards, then an archive list whose names
/// are in links, or (`own_text`) written straight into each row.
fn two_sections(own_text: bool) -> String {
    let mut page = String::from("<html><body><div id=main>");
    for i in 0..5 {
        page.push_str(&format!(
            "<div class=post><h3>Victim Number {i} Holdings</h3><p>All files of victim {i}, published after the \
             deadline passed.</p><a href=/p/{i}>more</a></div>"
        ));
    }
    page.push_str("</div><ul class=archive>");
    for i in 0..4 {
        let name = format!("Archived Company {i} Inc");
        let name = if own_text {
            name
        } else {
            format!("<a href=/a/{i}>{name}</a>")
        };
        page.push_str(&format!(
            "<li>{name} <span>2023-01-0{}</span> <em>full archive of company {i} released</em></li>",
            i + 1
        ));
    }
    page.push_str("</ul></body></html>");
    page
}

#[test]
fn two_sections_with_their_own_markup_are_read_by_one_table_of_selector_lists() {
    let ws = Workspace::new("");
    let page = ws.path("page.html");
    std::fs::write(&page, two_sections(false)).unwrap();
    let got = suggest_then_run(&page);
    assert!(
        got.table
            .starts_with("[source.html]\nitem = \"div.post, ul.archive > li\"\ntitle = \"h3, a\"\n"),
        "{}",
        got.table
    );
    assert_eq!(got.titles.len(), 9, "{:?}", got.titles);
    assert!(got.titles.contains(&text::normalize("Archived Company 3 Inc")));
    assert_eq!(got.stderr, "");
}

#[test]
fn a_section_the_table_cannot_read_is_named_on_stderr() {
    let ws = Workspace::new("");
    let page = ws.path("page.html");
    std::fs::write(&page, two_sections(true)).unwrap();
    let out = ws.run(&["source", "suggest", "--file", page.to_str().unwrap()]);
    assert_ok(&out);
    assert!(
        stdout(&out).starts_with("[source.html]\nitem = \"div.post\"\n"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "leakwatch: left out: `ul.archive > li`: 4 more items (Archived Company 0 Inc | Archived Company 1 Inc \
             | Archived Company 2 Inc) whose fields the suggested table does not read"
        ),
        "{err}"
    );
}
