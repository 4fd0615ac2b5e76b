//! What an operator trips over in the first week (issue #20): victims whose
//! names change spelling, counters that tell the truth, an old database
//! upgrading, admin alerts on webhooks, `check` and the disk, JSON logs.

use std::sync::Arc;

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink, smtp_config};
use crate::support::{Workspace, assert_exit, assert_ok, corpus, fixtures, stderr, stdout};

/// The shipped 8base definition, pointed at `url`.
fn eightbase(url: &str) -> String {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sources/8base.toml")).unwrap();
    format!(
        "[crawl]\nper_host_rate = \"50/s\"\nretries = 0\n\n{}",
        shipped.replace("http://8base.example.onion/", url)
    )
}

/// The real 8base capture, which lists "PrintGlobe, Inc." (2023) and
/// "Print Globe" (2022): one victim, one email; the other is a repeat.
#[test]
fn print_globe_spelled_two_ways_on_the_real_8base_page_is_one_victim() {
    let page = std::fs::read_dir(corpus().join("8base"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".html"))
        .unwrap();
    let html = std::fs::read_to_string(page).unwrap();
    let http = HttpServer::start();
    http.route("/", move |_| Reply::html(&html));
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = Workspace::new(&format!("{}\n{}", smtp_config(smtp.port), eightbase(&http.url("/"))));
    ws.import("name,aliases\n\"PrintGlobe, Inc.\",Print Globe\n");

    assert_ok(&ws.run(&["run"]));
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    // One alert in it, not "2 watched names posted".
    assert_eq!(
        mails[0].header("Subject").unwrap(),
        "[leakwatch] PrintGlobe, Inc. (supplier) named on 8base leak site"
    );
    assert_eq!(
        ws.count("SELECT count(DISTINCT victim) FROM posting WHERE title IN ('PrintGlobe, Inc.', 'Print Globe')"),
        1
    );

    // `matches` says which is the repeat, not 0 sent, 0 pending, 0 failed.
    let out = ws.run(&["matches", "--csv"]);
    assert_ok(&out);
    let csv = stdout(&out);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let announced = rows.iter().find(|r| r.ends_with(",1,0,0")).expect(&csv);
    let id = announced.split(',').next().unwrap();
    assert!(
        rows.iter()
            .any(|r| r.contains("Print Globe,") && r.ends_with(&format!(",repeat of #{id},,"))),
        "{csv}"
    );
    let json: serde_json::Value = serde_json::from_slice(&ws.run(&["matches", "--json"]).stdout).unwrap();
    let repeats: Vec<_> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["repeat_of"].is_null())
        .collect();
    assert_eq!(repeats.len(), 1);
    assert_eq!(repeats[0]["repeat_of"].to_string(), id);
}

/// A version-1 database (before `source_health` was folded into `source`)
/// keeps its sources, their health and its announced victims.
#[test]
fn an_old_database_upgrades_keeping_source_state_health_and_victims() {
    let http = HttpServer::start();
    http.route("/", |_| {
        Reply::html(
            "<html><body><div class=\"list-group-item\"><a class=\"stretched-link\" href=\"/p/2\">PrintGlobe, Inc.</a></div></body></html>",
        )
    });
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = Workspace::new(&format!(
        "{}admin_recipients = [\"ops@example.org\"]\n\n{}",
        smtp_config(smtp.port),
        eightbase(&http.url("/"))
    ));
    let old = rusqlite::Connection::open(ws.db()).unwrap();
    old.execute_batch(&std::fs::read_to_string(fixtures().join("schema-v1.sql")).unwrap())
        .unwrap();
    old.execute_batch(
        "PRAGMA user_version = 1;
         INSERT INTO run (id, started_at, finished_at, status, pid) VALUES (1, '2023-01-01T00:00:00Z', '2023-01-01T00:01:00Z', 'ok', 1);
         INSERT INTO source VALUES ('8base', 1, 1, 4), ('gone', 1, 7, 0);
         INSERT INTO source_health VALUES ('8base', 'broken', '2023-02-01T00:00:00Z'), ('orphan', 'silent', '2023-02-02T00:00:00Z');
         INSERT INTO posting (id, source, key, victim, title, link, first_seen_at, first_run_id)
             VALUES (1, '8base', 'print globe' || char(31) || 'http://x/p/1', 'print globe', 'Print Globe', 'http://x/p/1', '2023-01-01T00:00:00Z', 1);
         INSERT INTO watch_entry (id, name, aliases, kind, created_at, updated_at, backfilled)
             VALUES (1, 'PrintGlobe, Inc.', '[\"Print Globe\"]', 'supplier', '2023-01-01T00:00:00Z', '2023-01-01T00:00:00Z', 1);
         INSERT INTO \"match\" (id, posting_id, entry_id, run_id, term, reason, field, snippet, created_at)
             VALUES (1, 1, 1, 1, 'Print Globe', 'alias', 'title', '[[Print Globe]]', '2023-01-01T00:00:00Z');",
    )
    .unwrap();
    drop(old);

    assert_ok(&ws.run(&["run"]));
    // Upgraded to the version a new database gets (other steps may follow this one).
    let fresh = Workspace::new("");
    assert_ok(&fresh.run(&["runs"]));
    assert_eq!(ws.count("PRAGMA user_version"), fresh.count("PRAGMA user_version"));
    // The stored victim was re-keyed: the new spelling repeats it, no email.
    assert!(
        smtp.received().iter().all(|m| m.to == ["ops@example.org"]),
        "no alert email"
    );
    assert_eq!(ws.count("SELECT count(*) FROM \"match\" WHERE repeat_of = 1"), 1);
    assert_eq!(ws.count("SELECT count(*) FROM posting WHERE victim = 'printglobe'"), 2);
    // Health came along: "broken" before, so fetching again is a recovery.
    let admin = smtp.received();
    assert_eq!(admin.len(), 1, "one admin email");
    assert!(
        admin[0].header("Subject").unwrap().contains("recovered"),
        "{:?}",
        admin[0].header("Subject")
    );
    let db = ws.sql();
    let row = |name: &str| -> (Option<i64>, i64, i64, String, Option<String>) {
        db.query_row(
            "SELECT first_run_id, last_count, failures_in_row, health, health_since FROM source WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap()
    };
    assert_eq!(row("8base").0, Some(1), "first run kept: its postings stay first-look");
    assert_eq!((row("8base").1, row("8base").2, row("8base").3.as_str()), (1, 0, "ok"));
    assert_eq!(row("gone"), (Some(1), 7, 0, "ok".into(), None));
    assert_eq!(
        row("orphan"),
        (None, 0, 0, "silent".into(), Some("2023-02-02T00:00:00Z".into()))
    );

    // The upgraded schema is the one a new database gets, column for column.
    let fresh = Workspace::new("");
    assert_ok(&fresh.run(&["watch", "list"]));
    assert_eq!(ws.count("PRAGMA user_version"), fresh.count("PRAGMA user_version"));
    assert_eq!(columns(&ws.sql()), columns(&fresh.sql()));
}

/// Every table's columns as `PRAGMA table_info` lists them.
fn columns(db: &rusqlite::Connection) -> Vec<String> {
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = db.prepare(&format!("PRAGMA table_info(\"{t}\")")).unwrap();
        let cols = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{t}.{}:{}:{}:{:?}",
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?
                ))
            })
            .unwrap();
        out.extend(cols.map(Result::unwrap));
    }
    out
}

/// Two html sources on `http`: `good` at `/ok` and `slow` at `/slow`.
fn two_sources(http: &HttpServer) -> String {
    let mut out = String::from("[crawl]\nper_host_rate = \"50/s\"\nretries = 0\ntimeout_secs = 60\n");
    for (name, path) in [("good", "/ok"), ("slow", "/slow")] {
        out.push_str(&format!(
            "\n[[source]]\nname = \"{name}\"\nkind = \"html\"\nurl = \"{}\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\n",
            http.url(path)
        ));
    }
    out
}

/// A run stopped by SIGTERM delivers nothing; its row says how many emails
/// wait in the outbox, not 0.
#[test]
fn an_interrupted_run_counts_the_emails_it_left_pending() {
    let http = HttpServer::start();
    http.route("/ok", |_| {
        Reply::html("<div class=\"post\"><h2>Acme Corp</h2></div><div class=\"post\"><h2>Globex</h2></div>")
    });
    http.route("/slow", |_| Reply::Trickle {
        headers: vec![("Content-Type".into(), "text/html".into())],
        chunk: b"<!-- still coming -->\n".to_vec(),
        pause: std::time::Duration::from_millis(100),
        count: 300,
    });
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = Workspace::new(&format!("{}\n{}", smtp_config(smtp.port), two_sources(&http)));
    ws.import("name,recipients\nAcme Corp,\nGlobex,risk@example.org\n");
    let child = ws.spawn_cron(&["run"]);
    crate::support::wait_until(20, "the quick source to be stored", || {
        !http.hits("/slow").is_empty() && ws.try_count("SELECT count(*) FROM fetch WHERE source = 'good'") == Some(1)
    });
    crate::support::signal(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 3);
    assert!(smtp.received().is_empty());
    // Two recipients: two digests waiting.
    assert!(stderr(&out).contains("emails 0 sent, 2 pending"), "{}", stderr(&out));
    let runs: serde_json::Value = serde_json::from_slice(&ws.run(&["runs", "--json"]).stdout).unwrap();
    assert_eq!(runs[0]["status"], "interrupted");
    assert_eq!(runs[0]["emails_pending"], 2);
}

/// A run that hits a full disk is closed as failed, with the error, when
/// the database still takes the small write that says so. The database
/// sits on a 600 KB tmpfs mounted in a private mount namespace (`unshare`),
/// so the whole test runs inside one shell there.
#[test]
fn a_run_that_fills_the_disk_is_closed_as_failed_with_the_error() {
    let http = HttpServer::start();
    // About 1.5 MB of postings: far more than 600 KB of disk.
    let big: String = (0..3000)
        .map(|i| {
            format!(
                "<div class=\"post\"><h2>Victim number {i} of a long list</h2><p>{}</p></div>",
                "x".repeat(400)
            )
        })
        .collect();
    http.route("/ok", move |_| Reply::html(&big));
    // Quick here: `run --source slow` only makes a first, small, good run.
    http.route("/slow", |_| Reply::html("<div class=\"post\"><h2>Initech</h2></div>"));
    let ws = Workspace::new("");
    std::fs::create_dir(ws.path("disk")).unwrap();
    std::fs::write(
        ws.config(),
        format!("[database]\npath = \"disk/lw.db\"\n\n{}", two_sources(&http)),
    )
    .unwrap();
    // A mount namespace of our own, where an unprivileged user may mount.
    let unshare = |script: &str| {
        std::process::Command::new("unshare")
            .args(["-r", "-m", "sh", "-c", script])
            .current_dir(ws.dir.path())
            .env("LEAKWATCH_CONFIG", ws.config())
            .output()
    };
    if !unshare("mount -t tmpfs -o size=600k tmpfs disk").is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cannot mount a small tmpfs here (`unshare -r -m` and `mount -t tmpfs` are needed)");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_leakwatch");
    let script = format!(
        "mount -t tmpfs -o size=600k tmpfs disk && \
         {bin} run --source slow && {bin} run; echo \"exit=$?\"; {bin} runs --json"
    );
    let out = unshare(&script).unwrap();
    let text = stdout(&out);
    let err = stderr(&out);
    assert!(text.contains("exit=1"), "a fatal error exits 1:\n{text}\n{err}");
    assert!(err.contains("database or disk is full"), "{err}");
    let json = &text[text.find('[').expect(&text)..];
    let runs: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(runs[0]["status"], "failed", "{runs}");
    assert!(
        runs[0]["error"].as_str().unwrap().contains("database or disk is full"),
        "{runs}"
    );
    assert!(!runs[0]["finished_at"].is_null());
    assert_eq!(runs[1]["status"], "ok", "the run before it: {runs}");
}

/// Every line of `text` as a JSON object.
#[track_caller]
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// `check` warns (exit 0) when the disk under the database has less free
/// than `min_free_mb`, refuses a damaged database (`quick_check`), and
/// follows `--log-format json`.
#[test]
fn check_sees_the_disk_and_the_database_and_speaks_json() {
    let ws = Workspace::new("");
    assert_ok(&ws.run(&["watch", "list"]));
    // No disk has an exabyte free; every disk has a megabyte.
    ws.write_config("");
    let config = std::fs::read_to_string(ws.config()).unwrap();
    let set = |mb: u64| {
        std::fs::write(
            ws.config(),
            config.replace("\n\n", &format!("\nmin_free_mb = {mb}\n\n")),
        )
        .unwrap()
    };
    set(1);
    let out = ws.run(&["check"]);
    assert_ok(&out);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    set(1 << 40);
    let out = ws.run(&["check"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains("leakwatch: warning: ")
            && err.contains(":3: database.path: only ")
            && err.contains("MB free under"),
        "{err}"
    );
    let out = ws.run(&["--log-format", "json", "check"]);
    assert_ok(&out);
    assert!(stdout(&out).contains(": ok, 0 sources"), "the verdict stays on stdout");
    let lines = json_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[0]["key"], "database.path");
    assert_eq!(lines[0]["line"], 3);
    assert!(lines[0]["file"].as_str().unwrap().ends_with("leakwatch.toml"));
    assert!(
        lines[0]["message"].as_str().unwrap().contains("MB free under"),
        "{lines:?}"
    );

    // A page of the database overwritten: quick_check (or opening) finds it.
    set(1);
    let db = ws.db();
    let mut bytes = std::fs::read(&db).unwrap();
    let pages = bytes.len() / 4096;
    assert!(pages > 4, "{pages}");
    for b in &mut bytes[4096 * 2..4096 * 4] {
        *b = 0x5a;
    }
    std::fs::write(&db, bytes).unwrap();
    let out = ws.run(&["--log-format", "json", "check"]);
    assert_exit(&out, 1);
    let lines = json_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(lines[0]["key"], "database.path");
    let message = lines[0]["message"].as_str().unwrap();
    assert!(
        message.contains("damaged") || message.contains("malformed"),
        "{message}"
    );
}

/// `source test`'s warnings are log lines: JSON on stderr with
/// `--log-format json`, the table alone on stdout.
#[test]
fn source_test_log_lines_follow_the_log_format() {
    let ws = Workspace::new(
        "[[source]]\nname = \"leaks\"\nkind = \"html\"\nurl = \"http://leaks.example/\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\nnext_page = { selector = \"a.next\", attr = \"href\" }\n",
    );
    let page = ws.path("page.html");
    std::fs::write(
        &page,
        "<div class=\"post\"><h2>Acme Corp</h2></div><div class=\"post\"><p>no title</p></div><a class=\"next\" href=\"/p2\">next</a>",
    )
    .unwrap();
    let args = ["source", "test", "leaks", "--file", page.to_str().unwrap()];
    let out = ws.run(&args);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("warning: 1 items had no title") && text.contains("next page: http://leaks.example/p2"),
        "{text}"
    );

    let mut json_args = vec!["--log-format", "json"];
    json_args.extend(args);
    let out = ws.run(&json_args);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("Acme Corp") && !text.contains("warning") && !text.contains("next page"),
        "{text}"
    );
    let lines = json_lines(&stderr(&out));
    let levels: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["level"].as_str().unwrap(), l["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        levels,
        [
            ("WARN", "warning: 1 items had no title and were skipped"),
            ("INFO", "next page: http://leaks.example/p2")
        ]
    );
    assert!(lines.iter().all(|l| l["source"] == "leaks"), "{lines:?}");
}

/// Admin alerts go to every webhook with the outbox guarantees (a 503 keeps
/// one for the next run); an `admin = true` webhook gets only those.
#[test]
fn admin_alerts_reach_webhooks_and_admin_hooks_get_only_those() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let http = HttpServer::start();
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    http.route("/leaks/", move |_| match flag.load(Ordering::SeqCst) {
        true => Reply::html("<div class=\"post\"><h2>Acme Corp</h2></div>"),
        false => Reply::status(500),
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    http.route("/all", move |_| match c.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::status(503),
        _ => Reply::status(200),
    });
    http.route("/ops", |_| Reply::status(200));
    let ws = Workspace::new(&format!(
        "[notify]\nbroken_after = 1\n\n[[notify.webhook]]\nurl_env = \"LW_TEST_ALL\"\nformat = \"json\"\n\n\
         [[notify.webhook]]\nurl_env = \"LW_TEST_OPS\"\nformat = \"slack\"\nadmin = true\n\n\
         [crawl]\nretries = 0\nper_host_rate = \"50/s\"\n\n[[source]]\nname = \"leaks\"\nkind = \"html\"\nurl = \"{}\"\nlabel = \"Leak site\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\n",
        http.url("/leaks/")
    ));
    ws.import("name\nAcme Corp\n");
    let run = || {
        ws.command(&["run"])
            .env("LW_TEST_ALL", http.url("/all"))
            .env("LW_TEST_OPS", http.url("/ops"))
            .output()
            .unwrap()
    };
    let bodies = |path: &str| -> Vec<serde_json::Value> {
        http.hits(path)
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    };

    // The source breaks: both hooks hear; the JSON one answers 503.
    let out = run();
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("webhook LW_TEST_ALL: HTTP 503"),
        "{}",
        stderr(&out)
    );
    let ops = bodies("/ops");
    assert_eq!(ops.len(), 1);
    assert!(
        ops[0]["text"]
            .as_str()
            .unwrap()
            .contains("source leaks (Leak site) is broken"),
        "{ops:?}"
    );

    // It recovers and names Acme: the JSON hook gets the kept alert, the
    // match and the recovery; the admin hook only the recovery.
    up.store(true, Ordering::SeqCst);
    assert_ok(&run());
    let all = bodies("/all");
    assert_eq!(all.len(), 4, "{all:?}");
    let events: Vec<&str> = all.iter().filter_map(|b| b["admin"]["event"].as_str()).collect();
    assert_eq!(events, ["broken", "broken", "recovered"], "{all:?}");
    assert_eq!(all[0]["id"], all[2]["id"], "the kept alert is resent under its id");
    assert_eq!(all[0]["admin"]["source"], "leaks");
    assert_eq!(all[1]["alerts"][0]["entry"], "Acme Corp", "{all:?}");
    let ops = bodies("/ops");
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(ops[1]["text"].as_str().unwrap().contains("recovered"));
    assert!(
        ops.iter().all(|b| !b["text"].as_str().unwrap().contains("Acme")),
        "{ops:?}"
    );
    let ids: Vec<_> = http
        .hits("/ops")
        .iter()
        .map(|r| r.headers["idempotency-key"].clone())
        .collect();
    assert_ne!(ids[0], ids[1]);

    // Nothing new: nothing posted.
    assert_ok(&run());
    assert_eq!(http.hits("/all").len(), 4);
    assert_eq!(http.hits("/ops").len(), 2);
}
