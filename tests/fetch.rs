//! The fetch stage against a server that misbehaves on purpose: trickling,
//! endless and compressed-bomb bodies, rate limiting and flaky replies,
//! hostile redirects and pagination, archives, legacy charsets and
//! conditional GET — each proved by running the binary and looking at what
//! the server saw and what the database holds.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::http::{HttpServer, Reply};
use crate::support::trace::traced;
use crate::support::{Workspace, assert_exit, assert_ok, stderr};

/// `[crawl]` for tests: fast, no retries, a short idle timeout — unless
/// `extra` sets those keys itself.
fn crawl(extra: &str) -> String {
    let mut text = String::from("[crawl]\n");
    for default in [
        "per_host_rate = \"50/s\"",
        "timeout_secs = 20",
        "retries = 0",
        "read_timeout_secs = 1",
    ] {
        let key = default.split(' ').next().unwrap();
        if !extra.lines().any(|l| l.starts_with(&format!("{key} "))) {
            text.push_str(default);
            text.push('\n');
        }
    }
    text + extra + "\n"
}

/// An html source `name` at `url`: postings are `div.post`, titled by `h2`.
fn source(name: &str, url: &str) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nkind = \"html\"\nurl = \"{url}\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\nnext_page = {{ selector = \"a.next\", attr = \"href\" }}\n"
    )
}

/// A listing page with one posting per title, and a next link if given.
fn listing(titles: &[&str], next: Option<&str>) -> String {
    let mut page = String::from("<html><head><title>Leaks</title></head><body>");
    for t in titles {
        page.push_str(&format!("<div class=\"post\"><h2>{t}</h2></div>"));
    }
    if let Some(n) = next {
        page.push_str(&format!("<a class=\"next\" href=\"{n}\">next</a>"));
    }
    page.push_str("</body></html>");
    page
}

fn titles(ws: &Workspace) -> Vec<String> {
    let db = ws.sql();
    let mut stmt = db.prepare("SELECT title FROM posting ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// (status, tries, error) of `source`'s fetch row in the last run.
fn fetch_row(ws: &Workspace, source: &str) -> (String, i64, Option<String>) {
    ws.sql()
        .query_row(
            "SELECT status, tries, error FROM fetch WHERE source = ?1 ORDER BY run_id DESC LIMIT 1",
            [source],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("fetch row")
}

/// A run that fails exactly one source, `name`, whose error contains `why`.
#[track_caller]
fn assert_source_failed(ws: &Workspace, out: &std::process::Output, name: &str, why: &str) {
    assert_exit(out, 3);
    let err = stderr(out);
    assert!(err.contains(&format!("source {name}: ")), "{err}");
    assert!(err.contains(why), "expected `{why}` in:\n{err}");
    let (status, _, error) = fetch_row(ws, name);
    assert_eq!(status, "http-error");
    assert!(error.as_deref().is_some_and(|e| e.contains(why)), "{error:?}");
}

#[test]
fn a_trickling_server_is_cut_off_by_the_read_idle_timeout() {
    let http = HttpServer::start();
    http.route("/slow", |_| Reply::Trickle {
        headers: vec![("Content-Type".into(), "text/html".into())],
        chunk: b"<".to_vec(),
        pause: Duration::from_secs(2),
        count: 40,
    });
    // The whole-request timeout (60 s) is far away: only the idle timeout can end it.
    let ws = Workspace::new(&format!(
        "{}\n{}",
        crawl("timeout_secs = 60"),
        source("slow", &http.url("/slow"))
    ));
    let started = Instant::now();
    let out = ws.run(&["run"]);
    assert_source_failed(&ws, &out, "slow", "timed out");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "cut off by read_timeout_secs = 1, not by timeout_secs = 60: {:?}",
        started.elapsed()
    );
    assert_eq!(http.replies_written("/slow", 1), [false], "the client hung up");
}

#[test]
fn a_reply_dripping_under_the_idle_timeout_is_cut_off_by_the_total_timeout() {
    let http = HttpServer::start();
    http.route("/drip", |_| Reply::Trickle {
        headers: vec![("Content-Type".into(), "text/html".into())],
        chunk: b"<p>".to_vec(),
        pause: Duration::from_millis(300),
        count: 200,
    });
    let ws = Workspace::new(&format!(
        "{}\n{}",
        crawl("timeout_secs = 2\nread_timeout_secs = 1"),
        source("drip", &http.url("/drip"))
    ));
    let out = ws.run(&["run"]);
    assert_source_failed(&ws, &out, "drip", "timed out");
    assert_eq!(
        http.replies_written("/drip", 1),
        [false],
        "60 s of dripping was not waited for"
    );
}

#[test]
fn an_endless_body_is_cut_at_max_body_bytes() {
    let http = HttpServer::start();
    http.route("/endless", |_| Reply::Trickle {
        headers: vec![("Content-Type".into(), "text/html".into())],
        chunk: vec![b'a'; 64 * 1024],
        pause: Duration::ZERO,
        count: usize::MAX,
    });
    let ws = Workspace::new(&format!(
        "{}\n{}",
        crawl("max_body_bytes = 1000000"),
        source("endless", &http.url("/endless"))
    ));
    let out = ws.run(&["run"]);
    assert_source_failed(&ws, &out, "endless", "larger than crawl.max_body_bytes = 1000000");
    assert_eq!(http.replies_written("/endless", 1), [false]);
}

/// `len` zero bytes, gzip-compressed.
fn gzip_zeros(len: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![0u8; 1 << 20];
    for _ in 0..len / block.len() {
        gz.write_all(&block).unwrap();
    }
    gz.finish().unwrap()
}

/// `len` zero bytes, brotli-compressed.
fn brotli_zeros(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut br = brotli::CompressorWriter::new(&mut out, 1 << 16, 1, 22);
        let block = vec![0u8; 1 << 20];
        for _ in 0..len / block.len() {
            br.write_all(&block).unwrap();
        }
    }
    out
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

#[test]
fn gzip_and_brotli_bombs_are_cut_off_by_their_decompressed_size() {
    let http = HttpServer::start();
    let brotli_bomb = Arc::new(brotli_zeros(16 << 20));
    assert!(brotli_bomb.len() < 1_000_000, "{} bytes", brotli_bomb.len());
    http.route("/br-bomb", move |_| Reply::Full {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/html".into()),
            ("Content-Encoding".into(), "br".into()),
        ],
        body: brotli_bomb.to_vec(),
    });
    let bomb = Arc::new(gzip_zeros(16 << 20));
    assert!(bomb.len() < 1_000_000, "the bomb itself is small: {} bytes", bomb.len());
    http.route("/bomb", move |_| Reply::Full {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/html".into()),
            ("Content-Encoding".into(), "gzip".into()),
        ],
        body: bomb.to_vec(),
    });
    // A well-behaved compressed page still works: decompression is real.
    let page = gzip(&listing(&["Compressed Corp"], None));
    http.route("/gz", move |_| Reply::Full {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/html".into()),
            ("Content-Encoding".into(), "gzip".into()),
        ],
        body: page.clone(),
    });
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}\n{}",
        crawl("max_body_bytes = 1000000"),
        source("bomb", &http.url("/bomb")),
        source("br-bomb", &http.url("/br-bomb")),
        source("gz", &http.url("/gz"))
    ));
    let out = ws.run(&["run"]);
    assert_source_failed(&ws, &out, "bomb", "larger than crawl.max_body_bytes = 1000000");
    assert_source_failed(&ws, &out, "br-bomb", "larger than crawl.max_body_bytes = 1000000");
    assert_eq!(titles(&ws), ["Compressed Corp"]);
    assert_eq!(fetch_row(&ws, "gz").0, "ok");
}

/// Answers the first `fail` requests with `reply`, then the listing.
fn flaky(
    fail: usize,
    reply: impl Fn() -> Reply + Send + Sync + 'static,
) -> impl Fn(&crate::support::http::Request) -> Reply + Send + Sync + 'static {
    let n = AtomicUsize::new(0);
    move |_| {
        if n.fetch_add(1, Ordering::SeqCst) < fail {
            reply()
        } else {
            Reply::html(&listing(&["Flaky Industries"], None))
        }
    }
}

#[test]
fn retry_after_on_429_is_honoured() {
    let http = HttpServer::start();
    http.route("/busy", flaky(1, || Reply::status(429).with_header("Retry-After", "2")));
    let ws = Workspace::new(&format!(
        "{}\n{}",
        crawl("retries = 2"),
        source("busy", &http.url("/busy"))
    ));
    assert_ok(&ws.run(&["run"]));
    let hits = http.hits("/busy");
    assert_eq!(hits.len(), 2);
    let waited = hits[1].at - hits[0].at;
    assert!(waited >= Duration::from_secs(2), "waited only {waited:?}");
    assert_eq!(fetch_row(&ws, "busy"), ("ok".into(), 2, None));
    assert_eq!(titles(&ws), ["Flaky Industries"]);
}

#[test]
fn a_503_is_retried_and_the_run_records_the_tries() {
    let http = HttpServer::start();
    http.route("/flaky", flaky(2, || Reply::status(503)));
    http.route("/missing", |_| Reply::status(404));
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}",
        crawl("retries = 3"),
        source("flaky", &http.url("/flaky")),
        source("missing", &http.url("/missing"))
    ));
    let out = ws.run(&["run"]);
    assert_eq!(fetch_row(&ws, "flaky"), ("ok".into(), 3, None));
    assert_eq!(titles(&ws), ["Flaky Industries"]);
    // A 404 is an answer, not a hiccup: asked once.
    assert_source_failed(&ws, &out, "missing", "server answered 404");
    assert_eq!(http.hits("/missing").len(), 1);
    assert_eq!(fetch_row(&ws, "missing").1, 1);

    // Retries give up: the error says after how many tries.
    http.route("/flaky", |_| Reply::status(503));
    let out = ws.run(&["run", "--source", "flaky"]);
    assert_source_failed(
        &ws,
        &out,
        "flaky",
        "server answered 503 Service Unavailable (after 4 tries)",
    );
    assert_eq!(fetch_row(&ws, "flaky").1, 4);
}

#[test]
fn redirects_are_followed_five_times_at_most_and_never_in_a_loop() {
    let http = HttpServer::start();
    for i in 0..6 {
        let to = format!("/r{}", i + 1);
        http.route(&format!("/r{i}"), move |_| Reply::redirect(&to));
    }
    http.route("/r6", |_| Reply::html(&listing(&["Six Hops Ltd"], None)));
    http.route("/loop-a", |_| Reply::redirect("/loop-b"));
    http.route("/loop-b", |_| Reply::redirect("/loop-a"));
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}\n{}",
        crawl(""),
        source("five", &http.url("/r1")),
        source("six", &http.url("/r0")),
        source("looping", &http.url("/loop-a"))
    ));
    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert_eq!(fetch_row(&ws, "five").0, "ok", "five redirects are fine");
    assert_eq!(titles(&ws), ["Six Hops Ltd"]);
    let (status, _, error) = fetch_row(&ws, "six");
    assert_eq!(status, "http-error");
    assert!(error.unwrap().contains("more than 5 redirects"));
    let (_, _, error) = fetch_row(&ws, "looping");
    assert!(error.as_deref().unwrap().contains("redirect loop back to"), "{error:?}");
    assert_eq!(http.hits("/loop-a").len(), 1);
    assert_eq!(http.hits("/loop-b").len(), 1);
}

#[test]
fn a_redirect_to_a_private_address_is_refused_before_any_connection() {
    let http = HttpServer::start();
    let other = HttpServer::start();
    http.route("/metadata", |_| {
        Reply::redirect("http://169.254.169.254/latest/meta-data/")
    });
    let inside = other.url("/admin");
    http.route("/pivot", move |_| Reply::redirect(&inside));
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}",
        crawl(""),
        source("metadata", &http.url("/metadata")),
        source("pivot", &http.url("/pivot"))
    ));
    let out = match traced(&ws, &["run"]) {
        Some((out, trace)) => {
            assert!(
                trace.mentioning("169.254.169.254").is_empty(),
                "{:#?}",
                trace.mentioning("169.254.169.254")
            );
            assert!(
                trace.mentioning(&format!("htons({})", other.port)).is_empty(),
                "{:#?}",
                trace.inet()
            );
            assert!(
                !trace.mentioning(&format!("htons({})", http.port)).is_empty(),
                "the trace sees connections: {:#?}",
                trace.calls
            );
            out
        }
        None => ws.run(&["run"]),
    };
    assert_exit(&out, 3);
    for name in ["metadata", "pivot"] {
        let (_, _, error) = fetch_row(&ws, name);
        assert!(
            error
                .as_deref()
                .unwrap()
                .contains("refused: it leaves 127.0.0.1 for a private address"),
            "{error:?}"
        );
    }
    assert_eq!(other.total_hits(), 0, "the server on the other port saw nothing");

    // The operator may allow it.
    ws.write_config(&format!(
        "{}\n{}",
        crawl("allow_private_addresses = true"),
        source("pivot", &http.url("/pivot"))
    ));
    other.route("/admin", |_| Reply::html(&listing(&["Internal Admin"], None)));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(other.hits("/admin").len(), 1);
}

#[test]
fn an_archive_is_refused_without_reading_its_body() {
    let http = HttpServer::start();
    http.route("/dump.zip", |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/zip".into())],
        body: vec![b'P'; 64 << 20],
    });
    let ws = Workspace::new(&format!("{}\n{}", crawl(""), source("files", &http.url("/dump.zip"))));
    let out = ws.run(&["run"]);
    assert_source_failed(
        &ws,
        &out,
        "files",
        "content type `application/zip` is not a page or feed",
    );
    assert_eq!(
        http.replies_written("/dump.zip", 1),
        [false],
        "the client hung up instead of reading 64 MiB"
    );
}

#[test]
fn a_windows_1251_page_is_decoded() {
    let http = HttpServer::start();
    let page = listing(&["ПАО Пример Банк"], None);
    let by_header = encoding_rs::WINDOWS_1251.encode(&page).0.into_owned();
    http.route("/ru", move |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html; charset=windows-1251".into())],
        body: by_header.clone(),
    });
    let page = listing(&["ООО Ромашка"], None).replace("<head>", "<head><meta charset=\"windows-1251\">");
    let by_meta = encoding_rs::WINDOWS_1251.encode(&page).0.into_owned();
    http.route("/ru-meta", move |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: by_meta.clone(),
    });
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}",
        crawl(""),
        source("ru", &http.url("/ru")),
        source("ru-meta", &http.url("/ru-meta"))
    ));
    assert_ok(&ws.run(&["run"]));
    let mut got = titles(&ws);
    got.sort();
    assert_eq!(got, ["ООО Ромашка", "ПАО Пример Банк"]);
}

#[test]
fn an_unchanged_page_answers_304_and_the_run_writes_no_postings() {
    let http = HttpServer::start();
    let served = AtomicUsize::new(0);
    http.route("/etag", move |req| {
        if req.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
            return Reply::status(304);
        }
        // Ignoring the validators would show up as a new posting.
        let n = served.fetch_add(1, Ordering::SeqCst);
        Reply::html(&listing(&["Stable Corp", &format!("Fresh {n}")], None))
            .with_header("ETag", "\"v1\"")
            .with_header("Last-Modified", "Wed, 03 Mar 2021 10:00:00 GMT")
    });
    let ws = Workspace::new(&format!("{}\n{}", crawl(""), source("etag", &http.url("/etag"))));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(titles(&ws), ["Stable Corp", "Fresh 0"]);

    let out = ws.run(&["run"]);
    assert_ok(&out);
    let second = &http.hits("/etag")[1];
    assert_eq!(second.headers.get("if-none-match").map(String::as_str), Some("\"v1\""));
    assert_eq!(
        second.headers.get("if-modified-since").map(String::as_str),
        Some("Wed, 03 Mar 2021 10:00:00 GMT")
    );
    assert_eq!(titles(&ws), ["Stable Corp", "Fresh 0"], "no posting written");
    assert_eq!(ws.count("SELECT count(*) FROM posting WHERE changed_at IS NOT NULL"), 0);
    let (fetched, not_modified): (i64, i64) = ws
        .sql()
        .query_row(
            "SELECT pages_fetched, pages_not_modified FROM run ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((fetched, not_modified), (0, 1));
    assert_eq!(fetch_row(&ws, "etag").0, "ok", "a 304 is a success");
    // The last count is kept: the unchanged page still lists two postings.
    assert_eq!(ws.count("SELECT last_count FROM source WHERE name = 'etag'"), 2);
}

#[test]
fn pagination_follows_next_page_and_stops_at_a_loop() {
    let http = HttpServer::start();
    http.route("/p1", |_| Reply::html(&listing(&["One A", "One B"], Some("/p2"))));
    http.route("/p2", |_| Reply::html(&listing(&["Two A"], Some("/p3?x=1"))));
    http.route("/p3?x=1", |_| Reply::html(&listing(&["Three A"], Some("/p1"))));
    let ws = Workspace::new(&format!("{}\n{}", crawl(""), source("paged", &http.url("/p1"))));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(titles(&ws), ["One A", "One B", "Two A", "Three A"]);
    assert_eq!(http.hits("/p1").len(), 1, "the loop back to page 1 stopped the crawl");
    assert_eq!(http.hits("/p2").len(), 1);
    assert_eq!(http.hits("/p3?x=1").len(), 1);
    assert_eq!(ws.count("SELECT pages FROM fetch WHERE source = 'paged'"), 3);
}

#[test]
fn pagination_stays_on_the_source_host() {
    let http = HttpServer::start();
    let other = HttpServer::start();
    let elsewhere = other.url("/p2");
    http.route("/away", move |_| Reply::html(&listing(&["Away One"], Some(&elsewhere))));
    http.route("/meta", |_| {
        Reply::html(&listing(&["Meta One"], Some("http://169.254.169.254/latest/")))
    });
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}",
        crawl(""),
        source("away", &http.url("/away")),
        source("meta", &http.url("/meta"))
    ));
    let out = match traced(&ws, &["run"]) {
        Some((out, trace)) => {
            assert!(trace.mentioning("169.254.169.254").is_empty(), "{:#?}", trace.calls);
            out
        }
        None => ws.run(&["run"]),
    };
    assert_ok(&out);
    let mut got = titles(&ws);
    got.sort();
    assert_eq!(got, ["Away One", "Meta One"]);
    assert_eq!(other.total_hits(), 0);
}

#[test]
fn one_failing_source_never_stops_the_others() {
    let http = HttpServer::start();
    http.route("/good", |_| Reply::html(&listing(&["Good Corp"], None)));
    http.route("/bad", |_| Reply::status(500));
    let ws = Workspace::new(&format!(
        "{}\n{}\n{}",
        crawl(""),
        source("bad", &http.url("/bad")),
        source("good", &http.url("/good"))
    ));
    let out = ws.run(&["run"]);
    assert_source_failed(&ws, &out, "bad", "server answered 500");
    assert!(!stderr(&out).contains("source good"), "{}", stderr(&out));
    assert_eq!(titles(&ws), ["Good Corp"]);
    assert_eq!(fetch_row(&ws, "good").0, "ok");
    let (status, ok, failed): (String, i64, i64) = ws
        .sql()
        .query_row("SELECT status, sources_ok, sources_failed FROM run", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), ok, failed), ("failed", 1, 1));
    assert_eq!(ws.count("SELECT failures_in_row FROM source WHERE name = 'bad'"), 1);
}

#[test]
fn redirect_hops_wait_for_the_host_rate() {
    let http = HttpServer::start();
    http.route("/hop0", |_| Reply::redirect("/hop1"));
    http.route("/hop1", |_| Reply::redirect("/hop2"));
    http.route("/hop2", |_| Reply::html(&listing(&["Patient Corp"], None)));
    let ws = Workspace::new(&format!(
        "{}\n{}",
        crawl("per_host_rate = \"2/s\""),
        source("hops", &http.url("/hop0"))
    ));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(titles(&ws), ["Patient Corp"]);
    let at: Vec<Instant> = ["/hop0", "/hop1", "/hop2"].iter().map(|p| http.hits(p)[0].at).collect();
    for pair in at.windows(2) {
        // 500 ms apart at the limiter (unlimited, ~1 ms apart); the margin
        // absorbs connect delays on a loaded machine.
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(350),
            "{:?}",
            pair[1] - pair[0]
        );
    }
}

/// A name other than `localhost` that `/etc/hosts` maps to a loopback
/// address: resolving it sends nothing over the network.
fn loopback_alias() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|line| {
        let mut fields = line.split('#').next()?.split_whitespace();
        let ip: std::net::IpAddr = fields.next()?.parse().ok()?;
        if !ip.is_loopback() || !ip.is_ipv4() {
            return None;
        }
        fields
            .find(|name| !name.contains("localhost") && !name.contains('.'))
            .map(str::to_owned)
    })
}

#[test]
fn a_redirect_to_a_name_that_resolves_to_a_private_address_is_refused() {
    let Some(alias) = loopback_alias() else {
        eprintln!("note: /etc/hosts maps no name but localhost to loopback: nothing to test here");
        return;
    };
    let http = HttpServer::start();
    let other = HttpServer::start();
    let target = format!("http://{alias}:{}/admin", other.port);
    http.route("/rebind", move |_| Reply::redirect(&target));
    let ws = Workspace::new(&format!("{}\n{}", crawl(""), source("rebind", &http.url("/rebind"))));
    let out = ws.run(&["run"]);
    assert_source_failed(&ws, &out, "rebind", "resolves only to private addresses");
    assert_eq!(other.total_hits(), 0);
}
