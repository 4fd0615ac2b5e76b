//! A JSON API of thousands of items goes to the writer in chunks while it
//! is still being extracted (src/run/stream.rs): stored in item order,
//! matched once, and written whole or not at all — when an item fails to
//! parse part-way, and when the run is killed part-way.

use std::io::BufRead;

use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_exit, assert_ok, signal};

const WATCHLIST: &str = "name,aliases,domains,kind,recipients,exclude\nQualys,,qualys.com,supplier,soc@example.org,\n";

/// `n` items; item `watched` names Qualys; items 10 and 11 share a title and
/// link (one key) with different descriptions; item `poison`, if any, holds
/// a number no parser takes (the body as a whole still reads as JSON).
fn api(n: usize, watched: usize, poison: Option<usize>) -> Vec<u8> {
    let items: Vec<String> = (0..n)
        .map(|i| {
            let name = match i {
                _ if i == watched => "Qualys Inc".to_owned(),
                11 => "Company 10 Ltd".to_owned(),
                _ => format!("Company {i} Ltd"),
            };
            let link = if i == 11 { 10 } else { i };
            let extra = if Some(i) == poison { r#", "size": 1e400"# } else { "" };
            format!(r#"{{"victim": "{name}", "url": "/p/{link}", "description": "item {i}"{extra}}}"#)
        })
        .collect();
    format!("[{}]", items.join(",\n")).into_bytes()
}

fn workspace(http: &HttpServer) -> Workspace {
    let ws = Workspace::new(&format!(
        "[crawl]\nper_host_rate = \"50/s\"\ntimeout_secs = 60\nretries = 0\n\n\
         [[source]]\nname = \"agg\"\nkind = \"json\"\nurl = \"{}\"\n\
         [source.json]\nitems = \"\"\ntitle = \"/victim\"\nlink = \"/url\"\nbody = \"/description\"\n",
        http.url("/api")
    ));
    ws.import(WATCHLIST);
    ws
}

fn serve(http: &HttpServer, body: Vec<u8>) {
    http.route("/api", move |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.clone(),
    });
}

fn run_counts(ws: &Workspace) -> (i64, i64, i64) {
    ws.sql()
        .query_row(
            "SELECT postings_new, postings_changed, matches FROM run ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

#[test]
fn a_big_json_api_is_stored_in_item_order_matched_once_and_unchanged_next_run() {
    let http = HttpServer::start();
    serve(&http, api(5000, 4321, None));
    let ws = workspace(&http);

    assert_ok(&ws.cron(&["run"]).output().unwrap());
    // Item 11 repeats item 10's key: stored once, then found changed.
    assert_eq!(run_counts(&ws), (4999, 1, 1));
    let titles: Vec<String> = ws
        .sql()
        .prepare("SELECT title FROM posting ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<String> = (0..5000)
        .filter(|&i| i != 11)
        .map(|i| match i {
            4321 => "Qualys Inc".to_owned(),
            _ => format!("Company {i} Ltd"),
        })
        .collect();
    assert_eq!(titles, expected, "ids follow the items");
    assert_eq!(
        ws.count("SELECT count(*) FROM posting WHERE title = 'Company 10 Ltd' AND body = 'item 11'"),
        1
    );
    assert_eq!(
        ws.count("SELECT count(*) FROM fetch WHERE source = 'agg' AND postings = 5000"),
        1
    );
    assert_eq!(ws.count("SELECT count(*) FROM outbox"), 1);
    assert_eq!(
        ws.count("SELECT count(*) FROM posting_fts WHERE posting_fts MATCH 'qualys'"),
        1
    );
    ws.sql()
        .execute("INSERT INTO posting_fts (posting_fts) VALUES ('integrity-check')", [])
        .expect("the full-text index agrees with the postings");

    assert_ok(&ws.cron(&["run"]).output().unwrap());
    let (new, _, matches) = run_counts(&ws);
    assert_eq!((new, matches), (0, 0));
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 4999);
    assert_eq!(ws.count("SELECT count(*) FROM outbox"), 1);
}

#[test]
fn a_json_api_failing_part_way_stores_none_of_its_page() {
    let http = HttpServer::start();
    serve(&http, api(5000, 100, Some(4000)));
    let ws = workspace(&http);

    let out = ws.cron(&["run"]).output().unwrap();
    assert_exit(&out, 3);
    assert_eq!(
        ws.count("SELECT count(*) FROM fetch WHERE source = 'agg' AND status = 'http-error' AND postings = 0"),
        1
    );
    let error: String = ws
        .sql()
        .query_row("SELECT error FROM fetch WHERE source = 'agg'", [], |r| r.get(0))
        .unwrap();
    assert!(error.contains("cannot be parsed"), "{error}");
    // Qualys (item 100) was matched before item 4000 failed: rolled back with it.
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 0);
    assert_eq!(ws.count("SELECT count(*) FROM \"match\""), 0);
    assert_eq!(ws.count("SELECT count(*) FROM outbox"), 0);
    assert_eq!(run_counts(&ws), (0, 0, 0));

    serve(&http, api(5000, 100, None));
    assert_ok(&ws.cron(&["run"]).output().unwrap());
    assert_eq!(run_counts(&ws), (4999, 1, 1));
    assert_eq!(ws.count("SELECT count(*) FROM outbox"), 1);
}

#[test]
fn a_run_killed_while_streaming_leaves_nothing_half_written() {
    let http = HttpServer::start();
    let n = 20_000;
    serve(&http, api(n, n - 7, None));
    let ws = workspace(&http);

    // The stream lasts about half a second here: killed as it starts and inside it.
    for pause in [0, 150, 400] {
        let mut child = ws.spawn_cron(&["-vv", "run"]);
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("goes to the writer as it is read") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("the page streams to the writer");
        std::thread::sleep(std::time::Duration::from_millis(pause));
        signal(child.id(), "KILL");
        let _ = child.wait();
        let stored = ws.count("SELECT count(*) FROM posting");
        assert!(stored == 0 || stored == n as i64 - 1, "{stored} postings after a kill");
        assert_eq!(
            ws.count("SELECT count(*) FROM outbox") > 0,
            stored > 0,
            "alerts commit with their postings"
        );
    }
    assert_ok(&ws.cron(&["run"]).output().unwrap());
    assert_eq!(ws.count("SELECT count(*) FROM posting"), n as i64 - 1);
    assert_eq!(ws.count("SELECT count(*) FROM \"match\""), 1);
    assert_eq!(ws.count("SELECT count(*) FROM outbox"), 1);
}
