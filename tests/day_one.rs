//! Day one: `leakwatch init`, a mail relay, a watch list with Accellion as
//! a supplier, and the first `run` — against loopback copies of the real
//! captures of every source `init` switches on. Accellion's four FTA CVEs
//! in CISA KEV (CVE-2021-27101…27104, added 2021-11-03) arrive in one digest.

use crate::disclosure::{capture, serve};
use crate::support::http::HttpServer;
use crate::support::smtp::{Behaviour, SmtpSink};
use crate::support::{Workspace, assert_ok};

/// Each source `init` switches on, and the capture its loopback copy serves.
const SERVED: &[(&str, &str, &str)] = &[
    (
        "cisa-kev.toml",
        "disclosure/kev/known_exploited_vulnerabilities.json",
        "application/json",
    ),
    (
        "databreach-rss.toml",
        "disclosure/aggregators/publicvector_databreach-rss_rss_2026-02-01.xml",
        "application/rss+xml",
    ),
    (
        "ransomware-live-rss.toml",
        "disclosure/aggregators/ransomware.live_rss_2023-08-02.xml",
        "application/rss+xml",
    ),
    (
        "ransomware-live.toml",
        "disclosure/aggregators/ransomware.live_v1_recentvictims_2024-06-13.json",
        "application/json",
    ),
    (
        "wa-ag-breaches.toml",
        "disclosure/breach_registries/wa_ago_data_breach_notifications_2024-05-23.csv",
        "text/csv",
    ),
];

/// `text` with the line starting `key = ` replaced (or dropped when `value` is None).
fn set(text: &str, key: &str, value: Option<&str>) -> String {
    let prefix = format!("{key} = ");
    text.lines()
        .filter_map(|l| match (l.starts_with(&prefix), value) {
            (true, Some(v)) => Some(format!("{prefix}{v}")),
            (true, None) => None,
            (false, _) => Some(l.to_owned()),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn the_first_run_from_an_init_config_alerts_on_accellions_four_kev_entries_in_one_digest() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let ws = Workspace::new("");
    std::fs::remove_file(ws.config()).unwrap();
    assert_ok(&ws.cron(&["init", "site"]).output().unwrap());
    let site = ws.path("site");

    // What a user edits: the relay (a local one, no password) …
    let config = site.join("leakwatch.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = set(&text, "host", Some("\"127.0.0.1\""));
    text = set(&text, "port", Some(&smtp.port.to_string()));
    text = set(&text, "security", Some("\"none\""));
    text = set(&text, "username", None);
    text = set(&text, "password_env", None);
    std::fs::write(&config, text).unwrap();
    // … and, for the test only, each source's URL pointed at its loopback copy.
    for (i, (file, rel, content_type)) in SERVED.iter().enumerate() {
        let path = format!("/{i}");
        serve(&http, &path, rel, content_type);
        let def = site.join("sources/disclosure").join(file);
        let text = std::fs::read_to_string(&def).unwrap();
        let text = set(&text, "url", Some(&format!("\"{}\"", http.url(&path))));
        std::fs::write(&def, set(&text, "rate", None)).unwrap();
    }
    assert!(
        std::fs::read_to_string(capture(SERVED[0].1))
            .unwrap()
            .contains("CVE-2021-27104")
    );

    let config = config.to_str().unwrap();
    let list = "name,aliases,domains,kind,recipients,exclude\nAccellion,Kiteworks,accellion.com,supplier,,\n";
    std::fs::write(site.join("watchlist.csv"), list).unwrap();
    let list = site.join("watchlist.csv");
    assert_ok(
        &ws.cron(&["--config", config, "watch", "import", list.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert_ok(&ws.cron(&["--config", config, "run"]).output().unwrap());

    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "one digest: {mails:#?}");
    let m = &mails[0];
    assert_eq!(m.to, ["secops@example.org"]);
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[leakwatch] Accellion (supplier) named in 4 postings")
    );
    let text = m.part("text/plain").unwrap();
    for cve in ["CVE-2021-27101", "CVE-2021-27102", "CVE-2021-27103", "CVE-2021-27104"] {
        let line = format!(
            "Disclosed:   Accellion FTA — {cve} added to CISA KEV on 2021-11-03, known ransomware use: Known, due: 2021-11-17"
        );
        assert!(text.contains(&line), "{line}\n{text}");
    }
    assert!(text.contains("Disclosures are quoted from public sources"), "{text}");
    assert!(!text.contains("leak site's operators"), "{text}");

    // The second run finds nothing new.
    assert_ok(&ws.cron(&["--config", config, "run"]).output().unwrap());
    assert_eq!(smtp.received().len(), 1);
}
