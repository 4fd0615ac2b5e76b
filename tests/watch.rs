//! The watch list through the real binary: bulk import in one transaction,
//! the line of a bad row, `--replace`, `list --json`, `add --backfill`, and
//! vendor-disclosure sources (`about`).

use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_exit, assert_ok, stderr, stdout};

const HEADER: &str = "name,aliases,domains,kind,recipients,exclude\n";

/// A CSV of `rows` entries; the row on file line `bad_line` (header is line 1)
/// gets a kind that does not exist.
fn big_csv(rows: usize, bad_line: Option<usize>) -> String {
    let mut csv = String::from(HEADER);
    for i in 0..rows {
        let kind = if Some(i + 2) == bad_line { "vendor" } else { "supplier" };
        csv.push_str(&format!(
            "Supplier {i:05} GmbH,Supplier {i:05},supplier{i:05}.example,{kind},,\n"
        ));
    }
    csv
}

fn names(ws: &Workspace) -> Vec<String> {
    let db = ws.sql();
    let mut stmt = db.prepare("SELECT name FROM watch_entry ORDER BY name").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn fifty_thousand_rows_import_at_once() {
    let ws = Workspace::new("");
    let file = ws.path("big.csv");
    std::fs::write(&file, big_csv(50_000, None)).unwrap();
    let out = ws.run(&["watch", "import", file.to_str().unwrap()]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("50000 added, 0 changed, 0 unchanged, 0 removed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(ws.count("SELECT count(*) FROM watch_entry"), 50_000);
    // One transaction: every row carries the same timestamp.
    assert_eq!(ws.count("SELECT count(DISTINCT created_at) FROM watch_entry"), 1);
}

#[test]
fn a_bad_row_at_line_40000_imports_nothing_and_names_the_line() {
    let ws = Workspace::new("");
    ws.import(&format!(
        "{HEADER}Accellion,,accellion.com,supplier,,\nQualys,,,supplier,,\n"
    ));
    let file = ws.path("big.csv");
    std::fs::write(&file, big_csv(50_000, Some(40_000))).unwrap();
    let out = ws.run(&["watch", "import", "--replace", file.to_str().unwrap()]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("line 40000, column kind"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(names(&ws), ["Accellion", "Qualys"]);
}

#[test]
fn replace_reports_and_duplicates_are_refused() {
    let ws = Workspace::new("");
    ws.import(&format!(
        "{HEADER}Accellion,,,supplier,,\nQualys,,,supplier,,\nNipro,,,supplier,,\n"
    ));
    let file = ws.path("new.csv");
    std::fs::write(
        &file,
        format!("{HEADER}Accellion,Accellion FTA,,supplier,,\nKumho Tire,,,customer,,\n"),
    )
    .unwrap();
    let out = ws.run(&["watch", "import", "--replace", file.to_str().unwrap()]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("1 added, 1 changed, 0 unchanged, 2 removed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(names(&ws), ["Accellion", "Kumho Tire"]);

    std::fs::write(&file, format!("{HEADER}Acme,,,supplier,,\nACME,,,supplier,,\n")).unwrap();
    let out = ws.run(&["watch", "import", file.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("line 3, column name"), "{}", stderr(&out));
    assert_eq!(names(&ws), ["Accellion", "Kumho Tire"]);
}

#[test]
fn list_shows_times_and_why_a_name_matches_only_in_titles() {
    let ws = Workspace::new("");
    ws.import(&format!(
        "{HEADER}Target,,target.com,customer,,\nAccellion,,,supplier,,\nACE,,,supplier,,\n"
    ));
    let out = ws.run(&["watch", "list", "--json"]);
    assert_ok(&out);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let by_name = |n: &str| list.iter().find(|e| e["name"] == n).unwrap();
    assert!(
        by_name("Target")["title_only"]
            .as_str()
            .unwrap()
            .contains("common English word")
    );
    assert!(
        by_name("ACE")["title_only"]
            .as_str()
            .unwrap()
            .contains("shorter than 4 letters")
    );
    assert!(by_name("Accellion")["title_only"].is_null());
    assert_eq!(by_name("Target")["domains"][0], "target.com");
    let created = by_name("Target")["created_at"].as_str().unwrap();
    assert!(created.starts_with("20"), "{created}");
    assert!(by_name("Target")["updated_at"].is_string());

    let table = stdout(&ws.run(&["watch", "list"]));
    assert!(table.contains("UPDATED"), "{table}");
    let target = table.lines().find(|l| l.starts_with("Target")).unwrap();
    assert!(target.contains("title only"), "{target}");
}

/// A leak page listing (title, date) pairs, as the `leaks` source reads it.
fn page(posts: &[(&str, &str)]) -> String {
    let items: String = posts
        .iter()
        .map(|(t, d)| {
            format!("<div class=\"post\"><h2 class=\"victim\">{t}</h2><span class=\"date\">{d}</span></div>\n")
        })
        .collect();
    format!("<html><body><div class=\"posts\">{items}</div></body></html>")
}

fn source(http: &HttpServer, name: &str, path: &str, about: &str) -> String {
    format!(
        r#"
[[source]]
name = "{name}"
kind = "html"
url = "{}"
{about}
[source.html]
item = "div.post"
title = "h2.victim"
date = ".date"
"#,
        http.url(path)
    )
}

fn serve(http: &HttpServer, path: &str, posts: &std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    let posts = posts.clone();
    http.route(path, move |_| {
        let p = posts.lock().unwrap();
        let refs: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        Reply::html(&page(&refs))
    });
}

fn day(days_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days_ago))
        .format("%Y-%m-%d")
        .to_string()
}

fn matches(ws: &Workspace) -> Vec<(String, String, String, i64, i64)> {
    let db = ws.sql();
    let mut stmt = db
        .prepare(
            "SELECT p.title, e.name, m.reason, m.confidence, m.retroactive FROM \"match\" m
             JOIN posting p ON p.id = m.posting_id JOIN watch_entry e ON e.id = m.entry_id ORDER BY p.title, e.name",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_disclosure_channel_alerts_its_entries_on_new_postings_recent_ones_first() {
    let http = HttpServer::start();
    let posts = std::sync::Arc::new(std::sync::Mutex::new(vec![
        ("Security advisory: FTA patch".to_string(), day(3)),
        ("Product update, old".to_string(), day(200)),
    ]));
    serve(&http, "/advisories", &posts);
    let ws = Workspace::new(&format!(
        "[notify]\nrecipients = [\"secops@example.org\"]\n{}",
        source(&http, "vendor", "/advisories", r#"about = ["Accellion"]"#)
    ));
    ws.import(&format!(
        "{HEADER}Accellion,,accellion.com,supplier,,\nQualys,,,supplier,,\n"
    ));
    assert_ok(&ws.run(&["check"]));

    assert_exit(&ws.run(&["run"]), 0);
    // First crawl: only the posting from the last 30 days alerts.
    assert_eq!(
        matches(&ws),
        [(
            "Security advisory: FTA patch".into(),
            "Accellion".into(),
            "about".into(),
            100,
            0
        )]
    );

    // Later, any new posting alerts, old date or not, whatever it says.
    posts.lock().unwrap().push(("Qualys note from 2019".into(), day(2000)));
    assert_exit(&ws.run(&["run"]), 0);
    let m = matches(&ws);
    assert_eq!(m.len(), 3, "{m:?}");
    assert!(m.contains(&(
        "Qualys note from 2019".into(),
        "Accellion".into(),
        "about".into(),
        100,
        0
    )));
    assert!(m.contains(&("Qualys note from 2019".into(), "Qualys".into(), "name".into(), 100, 0)));
}

#[test]
fn about_a_name_not_watched_fails_that_source_and_check() {
    let http = HttpServer::start();
    let posts = std::sync::Arc::new(std::sync::Mutex::new(vec![("Advisory".to_string(), day(1))]));
    serve(&http, "/a", &posts);
    serve(&http, "/b", &posts);
    let ws = Workspace::new(&format!(
        "{}{}",
        source(&http, "vendor", "/a", r#"about = ["Nobody GmbH"]"#),
        source(&http, "plain", "/b", "")
    ));
    ws.import(&format!("{HEADER}Accellion,,,supplier,,\n"));
    let out = ws.run(&["check"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("source \"vendor\": about: `Nobody GmbH` is not on the watch list"),
        "{}",
        stderr(&out)
    );

    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("source vendor: about names `Nobody GmbH`"),
        "{}",
        stderr(&out)
    );
    assert!(http.hits("/a").is_empty(), "a failed source is not fetched");
    assert_eq!(http.hits("/b").len(), 1);
}

#[test]
fn add_with_backfill_matches_stored_postings_now() {
    let http = HttpServer::start();
    let posts = std::sync::Arc::new(std::sync::Mutex::new(vec![
        ("QUALYS.COM FILES  PART1 PUBLISHED".to_string(), day(400)),
        ("Northwind Traders".to_string(), day(401)),
    ]));
    serve(&http, "/leaks", &posts);
    let ws = Workspace::new(&source(&http, "clop", "/leaks", ""));
    assert_exit(&ws.run(&["run"]), 0);
    assert!(matches(&ws).is_empty());

    let out = ws.run(&["watch", "add", "Qualys, Inc.", "--backfill"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("1 new matches"), "{}", stdout(&out));
    assert_eq!(
        matches(&ws),
        [(
            "QUALYS.COM FILES PART1 PUBLISHED".into(),
            "Qualys, Inc.".into(),
            "label".into(),
            90,
            1
        )]
    );
    // Matched once: the next run does not match it again.
    assert_exit(&ws.run(&["run"]), 0);
    assert_eq!(matches(&ws).len(), 1);
}

/// Backfill reads the past a page at a time: a posting stored after ten
/// thousand others (more than one page) is still matched.
#[test]
fn backfill_reaches_postings_beyond_its_first_page() {
    let http = HttpServer::start();
    let posts = std::sync::Arc::new(std::sync::Mutex::new(vec![(
        "QUALYS.COM FILES  PART1 PUBLISHED".to_string(),
        day(400),
    )]));
    serve(&http, "/leaks", &posts);
    let ws = Workspace::new(&source(&http, "clop", "/leaks", ""));
    assert_exit(&ws.run(&["watch", "list"]), 0);
    {
        let mut db = ws.sql();
        let tx = db.transaction().unwrap();
        let mut insert = tx
            .prepare(
                "INSERT INTO posting (source, key, victim, title, first_seen_at, first_run_id)
                 VALUES ('older', ?1, ?1, ?1, '2024-01-01T00:00:00Z', 0)",
            )
            .unwrap();
        for i in 0..10_050 {
            insert.execute([format!("northwind traders {i}")]).unwrap();
        }
        drop(insert);
        tx.commit().unwrap();
    }
    assert_exit(&ws.run(&["run"]), 0);
    let last: i64 = ws
        .sql()
        .query_row("SELECT id FROM posting WHERE source = 'clop'", [], |r| r.get(0))
        .unwrap();
    assert!(
        last > 10_050,
        "the Cl0p posting is stored after the older ones: id {last}"
    );

    let out = ws.run(&["watch", "add", "Qualys, Inc.", "--backfill"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("1 new matches"), "{}", stdout(&out));
    assert_eq!(matches(&ws).len(), 1);
}

/// What European Excel and "Unicode text" exports write imports as the
/// plain CSV does; `export --excel` writes what Excel opens with accents intact.
#[test]
fn spreadsheets_from_everywhere_import_and_export_for_excel() {
    let ws = Workspace::new("");
    let semi = "name;aliases;domains;kind;recipients;exclude\r\n\
        Société Générale;\"SocGen;SG\";societegenerale.com;customer;risk@example.org;\r\n\
        Müller GmbH;;;supplier;;\r\n";
    let file = ws.path("excel-eu.csv");
    std::fs::write(&file, semi).unwrap();
    let out = ws.run(&["watch", "import", file.to_str().unwrap()]);
    assert_ok(&out);
    assert!(stdout(&out).contains("2 added"), "{}", stdout(&out));
    assert_eq!(names(&ws), ["Müller GmbH", "Société Générale"]);

    let tabs = "name\taliases\tkind\r\nČEZ Group\tČEZ\tsupplier\r\n";
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(tabs.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let file = ws.path("unicode.txt");
    std::fs::write(&file, &utf16).unwrap();
    assert_ok(&ws.run(&["watch", "import", file.to_str().unwrap()]));
    assert_eq!(names(&ws), ["Müller GmbH", "Société Générale", "ČEZ Group"]);

    let out = ws.run(&["watch", "export", "--excel"]);
    assert_ok(&out);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("\u{feff}name,aliases,"), "{text:?}");
    assert!(
        text.contains("Société Générale,SocGen;SG,societegenerale.com,customer,risk@example.org,\r\n"),
        "{text:?}"
    );
    assert_eq!(text.matches("\r\n").count(), 4, "{text:?}");
    // Plain export stays as it was: no BOM, LF.
    let plain = stdout(&ws.run(&["watch", "export"]));
    assert!(plain.starts_with("name,") && !plain.contains('\r'), "{plain:?}");
    // And the Excel file imports back unchanged.
    let file = ws.path("back.csv");
    std::fs::write(&file, &out.stdout).unwrap();
    let out = ws.run(&["watch", "import", "--replace", file.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("0 added, 0 changed, 3 unchanged, 0 removed"),
        "{}",
        stdout(&out)
    );
}
