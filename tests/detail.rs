//! `[source.detail]` through the real binary: a listing of titles only whose
//! posts' own pages (built from the real text of the 8base capture) name a
//! supplier; pages read once, a few per run, none lost; hostile links and
//! pages never cost the posting.

use scraper::{Html, Selector};

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink, smtp_config};
use crate::support::{Workspace, assert_ok, corpus, stderr, stdout};

/// One post of the real 8base capture: its title, its `/company/<id>` path
/// and the text of its description and comment, as the listing shows them.
struct Post {
    title: String,
    path: String,
    text_html: String,
}

fn real_posts() -> Vec<Post> {
    let dir = corpus().join("8base");
    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let doc = Html::parse_document(&std::fs::read_to_string(file).unwrap());
    let item = Selector::parse("div.list-group-item").unwrap();
    let link = Selector::parse("a.stretched-link").unwrap();
    let text = Selector::parse("div.small.opacity-50").unwrap();
    doc.select(&item)
        .filter_map(|it| {
            let a = it.select(&link).next()?;
            let href = a.value().attr("href")?;
            Some(Post {
                title: a.text().collect::<String>().trim().to_owned(),
                path: href[href.find("/company/")?..].to_owned(),
                text_html: it
                    .select(&text)
                    .map(|d| d.inner_html())
                    .collect::<Vec<_>>()
                    .join("<br>"),
            })
        })
        .collect()
}

/// The listing as a site that shows only names would serve it.
fn titles_only(posts: &[Post]) -> String {
    let items: String = posts
        .iter()
        .map(|p| {
            format!(
                "<div class=\"list-group-item\"><a href=\"{}\" class=\"stretched-link\">{}</a></div>",
                p.path, p.title
            )
        })
        .collect();
    format!("<html><body><div class=\"list-group\">{items}</div></body></html>")
}

/// A post's own page: the site's frame around the post's real text.
fn post_page(p: &Post) -> String {
    format!(
        "<html><body><nav><a href=\"/\">8base</a></nav><div class=\"list-group-item\"><h2>{}</h2><div class=\"small opacity-50\">{}</div></div></body></html>",
        p.title, p.text_html
    )
}

/// The shipped 8base definition at `url`, with a detail limit.
fn source(url: &str, max_per_run: u32) -> String {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sources/8base.toml")).unwrap();
    assert!(
        shipped.contains("[source.detail]"),
        "the shipped definition reads detail pages"
    );
    let shipped = shipped.replace("http://8base.example.onion/", url);
    format!(
        "[crawl]\nper_host_rate = \"100/s\"\nretries = 0\nmax_body_bytes = 200000\n\n{shipped}max_per_run = {max_per_run}\n"
    )
}

fn serve(http: &HttpServer, posts: &[Post]) {
    let listing = titles_only(posts);
    http.route("/", move |_| Reply::html(&listing));
    for p in posts {
        let page = post_page(p);
        http.route(&p.path, move |_| Reply::html(&page));
    }
}

fn detail_hits(http: &HttpServer) -> usize {
    http.paths().iter().filter(|p| p.starts_with("/company/")).count()
}

#[test]
fn a_supplier_named_only_on_the_post_page_alerts_and_the_page_is_read_once() {
    let posts = real_posts();
    assert_eq!(posts.len(), 98, "the capture's posts");
    // The supplier is a victim on this site too: leave its own post out, so
    // only the other posts' pages name it.
    let posts: Vec<Post> = posts
        .into_iter()
        .filter(|p| !p.title.eq_ignore_ascii_case("onsupport corporation"))
        .take(12)
        .collect();
    let naming: Vec<&str> = posts
        .iter()
        .filter(|p| p.text_html.to_lowercase().contains("onsupport"))
        .map(|p| p.title.as_str())
        .collect();
    assert!(naming.len() > 1, "{naming:?}");
    let bluesage = posts
        .iter()
        .find(|p| p.title == "BLUESAGE")
        .expect("BLUESAGE is among the first posts");
    assert!(bluesage.text_html.contains("ONSUPPORT CORPORATION"));
    let http = HttpServer::start();
    serve(&http, &posts);
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = Workspace::new(&format!("{}\n{}", smtp_config(smtp.port), source(&http.url("/"), 20)));
    ws.import("name,aliases,domains,kind,recipients,exclude\nOnSupport Corporation,,onsupport.com,supplier,,\n");

    let out = ws.run(&["run"]);
    assert_ok(&out);
    assert_eq!(detail_hits(&http), 12, "every post's page read once");
    let mail = smtp.received();
    assert_eq!(mail.len(), 1, "{}", stderr(&out));
    let text = mail[0].part("text/plain").unwrap();
    assert!(text.contains("BLUESAGE"), "{text}");
    assert!(text.contains("found in the post's page"), "{text}");
    assert!(text.contains(&http.url(&bluesage.path)), "the link to the post: {text}");
    let fields: Vec<(String, String)> = ws
        .sql()
        .prepare("SELECT p.title, m.field FROM \"match\" m JOIN posting p ON p.id = m.posting_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(fields.len(), naming.len(), "one match per post naming it: {text}");
    assert!(
        fields
            .iter()
            .all(|(title, field)| field == "page" && naming.contains(&title.as_str())),
        "{fields:?}"
    );

    let out = ws.run(&["run"]);
    assert_ok(&out);
    assert_eq!(detail_hits(&http), 12, "the second run fetches no detail page again");
    assert_eq!(smtp.received().len(), 1, "no second alert");
    assert_eq!(ws.count("SELECT count(*) FROM detail WHERE state = 'read'"), 12);
}

#[test]
fn forty_five_new_postings_are_read_twenty_per_run_over_three_runs() {
    let posts: Vec<Post> = real_posts().into_iter().take(45).collect();
    let http = HttpServer::start();
    serve(&http, &posts);
    let ws = Workspace::new(&source(&http.url("/"), 20));
    for run in 1..=3 {
        assert_ok(&ws.run(&["run"]));
        let expected = [20, 40, 45][run - 1];
        assert_eq!(detail_hits(&http), expected, "after run {run}");
    }
    assert_ok(&ws.run(&["run"]));
    assert_eq!(detail_hits(&http), 45, "nothing read twice");
    let mut paths = http.paths();
    paths.retain(|p| p.starts_with("/company/"));
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 45, "every page, none twice");
    assert_eq!(ws.count("SELECT count(*) FROM detail WHERE state = 'read'"), 45);

    let out = ws.run(&["runs", "--json"]);
    assert_ok(&out);
    let runs: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let counts: Vec<(i64, i64)> = runs
        .iter()
        .rev()
        .map(|r| {
            (
                r["details_fetched"].as_i64().unwrap(),
                r["details_waiting"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [(20, 25), (20, 5), (5, 0), (0, 0)]);
    let table = stdout(&ws.run(&["runs"]));
    assert!(table.lines().next().unwrap().contains("DETAILS"), "{table}");
}

#[test]
fn hostile_detail_links_and_pages_never_cost_the_posting() {
    let http = HttpServer::start();
    let other = HttpServer::start_on("127.0.0.2");
    let elsewhere = other.url("/company/9");
    let away = other.url("/away");
    let listing = format!(
        "<html><body>{}</body></html>",
        [
            ("Acme Offhost Corp", elsewhere.as_str()),
            ("Acme Archive Corp", "/files/dump.zip"),
            ("Acme Redirect Corp", "/company/1"),
            ("Acme Huge Corp", "/company/2"),
            ("Acme Deep Corp", "/company/3"),
            ("Acme Broken Corp", "/company/4"),
        ]
        .iter()
        .map(|(t, l)| format!("<div class=\"list-group-item\"><a href=\"{l}\" class=\"stretched-link\">{t}</a></div>"))
        .collect::<String>()
    );
    http.route("/", move |_| Reply::html(&listing));
    http.route("/company/1", move |_| Reply::redirect(&away));
    http.route("/company/2", |_| Reply::html(&"x".repeat(300_000)));
    http.route("/company/3", |_| Reply::html(&"<div>".repeat(5000)));
    http.route("/company/4", |_| Reply::status(500));
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = Workspace::new(&format!(
        "{}\n{}",
        smtp_config(smtp.port),
        source(&http.url("/"), 20).replace("retries = 0", "retries = 0\nallow_private_addresses = true")
    ));
    ws.import("name,aliases,domains,kind,recipients,exclude\nAcme Broken Corp,,,supplier,,\n");

    let out = ws.run(&["run"]);
    assert_ok(&out);
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 6, "every posting stored");
    assert_eq!(
        smtp.received().len(),
        1,
        "the title match alerts at once: {}",
        stderr(&out)
    );
    assert_eq!(
        other.total_hits(),
        0,
        "nothing off the host, not even through a redirect"
    );
    assert!(http.hits("/files/dump.zip").is_empty(), "a file is never fetched");
    assert_eq!(
        ws.count("SELECT count(*) FROM detail"),
        4,
        "only the pages on the host are queued"
    );
    assert_eq!(
        ws.count("SELECT count(*) FROM detail WHERE state = 'queued' AND tries = 1"),
        4
    );

    for _ in 0..2 {
        assert_ok(&ws.run(&["run"]));
    }
    assert_eq!(http.hits("/company/4").len(), 3, "tried once per run, three times");
    assert_ok(&ws.run(&["run"]));
    assert_eq!(http.hits("/company/4").len(), 3, "then left alone");
    assert_eq!(ws.count("SELECT count(*) FROM detail WHERE state = 'failed'"), 4);
    let postings = stdout(&ws.run(&["postings", "--json"]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&postings).unwrap();
    let broken = rows.iter().find(|r| r["title"] == "Acme Broken Corp").unwrap();
    assert!(
        broken["detail"].as_str().unwrap().starts_with("failed: ")
            && broken["detail"].as_str().unwrap().contains("500"),
        "{broken}"
    );
    let reasons: Vec<String> = rows
        .iter()
        .filter_map(|r| r["detail"].as_str().map(String::from))
        .collect();
    for why in [
        "source's host only",
        "larger than crawl.max_body_bytes",
        "elements deep, more than",
    ] {
        assert!(reasons.iter().any(|r| r.contains(why)), "{why} in {reasons:?}");
    }
}

#[test]
fn a_posting_that_changes_on_the_listing_gets_its_page_read_again() {
    let http = HttpServer::start();
    let version = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(1));
    let v = version.clone();
    http.route("/", move |_| {
        let n = v.load(std::sync::atomic::Ordering::SeqCst);
        Reply::html(&format!(
            "<ul><li><a href=\"/post/1\">Acme Corp</a><p>update {n}</p></li><li><a href=\"/post/2\">Beta Inc</a></li></ul>"
        ))
    });
    for n in 1..=2 {
        http.route(&format!("/post/{n}"), |_| {
            Reply::html("<div class=\"body\">files</div>")
        });
    }
    let ws = Workspace::new(&format!(
        "[crawl]\nper_host_rate = \"100/s\"\nretries = 0\n\n[[source]]\nname = \"s\"\nkind = \"html\"\nurl = \"{}\"\n[source.html]\nitem = \"li\"\ntitle = \"a\"\nlink = {{ selector = \"a\", attr = \"href\" }}\nbody = \"p\"\n[source.detail]\nbody = \"div.body\"\n",
        http.url("/")
    ));
    assert_ok(&ws.run(&["run"]));
    assert_eq!((http.hits("/post/1").len(), http.hits("/post/2").len()), (1, 1));
    version.store(2, std::sync::atomic::Ordering::SeqCst);
    assert_ok(&ws.run(&["run"]));
    assert_eq!(
        (http.hits("/post/1").len(), http.hits("/post/2").len()),
        (2, 1),
        "only the changed posting's page is read again"
    );
    assert_ok(&ws.run(&["run"]));
    assert_eq!((http.hits("/post/1").len(), http.hits("/post/2").len()), (2, 1));
}
