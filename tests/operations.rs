//! Operations: the binary as cron and systemd run it — no terminal, no HOME,
//! a bare environment — and as analysts drive it: exit codes, the run lock,
//! killed and interrupted runs, `check`, `init`, the scheduler, logs and the
//! listing commands.

use std::process::{Child, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_exit, assert_ok, signal, stderr, stdout, wait_until};

const LISTING: &str = r#"<html><body>
<div class="post"><h2 class="victim">Qualys, Inc.</h2><a class="more" href="/post/1">more</a></div>
<div class="post"><h2 class="victim">Acme Widgets</h2><a class="more" href="/post/2">more</a></div>
</body></html>"#;

/// A config with one html source per `(name, path)` on `http`.
fn sources(http: &HttpServer, list: &[(&str, &str)]) -> String {
    let mut out = String::from("[crawl]\nper_host_rate = \"50/s\"\ntimeout_secs = 60\nretries = 0\n");
    for (name, path) in list {
        out.push_str(&format!(
            r#"
[[source]]
name = "{name}"
kind = "html"
url = "{}"
[source.html]
item = "div.post"
title = "h2.victim"
link = {{ selector = "a.more", attr = "href" }}
"#,
            http.url(path)
        ));
    }
    out
}

/// A page that takes about `secs` seconds to arrive, a chunk at a time.
fn slow_page(secs: u64) -> Reply {
    Reply::Trickle {
        headers: vec![("Content-Type".into(), "text/html".into())],
        chunk: b"<!-- still coming -->\n".to_vec(),
        pause: Duration::from_millis(100),
        count: (secs * 10) as usize,
    }
}

/// A route that is slow while `slow` is set, and a quick listing after.
fn switchable(http: &HttpServer, path: &str) -> Arc<AtomicBool> {
    let slow = Arc::new(AtomicBool::new(true));
    let flag = slow.clone();
    http.route(path, move |_| {
        if flag.load(Ordering::SeqCst) {
            slow_page(30)
        } else {
            Reply::html(LISTING)
        }
    });
    slow
}

fn finish(child: Child) -> Output {
    child.wait_with_output().expect("wait for leakwatch")
}

#[test]
fn exit_codes_under_cron_0_3_1_2() {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    http.route("/broken", |_| Reply::status(500));
    let ws = Workspace::new(&sources(&http, &[("good", "/ok")]));

    let out = ws.cron(&["run"]).output().unwrap();
    assert_exit(&out, 0);
    assert!(
        stdout(&out).is_empty(),
        "cron mails whatever a run prints: {}",
        stdout(&out)
    );

    ws.write_config(&sources(&http, &[("good", "/ok"), ("bad", "/broken")]));
    let out = ws.cron(&["run"]).output().unwrap();
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("source bad"), "the failed source is named: {err}");
    assert!(!err.contains("source good:"), "{err}");
    assert!(err.contains("1 ok, 1 failed"), "summary line: {err}");

    ws.write_config("[crawl]\nspeed = 3\n");
    let out = ws.cron(&["run"]).output().unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("leakwatch.toml:5"), "{}", stderr(&out));

    let out = ws.cron(&["run", "--no-such-flag"]).output().unwrap();
    assert_exit(&out, 2);

    std::fs::remove_file(ws.config()).unwrap();
    let out = ws.cron(&["run"]).output().unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("leakwatch init"),
        "says what to do: {}",
        stderr(&out)
    );
}

#[test]
fn a_second_run_exits_75_at_once_naming_the_holder() {
    let http = HttpServer::start();
    let slow = switchable(&http, "/slow");
    let ws = Workspace::new(&sources(&http, &[("slow", "/slow")]));

    let first = ws.spawn_cron(&["run"]);
    wait_until(20, "the first run to fetch", || !http.hits("/slow").is_empty());

    let started = std::time::Instant::now();
    let second = ws.cron(&["run"]).output().unwrap();
    assert_exit(&second, 75);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "75 is immediate, not a wait for the lock"
    );
    let err = stderr(&second);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("pid {}", first.id())),
        "names the holder's pid: {err}"
    );
    assert!(err.contains("started 20"), "names its start time: {err}");
    assert_eq!(ws.count("SELECT count(*) FROM run"), 1, "the refused run wrote nothing");

    slow.store(false, Ordering::SeqCst);
    signal(first.id(), "KILL");
    finish(first);
}

#[test]
fn a_run_killed_with_sigkill_does_not_block_the_next_and_is_marked_interrupted() {
    let http = HttpServer::start();
    let slow = switchable(&http, "/slow");
    let ws = Workspace::new(&sources(&http, &[("slow", "/slow")]));

    let first = ws.spawn_cron(&["run"]);
    wait_until(20, "the first run to fetch", || !http.hits("/slow").is_empty());
    let pid = first.id();
    signal(pid, "KILL");
    finish(first);

    let lock = std::fs::read_to_string(ws.path("lw.db.lock")).expect("the lock file stays behind");
    assert!(lock.contains(&format!("pid {pid}")), "{lock}");
    let status: String = ws.sql().query_row("SELECT status FROM run", [], |r| r.get(0)).unwrap();
    assert_eq!(status, "running", "a killed run cannot close its record");

    slow.store(false, Ordering::SeqCst);
    let next = ws.spawn_cron(&["run"]);
    let next_pid = next.id();
    let out = finish(next);
    assert_exit(&out, 0);
    let lock = std::fs::read_to_string(ws.path("lw.db.lock")).unwrap();
    assert!(lock.contains(&format!("pid {next_pid}")), "taken over: {lock}");
    let statuses: Vec<String> = ws
        .sql()
        .prepare("SELECT status FROM run ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(statuses, ["interrupted", "ok"]);
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 2);
}

#[test]
fn check_lists_every_problem_with_file_and_line() {
    let ws = Workspace::new("");
    let text = r#"[database]
path = "no/such/folder/lw.db"

[smtp]
transport = "smtp"
host = "127.0.0.1"
password_env = "LEAKWATCH_TEST_UNSET_PASSWORD"
from = "leakwatch <alerts@example.org>"

[notify]
recipients = ["secops at example.org"]

[[source]]
name = "clop"
kind = "html"
url = "http://127.0.0.1:9/"
[source.html]
item = "div..post"
title = "h2"
"#;
    std::fs::write(ws.config(), text).unwrap();
    let out = ws.cron(&["check"]).output().unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    let config = ws.config().display().to_string();
    for (line, what) in [
        (2, "does not exist"),
        (7, "LEAKWATCH_TEST_UNSET_PASSWORD is not set"),
        (11, "not a mail address"),
        (18, "not a valid CSS selector"),
    ] {
        let wanted = format!("{config}:{line}:");
        assert!(
            err.lines().any(|l| l.contains(&wanted) && l.contains(what)),
            "expected `{wanted} … {what}` in:\n{err}"
        );
    }
    assert!(err.contains("has 4 problems"), "{err}");
    assert!(!ws.path("no").exists(), "check creates nothing");
}

#[test]
fn check_passes_on_a_good_config_and_refuses_an_onion_source_without_tor() {
    let http = HttpServer::start();
    let ws = Workspace::new(&sources(&http, &[("good", "/ok")]));
    let out = ws.cron(&["check"]).output().unwrap();
    assert_ok(&out);
    assert!(stdout(&out).contains("ok, 1 sources"), "{}", stdout(&out));
    assert!(!ws.db().exists(), "check does not create the database");

    ws.import("name,aliases,domains,kind,recipients,exclude\nQualys,,,supplier,,\nAccellion,,,supplier,vendor-risk@example.org,\n");
    let out = ws.cron(&["check"]).output().unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("1 watch entry has no recipients of its own (Qualys)"),
        "{}",
        stderr(&out)
    );

    ws.write_config("[[source]]\nname = \"clop\"\nkind = \"feed\"\nurl = \"http://abcdefghijklmnop.onion/\"\n");
    let out = ws.cron(&["check"]).output().unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("leakwatch.toml:7: source \"clop\": url"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn init_then_check_passes() {
    let ws = Workspace::new("");
    std::fs::remove_file(ws.config()).unwrap();
    let out = ws.cron(&["init", "site"]).output().unwrap();
    assert_ok(&out);
    let config = ws.path("site/leakwatch.toml");
    let config = config.to_str().unwrap();
    for f in [
        "leakwatch.toml",
        "watchlist.csv",
        "sources/disclosure/cisa-kev.toml",
        "sources/optional/ransomware-live-pro.toml",
        "sources/leaksites/play.toml",
    ] {
        assert!(ws.path("site").join(f).is_file(), "{f} written");
    }

    let out = ws.cron(&["--config", config, "check"]).output().unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("LEAKWATCH_SMTP_PASSWORD is not set"),
        "{}",
        stderr(&out)
    );
    let list = ws.path("site/watchlist.csv");
    assert_ok(
        &ws.cron(&["--config", config, "watch", "import", list.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    let out = ws
        .cron(&["--config", config, "check"])
        .env("LEAKWATCH_SMTP_PASSWORD", "secret")
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(stdout(&out).contains("ok, 5 sources"), "{}", stdout(&out));

    std::fs::write(ws.path("site/leakwatch.toml"), "# mine").unwrap();
    let out = ws.cron(&["init", "site"]).output().unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("already exist"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(ws.path("site/leakwatch.toml")).unwrap(),
        "# mine"
    );
}

/// Waits for a child to exit, for at most `secs` seconds.
#[track_caller]
fn exits_within(mut child: Child, secs: u64) -> Output {
    wait_until(secs, "leakwatch to exit", || child.try_wait().unwrap().is_some());
    finish(child)
}

fn statuses(ws: &Workspace) -> Vec<(String, bool)> {
    ws.sql()
        .prepare("SELECT status, finished_at IS NOT NULL FROM run ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_stops_cleanly_on_sigterm_between_runs() {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    let ws = Workspace::new(&sources(&http, &[("good", "/ok")]));

    let child = ws.spawn_cron(&["run", "--every", "1h"]);
    wait_until(20, "the first run to finish", || {
        ws.try_count("SELECT count(*) FROM run WHERE status = 'ok'") == Some(1)
    });
    signal(child.id(), "TERM");
    let out = exits_within(child, 10);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("SIGTERM"), "{}", stderr(&out));
    assert_eq!(statuses(&ws), [("ok".to_owned(), true)]);
    assert_eq!(http.hits("/ok").len(), 1, "no second run started");
}

#[test]
fn every_runs_again_after_its_period_with_the_config_as_edited() {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    http.route("/other", |_| Reply::html(LISTING));
    let ws = Workspace::new(&sources(&http, &[("good", "/ok")]));

    let child = ws.spawn_cron(&["run", "--every", "1s"]);
    wait_until(20, "a second run", || {
        ws.try_count("SELECT count(*) FROM run WHERE status = 'ok'") >= Some(2)
    });
    // A broken edit is reported and the last good config goes on…
    ws.write_config("[crawl]\nspeed = 3\n");
    let runs = ws.count("SELECT count(*) FROM run");
    wait_until(20, "a run after the broken edit", || {
        ws.try_count("SELECT count(*) FROM run WHERE status = 'ok'") >= Some(runs + 1)
    });
    // …and a good edit counts from the next run.
    ws.write_config(&sources(&http, &[("good", "/ok"), ("other", "/other")]));
    wait_until(20, "the new source to be crawled", || {
        ws.try_count("SELECT count(*) FROM fetch WHERE source = 'other'") >= Some(1)
    });
    signal(child.id(), "INT");
    let out = exits_within(child, 10);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("unknown field `speed`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("SIGINT"), "{}", stderr(&out));
    // The signal may land between runs or during one (a run every second on a
    // busy machine): the last run is then closed as interrupted, never left open.
    let mut statuses = statuses(&ws);
    let (last, last_done) = statuses.pop().unwrap();
    assert!(last_done && (last == "ok" || last == "interrupted"), "{last}");
    assert!(statuses.iter().all(|(s, done)| s == "ok" && *done), "{statuses:?}");
}

#[test]
fn sigterm_during_a_run_finishes_the_source_in_hand_and_closes_the_run_as_interrupted() {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    let slow = switchable(&http, "/slow");
    let ws = Workspace::new(&sources(&http, &[("good", "/ok"), ("slow", "/slow")]));

    for (i, args) in [&["run", "--every", "1h"][..], &["run"][..]].into_iter().enumerate() {
        let child = ws.spawn_cron(args);
        let n = i as i64 + 1;
        wait_until(20, "the slow source to be fetched and the quick one stored", || {
            http.hits("/slow").len() as i64 >= n
                && ws.try_count("SELECT count(*) FROM fetch WHERE source = 'good'") == Some(n)
        });
        signal(child.id(), "TERM");
        let out = exits_within(child, 10);
        // The scheduler was asked to stop: 0. A single run that could not finish: 3.
        assert_exit(&out, if args.len() == 1 { 3 } else { 0 });
        assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
        assert!(
            !stderr(&out).contains('\r') && !stderr(&out).contains("sources ["),
            "no progress bar without a terminal, however long the run: {}",
            stderr(&out)
        );
        let (status, closed) = statuses(&ws).pop().unwrap();
        assert_eq!(
            (status.as_str(), closed),
            ("interrupted", true),
            "closed by the run itself"
        );
    }
    assert_eq!(
        ws.count("SELECT count(*) FROM posting"),
        2,
        "the quick source's postings were kept"
    );
    assert_eq!(ws.count("SELECT count(*) FROM fetch WHERE source = 'slow'"), 0);

    slow.store(false, Ordering::SeqCst);
    assert_exit(&ws.cron(&["run"]).output().unwrap(), 0);
    let last = statuses(&ws).pop().unwrap();
    assert_eq!(last, ("ok".to_owned(), true));
}

/// Every line of `text` as a JSON object.
#[track_caller]
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_log_lines_all_parse_and_the_summary_carries_its_counters() {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    http.route("/broken", |_| Reply::status(500));
    let ws = Workspace::new(&sources(&http, &[("good", "/ok"), ("bad", "/broken")]));

    for args in [
        &["--log-format", "json", "run"][..],
        &["-vv", "--log-format", "json", "run"][..],
    ] {
        let out = ws.cron(args).output().unwrap();
        assert_exit(&out, 3);
        let lines = json_lines(&stderr(&out));
        assert!(lines.len() >= 2, "{lines:?}");
        for l in &lines {
            assert!(
                l["timestamp"].is_string() && l["level"].is_string() && l["message"].is_string(),
                "{l}"
            );
        }
        let summary = lines
            .iter()
            .find(|l| l["run_id"].is_number())
            .expect("a summary object");
        assert_eq!(summary["sources_ok"], 1);
        assert_eq!(summary["sources_failed"], 1);
        assert_eq!(summary["ok"], false);
        assert!(
            lines
                .iter()
                .any(|l| l["level"] == "WARN" && l["message"].as_str().unwrap().contains("source bad")),
            "{lines:?}"
        );
    }
    let verbose = json_lines(&stderr(
        &ws.cron(&["-vv", "--log-format", "json", "run"]).output().unwrap(),
    ));
    let quiet = json_lines(&stderr(&ws.cron(&["--log-format", "json", "run"]).output().unwrap()));
    assert!(verbose.len() > quiet.len(), "-vv says more");

    let held = std::fs::File::create(ws.path("lw.db.lock")).unwrap();
    held.try_lock().unwrap();
    let out = ws.cron(&["--log-format", "json", "run"]).output().unwrap();
    assert_exit(&out, 75);
    let lines = json_lines(&stderr(&out));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("another leakwatch run holds")
    );
}

#[test]
fn quiet_run_prints_nothing_and_rust_log_is_honoured() {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    let ws = Workspace::new(&sources(&http, &[("good", "/ok")]));
    assert_ok(&ws.cron(&["run"]).output().unwrap());
    let out = ws.cron(&["run"]).output().unwrap();
    assert_ok(&out);
    assert_eq!(stderr(&out), "", "nothing happened: nothing to say under cron");
    assert_eq!(stdout(&out), "");
    let out = ws.cron(&["run"]).env("RUST_LOG", "leakwatch=debug").output().unwrap();
    assert_ok(&out);
    assert!(stderr(&out).contains("DEBUG"), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\u{1b}'), "no colours without a terminal");
}

const VICTIMS: &str = r#"{"data": [
  {"victim": "Acme, \"Widgets\" Ltd", "url": "https://agg.example/acme"},
  {"victim": "Qualys, Inc.", "url": "https://agg.example/qualys"},
  {"victim": "=HYPERLINK(\"http://evil.example\")", "url": "https://agg.example/formula"}
]}"#;

/// A workspace with a leak site and an aggregator, crawled once, Qualys watched,
/// and one posting whose title has a newline in it (stored as an older
/// extractor might have stored it).
fn crawled() -> (HttpServer, Workspace) {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    http.route("/api", |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: VICTIMS.as_bytes().to_vec(),
    });
    let config = format!(
        "{}\n[[source]]\nname = \"agg\"\nkind = \"json\"\nurl = \"{}\"\n[source.json]\nitems = \"/data\"\ntitle = \"/victim\"\nlink = \"/url\"\n",
        sources(&http, &[("leaks", "/ok")]),
        http.url("/api")
    );
    let ws = Workspace::new(&config);
    ws.import("name,aliases,domains,kind,recipients,exclude\nQualys,,qualys.com,supplier,,\n");
    assert_ok(&ws.cron(&["run"]).output().unwrap());
    ws.sql()
        .execute(
            "INSERT INTO posting (source, key, victim, title, first_seen_at, first_run_id)
             VALUES ('agg', 'multi', 'multi', 'Line one, \"two\"' || char(10) || 'line three', '2021-03-01T00:00:00Z', 1)",
            [],
        )
        .unwrap();
    (http, ws)
}

#[test]
fn postings_csv_round_trips_through_a_csv_parser() {
    let (_http, ws) = crawled();
    let out = ws.cron(&["postings", "--csv"]).output().unwrap();
    assert_ok(&out);
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "SOURCE",
            "TITLE",
            "POSTED",
            "FIRST SEEN",
            "LINK",
            "DETAIL",
            "GROUP",
            "WEBSITE",
            "VENDOR",
            "PRODUCT",
            "ID"
        ]
    );
    let mut titles: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_owned()).collect();
    titles.sort();
    let mut stored: Vec<String> = ws
        .sql()
        .prepare("SELECT title FROM posting")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // A formula in a hostile title is written so a spreadsheet shows it as text.
    for t in stored.iter_mut().filter(|t| t.starts_with('=')) {
        t.insert(0, '\'');
    }
    stored.sort();
    assert_eq!(titles, stored);
    assert!(titles.contains(&"Acme, \"Widgets\" Ltd".to_owned()));
    assert!(titles.contains(&"Line one, \"two\"\nline three".to_owned()));
    assert_eq!(titles.len(), 6);

    let out = ws
        .cron(&["postings", "--csv", "--since", "2999-01-01"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "SOURCE,TITLE,POSTED,FIRST SEEN,LINK,DETAIL,GROUP,WEBSITE,VENDOR,PRODUCT,ID\n",
        "a header even with no rows"
    );
}

#[test]
fn postings_and_matches_filter_by_source_since_and_entry() {
    let (_http, ws) = crawled();
    let json = |args: &[&str]| -> Vec<serde_json::Value> {
        let out = ws.cron(args).output().unwrap();
        assert_ok(&out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .expect("one JSON array")
            .as_array()
            .unwrap()
            .clone()
    };
    assert_eq!(json(&["postings", "--json"]).len(), 6);
    let agg = json(&["postings", "--json", "--source", "agg"]);
    assert_eq!(agg.len(), 4);
    assert!(agg.iter().all(|p| p["source"] == "agg"));
    let qualys = json(&["postings", "--json", "--entry", "qualys"]);
    let titles: Vec<&str> = qualys.iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.iter().all(|t| t.starts_with("Qualys")));
    assert_eq!(json(&["postings", "--json", "--since", "2021-03-02"]).len(), 5);
    assert_eq!(json(&["postings", "--json", "--since", "2999-01-01"]).len(), 0);

    assert_eq!(json(&["matches", "--json"]).len(), 2);
    let m = json(&["matches", "--json", "--source", "leaks"]);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["entry"], "Qualys");
    assert_eq!(
        json(&["matches", "--json", "--entry", "QUALYS", "--source", "agg"]).len(),
        1
    );
    assert_eq!(json(&["matches", "--json", "--since", "2999-01-01"]).len(), 0);

    let out = ws.cron(&["postings", "--entry", "Nobody"]).output().unwrap();
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("watch list"), "{}", stderr(&out));
    assert_exit(&ws.cron(&["postings", "--since", "last tuesday"]).output().unwrap(), 2);
}

#[test]
fn tables_are_aligned_and_cleaned() {
    let (_http, ws) = crawled();
    let out = ws.cron(&["postings"]).output().unwrap();
    assert_ok(&out);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        7,
        "a header and one line per posting, newlines folded: {text}"
    );
    let col = |line: &str, name: &str| line.find(name).unwrap();
    let posted = col(lines[0], "POSTED");
    let seen = col(lines[0], "FIRST SEEN");
    for l in &lines[1..] {
        let chars: Vec<char> = l.chars().collect();
        assert!(chars.len() > seen, "{l}");
        assert!(
            chars[seen - 1] == ' ' && chars[seen] != ' ',
            "FIRST SEEN column aligned: {l}"
        );
        assert!(chars[posted - 1] == ' ', "{l}");
    }
}

#[test]
fn runs_lists_recent_runs_with_their_counters() {
    let (_http, ws) = crawled();
    assert_ok(&ws.cron(&["run"]).output().unwrap());
    let out = ws.cron(&["runs", "--json"]).output().unwrap();
    assert_ok(&out);
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["id"], 2, "newest first");
    assert_eq!(runs[0]["status"], "ok");
    assert_eq!(runs[0]["postings_new"], 0);
    assert_eq!(runs[1]["postings_new"], 5);
    assert_eq!(runs[1]["sources_ok"], 2);
    assert_eq!(runs[1]["matches"], 2);
    assert!(runs[1]["finished_at"].is_string());
    let table = stdout(&ws.cron(&["runs"]).output().unwrap());
    assert!(table.lines().next().unwrap().starts_with("RUN"), "{table}");
    assert_eq!(table.lines().count(), 3);
}

#[test]
fn keep_days_prunes_old_runs_and_fetches_but_never_matched_postings_or_unsent_alerts() {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    http.route("/broken", |_| Reply::status(500));
    let config = |keep: &str| {
        format!(
            "{keep}\n[notify]\nrecipients = [\"secops@example.org\"]\n\n{}",
            sources(&http, &[("good", "/ok"), ("gone", "/broken")])
        )
    };
    let ws = Workspace::new(&config(""));
    ws.import("name,aliases,domains,kind,recipients,exclude\nQualys,,qualys.com,supplier,,\n");
    assert_exit(&ws.cron(&["run"]).output().unwrap(), 3);
    // A long history: 3000 old runs, each with a fetch record per source.
    {
        let mut conn = ws.sql();
        let tx = conn.transaction().unwrap();
        for i in 0..3000 {
            tx.execute(
                "INSERT INTO run (started_at, finished_at, status, pid) VALUES ('2020-01-01T00:00:00Z', '2020-01-01T00:01:00Z', 'ok', 1)",
                [],
            )
            .unwrap();
            let run = tx.last_insert_rowid();
            for source in ["good", "gone"] {
                tx.execute(
                    "INSERT INTO fetch (run_id, source, status, error, at) VALUES (?1, ?2, ?3, ?4, '2020-01-01T00:00:30Z')",
                    rusqlite::params![run, source, if i == 2999 && source == "gone" { "ok" } else { "http-error" }, "x".repeat(200)],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let (postings, outbox) = (
        ws.count("SELECT count(*) FROM posting"),
        ws.count("SELECT count(*) FROM outbox"),
    );
    assert_eq!(outbox, 1, "the Qualys alert waits unsent (no [smtp])");
    let pages_before = ws.count("PRAGMA page_count");

    ws.write_config(&config("keep_days = 30"));
    let out = ws.cron(&["-v", "run", "--source", "good"]).output().unwrap();
    assert_ok(&out);
    assert!(stderr(&out).contains("database vacuumed"), "{}", stderr(&out));

    assert_eq!(
        ws.count("SELECT count(*) FROM posting"),
        postings,
        "postings are never pruned"
    );
    assert_eq!(ws.count("SELECT count(*) FROM outbox"), outbox, "nor unsent alerts");
    assert_eq!(ws.count("SELECT count(*) FROM \"match\""), 1);
    assert_eq!(
        ws.count("SELECT count(*) FROM run WHERE started_at < '2021-01-01'"),
        1,
        "one old run kept: it holds gone's last success"
    );
    assert_eq!(ws.count("SELECT count(*) FROM fetch WHERE at < '2021-01-01'"), 1);
    assert_eq!(
        ws.count("SELECT count(*) FROM run WHERE started_at > '2021-01-01'"),
        2,
        "recent runs stay"
    );
    assert_eq!(ws.count("PRAGMA freelist_count"), 0);
    assert!(ws.count("PRAGMA page_count") < pages_before / 2);
    let list = stdout(&ws.cron(&["source", "list"]).output().unwrap());
    assert!(
        list.contains("2020-01-01T00:00:30Z"),
        "gone's last success survives: {list}"
    );

    // Nothing more to prune: no vacuum the next time.
    let out = ws.cron(&["-v", "run", "--source", "good"]).output().unwrap();
    assert!(!stderr(&out).contains("vacuumed"), "{}", stderr(&out));
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let ws = Workspace::new("");
    for (shell, marker) in [
        ("bash", "_leakwatch()"),
        ("zsh", "#compdef leakwatch"),
        ("fish", "complete -c leakwatch"),
    ] {
        let out = ws.cron(&["completions", shell]).output().unwrap();
        assert_ok(&out);
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["every", "log-format", "postings", "entry", "report"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    assert_exit(&ws.cron(&["completions", "tcsh"]).output().unwrap(), 2);

    let out = ws.cron(&["man"]).output().unwrap();
    assert_ok(&out);
    let page = stdout(&out);
    assert!(page.contains(".TH leakwatch 1"), "{page}");
    for word in [
        "init",
        "check",
        "run",
        "postings",
        "matches",
        "report",
        "Exit codes",
        "LEAKWATCH_CONFIG",
    ] {
        assert!(page.contains(word), "the man page mentions {word}");
    }
    let out = ws.cron(&["man", "--dir", "man1"]).output().unwrap();
    assert_ok(&out);
    let run_page = std::fs::read_to_string(ws.path("man1/leakwatch-run.1")).expect("a page per subcommand");
    assert!(run_page.contains("every"), "{run_page}");
    assert!(ws.path("man1/leakwatch-watch-import.1").is_file());

    // It renders: man(1) accepts it without a warning, where man is installed.
    let file = ws.path("leakwatch.1");
    std::fs::write(&file, &out.stdout).unwrap();
    if let Ok(rendered) = std::process::Command::new("man")
        .args(["--warnings", "-l", file.to_str().unwrap()])
        .env("MANPAGER", "cat")
        .env("COLUMNS", "100")
        .output()
    {
        assert!(
            rendered.status.success(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        assert!(
            String::from_utf8_lossy(&rendered.stderr).trim().is_empty(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
    }
}

#[test]
fn report_is_one_offline_page_with_matches_and_source_health() {
    let http = HttpServer::start();
    http.route("/ok", |_| {
        Reply::html(
            r#"<div class="post"><h2 class="victim">Qualys &lt;script&gt;alert(1)&lt;/script&gt;</h2><a class="more" href="/q">x</a></div>"#,
        )
    });
    http.route("/broken", |_| Reply::status(503));
    let ws = Workspace::new(&sources(&http, &[("good", "/ok"), ("bad", "/broken")]));
    ws.import("name,aliases,domains,kind,recipients,exclude\nQualys,,qualys.com,supplier,,\n");
    assert_exit(&ws.cron(&["run"]).output().unwrap(), 3);

    let out = ws.cron(&["report", "--out", "site"]).output().unwrap();
    assert_ok(&out);
    assert!(stdout(&out).contains("1 matches"), "{}", stdout(&out));
    let page = std::fs::read_to_string(ws.path("site/index.html")).unwrap();
    assert!(
        page.contains("Qualys &lt;script&gt;alert(1)&lt;/script&gt;"),
        "the posting title, escaped"
    );
    assert!(!page.contains("<script"), "no scripts at all");
    assert!(!page.contains("src="), "loads nothing");
    assert!(page.contains("default-src 'none'"));
    assert!(page.contains("Sources (2, 1 failing)"), "{page}");
    assert!(page.contains("503"), "the failing source's error is shown");
    assert!(page.contains(&http.url("/q")), "the posting's link, as text");

    let out = ws
        .cron(&["report", "--out", "site", "--since", "2999-01-01"])
        .output()
        .unwrap();
    assert_ok(&out);
    let page = std::fs::read_to_string(ws.path("site/index.html")).unwrap();
    assert!(page.contains("Matches (0)"), "rewritten in place");
}

#[test]
fn the_systemd_units_are_valid_and_start_a_real_command() {
    let units = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
    let service = std::fs::read_to_string(units.join("leakwatch.service")).unwrap();
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    assert_eq!(
        words.next(),
        Some("/usr/local/bin/leakwatch"),
        "where docs/operations.md installs it"
    );
    let args: Vec<&str> = words.collect();
    assert_eq!(args.first(), Some(&"run"));
    let ws = Workspace::new("");
    let mut help = args.clone();
    help.push("--help");
    assert_ok(&ws.cron(&help).output().unwrap());
    assert!(service.contains("SuccessExitStatus=75"));

    // systemd's own checker, where it is installed.
    let dir = ws.path("units");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("leakwatch.service"),
        service.replace("/usr/local/bin/leakwatch", env!("CARGO_BIN_EXE_leakwatch")),
    )
    .unwrap();
    std::fs::copy(units.join("leakwatch.timer"), dir.join("leakwatch.timer")).unwrap();
    if let Ok(out) = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no", "./leakwatch.service", "./leakwatch.timer"])
        .current_dir(&dir)
        .output()
    {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no warnings");
    }
}

#[test]
fn every_skips_a_tick_while_another_run_holds_the_lock() {
    let http = HttpServer::start();
    http.route("/ok", |_| Reply::html(LISTING));
    let ws = Workspace::new(&sources(&http, &[("good", "/ok")]));
    let held = std::fs::File::create(ws.path("lw.db.lock")).unwrap();
    held.try_lock().unwrap();

    let mut child = ws.spawn_cron(&["run", "--every", "1s"]);
    let err = child.stderr.take().unwrap();
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    wait_until(20, "a tick to find the lock held", || {
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("another leakwatch run holds"))
    });
    assert!(child.try_wait().unwrap().is_none(), "the scheduler goes on");
    drop(held);
    wait_until(20, "a run once the lock is free", || {
        ws.try_count("SELECT count(*) FROM run WHERE status = 'ok'") >= Some(1)
    });
    signal(child.id(), "TERM");
    assert_exit(&exits_within(child, 10), 0);
    reader.join().unwrap();
}
