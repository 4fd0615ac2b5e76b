//! Leak-site directories and mirrors, through the real binary: `source
//! import` of the real RansomLook groups file passes `check` with its pending
//! sources listed; `check` refuses real onion addresses altered by one
//! character; a source whose first address refuses connections is read at its
//! mirror, `source list` shows every address, and the admins hear "all
//! addresses down" and "answers again" once each; a pending source gets a
//! stored proposal and one admin email.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink, closed_port, smtp_config};
use crate::support::socks::SocksProxy;
use crate::support::{Workspace, assert_exit, assert_ok, corpus, fixtures, stderr, stdout};

fn groups_file() -> PathBuf {
    corpus()
        .parent()
        .unwrap()
        .join("posts/ransomlook_sample_groups_2022-08.json")
}

/// v3 addresses as the groups file lists them (groups clop and lockbit2).
fn real_onions() -> Vec<String> {
    let groups: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(groups_file()).unwrap()).unwrap();
    let mut out = Vec::new();
    for g in groups.as_array().unwrap() {
        if matches!(g["name"].as_str(), Some("clop" | "lockbit2")) {
            for l in g["locations"].as_array().unwrap() {
                let fqdn = l["fqdn"].as_str().unwrap();
                if l["version"] == 3 && fqdn.ends_with(".onion") {
                    out.push(fqdn.to_owned());
                }
            }
        }
    }
    out
}

/// A loopback SOCKS proxy standing in for Tor, so `check` finds one.
fn tor() -> (HttpServer, SocksProxy) {
    let http = HttpServer::start();
    let proxy = SocksProxy::start(format!("127.0.0.1:{}", http.port).parse().unwrap());
    (http, proxy)
}

#[test]
fn the_real_groups_file_imports_into_a_config_that_check_accepts_with_pending_sources_listed() {
    let (_http, proxy) = tor();
    let ws = Workspace::new("");
    // `include` comes before any table.
    std::fs::write(
        ws.config(),
        format!(
            "include = [\"sources.toml\"]\n[database]\npath = \"lw.db\"\n[crawl]\ntor_proxy = \"{}\"\n",
            proxy.url()
        ),
    )
    .unwrap();

    let groups = groups_file();
    let out = ws.run(&["source", "import", groups.to_str().unwrap(), "--out", "sources.toml"]);
    assert_ok(&out);
    assert!(stderr(&out).contains("92 sources added"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`ekbgzchl6x2ias37.onion` is a v2 onion address: dropped"),
        "{}",
        stderr(&out)
    );
    let written = std::fs::read_to_string(ws.path("sources.toml")).unwrap();
    // LockBit 2.0 lists 16 addresses: the one scraped last is `url`, the others mirrors.
    let lockbit2 = written.split("name = \"lockbit2\"").nth(1).unwrap();
    assert!(
        lockbit2.contains("url = \"http://lockbitapt72iw55njgnqpymggskg5yp75ry7rirtdg4m7i42artsbqd.onion/\""),
        "{lockbit2}"
    );
    assert_eq!(
        lockbit2.split("[[source]]").next().unwrap().matches(".onion/").count(),
        15,
        "url and 14 onion mirrors (plus one clearnet)"
    );
    assert!(
        written.contains("# The site needs JavaScript"),
        "javascript_render is noted"
    );
    assert_eq!(
        written.matches("render = \"chromium\"").count(),
        written.matches("# The site needs JavaScript").count(),
        "each group that needs JavaScript renders in Chromium"
    );

    let out = ws.run(&["check"]);
    assert_ok(&out);
    let said = stdout(&out);
    assert!(said.contains("ok, 92 sources"), "{said}");
    assert!(said.contains("pending: 89 sources have no [source.html] yet"), "{said}");
    assert!(said.contains("lockbit2") && !said.contains("clop,"), "{said}");

    // The analyst writes selectors for one; importing again keeps them.
    let edited = written.replacen(
        "name = \"lockbit2\"\nkind = \"html\"\n",
        "name = \"lockbit2\"\nkind = \"html\"\n# analyst: checked 2026-12-01\n",
        1,
    ) + "\n";
    let edited = edited.replacen(
        "[[source]]\nname = \"hive\"",
        "[source.html]\nitem = \"div.card\"\ntitle = \"h3\"\n\n[[source]]\nname = \"hive\"",
        1,
    );
    std::fs::write(ws.path("sources.toml"), &edited).unwrap();
    let out = ws.run(&["source", "import", groups.to_str().unwrap(), "--out", "sources.toml"]);
    assert_ok(&out);
    assert!(stderr(&out).contains("0 sources added"), "{}", stderr(&out));
    assert!(stderr(&out).contains("92 updated"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(ws.path("sources.toml")).unwrap(), edited);
    let out = ws.run(&["check"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("pending: 88 sources"), "{}", stdout(&out));

    // A broken groups file writes nothing.
    let bad = ws.path("bad.json");
    std::fs::write(&bad, "[{\"name\": \"x\", \"locations\": null}, {\"name\": \"x\"}]").unwrap();
    let out = ws.run(&["source", "import", bad.to_str().unwrap(), "--out", "sources.toml"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("group #1 `x`: invalid type: null"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("group #2 `x`: missing field `locations`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(ws.path("sources.toml")).unwrap(), edited);
}

#[test]
fn check_rejects_real_onion_addresses_altered_by_one_character() {
    let (_http, proxy) = tor();
    let onions = real_onions();
    let (good, other) = (&onions[0], &onions[1]);
    let source = |url: &str, mirror: &str| {
        format!(
            "[crawl]\ntor_proxy = \"{}\"\n\n[[source]]\nname = \"clop\"\nkind = \"feed\"\nurl = \"http://{url}/\"\nmirrors = [\"http://{mirror}/\"]\n",
            proxy.url()
        )
    };
    let ws = Workspace::new(&source(good, other));
    assert_ok(&ws.run(&["check"]));

    // One character changed, a valid base32 one: only the checksum tells.
    let flip = |s: &str, at: usize| {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'a' { b'b' } else { b'a' };
        String::from_utf8(b).unwrap()
    };
    ws.write_config(&source(&flip(good, 10), other));
    let out = ws.run(&["check"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("leakwatch.toml:10: source \"clop\": url"), "{err}");
    assert!(err.contains("the checksum does not match"), "{err}");

    ws.write_config(&source(good, &other[1..]));
    let err = stderr(&ws.run(&["check"]));
    assert!(err.contains("source \"clop\": mirrors[0]"), "{err}");
    assert!(err.contains("this one has 55"), "{err}");

    ws.write_config(&source(good, "ekbgzchl6x2ias37.onion"));
    let err = stderr(&ws.run(&["check"]));
    assert!(err.contains("is a v2 onion address: Tor stopped serving v2"), "{err}");
}

fn listing(titles: &[&str]) -> String {
    let posts: String = titles
        .iter()
        .map(|t| format!("<div class=\"post\"><h2>{t}</h2><a href=\"/post/{t}\">more</a></div>"))
        .collect();
    format!("<html><body>{posts}</body></html>")
}

/// What `site` answers: a listing, or 500 when `None`.
fn site(http: &HttpServer) -> Arc<Mutex<Option<String>>> {
    let state: Arc<Mutex<Option<String>>> = Arc::default();
    let serve = state.clone();
    http.route("/leaks/", move |_| match &*serve.lock().unwrap() {
        Some(html) => Reply::html(html),
        None => Reply::status(500),
    });
    state
}

#[test]
fn a_source_is_read_at_its_mirror_and_admins_hear_when_all_addresses_are_down_and_back() {
    let (a, b) = (HttpServer::start(), HttpServer::start());
    let (site_a, site_b) = (site(&a), site(&b));
    let smtp = SmtpSink::start(Behaviour::default());
    let refused = format!("http://127.0.0.1:{}/leaks/", closed_port());
    let ws = Workspace::new(&format!(
        "[crawl]\nper_host_rate = \"50/s\"\nretries = 0\n\n{}admin_recipients = [\"ops@example.org\"]\nbroken_after = 1\n\n[[source]]\nname = \"clop\"\nkind = \"html\"\nurl = \"{refused}\"\nmirrors = [\"{}\", \"{}\"]\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\nlink = {{ selector = \"a\", attr = \"href\" }}\n",
        smtp_config(smtp.port),
        a.url("/leaks/"),
        b.url("/leaks/")
    ));
    let admin = || -> Vec<String> {
        smtp.received()
            .iter()
            .filter(|m| m.to == ["ops@example.org"])
            .filter_map(|m| m.header("Subject"))
            .collect()
    };

    *site_a.lock().unwrap() = Some(listing(&["Acme Corp", "Globex"]));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 2);
    let list = stdout(&ws.run(&["source", "list"]));
    let line = |url: &str| {
        list.lines()
            .find(|l| l.contains(" address ") && l.contains(url))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line(&refused).contains("http-error"), "{list}");
    assert!(line(&a.url("/leaks/")).contains(" ok "), "{list}");
    assert!(line(&b.url("/leaks/")).contains("never"), "{list}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&ws.run(&["source", "list", "--json"]))).unwrap();
    let addresses = json[0]["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 3);
    assert_eq!(addresses[0]["state"]["last_status"], "http-error");
    assert!(
        addresses[0]["state"]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
    assert_eq!(addresses[1]["state"]["last_status"], "ok");
    assert!(addresses[1]["state"]["last_success"].is_string());
    assert!(addresses[2]["state"].is_null(), "never tried");

    // A goes down; B serves the same listing: the same postings, none new.
    *site_a.lock().unwrap() = None;
    *site_b.lock().unwrap() = Some(listing(&["Acme Corp", "Globex"]));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(
        ws.count("SELECT count(*) FROM posting"),
        2,
        "the posting, not its URL, is the record"
    );
    assert!(admin().is_empty(), "a mirror answered: nothing to tell");

    *site_b.lock().unwrap() = None;
    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("all 3 addresses failed"), "{err}");
    for url in [&refused, &a.url("/leaks/"), &b.url("/leaks/")] {
        assert!(err.contains(url.as_str()), "{url} named: {err}");
    }
    assert_eq!(admin(), ["[leakwatch] all addresses of source clop (clop) down"]);
    assert_exit(&ws.run(&["run"]), 3);
    assert_eq!(admin().len(), 1, "once, not every run");

    *site_b.lock().unwrap() = Some(listing(&["Acme Corp", "Globex", "Initech"]));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(
        admin()[1..],
        [format!(
            "[leakwatch] source clop (clop) answers again at {}",
            b.url("/leaks/")
        )]
    );
    assert_ok(&ws.run(&["run"]));
    assert_eq!(admin().len(), 2, "once");
    let json: serde_json::Value = serde_json::from_str(&stdout(&ws.run(&["source", "list", "--json"]))).unwrap();
    assert_eq!(json[0]["last"], "ok");
    assert_eq!(json[0]["addresses"][2]["state"]["last_status"], "ok", "B");
    assert_eq!(json[0]["addresses"][0]["state"]["last_status"], "http-error");
}

#[test]
fn a_pending_source_gets_a_stored_proposal_and_one_admin_email() {
    let http = HttpServer::start();
    let page = std::fs::read_to_string(fixtures().join("suggest/redesigned.html")).unwrap();
    http.route("/news/", move |_| Reply::html(&page));
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = Workspace::new(&format!(
        "[crawl]\nper_host_rate = \"50/s\"\nretries = 0\n\n{}admin_recipients = [\"ops@example.org\"]\n\n[[source]]\nname = \"newgroup\"\nkind = \"html\"\nurl = \"{}\"\n",
        smtp_config(smtp.port),
        http.url("/news/")
    ));
    let out = ws.run(&["source", "suggest", "newgroup"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("`leakwatch run` fetches its page"),
        "{}",
        stderr(&out)
    );

    assert_ok(&ws.run(&["run"]));
    assert_eq!(
        ws.count("SELECT count(*) FROM posting"),
        0,
        "no postings without selectors"
    );
    let list = stdout(&ws.run(&["source", "list"]));
    assert!(
        list.lines().any(|l| l.starts_with("newgroup") && l.contains("pending")),
        "{list}"
    );

    let out = ws.run(&["source", "suggest", "newgroup"]);
    assert_ok(&out);
    let proposal = stdout(&out);
    assert!(proposal.contains("[source.html]\nitem = \"tr.victim\""), "{proposal}");
    assert!(proposal.contains("It extracts 6 postings"), "{proposal}");

    let mails: Vec<_> = smtp
        .received()
        .into_iter()
        .filter(|m| m.to == ["ops@example.org"])
        .collect();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("[leakwatch] 1 new source needs selectors")
    );
    let text = mails[0].part("text/plain").unwrap();
    assert!(text.contains("item = \"tr.victim\""), "{text}");
    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 1, "told once");
}
