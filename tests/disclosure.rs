//! The shipped disclosure and aggregator definitions
//! (`config/sources/disclosure/`, `config/sources/optional/`) against the
//! real captures in `../shared/corpus/disclosure/` and `../posts/`, each
//! served on loopback under the content type its service sends, through
//! the real binary: `source test` for what extraction finds, then `run` and
//! `postings --json` for what is stored.
//!
//! How the expected figures were counted (by hand, not by the extractor):
//! items with `python3 -c 'import json; …'` over each JSON file (`len` of
//! the item array, and of the set of ids), `grep -c '<item>'` and the set of
//! `<guid>` values for feeds, `csv.DictReader` rows for registries; the
//! titles and fields below were read in the files themselves.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::http::{HttpServer, Reply};
use crate::support::{Workspace, assert_ok, corpus, stdout};

/// `../shared/corpus/<rel>`.
pub fn capture(rel: &str) -> PathBuf {
    corpus().parent().unwrap().join(rel)
}

/// A shipped definition with its URL pointed at `url`, and without its
/// fair-use rate: one loopback host serves every capture in a test.
pub fn definition(file: &str, url: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sources").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut replaced = 0;
    let out: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("rate = "))
        .map(|l| {
            if l.starts_with("url = ") {
                replaced += 1;
                format!("url = \"{url}\"")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_eq!(replaced, 1, "{file}: one url line");
    out.join("\n") + "\n"
}

/// Serves `rel` at `path` as `content_type`.
pub fn serve(http: &HttpServer, path: &str, rel: &str, content_type: &'static str) {
    let body = std::fs::read(capture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    http.route(path, move |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.clone(),
    });
}

/// The ransomware.live PRO key the keyed definitions read from the environment.
const API_KEY: (&str, &str) = ("RANSOMWARE_LIVE_API_KEY", "test-key");

struct Case {
    definition: &'static str,
    source: &'static str,
    capture: &'static str,
    content_type: &'static str,
    /// Postings extraction finds (`source test`).
    extracted: usize,
    /// Postings stored by a run (fewer when the source repeats an item).
    stored: usize,
    /// (title, field, value) checked in `postings --json`.
    checks: &'static [(&'static str, &'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        definition: "disclosure/cisa-kev.toml",
        source: "cisa-kev",
        capture: "disclosure/kev/known_exploited_vulnerabilities.json",
        content_type: "application/json",
        extracted: 1404,
        stored: 1404,
        checks: &[
            ("Accellion FTA SQL Injection Vulnerability", "id", "CVE-2021-27101"),
            ("Accellion FTA SQL Injection Vulnerability", "vendor", "Accellion"),
            ("Accellion FTA SQL Injection Vulnerability", "product", "FTA"),
            (
                "Accellion FTA SQL Injection Vulnerability",
                "posted_at",
                "2021-11-03T00:00:00Z",
            ),
            (
                "Accellion FTA SQL Injection Vulnerability",
                "body",
                "known ransomware use: Known, due: 2021-11-17",
            ),
        ],
    },
    Case {
        // The older shape: CRLF, oldest first, no knownRansomwareCampaignUse.
        definition: "disclosure/cisa-kev.toml",
        source: "cisa-kev",
        capture: "disclosure/kev/known_exploited_vulnerabilities_2023-06-02.json",
        content_type: "application/json",
        extracted: 942,
        stored: 942,
        checks: &[
            (
                "Accellion FTA OS Command Injection Vulnerability",
                "vendor",
                "Accellion",
            ),
            ("Accellion FTA SQL Injection Vulnerability", "body", "due: 2021-11-17"),
        ],
    },
    Case {
        definition: "disclosure/ransomware-live-rss.toml",
        source: "ransomware-live-rss",
        capture: "disclosure/aggregators/ransomware.live_rss_2023-08-02.xml",
        content_type: "application/rss+xml",
        extracted: 50,
        stored: 50,
        checks: &[
            ("Tempur Sealy International", "group", "alphv"),
            ("Bickel & Brewer - Press Release", "group", "monti"),
            ("TGRWA", "group", "akira"),
            ("SHERMAN.EDU", "group", "clop"),
        ],
    },
    Case {
        definition: "disclosure/databreach-rss.toml",
        source: "databreach-rss",
        capture: "disclosure/aggregators/publicvector_databreach-rss_rss_2026-02-01.xml",
        content_type: "application/rss+xml",
        extracted: 151,
        stored: 151,
        checks: &[
            ("Atlantic National Trust", "group", "pear"),
            ("Fulcrum Construction", "group", "akira"),
        ],
    },
    Case {
        definition: "disclosure/wa-ag-breaches.toml",
        source: "wa-ag-breaches",
        capture: "disclosure/breach_registries/wa_ago_data_breach_notifications_2024-05-23.csv",
        content_type: "text/csv; charset=utf-8",
        extracted: 1109,
        stored: 1109,
        checks: &[
            ("Automatic Funds Transfer Services Inc.", "id", "10427"),
            (
                "Automatic Funds Transfer Services Inc.",
                "posted_at",
                "2021-03-17T00:00:00Z",
            ),
            (
                "Automatic Funds Transfer Services Inc.",
                "body",
                "DataBreachCause: Cyberattack, CyberattackType: Ransomware, WashingtoniansAffected: 695, IndustryType: Finance",
            ),
        ],
    },
    Case {
        definition: "optional/hhs-ocr-breaches.toml",
        source: "hhs-ocr-breaches",
        capture: "disclosure/breach_registries/hhs_ocr_breach_report_under_investigation_2021-03-07.csv",
        content_type: "text/csv",
        extracted: 733,
        // Repeated names with no id are one posting each.
        stored: 0,
        checks: &[
            (
                "New Bedford Jewish Convalescent Home, Inc.",
                "posted_at",
                "2021-03-02T00:00:00Z",
            ),
            ("Montefiore Medical Center", "source", "hhs-ocr-breaches"),
        ],
    },
    Case {
        definition: "optional/ransomware-live-pro.toml",
        source: "ransomware-live-pro",
        capture: "disclosure/aggregators/ransomware.live_pro_recentvictims_2026-09-20.json",
        content_type: "application/json",
        extracted: 100,
        stored: 100,
        checks: &[
            ("Accela.com", "group", "EndZone"),
            ("Accela.com", "website", "Accela.com"),
            ("Alabama Woman's Health Care", "group", "emperador"),
            ("Alabama Woman's Health Care", "website", "alabamawomenshealth.com"),
        ],
    },
    Case {
        definition: "optional/sec-8k.toml",
        source: "sec-8k",
        capture: "disclosure/sec/ransomware.live_pro_8k_2026-08-10.json",
        content_type: "application/json",
        extracted: 11,
        stored: 11,
        checks: &[
            ("UNITED NATURAL FOODS INC", "posted_at", "2025-06-26T00:00:00Z"),
            ("8X8 INC /DE/", "posted_at", "2026-06-23T00:00:00Z"),
        ],
    },
    Case {
        definition: "optional/ransomwatch-posts.toml",
        source: "ransomwatch-posts",
        capture: "posts/ransomlook_sample_posts_2022-08.json",
        content_type: "application/json",
        extracted: 5772,
        stored: 0,
        checks: &[
            ("Cornerstone Automation Systems, LLC", "group", "suncrypt"),
            ("ISTA International GmbH", "group", "daixin"),
        ],
    },
    Case {
        definition: "optional/fortinet-psirt.toml",
        source: "fortinet-psirt",
        capture: "disclosure/vendor_advisories/psirt_feeds/fortinet_psirt_rss_2026-06-14.xml",
        content_type: "application/rss+xml",
        extracted: 3,
        stored: 3,
        checks: &[("Restricted CLI escape using Lua", "source", "fortinet-psirt")],
    },
    Case {
        definition: "optional/paloalto-psirt.toml",
        source: "paloalto-psirt",
        capture: "disclosure/vendor_advisories/psirt_feeds/paloalto_psirt_rss_2026-06-13.xml",
        content_type: "application/rss+xml",
        extracted: 3,
        stored: 3,
        checks: &[(
            "CVE-2026-0249 GlobalProtect App: Certificate Validation Bypass Vulnerabilities (Severity: MEDIUM)",
            "posted_at",
            "2026-06-13T01:45:00Z",
        )],
    },
];

#[test]
fn a_keyed_definition_without_its_key_is_named_by_check_and_never_sent_empty() {
    let http = HttpServer::start();
    serve(
        &http,
        "/capture",
        "disclosure/aggregators/ransomware.live_pro_recentvictims_2026-09-20.json",
        "application/json",
    );
    let ws = Workspace::new(&definition("optional/ransomware-live-pro.toml", &http.url("/capture")));
    let out = ws.cron(&["check"]).output().unwrap();
    assert!(
        crate::support::stderr(&out).contains("RANSOMWARE_LIVE_API_KEY"),
        "{}",
        crate::support::stderr(&out)
    );
    ws.cron(&["run"]).output().unwrap();
    assert_eq!(http.total_hits(), 0, "nothing sent without the key");
}

fn postings(ws: &Workspace, source: &str) -> Vec<Value> {
    let out = ws.cron(&["postings", "--json", "--source", source]).output().unwrap();
    assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_definition_reads_its_real_capture() {
    for case in CASES {
        let http = HttpServer::start();
        serve(&http, "/capture", case.capture, case.content_type);
        let ws = Workspace::new(&definition(case.definition, &http.url("/capture")));
        let out = ws
            .cron(&["source", "test", case.source])
            .env(API_KEY.0, API_KEY.1)
            .output()
            .unwrap();
        assert_ok(&out);
        let first = stdout(&out).lines().next().unwrap_or_default().to_owned();
        assert_eq!(
            first,
            format!("{}: {} postings (Ok)", case.source, case.extracted),
            "{}",
            case.capture
        );
        // The PSIRT channels are `about` these entries.
        ws.import(
            "name,aliases,domains,kind,recipients,exclude\nFortinet,,,supplier,,\nPalo Alto Networks,,,supplier,,\n",
        );
        assert_ok(&ws.cron(&["run"]).env(API_KEY.0, API_KEY.1).output().unwrap());
        // A keyed endpoint got its key from the environment, and only it did.
        let keyed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("config/sources")
                .join(case.definition),
        )
        .unwrap()
        .contains("headers_env");
        for hit in http.hits("/capture") {
            let sent = hit.headers.get("x-api-key").map(String::as_str);
            assert_eq!(sent, keyed.then_some(API_KEY.1), "{}", case.definition);
        }
        let stored = postings(&ws, case.source);
        if case.stored > 0 {
            assert_eq!(stored.len(), case.stored, "{}", case.capture);
        }
        for (title, field, value) in case.checks {
            let p = stored
                .iter()
                .find(|p| p["title"] == *title)
                .unwrap_or_else(|| panic!("{}: no posting \"{title}\"", case.capture));
            let got = p[field].as_str().unwrap_or_default();
            assert!(
                got == *value || (*field == "body" && got.starts_with(value)),
                "{}: {title}: {field} = {got:?}, expected {value:?}",
                case.capture
            );
        }
    }
}
