//! The walking skeleton, end to end: fetch from a loopback site, store,
//! match, and deliver through a real SMTP server — once.

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink, closed_port, smtp_config};
use crate::support::{Workspace, assert_exit, assert_ok, stderr, stdout};

const WATCHLIST: &str = "name,aliases,domains,kind,recipients,exclude\n\
    Accellion,Accellion FTA,accellion.com,supplier,vendor-risk@example.org,\n\
    \"Qualys, Inc.\",,qualys.com,supplier,,\n";

fn leak_source(http: &HttpServer, path: &str) -> String {
    format!(
        r#"
[crawl]
per_host_rate = "50/s"
timeout_secs = 10
retries = 0

[[source]]
name = "clop"
kind = "html"
url = "{}"
label = "Cl0p leak site"
[source.html]
item = "div.post"
title = "h2.victim"
link = {{ selector = "a.more", attr = "href" }}
date = ".date"
body = "p.description"
"#,
        http.url(path)
    )
}

fn workspace(http: &HttpServer, smtp_port: u16, page: &str) -> Workspace {
    let ws = Workspace::new(&format!("{}\n{}", smtp_config(smtp_port), leak_source(http, page)));
    ws.import(WATCHLIST);
    ws
}

#[test]
fn a_watched_supplier_on_a_leak_site_is_emailed_once() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = workspace(&http, smtp.port, "/demo/leaksite.html");

    let out = ws.run(&["run"]);
    assert_ok(&out);
    let mut mails = smtp.received();
    mails.sort_by(|a, b| a.to.cmp(&b.to));
    assert_eq!(mails.len(), 2, "one digest per recipient: {mails:#?}");

    // Qualys has no recipients of its own: the default recipient gets it.
    let qualys = &mails[0];
    assert_eq!(qualys.to, ["secops@example.org"]);
    assert_eq!(qualys.from, "alerts@example.org");
    assert_eq!(
        qualys.header("Subject").as_deref(),
        Some("[leakwatch] Qualys, Inc. (supplier) named on Cl0p leak site")
    );
    let text = qualys.part("text/plain").expect("text part");
    let html = qualys.part("text/html").expect("html part");
    for part in [&text, &html] {
        assert!(part.contains("Qualys, Inc."), "{part}");
        assert!(part.contains("QUALYS.COM FILES PART1 PUBLISHED"), "{part}");
        assert!(part.contains(&http.url("/post/qualys-part1")), "{part}");
        assert!(part.contains("2021-03-03"), "{part}");
        assert!(part.contains("Cl0p leak site"), "{part}");
    }
    assert!(
        html.contains(&format!("<a href=\"{0}\">{0}</a>", http.url("/post/qualys-part1"))),
        "{html}"
    );
    assert_eq!(qualys.header("Auto-Submitted").as_deref(), Some("auto-generated"));
    assert!(
        qualys
            .header("Message-ID")
            .is_some_and(|id| id.ends_with("@example.org>"))
    );
    assert!(qualys.header("List-Id").is_some());

    // Accellion is named in a posting's description, and has its own recipient.
    let accellion = &mails[1];
    assert_eq!(accellion.to, ["vendor-risk@example.org"]);
    assert_eq!(
        accellion.header("Subject").as_deref(),
        Some("[leakwatch] Accellion (supplier) named on Cl0p leak site")
    );
    let text = accellion.part("text/plain").unwrap();
    assert!(text.contains("Contoso Pharmaceuticals GmbH"), "{text}");
    assert!(
        text.contains("\"Accellion\" (its name) in the posting's body"),
        "{text}"
    );

    assert_eq!(ws.count("SELECT count(*) FROM posting"), 3);
    assert_eq!(ws.count("SELECT count(*) FROM digest WHERE state = 'sent'"), 2);

    // Nothing new on the second run: nothing sent, no posting rewritten.
    let out = ws.run(&["run"]);
    assert_ok(&out);
    assert!(stderr(&out).is_empty(), "a quiet run prints nothing: {}", stderr(&out));
    assert_eq!(smtp.received().len(), 2);
    assert_eq!(ws.count("SELECT count(*) FROM posting WHERE changed_at IS NOT NULL"), 0);
    assert_eq!(ws.count("SELECT count(*) FROM run WHERE status = 'ok'"), 2);
}

#[test]
fn smtp_down_keeps_the_alert_and_the_next_run_delivers_it_once() {
    let http = HttpServer::start();
    let port = closed_port();
    let ws = workspace(&http, port, "/demo/leaksite.html");

    let out = ws.run(&["run"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("kept for the next run"), "{}", stderr(&out));
    assert_eq!(ws.count("SELECT count(*) FROM outbox"), 2);
    assert_eq!(ws.count("SELECT count(*) FROM digest WHERE state = 'pending'"), 2);

    let smtp = SmtpSink::start_on_port(port, Behaviour::default());
    let out = ws.run(&["run"]);
    assert_ok(&out);
    assert_eq!(smtp.received().len(), 2);

    let out = ws.run(&["run"]);
    assert_ok(&out);
    assert_eq!(smtp.received().len(), 2, "delivered once, not again");
}

#[test]
fn hostile_posting_text_cannot_inject_headers_recipients_or_smtp_commands() {
    let http = HttpServer::start();
    let page = "<html><body>\
        <div class=\"post\"><h2 class=\"victim\">Qualys\r\nBcc: evil@example.org</h2><a class=\"more\" href=\"/p/1\">x</a>\
          <p class=\"description\">a\n.\nMAIL FROM:&lt;evil@example.org&gt;\r\n.\r\nRCPT TO:&lt;evil@example.org&gt;\rQUIT</p></div>\
        <div class=\"post\"><h2 class=\"victim\">&lt;script&gt;alert(1)&lt;/script&gt; Accellion</h2><a class=\"more\" href=\"javascript:alert(1)\">x</a></div>\
        </body></html>";
    http.route("/hostile/", move |_| Reply::html(page));
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = workspace(&http, smtp.port, "/hostile/");

    assert_ok(&ws.run(&["run"]));
    let mails = smtp.received();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    for m in &mails {
        assert_eq!(m.to.len(), 1, "no recipient was added: {:?}", m.to);
        assert!(!m.to.iter().any(|t| t.contains("evil")));
        assert!(
            !m.header_names().iter().any(|h| h.eq_ignore_ascii_case("bcc")),
            "{}",
            m.data
        );
        assert!(m.from == "alerts@example.org");
    }
    let qualys = mails.iter().find(|m| m.to == ["secops@example.org"]).unwrap();
    let text = qualys.part("text/plain").unwrap();
    // The whole body arrived: the dot lines did not end the message early.
    assert!(text.contains("Qualys Bcc: evil@example.org"), "{text}");
    assert!(
        qualys.data.trim_end().ends_with("--"),
        "the message ends with its MIME boundary"
    );
    let accellion = mails.iter().find(|m| m.to == ["vendor-risk@example.org"]).unwrap();
    let html = accellion.part("text/html").unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Accellion"),
        "{html}"
    );
}

#[test]
fn bad_config_names_file_key_and_line_and_exits_1() {
    let ws = Workspace::new(
        "[crawl]\nper_host_rate = \"fast\"\n\n[[source]]\nname = \"x\"\nkind = \"html\"\nurl = \"http://127.0.0.1:1/\"\n[source.html]\nitem = \"div\"\n",
    );
    let out = ws.run(&["check"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("leakwatch.toml:5: crawl.per_host_rate: `fast` is not a rate"),
        "{err}"
    );
    assert!(err.contains("missing field `title`"), "{err}");
    let out = ws.run(&["run"]);
    assert_exit(&out, 1);
    assert!(!ws.db().exists(), "a bad config touches nothing");
}

#[test]
fn a_bad_csv_row_imports_nothing_and_names_its_line_and_column() {
    let ws = Workspace::new("");
    let file = ws.path("list.csv");
    std::fs::write(
        &file,
        "name,aliases,domains,kind,recipients,exclude\nAcme,,,supplier,,\nQualys,,,vendor,,\n",
    )
    .unwrap();
    let out = ws.run(&["watch", "import", file.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("list.csv: line 3, column kind: `vendor` is not a kind"),
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["watch", "list", "--json"]);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "[]");
}
