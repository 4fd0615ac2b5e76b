//! The analyst workspace over HTTP: the real `leakwatch serve` on loopback,
//! a real database filled by a real run. Every refusal is checked in the
//! database too: nothing changed.

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink, smtp_config};
use crate::support::web::{Client, Serve};
use crate::support::{Workspace, assert_exit, assert_ok, stderr, stdout};

const PASSWORD: &str = "correct horse battery";

/// A leak site written by someone hostile: script in a title, a
/// `javascript:` link, bidi overrides and zero-width characters.
pub const HOSTILE_PAGE: &str = r#"<!DOCTYPE html><html><body>
<div class="post"><h2 class="victim">Acme Corp &lt;script&gt;alert(1)&lt;/script&gt; data</h2>
  <a class="more" href="javascript:alert(2)">read</a><span class="date">2026-11-20</span>
  <p class="description">Files of Acme Corp &lt;img src=x onerror=alert(3)&gt; &#x202E;txt.exe &#x200B;here</p></div>
<div class="post"><h2 class="victim">Globex Industries PART1</h2>
  <a class="more" href="http://leaks.example.onion/globex">read</a><span class="date">2026-11-21</span>
  <p class="description">Globex Industries, 200 GB.</p></div>
</body></html>"#;

pub const WATCHLIST: &str = "name,aliases,domains,kind,recipients,exclude\n\
    Acme Corp,,acme.example,supplier,,\n\
    Globex Industries,,,customer,,\n";

/// A workspace whose database holds two matches (Acme Corp, Globex
/// Industries) from a real run, with an analyst and a viewer.
pub fn seeded(http: &HttpServer, smtp: &SmtpSink) -> Workspace {
    http.route("/leaks", |_| Reply::html(HOSTILE_PAGE));
    let ws = Workspace::new(&format!(
        "{}\n[crawl]\nper_host_rate = \"50/s\"\nretries = 0\n\n[[source]]\nname = \"hostile\"\nkind = \"html\"\nurl = \"{}\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2.victim\"\nlink = {{ selector = \"a.more\", attr = \"href\" }}\ndate = \".date\"\nbody = \"p.description\"\n",
        smtp_config(smtp.port),
        http.url("/leaks")
    ));
    ws.import(WATCHLIST);
    assert_ok(&ws.run(&["run"]));
    assert_eq!(ws.count("SELECT count(*) FROM \"match\""), 2);
    ws.add_user("alice", "analyst", PASSWORD);
    ws.add_user("victor", "viewer", PASSWORD);
    ws
}

/// Everything a refused request could have changed.
fn state(ws: &Workspace) -> Vec<i64> {
    [
        "SELECT count(*) FROM \"match\" WHERE status != 'new'",
        "SELECT count(*) FROM watch_entry",
        "SELECT coalesce(sum(length(exclude)), 0) FROM watch_entry",
        "SELECT count(*) FROM audit WHERE action != 'login'",
        "SELECT count(*) FROM app_user",
    ]
    .iter()
    .map(|q| ws.count(q))
    .collect()
}

fn acme_id(ws: &Workspace) -> i64 {
    ws.count("SELECT m.id FROM \"match\" m JOIN watch_entry e ON e.id = m.entry_id WHERE e.name = 'Acme Corp'")
}

const PAGES: [&str; 9] = [
    "/",
    "/matches",
    "/matches/1",
    "/watch",
    "/watch/export",
    "/sources",
    "/postings?q=acme",
    "/audit",
    "/matches?status=new",
];

/// Every state-changing route, with fields that would work given a token.
fn posts(id: i64) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            format!("/matches/{id}/triage"),
            vec![("action", "dismiss"), ("note", "x"), ("exclude", "Acme Corp data")],
        ),
        ("/watch".into(), vec![("name", "Initech"), ("kind", "supplier")]),
        ("/watch/remove".into(), vec![("name", "Acme Corp")]),
        ("/logout".into(), vec![]),
    ]
}

#[test]
fn every_page_without_a_session_is_refused_and_nothing_changes() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let before = state(&ws);
    let serve = Serve::start(&ws);
    let mut c = Client::new(&serve.base);
    assert_eq!(c.get("/healthz").body, "ok");
    for page in PAGES {
        let p = c.get(page);
        assert_eq!((page, p.status, p.header("location")), (page, 303, Some("/login")));
    }
    // A made-up session cookie is no session.
    c.cookies.insert("lw_session".into(), "00".repeat(32));
    for (path, form) in posts(acme_id(&ws)) {
        assert_eq!((path.as_str(), c.post(&path, &form).status), (path.as_str(), 401));
    }
    let p = c.post_file("/watch/import", &[], WATCHLIST.replace("Acme", "Initech").as_bytes());
    assert_eq!(p.status, 401);
    for (method, path) in [("PUT", "/watch"), ("DELETE", "/matches/1"), ("PATCH", "/audit")] {
        assert_eq!((method, c.request(method, path).status), (method, 401));
    }
    assert_eq!(c.get("/login").status, 200);
    assert_eq!(c.get("/no-such-page").status, 404);
    assert_eq!(state(&ws), before);
}

#[test]
fn every_post_without_a_valid_csrf_token_is_refused_and_nothing_changes() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let serve = Serve::start(&ws);
    let mut other = Client::new(&serve.base);
    assert_eq!(other.login("victor", PASSWORD).status, 303);
    let foreign = other.get("/matches").csrf();
    let mut c = Client::new(&serve.base);
    assert_eq!(c.login("alice", PASSWORD).status, 303);
    let mine = c.get("/matches").csrf();
    let before = state(&ws);
    for token in [
        None,
        Some(""),
        Some("forged"),
        Some(foreign.as_str()),
        Some(&mine[..63]),
    ] {
        for (path, mut form) in posts(acme_id(&ws)) {
            if let Some(t) = token {
                form.push(("csrf", t));
            }
            let p = c.post(&path, &form);
            assert_eq!((path.as_str(), token, p.status), (path.as_str(), token, 403));
        }
        let fields: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
        let p = c.post_file("/watch/import", &fields, b"name\nInitech\n");
        assert_eq!((token, p.status), (token, 403));
    }
    assert_eq!(state(&ws), before);
    // The session still works (logout was refused too), and the right token works.
    assert_eq!(c.get("/watch").status, 200);
    let p = c.post("/watch", &[("csrf", &mine), ("name", "Initech"), ("kind", "supplier")]);
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(ws.count("SELECT count(*) FROM watch_entry WHERE name = 'Initech'"), 1);
    // The header form of the token works as well.
    let p = c.post_with_header("/watch/remove", &[("name", "Initech")], &mine);
    assert_eq!(p.status, 200);
    assert_eq!(ws.count("SELECT count(*) FROM watch_entry WHERE name = 'Initech'"), 0);
}

#[test]
fn a_viewer_reads_every_page_and_changes_nothing() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let serve = Serve::start(&ws);
    let mut c = Client::new(&serve.base);
    assert_eq!(c.login("victor", PASSWORD).status, 303);
    let id = acme_id(&ws);
    for page in PAGES.iter().map(|p| p.replace("/matches/1", &format!("/matches/{id}"))) {
        assert_eq!((page.as_str(), c.get(&page).status), (page.as_str(), 200));
    }
    let matches = c.get("/matches");
    assert!(!matches.body.contains("/triage"), "a viewer gets no triage forms");
    let csrf = matches.csrf();
    let before = state(&ws);
    for (path, mut form) in posts(id).into_iter().filter(|(p, _)| p != "/logout") {
        form.push(("csrf", &csrf));
        assert_eq!((path.as_str(), c.post(&path, &form).status), (path.as_str(), 403));
    }
    assert_eq!(
        c.post_file("/watch/import", &[("csrf", &csrf)], b"name\nInitech\n")
            .status,
        403
    );
    assert_eq!(state(&ws), before);
}

#[test]
fn hostile_posting_text_is_shown_as_text_and_never_as_a_live_link() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let serve = Serve::start(&ws);
    let mut c = Client::new(&serve.base);
    c.login("alice", PASSWORD);
    let id = acme_id(&ws);
    for page in [
        "/matches".to_owned(),
        format!("/matches/{id}"),
        "/postings?q=acme".to_owned(),
        "/".to_owned(),
    ] {
        let p = c.get(&page);
        assert_eq!(p.status, 200);
        let csp = p.header("content-security-policy").unwrap();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(p.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(p.header("x-frame-options"), Some("DENY"));
        let body = p.body.to_lowercase();
        assert!(!body.contains("<script"), "{page}: a script tag reached the page");
        assert!(!body.contains("<img"), "{page}: an img tag reached the page");
        assert!(!body.contains("href=\"javascript:"), "{page}");
        assert!(!body.contains("href=\"http"), "{page}: a live link to a leak site");
        assert!(!body.contains('\u{202e}') && !body.contains('\u{200b}'), "{page}");
    }
    let detail = c.get(&format!("/matches/{id}")).body;
    // Shown, escaped: the analyst sees what the site wrote.
    assert!(
        detail.contains("Acme Corp &#60;script&#62;alert(1)&#60;/script&#62; data"),
        "{detail}"
    );
    assert!(detail.contains("&#60;img src=x onerror=alert(3)&#62;"), "{detail}");
    // FTS5 syntax in a search is searched for, never obeyed or an error.
    for q in ["%22", "acme%22%20OR%20NEAR(x", "*", "globex%20-acme%20%5E"] {
        assert_eq!((q, c.get(&format!("/postings?q={q}")).status), (q, 200));
    }
    let search = c.get("/postings?q=globex").body;
    assert!(
        search.contains("<code class=\"link\">http://leaks.example.onion/globex</code>"),
        "{search}"
    );
}

#[test]
fn triage_from_the_web_dismisses_and_offers_the_exclusion_with_an_audit_trail() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let serve = Serve::start(&ws);
    let mut c = Client::new(&serve.base);
    c.login("alice", PASSWORD);
    let id = acme_id(&ws);
    let page = c.get("/matches?status=new");
    assert!(page.body.contains(&format!("id=\"match-{id}\"")));
    let csrf = page.csrf();
    let p = c.post(
        &format!("/matches/{id}/triage"),
        &[
            ("csrf", &csrf),
            ("action", "dismiss"),
            ("note", "not our Acme"),
            ("exclude", "Acme Corp data"),
        ],
    );
    assert_eq!(p.status, 303);
    assert!(
        !c.get("/matches?status=new")
            .body
            .contains(&format!("id=\"match-{id}\""))
    );
    assert!(
        c.get("/matches?status=dismissed")
            .body
            .contains(&format!("id=\"match-{id}\""))
    );
    assert_eq!(
        ws.count(&format!("SELECT count(*) FROM \"match\" WHERE id = {id} AND status = 'dismissed' AND note = 'not our Acme' AND triaged_by = 'alice'")),
        1
    );
    assert_eq!(
        ws.count("SELECT count(*) FROM watch_entry WHERE name = 'Acme Corp' AND exclude = '[\"Acme Corp data\"]'"),
        1
    );
    let audit = ws.run(&["audit", "--json"]);
    assert_ok(&audit);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&audit)).unwrap();
    let actions: Vec<(&str, &str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["actor"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
                r["target"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("alice", "triage", &format!("match:{id}"))),
        "{actions:?}"
    );
    assert!(actions.contains(&("alice", "exclude", "Acme Corp")), "{actions:?}");
    // The match page shows its history.
    assert!(
        c.get(&format!("/matches/{id}"))
            .body
            .contains("dismissed: not our Acme")
    );
    // Reopen puts it back in the inbox; the answer returns to the page the
    // form was on, never to another site.
    let csrf = c.get("/matches").csrf();
    let p = c.post(
        &format!("/matches/{id}/triage"),
        &[
            ("csrf", &csrf),
            ("action", "reopen"),
            ("back", "//evil.example/matches"),
        ],
    );
    assert_eq!(p.header("location"), Some("/matches?status=new"));
    let p = c.post(
        &format!("/matches/{id}/triage"),
        &[
            ("csrf", &csrf),
            ("action", "reopen"),
            ("back", &format!("/matches/{id}")),
        ],
    );
    assert_eq!(p.header("location"), Some(format!("/matches/{id}").as_str()));
    assert!(
        c.get("/matches?status=new")
            .body
            .contains(&format!("id=\"match-{id}\""))
    );
}

#[test]
fn a_dismissed_victim_never_alerts_again_for_that_entry() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let globex = ws.count(
        "SELECT m.id FROM \"match\" m JOIN watch_entry e ON e.id = m.entry_id WHERE e.name = 'Globex Industries'",
    );
    let out = ws.run(&["triage", &globex.to_string(), "dismiss", "--note", "a different Globex"]);
    assert_ok(&out);
    let listed = ws.run(&["matches", "--status", "dismissed", "--json"]);
    assert_ok(&listed);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["id"], globex);
    assert_eq!(rows[0]["status"], "dismissed");
    // Part 2 of the same leak, dated far enough to be "news" otherwise, and
    // saying the data is published.
    let mails_before = smtp.received().len();
    http.route("/leaks", |_| {
        Reply::html(&HOSTILE_PAGE.replace(
            "</body>",
            "<div class=\"post\"><h2 class=\"victim\">Globex Industries PART2 PUBLISHED</h2><a class=\"more\" href=\"/g2\">read</a><span class=\"date\">2027-02-01</span><p class=\"description\">all data leaked</p></div></body>",
        ))
    });
    assert_ok(&ws.run(&["run"]));
    assert_eq!(
        ws.count("SELECT count(*) FROM \"match\" m JOIN watch_entry e ON e.id = m.entry_id WHERE e.name = 'Globex Industries' AND m.status = 'dismissed'"),
        2,
        "the new part is recorded, already dismissed"
    );
    assert_eq!(smtp.received().len(), mails_before, "no email for a dismissed victim");
    let out = ws.run(&["triage", "9999", "confirm"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no match 9999"), "{}", stderr(&out));
}

#[test]
fn sign_in_is_rate_limited_fixation_proof_and_the_server_stays_up() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let serve = Serve::start(&ws);
    let mut c = Client::new(&serve.base);
    // A session id planted before login is never adopted.
    c.cookies.insert("lw_session".into(), "ab".repeat(32));
    assert_eq!(c.login("alice", PASSWORD).status, 303);
    assert_ne!(c.cookies["lw_session"], "ab".repeat(32));
    let set = c.get("/login");
    let cookie = set.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // A login form without its pre-login cookie is refused.
    let mut bare = Client::new(&serve.base);
    let csrf = bare.get("/login").csrf();
    bare.cookies.clear();
    let p = bare.post(
        "/login",
        &[("csrf", &csrf), ("username", "alice"), ("password", PASSWORD)],
    );
    assert_eq!(p.status, 403);
    // A thousand wrong passwords: five are checked (and one more per 12 s
    // the guessing takes), the rest refused unchecked.
    let mut attacker = Client::new(&serve.base);
    let started = std::time::Instant::now();
    let statuses: Vec<u16> = (0..1000)
        .map(|i| attacker.login("victor", &format!("guess {i}")).status)
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let allowed = 5 + (started.elapsed().as_secs() / 12) as usize + 1;
    assert!((5..=allowed).contains(&checked), "{checked} checked");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1000 - checked);
    assert_eq!(attacker.get("/healthz").body, "ok");
    assert_eq!(c.get("/matches").status, 200, "other sessions are untouched");
    // Logging out ends the session on the server, not only in the browser.
    let sid = c.cookies["lw_session"].clone();
    let csrf = c.get("/matches").csrf();
    assert_eq!(c.post("/logout", &[("csrf", &csrf)]).status, 303);
    c.cookies.insert("lw_session".into(), sid);
    assert_eq!(c.get("/matches").status, 303);
}

#[test]
fn csv_import_over_the_web_names_the_bad_line_and_imports_nothing() {
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    let serve = Serve::start(&ws);
    let mut c = Client::new(&serve.base);
    c.login("alice", PASSWORD);
    let before = state(&ws);
    let csrf = c.get("/watch").csrf();
    let bad = "name,kind\nInitech,supplier\nUmbrella,vendor\n";
    let p = c.post_file("/watch/import", &[("csrf", &csrf)], bad.as_bytes());
    assert_eq!(p.status, 422);
    assert!(p.body.contains("line 3, column kind"), "{}", p.body);
    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let p = c.post_file("/watch/import", &[("csrf", &csrf)], &binary);
    assert_eq!(p.status, 422);
    assert!(p.body.contains("Nothing was imported"), "{}", p.body);
    // Over the upload cap: refused with a message while the form is read...
    let big = format!("name\n{}", "Initech\n".repeat(132_000));
    let p = c.post_file("/watch/import", &[("csrf", &csrf)], big.as_bytes());
    assert_eq!(p.status, 422);
    assert!(p.body.contains("larger than 1024 KB"), "{}", p.body);
    // ...and far over it, refused before it is read.
    let huge = "Initech\n".repeat(1_000_000);
    match c.try_post_file("/watch/import", &[("csrf", &csrf)], huge.as_bytes()) {
        Ok(p) => assert!(p.status == 413 || p.status == 400, "{}", p.status),
        // The server answered and closed while the body was still coming.
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    assert_eq!(state(&ws), before);
    assert_eq!(c.get("/healthz").body, "ok");
    // A good file imports, and the export is the list back.
    let p = c.post_file("/watch/import", &[("csrf", &csrf)], b"name,kind\nInitech,supplier\n");
    assert_eq!(p.status, 200);
    assert!(p.body.contains("1 added"), "{}", p.body);
    let export = c.get("/watch/export");
    assert_eq!(export.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(export.body.contains("Initech,,,supplier,,"), "{}", export.body);
}

#[test]
fn serve_refuses_a_network_address_without_insecure_listen() {
    let ws = Workspace::new("");
    let out = ws.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--insecure-listen"), "{}", stderr(&out));
}

#[test]
fn serve_speaks_https_with_tls_cert_and_key_and_marks_cookies_secure() {
    let ws = Workspace::new("");
    let pki = crate::support::tls::TestPki::new(ws.dir.path());
    ws.write_config(&format!(
        "[serve]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
        pki.cert_file.display(),
        pki.key_file.display()
    ));
    ws.add_user("alice", "analyst", PASSWORD);
    let serve = Serve::start(&ws);
    assert!(serve.base.starts_with("https://127.0.0.1:"), "{}", serve.base);
    let mut c = Client::trusting(&serve.base, &pki.ca_file);
    let login = c.get("/login");
    assert!(login.header("strict-transport-security").is_some());
    assert!(login.header("set-cookie").unwrap().contains("; Secure"));
    let p = c.login("alice", PASSWORD);
    assert_eq!(p.status, 303);
    assert!(
        p.headers
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("lw_session=") && v.to_str().unwrap().contains("; Secure"))
    );
    assert_eq!(c.get("/matches").status, 200);
    // Half a pair is a config problem, named.
    ws.write_config(&format!("[serve]\ntls_cert = \"{}\"\n", pki.cert_file.display()));
    let out = ws.run(&["check"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("tls_cert and tls_key go together"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn user_commands_add_list_and_remove_accounts_and_are_audited() {
    let ws = Workspace::new("");
    let out = ws.run(&["user", "add", "carol", "--role", "viewer"]);
    assert_ok(&out);
    let password = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a made-up password is printed once")
        .to_owned();
    let serve = Serve::start(&ws);
    let mut c = Client::new(&serve.base);
    assert_eq!(c.login("carol", &password).status, 303, "the printed password works");
    assert_eq!(c.get("/matches").status, 200);
    let listed = ws.run(&["user", "list", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(
        (users[0]["name"].as_str(), users[0]["role"].as_str()),
        (Some("carol"), Some("viewer"))
    );
    assert!(!stdout(&listed).contains("argon2"), "hashes are never listed");
    assert!(
        ws.sql()
            .query_row("SELECT password_hash FROM app_user", [], |r| r.get::<_, String>(0))
            .unwrap()
            .starts_with("$argon2id$")
    );
    // Too short a password is refused and changes nothing.
    let mut short = ws
        .command(&["user", "add", "dave", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut short.stdin.take().unwrap(), b"hunter2\n").unwrap();
    let out = short.wait_with_output().unwrap();
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("shorter than 10"), "{}", stderr(&out));
    assert_ok(&ws.run(&["user", "rm", "carol"]));
    assert_eq!(c.get("/matches").status, 303, "removing the account ends its session");
    assert_exit(&ws.run(&["user", "rm", "carol"]), 2);
    let audit = ws.run(&["audit", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&audit)).unwrap();
    let done: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["target"].as_str().unwrap()))
        .collect();
    assert_eq!(done, [("user-rm", "carol"), ("login", "carol"), ("user-add", "carol")]);
    assert!(rows[0]["actor"].as_str().unwrap().starts_with("cli:"));
}
