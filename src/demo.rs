//! `leakwatch demo`: the whole pipeline on bundled pages, with no set-up.
//!
//! Serves made-up leak-site and advisory pages (compiled into the binary)
//! from a loopback HTTP server on an ephemeral port, writes a config and a
//! watch list into a temporary folder, runs the pipeline twice — the second
//! run finds nothing new — and leaves the emails as `.eml` files in
//! `./demo-outbox/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::run::{self, RunOptions, RunSummary};
use crate::store::Store;
use crate::watch;

const PAGES: &[(&str, &str, &str)] = &[
    (
        "/leaks/",
        "text/html; charset=utf-8",
        include_str!("../fixtures/demo/leaksite.html"),
    ),
    (
        "/leaks/page/2/",
        "text/html; charset=utf-8",
        include_str!("../fixtures/demo/leaksite-2.html"),
    ),
    (
        "/security/advisories.xml",
        "application/rss+xml",
        include_str!("../fixtures/demo/advisories.xml"),
    ),
];
const WATCHLIST: &str = include_str!("../fixtures/demo/watchlist.csv");

/// What the demo did, for its printout.
pub struct DemoReport {
    pub outbox: PathBuf,
    pub first: RunSummary,
    pub second: RunSummary,
    pub postings: i64,
    pub emails: Vec<PathBuf>,
}

/// Runs the demo, writing emails into `outbox`.
pub async fn demo(outbox: &Path) -> Result<DemoReport, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let server = tokio::spawn(serve(listener));

    std::fs::create_dir_all(outbox).map_err(|e| format!("cannot create {}: {e}", outbox.display()))?;
    let outbox = outbox.canonicalize().map_err(|e| e.to_string())?;
    // Emails from an earlier demo would be mistaken for this one's.
    for old in eml_files(&outbox) {
        let _ = std::fs::remove_file(old);
    }
    let work = std::env::temp_dir().join(format!("leakwatch-demo-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let result = demo_in(&work, &outbox, port).await;
    let _ = std::fs::remove_dir_all(&work);
    server.abort();
    result
}

async fn demo_in(work: &Path, outbox: &Path, port: u16) -> Result<DemoReport, String> {
    let config_path = work.join("leakwatch.toml");
    let config_text = format!(
        r#"[database]
path = "leakwatch.db"

[crawl]
per_host_rate = "20/s"
timeout_secs = 10

[smtp]
transport = "file"
dir = "{outbox}"
from = "leakwatch demo <alerts@example.org>"

[notify]
recipients = ["secops@example.org"]

[[source]]
name = "clop"
kind = "html"
url = "http://127.0.0.1:{port}/leaks/"
label = "Cl0p leak site (demo)"
[source.html]
item = "div.post"
title = "h2.victim"
link = {{ selector = "a.more", attr = "href" }}
date = {{ selector = ".date", format = "%Y-%m-%d" }}
body = "p.description"
next_page = {{ selector = "a.next", attr = "href" }}
max_pages = 5

[[source]]
name = "vendor-advisories"
kind = "feed"
url = "http://127.0.0.1:{port}/security/advisories.xml"
label = "Vendor security advisories (demo)"
"#,
        outbox = outbox.display().to_string().replace('\\', "\\\\").replace('"', "\\\""),
    );
    std::fs::write(&config_path, config_text).map_err(|e| e.to_string())?;
    let config = Config::load(&config_path).map_err(|e| e.to_string())?;
    let entries = watch::csv::read(WATCHLIST.as_bytes(), Some("demo watch list")).map_err(|e| e.to_string())?;
    Store::open(&config.database)
        .and_then(|mut s| s.import_entries(&entries, true, "demo"))
        .map_err(|e| e.to_string())?;

    let opts = RunOptions {
        retry_base: Some(Duration::from_millis(50)),
        ..RunOptions::default()
    };
    let first = run::run(&config, &opts).await.map_err(|e| e.to_string())?;
    let second = run::run(&config, &opts).await.map_err(|e| e.to_string())?;
    let postings = Store::open(&config.database)
        .and_then(|s| s.posting_count())
        .map_err(|e| e.to_string())?;
    Ok(DemoReport {
        outbox: outbox.to_owned(),
        first,
        second,
        postings,
        emails: eml_files(outbox),
    })
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

/// A minimal HTTP/1.1 server for the bundled pages: one request per connection.
async fn serve(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            while len < buf.len() {
                match stream.read(&mut buf[len..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => len += n,
                }
                if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let request = String::from_utf8_lossy(&buf[..len]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let response = match PAGES.iter().find(|(p, _, _)| *p == path) {
                Some((_, content_type, body)) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
