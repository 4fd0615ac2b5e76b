//! One alert per victim across sources, on real captures: Play's own leak
//! page (`leaksites/play/Play9.html`) and the ransomware.live victims list
//! of the same week (`disclosure/aggregators/ransomware.live_v1_recentvictims_2024-06-13.json`)
//! both list "Western Mechanical" for the group play (found by searching
//! every aggregator victim in every leak-site page). One email, naming both.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::disclosure::{definition, serve};
use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink, smtp_config};
use crate::support::{Workspace, assert_ok};

/// The ransomware.live definition read with the field names of the v1
/// capture (`post_title`, `group_name`, `website`, `post_url`), the only
/// saved free-API answer there is; v2 renamed them.
fn ransomware_live_v1(url: &str) -> String {
    definition("disclosure/ransomware-live.toml", url)
        .replace("\"/victim\"", "\"/post_title\"")
        .replace("\"/group\"", "\"/group_name\"")
        .replace("\"/domain\"", "\"/website\"")
        .replace("\"/url\"", "\"/post_url\"")
}

fn matches(ws: &Workspace) -> Vec<Value> {
    let out = ws.cron(&["matches", "--json"]).output().unwrap();
    assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_victim_on_the_leak_site_and_on_an_aggregator_is_one_email_naming_both() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    serve(&http, "/index.php", "leaksites/play/Play9.html", "text/html");
    serve(
        &http,
        "/recentvictims",
        "disclosure/aggregators/ransomware.live_v1_recentvictims_2024-06-13.json",
        "application/json",
    );
    let ws = Workspace::new(&format!(
        "{}\n[crawl]\nper_host_rate = \"50/s\"\nretries = 0\n\n{}\n{}",
        smtp_config(smtp.port),
        definition("play.toml", &http.url("/index.php")).replace("max_pages = 25", "max_pages = 1"),
        ransomware_live_v1(&http.url("/recentvictims")),
    ));
    ws.import("name,aliases,domains,kind,recipients,exclude\nWestern Mechanical,,,supplier,,\n");
    assert_ok(&ws.cron(&["run"]).output().unwrap());

    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let text = mails[0].part("text/plain").unwrap();
    assert_eq!(text.matches("Western Mechanical (supplier)").count(), 1, "{text}");
    assert!(text.contains("Group:       play"), "{text}");
    // Both state the website: the same domain is the same victim.
    assert!(text.contains("Website:     www.westmech-hvac.com"), "{text}");
    let (first, other) = if text.contains("Source:      Play news") {
        ("Play news", "ransomware.live")
    } else {
        ("ransomware.live", "Play news")
    };
    assert!(text.contains(&format!("Also reported by: {other}")), "{first}: {text}");

    // Both sightings are recorded; the later one on the first.
    let rows = matches(&ws);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let alerted: Vec<&Value> = rows.iter().filter(|m| m["emails_sent"] == 1).collect();
    assert_eq!(alerted.len(), 1, "{rows:#?}");
    assert_eq!(alerted[0]["also_reported_by"].as_array().unwrap().len(), 1, "{rows:#?}");

    // The next run sees both again: nothing new, no email.
    assert_ok(&ws.cron(&["run"]).output().unwrap());
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn the_leak_site_page_seen_a_run_later_is_recorded_on_the_aggregators_alert_without_an_email() {
    // Play's page, which says "PUBLISHED FULL", arrives only in the second run.
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    let page = std::fs::read(crate::disclosure::capture("leaksites/play/Play9.html")).unwrap();
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    http.route("/index.php", move |_| match flag.load(Ordering::SeqCst) {
        true => Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: page.clone(),
        },
        false => Reply::status(503),
    });
    serve(
        &http,
        "/recentvictims",
        "disclosure/aggregators/ransomware.live_v1_recentvictims_2024-06-13.json",
        "application/json",
    );
    let ws = Workspace::new(&format!(
        "{}\n[crawl]\nper_host_rate = \"50/s\"\nretries = 0\n\n{}\n{}",
        smtp_config(smtp.port),
        definition("play.toml", &http.url("/index.php")).replace("max_pages = 25", "max_pages = 1"),
        ransomware_live_v1(&http.url("/recentvictims")),
    ));
    ws.import("name,aliases,domains,kind,recipients,exclude\nWestern Mechanical,,,supplier,,\n");
    ws.cron(&["run"]).output().unwrap();
    assert_eq!(smtp.received().len(), 1);
    up.store(true, Ordering::SeqCst);
    ws.cron(&["run"]).output().unwrap();
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let rows = matches(&ws);
    let first = rows.iter().find(|m| m["source"] == "ransomware-live").unwrap();
    assert_eq!(first["also_reported_by"], serde_json::json!(["play"]), "{rows:#?}");
}

#[test]
fn two_groups_claiming_one_victim_are_two_alerts() {
    // The PRO capture lists AECOM twice: "aecom.com" by BrainCipher and
    // "AECOM" by metaencryptor (read in the file).
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Behaviour::default());
    serve(
        &http,
        "/victims",
        "disclosure/aggregators/ransomware.live_pro_recentvictims_2026-09-20.json",
        "application/json",
    );
    let ws = Workspace::new(&format!(
        "{}\n{}",
        smtp_config(smtp.port),
        definition("optional/ransomware-live-pro.toml", &http.url("/victims"))
    ));
    ws.import("name,aliases,domains,kind,recipients,exclude\nAECOM,,aecom.com,supplier,,\n");
    let key = ("RANSOMWARE_LIVE_API_KEY", "test-key");
    assert_ok(&ws.cron(&["run"]).env(key.0, key.1).output().unwrap());
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "one digest");
    let text = mails[0].part("text/plain").unwrap();
    assert!(text.contains("Group:       BrainCipher"), "{text}");
    assert!(text.contains("Group:       metaencryptor"), "{text}");
    let rows = matches(&ws);
    assert_eq!(rows.iter().filter(|m| m["emails_sent"] == 1).count(), 2, "{rows:#?}");
}
