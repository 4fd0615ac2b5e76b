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

/// The prelude page: sets the session cookie (and one for another domain)
/// and hands out the CSRF token.
fn login_page() -> Reply {
    Reply::html("<html><body><form><input name=\"csrf\" value=\"tok-4711\"></form></body></html>")
        .with_header("Set-Cookie", "sid=s-42; Path=/; HttpOnly")
        .with_header("Set-Cookie", "tracker=t; Domain=evil.example")
}

#[test]
fn a_site_that_needs_the_prelude_cookie_and_token_is_read_and_they_stay_on_its_host() {
    let http = HttpServer::start();
    let other = HttpServer::start_on("127.0.0.2");
    http.route("/login", |_| login_page());
    http.route("/api/list", |r| {
        let cookie = r.headers.get("cookie").map(String::as_str);
        let token = r.headers.get("x-csrf-token").map(String::as_str);
        let form = String::from_utf8_lossy(&r.body).into_owned();
        if r.method == "POST"
            && cookie == Some("sid=s-42")
            && token == Some("tok-4711")
            && form == "csrf=tok-4711&page=1"
        {
            json(r#"{"items": [{"t": "Acme Gated Corp"}]}"#)
        } else {
            Reply::status(403)
        }
    });
    let off = other.url("/list");
    http.route("/api/moved", move |_| Reply::Full {
        status: 303,
        headers: vec![("Location".into(), off.clone())],
        body: Vec::new(),
    });
    other.route("/list", |_| json(r#"{"items": [{"t": "Elsewhere Corp"}]}"#));
    let recipe = |path: &str| {
        format!(
            "method = \"POST\"\nprelude = \"{}\"\ntoken = {{ selector = \"input[name=csrf]\", attr = \"value\" }}\nheaders = {{ \"X-CSRF-Token\" = \"{{token}}\" }}\nform = {{ page = \"1\", csrf = \"{{token}}\" }}",
            http.url(path)
        )
    };
    let ws = Workspace::new(&format!(
        "{CRAWL}\n{}\n{}",
        json_source("gated", &http.url("/api/list"), &recipe("/login")),
        json_source("moved", &http.url("/api/moved"), &recipe("/login"))
    ));
    let out = ws.run(&["run"]);
    assert_ok(&out);
    assert_eq!(
        ws.count("SELECT count(*) FROM posting WHERE title = 'Acme Gated Corp'"),
        1
    );
    let prelude = &http.hits("/login")[0];
    assert_eq!(prelude.method, "GET");
    assert_eq!(prelude.headers.get("x-csrf-token"), None, "no token before it is known");
    // Followed off the host: without the body, the token or a cookie.
    assert_eq!(
        ws.count("SELECT count(*) FROM posting WHERE title = 'Elsewhere Corp'"),
        1
    );
    let off_host = &other.hits("/list")[0];
    assert_eq!(off_host.method, "GET");
    assert!(off_host.body.is_empty());
    for h in ["cookie", "x-csrf-token"] {
        assert_eq!(off_host.headers.get(h), None, "{h} sent to another host");
    }

    // Without the prelude the site answers 403.
    ws.write_config(&format!(
        "{CRAWL}\n{}",
        json_source(
            "gated",
            &http.url("/api/list"),
            "method = \"POST\"\nform = { page = \"1\" }"
        )
    ));
    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
}

#[test]
fn a_token_missing_from_the_prelude_fails_the_source_naming_the_page() {
    let http = HttpServer::start();
    http.route("/login", |_| {
        Reply::html("<html><body><p>maintenance</p></body></html>")
    });
    http.route("/api/list", |_| json(r#"{"items": [{"t": "Acme Corp"}]}"#));
    let ws = Workspace::new(&format!(
        "{CRAWL}\n{}",
        json_source(
            "gated",
            &http.url("/api/list"),
            &format!(
                "prelude = \"{}\"\ntoken = {{ regex = \"csrf=([a-z0-9]+)\" }}\nheaders = {{ \"X-CSRF-Token\" = \"{{token}}\" }}",
                http.url("/login")
            )
        )
    ));
    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains(&format!("token not found on {}", http.url("/login"))),
        "{}",
        stderr(&out)
    );
    assert!(
        http.hits("/api/list").is_empty(),
        "the listing is not asked without its token"
    );
}

#[test]
fn akiras_real_json_as_the_site_serves_it_gives_43_unwrapped_titles() {
    // The capture is a browser's view of the API's answer: the JSON is the
    // text of its <pre>, which the site sends as application/json.
    let dir = crate::support::corpus().join("akira");
    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let page = scraper::Html::parse_document(&std::fs::read_to_string(file).unwrap());
    let pre = scraper::Selector::parse("pre").unwrap();
    let api: String = page.select(&pre).next().unwrap().text().collect();
    assert!(api.starts_with("[{"), "{}", &api[..40]);
    let http = HttpServer::start();
    http.route("/l", move |r| match r.headers.get("accept").map(String::as_str) {
        Some("application/json") => json(&api),
        _ => Reply::status(406),
    });
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sources/akira.toml")).unwrap();
    let ws = Workspace::new(&format!(
        "{CRAWL}\n{}",
        shipped.replace("http://akira.example.onion/l", &http.url("/l"))
    ));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(ws.count("SELECT count(*) FROM posting WHERE source = 'akira'"), 43);
    for title in [
        "The Akron-Summit County Public Library",
        "Perpetual Group",
        "Thompson Builders",
    ] {
        assert_eq!(
            ws.count(&format!("SELECT count(*) FROM posting WHERE title = '{title}'")),
            1,
            "{title}"
        );
    }
    assert_eq!(
        ws.count("SELECT count(*) FROM posting WHERE title LIKE '%' || char(10) || '%'"),
        0
    );
}

#[test]
fn a_json_api_is_paged_until_an_empty_page_and_a_next_link_back_to_itself_stops() {
    let http = HttpServer::start();
    for n in 1..=3 {
        let body = match n {
            3 => r#"{"items": []}"#.to_owned(),
            n => format!(r#"{{"items": [{{"t": "Paged Corp {n}"}}]}}"#),
        };
        http.route(&format!("/api?page={n}"), move |_| json(&body));
    }
    http.route("/loop", |_| {
        json(r#"{"items": [{"t": "Loop Corp"}], "next": "/loop2"}"#)
    });
    http.route("/loop2", |_| {
        json(r#"{"items": [{"t": "Loop Corp 2"}], "next": "/loop"}"#)
    });
    let paged = |name: &str, url: &str, paging: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\nkind = \"json\"\nurl = \"{url}\"\n[source.json]\nitems = \"/items\"\ntitle = \"/t\"\n{paging}\n"
        )
    };
    let ws = Workspace::new(&format!(
        "{CRAWL}\n{}\n{}",
        paged(
            "paged",
            &http.url("/api?page=1"),
            "page_param = \"page\"\nmax_pages = 10"
        ),
        paged("looping", &http.url("/loop"), "next_page = \"/next\"\nmax_pages = 10")
    ));
    assert_ok(&ws.run(&["run"]));
    let paths: Vec<String> = http.paths();
    assert_eq!(
        paths.iter().filter(|p| p.starts_with("/api")).count(),
        3,
        "pages 1, 2 and the empty 3: {paths:?}"
    );
    assert_eq!(
        ws.count("SELECT count(*) FROM posting WHERE title LIKE 'Paged Corp%'"),
        2
    );
    assert_eq!(http.hits("/loop").len(), 1, "{paths:?}");
    assert_eq!(http.hits("/loop2").len(), 1, "{paths:?}");
}

#[test]
fn source_test_shows_the_requests_masked_and_the_detail_fields() {
    let http = HttpServer::start();
    http.route("/login", |_| login_page());
    http.route("/list", |r| match r.headers.get("cookie").map(String::as_str) {
        Some("sid=s-42") => Reply::html(
            "<ul><li><a href=\"/post/1\">Acme Corp</a></li><li><a href=\"/post/2\">Beta Inc</a></li><li><a href=\"/post/3\">Gamma</a></li></ul>",
        ),
        _ => Reply::status(403),
    });
    for n in 1..=3 {
        let page = format!(
            "<div class=\"body\">Post {n}: files of ONSUPPORT CORPORATION</div><a class=\"site\" href=\"https://victim{n}.example/\">site</a>"
        );
        http.route(&format!("/post/{n}"), move |_| Reply::html(&page));
    }
    let ws = Workspace::new(&format!(
        "{CRAWL}\n[[source]]\nname = \"gated\"\nkind = \"html\"\nurl = \"{}\"\n[source.html]\nitem = \"li\"\ntitle = \"a\"\nlink = {{ selector = \"a\", attr = \"href\" }}\n[source.request]\nprelude = \"{}\"\ntoken = {{ selector = \"input[name=csrf]\", attr = \"value\" }}\nheaders = {{ \"X-CSRF-Token\" = \"{{token}}\", Accept = \"text/html\" }}\nheaders_env = {{ \"X-API-KEY\" = \"LW_TEST_API_KEY\" }}\n[source.detail]\nbody = \"div.body\"\nwebsite = {{ selector = \"a.site\", attr = \"href\" }}\n",
        http.url("/list"),
        http.url("/login")
    ));
    let out = ws
        .command(&["source", "test", "gated", "--detail", "2"])
        .env("LW_TEST_API_KEY", "s3cret-key")
        .output()
        .unwrap();
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.starts_with("gated: 3 postings (Ok)"), "{text}");
    for secret in ["s3cret-key", "tok-4711", "s-42"] {
        assert!(!text.contains(secret), "{secret} shown:\n{text}");
    }
    assert!(
        text.contains(&format!(
            "request: GET {}; headers: accept: text/html, x-csrf-token: •••, x-api-key: •••; cookies: sid=•••",
            http.url("/list")
        )),
        "{text}"
    );
    assert!(text.contains(&format!("request: GET {}", http.url("/login"))), "{text}");
    assert!(text.contains("x-csrf-token: •••"), "{text}");
    assert!(
        text.contains(&format!(
            "detail {}:\n  body: Post 1: files of ONSUPPORT CORPORATION\n  website: https://victim1.example/",
            http.url("/post/1")
        )),
        "{text}"
    );
    assert!(text.contains("Post 2: files"), "{text}");
    assert!(!text.contains("Post 3: files"), "--detail 2 reads two: {text}");
    assert_eq!(http.hits("/post/3").len(), 0);
}
