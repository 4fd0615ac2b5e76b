//! `render = "chromium"`: pages built by scripts, loaded in the real
//! headless Chromium through the real binary — what they extract, what they
//! may reach, and that no browser process outlives a run.
//!
//! Each run gets its own `TMPDIR` inside the workspace: the browser profile
//! lives there, so "no process of this run is left" is "no process whose
//! command line names the workspace".

use std::process::{Command, Output};

use fast_socks5::util::target_addr::TargetAddr;

use crate::support::http::{HttpServer, Reply};
use crate::support::socks::SocksProxy;
use crate::support::trace::traced_command;
use crate::support::{Workspace, assert_exit, assert_ok, signal, stderr, wait_until};

const ONION: &str = "leakwatchrenderxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion";

/// A listing built by a script from an inline JSON blob.
const INLINE_JSON_PAGE: &str = r#"<html><head><title>Leaks</title></head><body><div id="app"></div>
<script id="data" type="application/json">[{"name":"Inline Victim Corp"},{"name":"Second Inline Ltd"}]</script>
<script>
const items = JSON.parse(document.getElementById('data').textContent);
document.getElementById('app').innerHTML = items.map(i => '<div class="post"><h2>' + i.name + '</h2></div>').join('');
</script></body></html>"#;

/// A listing the script fetches from `/api/list` on the same host.
const API_PAGE: &str = r#"<html><body><div id="root"></div><script>
fetch('/api/list').then(r => r.json()).then(list => {
  document.getElementById('root').innerHTML = list.map(n => '<div class="post"><h2>' + n + '</h2></div>').join('');
});
</script></body></html>"#;

fn config(extra_crawl: &str, sources: &[(&str, &str, bool)]) -> String {
    let timeout = if extra_crawl.contains("timeout_secs") {
        ""
    } else {
        "timeout_secs = 15\n"
    };
    let mut text = format!("[crawl]\nper_host_rate = \"50/s\"\n{timeout}retries = 0\n{extra_crawl}\n");
    for (name, url, render) in sources {
        let render = if *render { "render = \"chromium\"\n" } else { "" };
        text.push_str(&format!(
            "[[source]]\nname = \"{name}\"\nkind = \"html\"\nurl = \"{url}\"\n{render}[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\n\n"
        ));
    }
    text
}

/// The binary in `ws` with its temp folder inside the workspace.
fn command(ws: &Workspace, args: &[&str]) -> Command {
    let tmp = ws.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = ws.command(args);
    cmd.env("TMPDIR", &tmp);
    cmd
}

fn run(ws: &Workspace) -> Output {
    command(ws, &["run"]).output().expect("run leakwatch")
}

fn titles(ws: &Workspace, source: &str) -> Vec<String> {
    let db = ws.sql();
    let mut stmt = db
        .prepare("SELECT title FROM posting WHERE source = ?1 ORDER BY title")
        .unwrap();
    stmt.query_map([source], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn status(ws: &Workspace, source: &str) -> (String, Option<String>) {
    ws.sql()
        .query_row(
            "SELECT status, error FROM fetch WHERE source = ?1 ORDER BY rowid DESC LIMIT 1",
            [source],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// Live processes started for this workspace (the browser and its children).
fn browser_processes(ws: &Workspace) -> Vec<i32> {
    leakwatch::browser::processes_using(ws.dir.path())
}

fn assert_no_browser_left(ws: &Workspace) {
    let left = browser_processes(ws);
    assert!(left.is_empty(), "browser processes left: {left:?}");
    let profiles: Vec<_> = std::fs::read_dir(ws.path("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(profiles.is_empty(), "profiles left: {profiles:?}");
}

#[test]
fn script_built_listings_extract_with_render_and_are_empty_without() {
    let http = HttpServer::start();
    http.route("/inline", |_| Reply::html(INLINE_JSON_PAGE));
    http.route("/app", |_| Reply::html(API_PAGE));
    http.route("/api/list", |_| {
        Reply::html(r#"["Api Victim GmbH", "Api Second SA"]"#).with_header("Content-Type", "application/json")
    });
    let ws = Workspace::new(&config(
        "",
        &[
            ("inline", &http.url("/inline"), true),
            ("api", &http.url("/app"), true),
            ("plain-inline", &http.url("/inline"), false),
            ("plain-api", &http.url("/app"), false),
        ],
    ));
    let out = run(&ws);
    assert_ok(&out);
    assert_eq!(titles(&ws, "inline"), ["Inline Victim Corp", "Second Inline Ltd"]);
    assert_eq!(titles(&ws, "api"), ["Api Second SA", "Api Victim GmbH"]);
    for plain in ["plain-inline", "plain-api"] {
        assert_eq!(status(&ws, plain).0, "empty", "{plain}");
        assert!(titles(&ws, plain).is_empty());
    }
    let err = stderr(&out);
    assert!(
        err.contains("source plain-api: the page looks built by scripts") && err.contains("render = \"chromium\""),
        "{err}"
    );
    assert_eq!(http.hits("/api/list").len(), 1, "only the rendered page ran the script");
    assert_no_browser_left(&ws);
}

#[test]
fn a_hostile_page_fails_only_its_source_and_nothing_leaves() {
    let http = HttpServer::start();
    let elsewhere = HttpServer::start();
    let cross = elsewhere.url("/steal");
    http.route("/good", |_| Reply::html(INLINE_JSON_PAGE));
    http.route("/spin", |_| {
        Reply::html(
            "<html><body><div class=\"post\"><h2>Never</h2></div><script>while (true) {}</script></body></html>",
        )
    });
    let fetch_page = format!(
        "<html><body><div id=\"app\"></div><script>fetch('{cross}').catch(() => {{}}); \
         const ws = new WebSocket('ws://127.0.0.1:{}/socket'); \
         document.getElementById('app').innerHTML = '<div class=\"post\"><h2>Cross Fetch Corp</h2></div>';</script></body></html>",
        elsewhere.port
    );
    http.route("/cross", move |_| Reply::html(&fetch_page));
    http.route("/huge", |_| {
        Reply::html("<html><body><script>let s = ''; for (let i = 0; i < 30000; i++) s += '<div class=\"post\"><h2>Item ' + i + '</h2></div>'; document.body.innerHTML = s;</script></body></html>")
    });
    let frames_page = format!(
        "<html><body><div class=\"post\"><h2>Frames Corp</h2></div><script>for (let i = 0; i < 1000; i++) {{ \
         const f = document.createElement('iframe'); f.src = '{}' + i; document.body.appendChild(f); }}</script></body></html>",
        elsewhere.url("/frame/")
    );
    http.route("/frames", move |_| Reply::html(&frames_page));
    let private = elsewhere.url("/private");
    http.route("/to-private", move |_| Reply::redirect(&private));
    let ws = Workspace::new(&config(
        "timeout_secs = 20\nmax_body_bytes = 1000000\nconcurrency = 1",
        &[
            ("spin", &http.url("/spin"), true),
            ("cross", &http.url("/cross"), true),
            ("huge", &http.url("/huge"), true),
            ("frames", &http.url("/frames"), true),
            ("redirect", &http.url("/to-private"), true),
            ("good", &http.url("/good"), true),
        ],
    ));
    let out = run(&ws);
    assert_exit(&out, 3);
    let err = stderr(&out);
    let (spin, spin_error) = status(&ws, "spin");
    assert_eq!(spin, "render-error", "{err}");
    assert!(spin_error.unwrap().contains("did not settle within 20s"), "{err}");
    let (huge, huge_error) = status(&ws, "huge");
    assert_eq!(huge, "http-error", "{err}");
    assert!(
        huge_error.unwrap().contains("larger than crawl.max_body_bytes"),
        "{err}"
    );
    assert_eq!(
        titles(&ws, "cross"),
        ["Cross Fetch Corp"],
        "the page ran; its fetch was refused"
    );
    // A thousand frames may or may not settle in time on a busy machine;
    // either way none of them loaded and the other sources went on.
    let (frames, frames_error) = status(&ws, "frames");
    assert!(
        frames == "ok" && titles(&ws, "frames") == ["Frames Corp"]
            || frames == "render-error" && frames_error.unwrap().contains("did not settle"),
        "{err}"
    );
    let (redirect, redirect_error) = status(&ws, "redirect");
    assert_eq!(redirect, "render-error", "{err}");
    assert!(redirect_error.unwrap().contains("(another host)"), "{err}");
    assert_eq!(
        elsewhere.total_hits(),
        0,
        "nothing reached the other host: {:?}",
        elsewhere.paths()
    );
    assert_eq!(titles(&ws, "good"), ["Inline Victim Corp", "Second Inline Ltd"]);
    assert_no_browser_left(&ws);
}

#[test]
fn through_tor_the_proxy_gets_names_and_nothing_else_leaves() {
    let http = HttpServer::start();
    http.route("/", |_| Reply::html(API_PAGE));
    http.route("/api/list", |_| {
        Reply::html(r#"["Onion Rendered Corp"]"#).with_header("Content-Type", "application/json")
    });
    let upstream = format!("{}:{}", http.host, http.port).parse().unwrap();
    let proxy = SocksProxy::start(upstream);
    let ws = Workspace::new(&config(
        &format!("tor_proxy = \"{}\"", proxy.url()),
        &[("onion", &format!("http://{ONION}/"), true)],
    ));
    let outcome = traced_command(&ws, command(&ws, &["run"]));
    let out = match &outcome {
        Some((out, trace)) => {
            let proxy_port = format!("htons({})", proxy.port);
            for call in trace.inet().into_iter().filter(|c| !c.contains(&proxy_port)) {
                // Chromium's IPv6 reachability probe connects a datagram
                // socket to a public address to read the route: nothing is sent.
                let only_connected_udp = call.contains(" connect(") && call.contains("<UDP");
                assert!(only_connected_udp, "only the proxy is contacted: {call}");
                let address = call.split('"').nth(1).expect("an address");
                let sends: Vec<_> = trace
                    .mentioning(address)
                    .into_iter()
                    .filter(|c| c.contains(" send"))
                    .collect();
                assert!(sends.is_empty(), "nothing is sent to {address}: {sends:#?}");
            }
            assert!(
                trace.mentioning("htons(53)").is_empty(),
                "no DNS query: {:#?}",
                trace.calls
            );
            out.clone()
        }
        None => run(&ws),
    };
    assert_ok(&out);
    assert_eq!(titles(&ws, "onion"), ["Onion Rendered Corp"]);
    let targets = proxy.targets();
    assert!(!targets.is_empty());
    assert!(
        targets.iter().all(|t| *t == TargetAddr::Domain(ONION.into(), 80)),
        "every request went to the proxy by name: {targets:?}"
    );
    assert_eq!(http.hits("/")[0].headers.get("host").map(String::as_str), Some(ONION));
    assert_no_browser_left(&ws);
}

#[test]
fn no_browser_outlives_sigterm_nor_survives_the_next_run_after_sigkill() {
    let http = HttpServer::start();
    http.route("/slow", |_| {
        Reply::html("<html><body><script>setInterval(() => fetch('/tick'), 100);</script></body></html>")
    });
    http.route("/tick", |_| Reply::html("ok"));
    let ws = Workspace::new(&config("timeout_secs = 60", &[("slow", &http.url("/slow"), true)]));
    for sig in ["TERM", "KILL"] {
        let before = http.hits("/tick").len();
        let mut child = command(&ws, &["run"]).spawn().expect("spawn");
        wait_until(60, "the page to load", || http.hits("/tick").len() > before);
        assert!(!browser_processes(&ws).is_empty(), "the browser runs");
        signal(child.id(), sig);
        child.wait().unwrap();
        if sig == "TERM" {
            wait_until(10, "the browser to be gone after SIGTERM", || {
                browser_processes(&ws).is_empty()
            });
        }
    }
    // After SIGKILL the browser sees its pipe close and quits; the next run
    // removes what is left (the profile).
    http.route("/slow", |_| Reply::html(INLINE_JSON_PAGE));
    let out = run(&ws);
    assert_ok(&out);
    assert_no_browser_left(&ws);
}

#[test]
fn check_names_each_rendering_source_when_no_chromium_is_installed() {
    let ws = Workspace::new(&config(
        "",
        &[
            ("js", "http://127.0.0.1:9/", true),
            ("plain", "http://127.0.0.1:9/", false),
        ],
    ));
    let empty = ws.path("bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = command(&ws, &["check"]).env("PATH", &empty).output().unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("source \"js\": render") && err.contains("apt-get install chromium"),
        "{err}"
    );
    assert!(!err.contains("source \"plain\": render"), "{err}");
    let with_chromium = command(&ws, &["check"]).output().unwrap();
    assert!(!stderr(&with_chromium).contains("render"), "{}", stderr(&with_chromium));
}

#[test]
fn source_test_hints_at_render_and_render_extracts_and_suggest_sees_the_rendered_dom() {
    let http = HttpServer::start();
    http.route("/app", |_| Reply::html(API_PAGE));
    http.route("/api/list", |_| {
        Reply::html(r#"["Api Victim GmbH", "Api Second SA", "Api Third Oy"]"#)
            .with_header("Content-Type", "application/json")
    });
    let ws = Workspace::new(&config("", &[("app", &http.url("/app"), false)]));
    let plain = command(&ws, &["source", "test", "app"]).output().unwrap();
    assert_exit(&plain, 1);
    assert!(
        crate::support::stdout(&plain).contains("looks built by scripts")
            && crate::support::stdout(&plain).contains("--render"),
        "{}",
        crate::support::stdout(&plain)
    );
    let rendered = command(&ws, &["source", "test", "app", "--render"]).output().unwrap();
    assert_ok(&rendered);
    let shown = crate::support::stdout(&rendered);
    assert!(
        shown.contains("app: 3 postings") && shown.contains("Api Third Oy"),
        "{shown}"
    );
    let suggested = command(&ws, &["source", "suggest", &http.url("/app"), "--render"])
        .output()
        .unwrap();
    assert_ok(&suggested);
    let table = crate::support::stdout(&suggested);
    assert!(table.contains("item = \"div.post\""), "{table}");
    assert_no_browser_left(&ws);
}
