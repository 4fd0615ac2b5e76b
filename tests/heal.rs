//! Self-healing end to end: a loopback leak site changes its layout between
//! two runs; the admin hears once that the source went silent, with a
//! replacement `[source.html]` table that, pasted into the config, finds the
//! postings again.

use std::sync::{Arc, Mutex};

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink, smtp_config};
use crate::support::{Workspace, assert_ok, stdout};

const VICTIMS: [&str; 6] = [
    "Acme Logistics GmbH",
    "Qualys, Inc.",
    "Northwind Traders",
    "Contoso Pharma",
    "Fabrikam Steel",
    "Tailspin Toys",
];

/// The source as first written, for the first layout.
const OLD_HTML_TABLE: &str = r#"[source.html]
item = "div.post"
title = "h2"
link = { selector = "a", attr = "href" }
date = ".date"
"#;

fn config(smtp_port: u16, url: &str, html_table: &str) -> String {
    format!(
        "{}admin_recipients = [\"ops@example.org\"]\n\n[crawl]\nper_host_rate = \"50/s\"\ntimeout_secs = 10\nretries = 0\n\n[[source]]\nname = \"clop\"\nkind = \"html\"\nurl = \"{url}\"\nlabel = \"Cl0p leak site\"\n{html_table}",
        smtp_config(smtp_port)
    )
}

/// Run 1's layout: one `div.post` per victim.
fn old_layout() -> String {
    let posts: String = VICTIMS
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "<div class=\"post\"><h2>{v}</h2><a href=\"/p/{i}\">more</a><span class=\"date\">2024-03-0{}</span></div>\n",
                i + 1
            )
        })
        .collect();
    format!("<html><body><h1>Leaks</h1>\n{posts}</body></html>")
}

/// The redesign: a table of rows, other tags and classes, the same victims.
fn new_layout() -> String {
    let rows: String = VICTIMS
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "<tr class=\"victim\"><td class=\"name\"><a href=\"/posts/{i}/\">{v}</a></td><td class=\"when\">2024-03-0{}</td><td class=\"about\">Contracts, payroll and e-mail archives, {}0 GB.</td></tr>\n",
                i + 1,
                i + 2
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html><html><head><title>News</title></head><body><h1>Partners who did not pay</h1>\n<table class=\"victims\">\n{rows}</table></body></html>"
    )
}

/// The `[source.html]` table in an admin email's text part: from its header
/// to the first blank line.
fn suggested_table(text: &str) -> String {
    let start = text
        .find("[source.html]\n")
        .unwrap_or_else(|| panic!("no [source.html] in:\n{text}"));
    let table = &text[start..];
    let end = table.find("\n\n").map_or(table.len(), |e| e + 1);
    table[..end].to_owned()
}

#[test]
fn a_source_whose_layout_changed_gets_a_replacement_definition_that_works() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let current = Arc::new(Mutex::new(old_layout()));
    let serve = current.clone();
    http.route("/leaks/", move |_| Reply::html(&serve.lock().unwrap()));
    let url = http.url("/leaks/");
    let ws = Workspace::new(&config(smtp.port, &url, OLD_HTML_TABLE));
    ws.import("name,aliases,domains,kind,recipients,exclude\nContoso Pharma,,,supplier,,\n");
    let admin_mails = || {
        smtp.received()
            .into_iter()
            .filter(|m| m.to == ["ops@example.org"])
            .collect::<Vec<_>>()
    };

    assert_ok(&ws.run(&["run"]));
    assert_eq!(ws.count("SELECT count(*) FROM posting"), 6);
    let analysts: Vec<_> = smtp
        .received()
        .into_iter()
        .filter(|m| m.to == ["secops@example.org"])
        .collect();
    assert_eq!(analysts.len(), 1, "run 1 delivers the Contoso alert");
    assert!(analysts[0].part("text/plain").unwrap().contains("Contoso Pharma"));
    assert!(admin_mails().is_empty(), "a healthy source is not news");

    *current.lock().unwrap() = new_layout();
    assert_ok(&ws.run(&["run"]));
    let admin = admin_mails();
    assert_eq!(admin.len(), 1, "one admin email for the change");
    assert_eq!(
        admin[0].header("Subject").unwrap(),
        "[leakwatch] source clop (Cl0p leak site) went silent"
    );
    let text = admin[0].part("text/plain").unwrap().replace("\r\n", "\n");
    assert!(text.contains("It extracts 6 postings"), "{text}");
    for v in VICTIMS {
        assert!(text.contains(&format!("  - {v}")), "{v} listed in:\n{text}");
    }
    let html = admin[0].part("text/html").unwrap().replace("\r\n", "\n");
    let pre = html.split("<pre>").nth(1).and_then(|p| p.split("</pre>").next());
    assert!(
        pre.is_some_and(|p| p.contains(&suggested_table(&text).replace('"', "&quot;"))),
        "the table, escaped, in a <pre>:\n{html}"
    );

    // The analyst pastes the table in place of the old one and checks it.
    let table = suggested_table(&text);
    assert!(table.contains("item = "), "{table}");
    ws.write_config(&config(smtp.port, &url, &table));
    let page = ws.path("new-layout.html");
    std::fs::write(&page, new_layout()).unwrap();
    let out = ws.run(&["source", "test", "clop", "--file", page.to_str().unwrap()]);
    assert_ok(&out);
    let shown = stdout(&out);
    assert!(shown.starts_with("clop: 6 postings"), "{table}\n{shown}");
    for v in VICTIMS {
        assert!(shown.contains(v), "{v} found again with\n{table}\n{shown}");
    }

    // Still broken on the next run (old definition back): no second email.
    ws.write_config(&config(smtp.port, &url, OLD_HTML_TABLE));
    assert_ok(&ws.run(&["run"]));
    assert_eq!(admin_mails().len(), 1, "once per change, not every run");
}
