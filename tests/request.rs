//! `[source.request]` through the real binary: headers written in the config
//! and secret headers read from the environment reach the source's host and
//! no other; a missing secret is named by `check` and stops the source
//! before anything is sent.

use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_exit, assert_ok, stderr, stdout};

const CRAWL: &str = "[crawl]\nper_host_rate = \"50/s\"\nretries = 0\nallow_private_addresses = true\n";

/// A json source at `url` whose items are `{"t": …}` under `/items`, with `request`.
fn json_source(name: &str, url: &str, request: &str) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nkind = \"json\"\nurl = \"{url}\"\n[source.json]\nitems = \"/items\"\ntitle = \"/t\"\n[source.request]\n{request}\n"
    )
}

fn json(body: &str) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn headers_and_secret_headers_go_to_the_source_host_only() {
    let http = HttpServer::start();
    let other = HttpServer::start_on("127.0.0.2");
    http.route("/api", |r| {
        if r.headers.get("x-api-key").map(String::as_str) == Some("s3cret-key") {
            json(r#"{"items": [{"t": "Acme Keyed Corp"}]}"#)
        } else {
            Reply::status(401)
        }
    });
    let elsewhere = other.url("/elsewhere");
    http.route("/moved", move |_| Reply::redirect(&elsewhere));
    other.route("/elsewhere", |_| json(r#"{"items": [{"t": "Moved Corp"}]}"#));
    let request = "headers = { Accept = \"application/json\" }\nheaders_env = { \"X-API-KEY\" = \"LW_TEST_API_KEY\" }";
    let ws = Workspace::new(&format!(
        "{CRAWL}\n{}\n{}",
        json_source("keyed", &http.url("/api"), request),
        json_source("moved", &http.url("/moved"), request)
    ));
    let out = ws
        .command(&["run"])
        .env("LW_TEST_API_KEY", "s3cret-key")
        .output()
        .unwrap();
    assert_ok(&out);
    let hit = &http.hits("/api")[0];
    assert_eq!(hit.headers.get("accept").map(String::as_str), Some("application/json"));
    assert_eq!(
        ws.count("SELECT COUNT(*) FROM posting WHERE title = 'Acme Keyed Corp'"),
        1
    );
    assert_eq!(
        http.hits("/moved")[0].headers.get("x-api-key").map(String::as_str),
        Some("s3cret-key")
    );
    let off_host = &other.hits("/elsewhere")[0];
    assert_eq!(off_host.headers.get("x-api-key"), None, "the secret stays on its host");
    assert_eq!(off_host.headers.get("accept").map(String::as_str), Some("*/*"));
    assert!(!stderr(&out).contains("s3cret-key") && !stdout(&out).contains("s3cret-key"));
}

#[test]
fn a_missing_secret_is_named_by_check_and_nothing_is_sent() {
    let http = HttpServer::start();
    http.route("/api", |_| json(r#"{"items": [{"t": "Acme Corp"}]}"#));
    let ws = Workspace::new(&format!(
        "{CRAWL}\n{}",
        json_source(
            "keyed",
            &http.url("/api"),
            "headers_env = { \"X-API-KEY\" = \"LW_TEST_UNSET_KEY\" }"
        )
    ));
    let out = ws.cron(&["check"]).output().unwrap();
    assert_exit(&out, 1);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains(
            "leakwatch.toml:17: source \"keyed\": request.headers_env.x-api-key: LW_TEST_UNSET_KEY is not set"
        ),
        "{text}"
    );

    let out = ws.cron(&["run"]).output().unwrap();
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("LW_TEST_UNSET_KEY is not set"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        http.total_hits(),
        0,
        "no request without its key, never one with an empty key"
    );
}
