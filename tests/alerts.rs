//! Alerts against a real SMTP server on loopback: what happens when the
//! relay refuses, stalls, or the process is killed mid-transaction, and what
//! the received message says. The basic "down, then up, then nothing" and
//! header-injection cases live in `pipeline.rs`.

use std::time::{Duration, Instant};

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink, closed_port, smtp_config};
use crate::support::tls::{TestPki, tls_front};
use crate::support::{Workspace, assert_exit, assert_ok, stderr, stdout};

/// A leak-site source named `clop` on `url`, with no retries so tests are quick.
fn source(url: &str) -> String {
    format!(
        r#"
[crawl]
per_host_rate = "50/s"
timeout_secs = 10
retries = 0

[[source]]
name = "clop"
kind = "html"
url = "{url}"
label = "Cl0p leak site"
[source.html]
item = "div.post"
title = "h2"
link = {{ selector = "a", attr = "href" }}
date = ".date"
body = "p"
"#
    )
}

/// One `div.post` of a leak page.
fn post(title: &str, link: &str, date: &str, body: &str) -> String {
    format!(
        "<div class=\"post\"><h2>{title}</h2><a href=\"{link}\">more</a><span class=\"date\">{date}</span><p>{body}</p></div>"
    )
}

fn page(posts: &[String]) -> String {
    format!("<html><body>{}</body></html>", posts.concat())
}

/// A workspace whose `clop` source serves `html` from the loopback server.
fn workspace(http: &HttpServer, smtp_port: u16, html: String, watchlist: &str) -> Workspace {
    http.route("/leaks/", move |_| Reply::html(&html));
    let ws = Workspace::new(&format!("{}\n{}", smtp_config(smtp_port), source(&http.url("/leaks/"))));
    ws.import(watchlist);
    ws
}

const ACME: &str = "name,aliases,domains,kind,recipients,exclude\nAcme Corp,,acme.example,supplier,,\n";

fn acme_page() -> String {
    page(&[post(
        "Acme Corp",
        "/post/acme",
        "2021-03-03",
        "Files of Acme Corp, 40 GB.",
    )])
}

#[test]
fn a_temporary_451_keeps_the_alert_and_the_next_run_delivers_it() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour {
        temp_fail_first: 1,
        ..Behaviour::default()
    });
    let ws = workspace(&http, smtp.port, acme_page(), ACME);

    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("kept for the next run"), "{}", stderr(&out));
    assert!(smtp.received().is_empty());
    assert_eq!(
        ws.count("SELECT count(*) FROM digest WHERE state = 'pending' AND attempts = 1 AND last_error LIKE '%451%'"),
        1
    );

    assert_ok(&ws.run(&["run"]));
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["secops@example.org"]);
    assert_eq!(ws.count("SELECT count(*) FROM digest WHERE state = 'sent'"), 1);

    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 1, "sent once, not again");
}

#[test]
fn a_550_for_one_recipient_does_not_stop_the_other_and_is_recorded_as_failed() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour {
        refuse_rcpt: vec!["gone@example.org".into()],
        ..Behaviour::default()
    });
    let list = "name,aliases,domains,kind,recipients,exclude\n\
                Acme Corp,,,supplier,gone@example.org;risk@example.org,\n";
    let ws = workspace(&http, smtp.port, acme_page(), list);

    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("email to gone@example.org refused"), "{err}");
    assert!(err.contains("emails 1 sent, 0 pending, 1 failed"), "{err}");
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["risk@example.org"]);
    assert_eq!(
        ws.count("SELECT count(*) FROM digest WHERE state = 'failed' AND recipient = 'gone@example.org'"),
        1
    );

    let out = ws.run(&["matches", "--csv"]);
    assert_ok(&out);
    let csv = stdout(&out);
    let row = csv.lines().nth(1).expect("one match row");
    assert!(row.ends_with(",1,0,1"), "sent 1, pending 0, failed 1: {csv}");

    // A refused address is not retried on every run.
    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn a_run_killed_while_the_relay_stalls_mid_transaction_is_finished_by_the_next() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour {
        stall_first: 1,
        stall_for: Duration::from_secs(2),
        ..Behaviour::default()
    });
    let ws = workspace(&http, smtp.port, acme_page(), ACME);

    let mut child = ws.command(&["run"]).spawn().expect("spawn leakwatch");
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.stalls_begun() == 0 {
        assert!(Instant::now() < deadline, "the run never reached DATA");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no destructor, no rollback handler, nothing runs.
    child.kill().expect("kill");
    child.wait().unwrap();
    assert_eq!(ws.count("SELECT count(*) FROM digest WHERE state = 'pending'"), 1);

    assert_ok(&ws.run(&["run"]));
    // The stalled server may still accept the first copy once it wakes up.
    std::thread::sleep(Duration::from_millis(2500));
    let mails = smtp.received();
    assert!(
        (1..=2).contains(&mails.len()),
        "delivered, at most one duplicate: {mails:#?}"
    );
    let ids: Vec<Option<String>> = mails.iter().map(|m| m.header("Message-ID")).collect();
    assert!(ids[0].is_some());
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "a duplicate carries the same Message-ID: {ids:?}"
    );
    assert_eq!(ws.count("SELECT count(*) FROM digest WHERE state = 'sent'"), 1);
    assert_eq!(ws.count("SELECT count(*) FROM run WHERE status = 'interrupted'"), 1);

    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), mails.len(), "nothing more after that");
}

#[test]
fn the_received_digest_has_both_parts_an_exact_subject_and_inert_hostile_text() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let list = "name,aliases,domains,kind,recipients,exclude\n\
                Acme Corp,,,supplier,,\n\
                Globex,,,customer,,\n";
    let html = page(&[
        post(
            "&lt;script&gt;alert(1)&lt;/script&gt; Acme Corp",
            "javascript:alert(1)",
            "2021-03-03",
            "x",
        ),
        post(
            "Globex\r\nBcc: evil@example.org\r\nX-Evil: 1",
            "/post/globex",
            "2021-03-04",
            "Globex records",
        ),
    ]);
    let ws = workspace(&http, smtp.port, html, list);

    assert_ok(&ws.run(&["run"]));
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "one digest for the one recipient: {mails:#?}");
    let m = &mails[0];
    assert_eq!(m.to, ["secops@example.org"], "no recipient added");
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[leakwatch] 2 watched names posted: Acme Corp, Globex")
    );
    let names = m.header_names();
    for forbidden in ["Bcc", "X-Evil"] {
        assert!(
            !names.iter().any(|h| h.eq_ignore_ascii_case(forbidden)),
            "{forbidden} injected: {names:?}"
        );
    }
    for needed in ["Message-ID", "Date", "From", "To", "Auto-Submitted", "List-Id"] {
        assert_eq!(
            names.iter().filter(|h| h.eq_ignore_ascii_case(needed)).count(),
            1,
            "{needed} once: {names:?}"
        );
    }
    let text = m.part("text/plain").expect("text part");
    let html = m.part("text/html").expect("html part");
    assert!(text.contains("<script>alert(1)</script> Acme Corp"), "{text}");
    assert!(text.contains("Globex Bcc: evil@example.org X-Evil: 1"), "{text}");
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Acme Corp"),
        "{html}"
    );
    assert!(!html.contains("href=\"javascript"), "{html}");
    assert!(
        html.contains(&format!("<a href=\"{0}\">{0}</a>", http.url("/post/globex"))),
        "{html}"
    );
}

#[test]
fn each_match_in_the_digest_says_how_sure_it_is_and_why() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let list = "name,aliases,domains,kind,recipients,exclude\n\
                Acme Corp,,,supplier,,\n\
                Northwind Traders International,,,customer,,\n";
    let html = page(&[
        post("Acme Corp", "/post/acme", "2021-03-03", "x"),
        post("Northwind Traders Intern...", "/post/nw", "2021-03-04", "y"),
    ]);
    let ws = workspace(&http, smtp.port, html, list);

    assert_ok(&ws.run(&["run"]));
    let stored = |name: &str| {
        ws.sql()
            .query_row(
                "SELECT m.confidence FROM \"match\" m JOIN watch_entry e ON e.id = m.entry_id WHERE e.name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
    };
    assert_eq!(
        (stored("Acme Corp"), stored("Northwind Traders International")),
        (100, 60)
    );
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let text = mails[0].part("text/plain").unwrap().replace("\r\n", "\n");
    let html = mails[0].part("text/html").unwrap();
    for shown in [
        "100% (the exact name in the title)",
        "60% (truncated title: only the start of the name is shown)",
    ] {
        assert!(text.contains(&format!("   Confidence:  {shown}\n")), "{text}");
        assert!(
            html.contains(&format!(
                "<th align=\"left\" valign=\"top\">Confidence</th><td>{shown}</td>"
            )),
            "{html}"
        );
    }
}

/// `[smtp]` with STARTTLS and a login on `port`; `extra` adds keys (ca_file).
fn starttls_config(port: u16, extra: &str) -> String {
    format!(
        "[smtp]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"starttls\"\nusername = \"alerts\"\npassword_env = \"LW_TEST_SMTP_PASSWORD\"\nfrom = \"leakwatch <alerts@example.org>\"\n{extra}\n\n[notify]\nrecipients = [\"secops@example.org\"]\n"
    )
}

fn tls_sink(pki: &TestPki) -> SmtpSink {
    SmtpSink::start(Behaviour {
        tls: Some((pki.cert_file.clone(), pki.key_file.clone())),
        login: Some(("alerts".into(), "s3cret-Pa55".into())),
        ..Behaviour::default()
    })
}

fn tls_workspace(http: &HttpServer, smtp: &SmtpSink, extra: impl Fn(&Workspace) -> String) -> Workspace {
    http.route("/leaks/", |_| Reply::html(&acme_page()));
    let ws = Workspace::new("");
    ws.write_config(&format!(
        "{}\n{}",
        starttls_config(smtp.port, &extra(&ws)),
        source(&http.url("/leaks/"))
    ));
    ws.import(ACME);
    ws
}

fn run_with_password(ws: &Workspace, password: &str) -> std::process::Output {
    ws.command(&["run"])
        .env("LW_TEST_SMTP_PASSWORD", password)
        .output()
        .expect("run leakwatch")
}

#[test]
fn starttls_with_a_ca_named_in_smtp_ca_file_delivers_after_login() {
    let http = HttpServer::start();
    let certs = tempfile::tempdir().unwrap();
    let pki = TestPki::new(certs.path());
    let smtp = tls_sink(&pki);
    let ca = pki.ca_file.display().to_string();
    let ws = tls_workspace(&http, &smtp, |_| format!("ca_file = \"{ca}\""));

    assert_ok(&run_with_password(&ws, "s3cret-Pa55"));
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].part("text/plain").unwrap().contains("Acme Corp"));
}

#[test]
fn starttls_with_an_untrusted_certificate_keeps_the_alert_and_says_what_to_do() {
    let http = HttpServer::start();
    let certs = tempfile::tempdir().unwrap();
    let pki = TestPki::new(certs.path());
    let smtp = tls_sink(&pki);
    let ws = tls_workspace(&http, &smtp, |_| String::new());

    let out = run_with_password(&ws, "s3cret-Pa55");
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("TLS with 127.0.0.1:"), "{err}");
    assert!(err.contains("smtp.ca_file"), "{err}");
    assert!(smtp.received().is_empty());
    assert_eq!(
        ws.count("SELECT count(*) FROM digest WHERE state = 'pending' AND attempts = 1"),
        1
    );
}

#[test]
fn a_wrong_smtp_password_is_a_clear_error_that_never_shows_the_password() {
    let http = HttpServer::start();
    let certs = tempfile::tempdir().unwrap();
    let pki = TestPki::new(certs.path());
    let smtp = tls_sink(&pki);
    let ca = pki.ca_file.display().to_string();
    let ws = tls_workspace(&http, &smtp, |_| format!("ca_file = \"{ca}\""));

    let wrong = "hunter2-wrong-Secret";
    let out = ws
        .command(&["-vv", "run"])
        .env("LW_TEST_SMTP_PASSWORD", wrong)
        .output()
        .unwrap();
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("refused the login for alerts: check smtp.username and the password in $LW_TEST_SMTP_PASSWORD"),
        "{err}"
    );
    assert!(
        !err.contains(wrong) && !stdout(&out).contains(wrong),
        "password leaked: {err}"
    );
    let last_error: String = ws
        .sql()
        .query_row("SELECT last_error FROM digest", [], |r| r.get(0))
        .unwrap();
    assert!(!last_error.contains(wrong));
    assert_eq!(ws.count("SELECT count(*) FROM digest WHERE state = 'pending'"), 1);

    // Fixed password: the kept alert goes out.
    assert_ok(&run_with_password(&ws, "s3cret-Pa55"));
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn the_same_victim_is_not_announced_again_unless_something_meaningful_changed() {
    use std::sync::{Arc, Mutex};
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let current = Arc::new(Mutex::new(String::new()));
    let serve = current.clone();
    http.route("/leaks/", move |_| Reply::html(&serve.lock().unwrap()));
    let set_page = |posts: &[String]| *current.lock().unwrap() = page(posts);
    let config = |link: &str| {
        format!(
            "{}\n{}",
            smtp_config(smtp.port),
            source(&http.url("/leaks/")).replace("link = { selector = \"a\", attr = \"href\" }", link)
        )
    };
    let ws = Workspace::new(&config("link = { selector = \"a\", attr = \"href\" }"));
    ws.import(ACME);
    let original = post(
        "Acme Corp",
        "/post/1",
        "2021-03-03",
        "Pay or we publish. <a class=\"alt\" href=\"/alt/1\">x</a>",
    );
    let subjects = || -> Vec<String> { smtp.received().iter().filter_map(|m| m.header("Subject")).collect() };

    set_page(std::slice::from_ref(&original));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(subjects().len(), 1);

    // The source definition changes (links now come from another element):
    // every posting gets a new key, but the victim was already announced.
    ws.write_config(&config("link = { selector = \"a.alt\", attr = \"href\" }"));
    assert_ok(&ws.run(&["run"]));
    // The definition is put back, and the victim is re-posted under a new
    // link a few days later.
    ws.write_config(&config("link = { selector = \"a\", attr = \"href\" }"));
    set_page(&[
        original.clone(),
        post("Acme Corp", "/post/2", "2021-03-05", "Pay or we publish."),
    ]);
    assert_ok(&ws.run(&["run"]));
    assert_eq!(subjects().len(), 1, "no re-announcement: {:?}", subjects());
    assert_eq!(
        ws.count("SELECT count(*) FROM \"match\" WHERE repeat_of IS NOT NULL"),
        2,
        "the repeats are recorded as matches"
    );

    // The gang publishes the data: that is news, and the email says so.
    set_page(&[post(
        "Acme Corp",
        "/post/3",
        "2021-03-10",
        "All Acme files published, 40 GB.",
    )]);
    assert_ok(&ws.run(&["run"]));
    let mails = smtp.received();
    assert_eq!(mails.len(), 2);
    let text = mails[1].part("text/plain").unwrap();
    assert!(
        text.contains("what changed: now says the data is published (earlier alert: \"Acme Corp\", first seen"),
        "{text}"
    );

    // Months later, a new leak of the same victim.
    set_page(&[post("Acme Corp", "/post/4", "2021-09-01", "New files.")]);
    assert_ok(&ws.run(&["run"]));
    let mails = smtp.received();
    assert_eq!(mails.len(), 3);
    let text = mails[2].part("text/plain").unwrap();
    assert!(
        text.contains("what changed: a new posting dated 2021-09-01, 175 days after"),
        "{text}"
    );
}

#[test]
fn admins_hear_once_when_a_source_breaks_goes_silent_and_recovers() {
    use std::sync::{Arc, Mutex};
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    // None: the site answers 500.
    let current: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let serve = current.clone();
    http.route("/leaks/", move |_| match &*serve.lock().unwrap() {
        Some(html) => Reply::html(html),
        None => Reply::status(500),
    });
    let set = |html: Option<String>| *current.lock().unwrap() = html;
    let ws = Workspace::new(&format!(
        "{}admin_recipients = [\"ops@example.org\"]\nbroken_after = 2\n\n{}",
        smtp_config(smtp.port),
        source(&http.url("/leaks/"))
    ));
    let admin_subjects = || -> Vec<String> {
        smtp.received()
            .iter()
            .filter(|m| m.to == ["ops@example.org"])
            .filter_map(|m| m.header("Subject"))
            .collect()
    };
    let many: Vec<String> = (1..=6)
        .map(|i| post(&format!("Victim {i}"), &format!("/p/{i}"), "2021-03-03", ""))
        .collect();

    set(Some(page(&many)));
    assert_ok(&ws.run(&["run"]));
    assert!(admin_subjects().is_empty(), "a healthy source is not news");

    set(None);
    assert_exit(&ws.run(&["run"]), 3);
    assert!(admin_subjects().is_empty(), "one failure is not yet broken");
    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert_eq!(admin_subjects(), ["[leakwatch] source clop (Cl0p leak site) is broken"]);
    let mail = smtp
        .received()
        .into_iter()
        .find(|m| m.to == ["ops@example.org"])
        .unwrap();
    let text = mail.part("text/plain").unwrap();
    assert!(
        text.contains("fetch failed (http-error) on 2 run(s) in a row"),
        "{text}"
    );
    assert!(text.contains("leakwatch source test clop"), "{text}");
    assert!(mail.header("Message-ID").is_some());
    assert_exit(&ws.run(&["run"]), 3);
    assert_eq!(admin_subjects().len(), 1, "not every run");

    set(Some(page(&many)));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(
        admin_subjects()[1],
        "[leakwatch] source clop (Cl0p leak site) recovered"
    );

    // The layout changed: the page loads, the selectors find nothing.
    set(Some(
        "<html><body><main><article>Victim 1</article></main></body></html>".into(),
    ));
    assert_ok(&ws.run(&["run"]));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(
        admin_subjects()[2..],
        ["[leakwatch] source clop (Cl0p leak site) went silent"]
    );
}

#[test]
fn notify_test_sends_one_message_and_prints_the_server_reply() {
    let smtp = SmtpSink::start(Behaviour {
        refuse_rcpt: vec!["gone@example.org".into()],
        ..Behaviour::default()
    });
    let ws = Workspace::new(&smtp_config(smtp.port));

    let out = ws.run(&["notify", "test", "--to", "analyst@example.org"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("test message sent to analyst@example.org; the server replied: 250"),
        "{}",
        stdout(&out)
    );
    let out = ws.run(&["notify", "test"]);
    assert_ok(&out);
    let mails = smtp.received();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].to, ["analyst@example.org"]);
    assert_eq!(mails[1].to, ["secops@example.org"], "defaults to notify.recipients");
    assert_eq!(mails[0].header("Subject").as_deref(), Some("[leakwatch] test message"));
    assert!(mails[0].part("text/plain").unwrap().contains("leakwatch notify test"));

    let out = ws.run(&["notify", "test", "--to", "gone@example.org"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("the server refused the message to gone@example.org"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_dry_run_prints_the_emails_and_sends_and_stores_nothing() {
    use std::sync::{Arc, Mutex};
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let current = Arc::new(Mutex::new(acme_page()));
    let serve = current.clone();
    http.route("/leaks/", move |_| Reply::html(&serve.lock().unwrap()));
    let ws = Workspace::new(&format!("{}\n{}", smtp_config(smtp.port), source(&http.url("/leaks/"))));
    let list = "name,aliases,domains,kind,recipients,exclude\nAcme Corp,,,supplier,,\nGlobex,,,customer,,\n";
    ws.import(list);

    let out = ws.run(&["run", "--dry-run"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("===== email 1 of 1 ====="), "{text}");
    assert!(
        text.contains("Subject: [leakwatch] Acme Corp (supplier) named on Cl0p leak site"),
        "{text}"
    );
    assert!(text.contains("To: secops@example.org"), "{text}");
    assert!(text.contains("Snippet:     >>Acme Corp<<"), "{text}");
    assert!(smtp.received().is_empty(), "a dry run sends nothing");
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 0, "and stores nothing");

    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 1);

    *current.lock().unwrap() = page(&[post("Globex", "/post/globex", "2021-03-05", "")]);
    let out = ws.run(&["run", "--dry-run"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Subject: [leakwatch] Globex (customer) named on Cl0p leak site"),
        "{}",
        stdout(&out)
    );
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 1);
    assert_eq!(ws.count("SELECT count(*) FROM outbox"), 1);
    assert_eq!(ws.count("SELECT count(*) FROM run"), 1, "not even a run record");

    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 2, "the real run still finds and sends it");
}

#[test]
fn webhooks_get_the_same_alerts_once_honouring_429_retry_after() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let current = Arc::new(Mutex::new(acme_page()));
    let serve = current.clone();
    http.route("/leaks/", move |_| Reply::html(&serve.lock().unwrap()));
    // The JSON hook: 429 on its first call, then whatever `hook_status` says.
    let calls = Arc::new(AtomicUsize::new(0));
    let hook_status = Arc::new(AtomicUsize::new(200));
    let (c, st) = (calls.clone(), hook_status.clone());
    http.route("/hook", move |_| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::status(429).with_header("Retry-After", "1")
        } else {
            Reply::status(st.load(Ordering::SeqCst) as u16)
        }
    });
    http.route("/slack", |_| Reply::status(200));
    let ws = Workspace::new(&format!(
        "{}\n[[notify.webhook]]\nurl_env = \"LW_TEST_HOOK\"\nformat = \"json\"\n\n[[notify.webhook]]\nurl_env = \"LW_TEST_SLACK\"\nformat = \"slack\"\n\n{}",
        smtp_config(smtp.port),
        source(&http.url("/leaks/"))
    ));
    ws.import(ACME);
    let run = || {
        ws.command(&["run"])
            .env("LW_TEST_HOOK", http.url("/hook"))
            .env("LW_TEST_SLACK", http.url("/slack"))
            .output()
            .unwrap()
    };

    let started = Instant::now();
    assert_ok(&run());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was waited out"
    );
    let hook = http.hits("/hook");
    assert_eq!(hook.len(), 2, "429, then delivered");
    let last = &hook[1];
    assert_eq!(last.method, "POST");
    let body: serde_json::Value = serde_json::from_slice(&last.body).expect("JSON body");
    assert_eq!(
        body["subject"],
        "[leakwatch] Acme Corp (supplier) named on Cl0p leak site"
    );
    assert_eq!(body["alerts"][0]["entry"], "Acme Corp");
    assert_eq!(body["alerts"][0]["link"], http.url("/post/acme"));
    assert_eq!(
        body["id"].as_str(),
        last.headers.get("idempotency-key").map(String::as_str),
        "the id is fixed per digest and sent as Idempotency-Key"
    );
    let slack = http.hits("/slack");
    assert_eq!(slack.len(), 1);
    let slack: serde_json::Value = serde_json::from_slice(&slack[0].body).unwrap();
    assert!(
        slack["text"].as_str().unwrap().contains("Acme Corp (supplier)"),
        "{slack}"
    );
    assert_eq!(smtp.received().len(), 1, "email too");

    assert_ok(&run());
    assert_eq!(http.hits("/hook").len(), 2, "nothing new, nothing posted");

    // The endpoint fails: kept, and the error does not show the URL.
    *current.lock().unwrap() = page(&[post("Acme Corp", "/post/acme-2", "2021-09-01", "new leak")]);
    hook_status.store(503, Ordering::SeqCst);
    let out = run();
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("webhook LW_TEST_HOOK: HTTP 503"), "{err}");
    assert!(!err.contains("/hook"), "the URL is a secret: {err}");
    hook_status.store(200, Ordering::SeqCst);
    assert_ok(&run());
    assert_eq!(http.hits("/hook").len(), 4);
    assert_eq!(http.hits("/slack").len(), 2);
}

#[test]
fn a_healthy_run_opens_no_extra_smtp_connection_to_check_the_relay() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let list = "name,aliases,domains,kind,recipients,exclude\n\
                Acme Corp,,,supplier,a@example.org;b@example.org;c@example.org,\n";
    let ws = workspace(&http, smtp.port, acme_page(), list);

    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 3);
    // The relay check runs only after a failed send. Connections are pooled,
    // but lettre parks a used one asynchronously, so the next email may
    // still open its own: at most one per email, usually one in all.
    assert!(
        (1..=3).contains(&smtp.hellos()),
        "{} SMTP sessions for 3 emails",
        smtp.hellos()
    );
}

#[test]
fn a_posting_that_changes_to_say_the_data_is_published_is_alerted_again_once() {
    use std::sync::{Arc, Mutex};
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let current = Arc::new(Mutex::new(page(&[post(
        "Acme Corp",
        "/post/1",
        "2021-03-03",
        "Deadline in 5 days.",
    )])));
    let serve = current.clone();
    http.route("/leaks/", move |_| Reply::html(&serve.lock().unwrap()));
    let ws = Workspace::new(&format!("{}\n{}", smtp_config(smtp.port), source(&http.url("/leaks/"))));
    ws.import(ACME);
    let set_body = |body: &str| *current.lock().unwrap() = page(&[post("Acme Corp", "/post/1", "2021-03-03", body)]);

    assert_ok(&ws.run(&["run"]));
    set_body("Deadline in 2 days.");
    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 1, "a countdown ticking is not news");

    set_body("Deadline passed. All files published: 40 GB.");
    assert_ok(&ws.run(&["run"]));
    let mails = smtp.received();
    assert_eq!(mails.len(), 2);
    let text = mails[1].part("text/plain").unwrap();
    assert!(
        text.contains("Note:        the posting changed since leakwatch first saw it"),
        "{text}"
    );
    assert!(text.contains("what changed: now says the data is published"), "{text}");

    set_body("All files published: 40 GB. Mirror added.");
    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 2, "published once is enough");
    assert_eq!(ws.count("SELECT count(*) FROM \"match\""), 2);
}

#[test]
fn check_names_an_unset_webhook_url_variable() {
    let ws = Workspace::new(&format!(
        "{}\n[[notify.webhook]]\nurl_env = \"LW_TEST_UNSET_HOOK\"\nformat = \"slack\"\n",
        smtp_config(closed_port())
    ));
    let out = ws.run(&["check"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("notify.webhook.url_env: LW_TEST_UNSET_HOOK is not set"),
        "{}",
        stderr(&out)
    );
    let out = ws
        .command(&["check"])
        .env("LW_TEST_UNSET_HOOK", "http://127.0.0.1:1/")
        .output()
        .unwrap();
    assert_ok(&out);
}

#[test]
fn a_supplier_added_later_is_alerted_on_the_old_posting_as_already_posted() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let html = page(&[post(
        "Initech Ltd",
        "/post/initech",
        "2021-03-03",
        "Samples from files.initech.example attached.",
    )]);
    let ws = workspace(&http, smtp.port, html, ACME);
    assert_ok(&ws.run(&["run"]));
    assert!(smtp.received().is_empty());

    let out = ws.run(&[
        "watch",
        "add",
        "Initrode",
        "--alias",
        "Initech",
        "--domain",
        "initech.example",
    ]);
    assert_ok(&out);
    assert_ok(&ws.run(&["run"]));
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let text = mails[0].part("text/plain").unwrap();
    for needle in [
        "1 new match for your watch list",
        "1. Initrode (supplier)",
        "Posting:     Initech Ltd",
        "Posted:      2021-03-03",
        "Note:        already posted on 2021-03-03: found when the watch entry was added or changed",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(
        text.contains("(an alias) in the posting's title") || text.contains("(a domain) in the posting's body"),
        "why it matched: {text}"
    );
}

#[test]
fn an_admin_alert_waits_out_an_smtp_outage_and_is_sent_once() {
    let http = HttpServer::start();
    http.route("/leaks/", |_| Reply::status(500));
    let port = closed_port();
    let ws = Workspace::new(&format!(
        "{}admin_recipients = [\"ops@example.org\"]\nbroken_after = 1\n\n{}",
        smtp_config(port),
        source(&http.url("/leaks/"))
    ));

    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("kept for the next run"), "{}", stderr(&out));
    assert_eq!(
        ws.count("SELECT count(*) FROM admin_alert WHERE state = 'pending' AND attempts = 1"),
        1
    );

    let smtp = SmtpSink::start_on_port(port, Behaviour::default());
    assert_exit(&ws.run(&["run"]), 3);
    assert_exit(&ws.run(&["run"]), 3);
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "sent once, not every failing run: {mails:#?}");
    assert_eq!(mails[0].to, ["ops@example.org"]);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("[leakwatch] source clop (Cl0p leak site) is broken")
    );
}

#[test]
fn implicit_tls_with_a_ca_named_in_smtp_ca_file_delivers() {
    let http = HttpServer::start();
    let certs = tempfile::tempdir().unwrap();
    let pki = TestPki::new(certs.path());
    let smtp = SmtpSink::start(Behaviour::default());
    let port = tls_front(&pki, smtp.port);
    let tls_config =
        |extra: &str| smtp_config(port).replace("security = \"none\"", &format!("security = \"tls\"\n{extra}"));
    let ca = format!("ca_file = \"{}\"", pki.ca_file.display());
    let ws = workspace(&http, port, acme_page(), ACME);

    ws.write_config(&format!("{}\n{}", tls_config(""), source(&http.url("/leaks/"))));
    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("smtp.ca_file"), "{}", stderr(&out));
    assert!(smtp.received().is_empty());

    ws.write_config(&format!("{}\n{}", tls_config(&ca), source(&http.url("/leaks/"))));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 1);
}
