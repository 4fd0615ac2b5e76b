//! The fault soak: many `leakwatch run`s of the real binary against a
//! loopback leak site and a loopback SMTP server that misbehave at random
//! (fixed seed), with the process killed with SIGKILL at random moments in a
//! quarter of the runs, while new postings naming watched entries keep
//! appearing. After a final clean run it checks the promises cron relies on:
//! every alert delivered at least once (or refused for good by a 5xx and shown
//! as failed), a duplicate only as a resend with the same Message-ID, the
//! database intact, no run left 'running', no lock left held.
//!
//! `LEAKWATCH_SOAK_RUNS` sets the number of runs (30 by default, for CI);
//! `LEAKWATCH_SOAK_SEED` the seed. Run with `--nocapture` to see the figures.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Fault, Received, SmtpSink, closed_port, smtp_config};
use crate::support::{Workspace, assert_ok, stdout};

const DEFAULT_RUNS: usize = 30;
const DEFAULT_SEED: u64 = 0x5EED_1EAC;
/// A run that takes longer than this is hung: a bug, not a fault.
const WATCHDOG: Duration = Duration::from_secs(30);
/// Kills land at a random moment within the mean duration of the runs so
/// far (startup, fetch, storing, delivery), starting from this guess.
const FIRST_KILL_WINDOW: Duration = Duration::from_millis(200);
const VENDOR_RISK: &str = "vendor-risk@example.org";
const SECOPS: &str = "secops@example.org";

/// xorshift64*: a few lines, so the seed alone fixes the whole soak.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What the leak site does to the requests of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum HttpFault {
    None,
    /// The connection drops mid-body (`Content-Length` says more was coming).
    Cut,
    /// The connection closes mid-body with no length: the cut is undetectable.
    Truncated,
    /// Headers, then nothing for longer than `timeout_secs`.
    Stall,
    /// 500 or 503.
    ServerError,
    /// Nothing listens: connection refused.
    Down,
}

/// What the SMTP server does in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SmtpFault {
    None,
    /// 451 at the end of DATA.
    TempFail,
    /// 554 at the end of DATA: a refusal for good, by design never retried.
    PermFail,
    /// A slow server: answers after a pause (kills land inside it).
    Stall,
    /// Nothing listens: connection refused.
    Down,
}

fn pick_http(rng: &mut Rng) -> HttpFault {
    match rng.below(100) {
        0..50 => HttpFault::None,
        50..60 => HttpFault::Cut,
        60..68 => HttpFault::Truncated,
        68..78 => HttpFault::Stall,
        78..90 => HttpFault::ServerError,
        _ => HttpFault::Down,
    }
}

fn pick_smtp(rng: &mut Rng) -> SmtpFault {
    match rng.below(100) {
        0..55 => SmtpFault::None,
        55..72 => SmtpFault::TempFail,
        72..76 => SmtpFault::PermFail,
        76..88 => SmtpFault::Stall,
        _ => SmtpFault::Down,
    }
}

/// The leak site's state: postings published so far, and the fault of the run.
#[derive(Default)]
struct Site {
    /// (title, body) in publication order; post `i` links to `/post/i`.
    postings: Vec<(String, String)>,
    fault: Option<HttpFault>,
    /// Where a `Truncated` reply cuts the page, as a fraction in thousandths.
    cut_at: u64,
}

impl Site {
    fn page(&self) -> String {
        let mut page = String::from("<html><body><h1>Leaks</h1>\n");
        // Newest first, as leak sites list them.
        for (i, (title, body)) in self.postings.iter().enumerate().rev() {
            page.push_str(&format!(
                "<div class=\"post\"><h2 class=\"victim\">{title}</h2><a class=\"more\" href=\"/post/{i}\">more</a><p class=\"description\">{body}</p></div>\n"
            ));
        }
        page.push_str("</body></html>\n");
        page
    }

    fn reply(&self) -> Reply {
        let page = self.page();
        let html = ("Content-Type".to_owned(), "text/html; charset=utf-8".to_owned());
        match self.fault.unwrap_or(HttpFault::None) {
            HttpFault::None | HttpFault::Down => Reply::html(&page),
            HttpFault::Cut => Reply::Trickle {
                headers: vec![html, ("Content-Length".into(), page.len().to_string())],
                chunk: page.as_bytes()[..page.len() / 2].to_vec(),
                pause: Duration::ZERO,
                count: 1,
            },
            HttpFault::Truncated => Reply::Trickle {
                headers: vec![html],
                chunk: page.as_bytes()[..page.len() * self.cut_at as usize / 1000].to_vec(),
                pause: Duration::ZERO,
                count: 1,
            },
            HttpFault::Stall => Reply::Trickle {
                headers: vec![html],
                chunk: b"<html>".to_vec(),
                pause: Duration::from_millis(1500),
                count: 2,
            },
            HttpFault::ServerError => Reply::status(if self.cut_at.is_multiple_of(2) { 500 } else { 503 }),
        }
    }
}

/// A made-up one-word company name no other text in the soak contains.
fn company(i: usize) -> String {
    const SYL: [&str; 16] = [
        "bra", "cel", "dor", "fin", "gal", "hex", "jur", "kov", "lum", "mar", "nex", "pol", "quin", "rav", "sol", "tav",
    ];
    let name = format!("{}{}{}ix", SYL[i % 16], SYL[(i / 16) % 16], SYL[(i / 256) % 16]);
    let mut c = name.chars();
    c.next().unwrap().to_uppercase().chain(c).collect()
}

fn config(http: &str, smtp_port: u16) -> String {
    format!(
        r#"{}
[crawl]
per_host_rate = "100/s"
timeout_secs = 1
connect_timeout_secs = 1
retries = 0

[[source]]
name = "soak"
kind = "html"
url = "{http}"
label = "Soak leak site"
[source.html]
item = "div.post"
title = "h2.victim"
link = {{ selector = "a.more", attr = "href" }}
body = "p.description"
"#,
        smtp_config(smtp_port)
    )
}

#[derive(Default)]
struct Figures {
    runs: usize,
    kills: usize,
    /// Kills that found the process already finished.
    kills_too_late: usize,
    exit_codes: BTreeMap<i32, usize>,
    http_faults: BTreeMap<String, usize>,
    smtp_faults: BTreeMap<String, usize>,
}

fn wait(child: &mut Child) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < WATCHDOG {
        if let Some(status) = child.try_wait().expect("wait for leakwatch") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// (id, title, link, body, first run) of the stored postings that name `company`.
fn postings_naming(ws: &Workspace, company: &str) -> Vec<(i64, String, Option<String>, String, i64)> {
    ws.sql()
        .prepare(
            "SELECT id, title, link, body, first_run_id FROM posting WHERE instr(lower(title || body), lower(?1)) > 0",
        )
        .unwrap()
        .query_map([company], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The text part of a received message.
fn text(m: &Received) -> String {
    m.part("text/plain").unwrap_or_default()
}

#[test]
fn soak_faults_and_kills_lose_no_alert_and_leave_a_sound_database() {
    let runs: usize = std::env::var("LEAKWATCH_SOAK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let seed: u64 = std::env::var("LEAKWATCH_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    assert!(
        runs <= 2000,
        "LEAKWATCH_SOAK_RUNS: at most 2000 (company names run out)"
    );
    let mut rng = Rng(seed | 1);
    let started = Instant::now();

    let http = HttpServer::start();
    let site: Arc<Mutex<Site>> = Arc::default();
    let served = site.clone();
    http.route("/leaks/", move |_| served.lock().unwrap().reply());
    let smtp = SmtpSink::start(Default::default());
    let ws = Workspace::new(&config(&http.url("/leaks/"), smtp.port));

    // Watched companies, every other one with its own recipient.
    let companies: Vec<String> = (0..runs * 2 + 4).map(company).collect();
    let mut csv = String::from("name,aliases,domains,kind,recipients,exclude\n");
    for (i, c) in companies.iter().enumerate() {
        let own = if i.is_multiple_of(2) { VENDOR_RISK } else { "" };
        csv.push_str(&format!("{c},,,supplier,{own},\n"));
    }
    ws.import(&csv);
    let recipient = |i: usize| if i.is_multiple_of(2) { VENDOR_RISK } else { SECOPS };

    let mut named = 0;
    let mut figures = Figures::default();
    let (mut run_time, mut finished_runs) = (Duration::ZERO, 0u32);
    let stderr_file = ws.path("stderr.txt");
    for run in 0..runs {
        // New postings: usually one naming a watched company, sometimes two,
        // sometimes one naming nobody.
        {
            let mut s = site.lock().unwrap();
            let new = usize::from(rng.chance(70)) + usize::from(rng.chance(20));
            for _ in 0..new {
                let c = &companies[named];
                named += 1;
                s.postings.push((
                    c.to_uppercase(),
                    // No "published": a truncated page would make that a change worth a second email.
                    format!("{c} data, {} GB, deadline in 5 days", rng.below(900) + 1),
                ));
            }
            if rng.chance(30) {
                let n = s.postings.len();
                s.postings
                    .push((format!("Bakery number {n}"), "nothing watched here".into()));
            }
        }
        let http_fault = pick_http(&mut rng);
        let smtp_fault = pick_smtp(&mut rng);
        *figures.http_faults.entry(format!("{http_fault:?}")).or_default() += 1;
        *figures.smtp_faults.entry(format!("{smtp_fault:?}")).or_default() += 1;
        {
            let mut s = site.lock().unwrap();
            s.fault = Some(http_fault);
            s.cut_at = rng.below(1000);
        }
        smtp.set_fault(match smtp_fault {
            SmtpFault::TempFail => Fault::TempFail,
            SmtpFault::PermFail => Fault::PermFail,
            SmtpFault::Stall => Fault::Stall(Duration::from_millis(400 + rng.below(600))),
            SmtpFault::None | SmtpFault::Down => Fault::None,
        });
        let url = if http_fault == HttpFault::Down {
            format!("http://127.0.0.1:{}/leaks/", closed_port())
        } else {
            http.url("/leaks/")
        };
        let port = if smtp_fault == SmtpFault::Down {
            closed_port()
        } else {
            smtp.port
        };
        ws.write_config(&config(&url, port));

        let window = if finished_runs == 0 {
            FIRST_KILL_WINDOW
        } else {
            run_time / finished_runs
        };
        let kill_after = rng
            .chance(25)
            .then(|| Duration::from_micros(rng.below(window.as_micros() as u64 + 1)));
        let run_started = Instant::now();
        let mut child = ws
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(File::create(&stderr_file).expect("stderr file"))
            .spawn()
            .expect("start leakwatch");
        figures.runs += 1;
        if let Some(after) = kill_after {
            std::thread::sleep(after);
            figures.kills += 1;
            if child.try_wait().expect("wait").is_some() {
                figures.kills_too_late += 1;
            } else {
                child.kill().expect("SIGKILL leakwatch");
            }
            child.wait().expect("reap leakwatch");
            continue;
        }
        let status = wait(&mut child).unwrap_or_else(|| {
            panic!(
                "run {run} hung for {WATCHDOG:?} (http {http_fault:?}, smtp {smtp_fault:?}):\n{}",
                std::fs::read_to_string(&stderr_file).unwrap_or_default()
            )
        });
        run_time += run_started.elapsed();
        finished_runs += 1;
        let code = status.code().unwrap_or(-1);
        *figures.exit_codes.entry(code).or_default() += 1;
        assert!(
            code == 0 || code == 3,
            "run {run} (http {http_fault:?}, smtp {smtp_fault:?}) exited {status}: only 0 or 3 are expected under faults\n{}",
            std::fs::read_to_string(&stderr_file).unwrap_or_default()
        );
    }

    // The final clean run finishes every job; one more proves nothing is sent twice.
    site.lock().unwrap().fault = None;
    smtp.set_fault(Fault::None);
    ws.write_config(&config(&http.url("/leaks/"), smtp.port));
    assert_ok(&ws.run(&["run"]));
    let after_final = smtp.received().len();
    assert_ok(&ws.run(&["run"]));
    assert_eq!(
        smtp.received().len(),
        after_final,
        "a run with nothing new sends nothing"
    );

    // Every expected alert delivered at least once; duplicates only as resends.
    let received = smtp.received();
    let refused = smtp.refused();
    let failed: Vec<String> = {
        let out = ws.run(&["matches", "--json"]);
        assert_ok(&out);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).expect("matches --json");
        assert!(
            rows.iter().all(|r| r["emails_pending"] == 0),
            "nothing pending after the clean run: {rows:#?}"
        );
        rows.iter()
            .filter(|r| r["emails_failed"].as_i64().unwrap_or(0) > 0)
            .map(|r| r["entry"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (mut delivered, mut duplicated, mut refused_for_good) = (0, 0, 0);
    for (i, c) in companies.iter().take(named).enumerate() {
        let to = recipient(i);
        let copies: Vec<&Received> = received
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to) && text(m).contains(c.as_str()))
            .collect();
        if copies.is_empty() {
            let was_refused = refused
                .iter()
                .any(|m| m.to.iter().any(|t| t == to) && text(m).contains(c.as_str()));
            assert!(
                was_refused && failed.contains(c),
                "LOST: the alert for {c} to {to} was never delivered (refused with 5xx: {was_refused}, shown failed: {})",
                failed.contains(c)
            );
            refused_for_good += 1;
            continue;
        }
        delivered += 1;
        let ids: Vec<Option<String>> = copies.iter().map(|m| m.header("Message-ID")).collect();
        assert!(ids[0].is_some(), "every alert email has a Message-ID");
        if copies.len() > 1 {
            duplicated += 1;
            assert!(
                ids.iter().all(|id| *id == ids[0]),
                "DUPLICATE: the alert for {c} to {to} arrived {} times with different Message-IDs: {ids:?}\npostings: {:?}",
                copies.len(),
                postings_naming(&ws, c)
            );
        }
    }
    // Only the listing was ever fetched: no posting link was followed.
    let others: Vec<String> = http.paths().into_iter().filter(|p| p != "/leaks/").collect();
    assert!(others.is_empty(), "nothing but the listing is fetched: {others:?}");

    // Nobody was alerted about a posting that names no watched company.
    for m in &received {
        assert!(!text(m).contains("Bakery"), "{}", m.data);
    }

    let db = ws.sql();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    let statuses: HashMap<String, i64> = db
        .prepare("SELECT status, count(*) FROM run GROUP BY status")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(statuses.get("running"), None, "no run left running: {statuses:?}");
    let mid_run_kills = figures.kills - figures.kills_too_late;
    assert!(
        statuses.get("interrupted").copied().unwrap_or(0) <= mid_run_kills as i64,
        "only killed runs are interrupted: {statuses:?}"
    );
    // No lock left held: the final runs took it, and so can anyone now.
    let lock = File::options()
        .read(true)
        .write(true)
        .open(ws.path("lw.db.lock"))
        .expect("lock file");
    lock.try_lock().expect("the run lock is free after the soak");

    println!(
        "soak (seed {seed:#x}): {} runs in {:.1}s; {} killed with SIGKILL ({} mid-run, {} after it ended); exit codes {:?}; \
         runs by status {statuses:?}",
        figures.runs,
        started.elapsed().as_secs_f64(),
        figures.kills,
        mid_run_kills,
        figures.kills_too_late,
        figures.exit_codes
    );
    println!("soak: http faults {:?}", figures.http_faults);
    println!("soak: smtp faults {:?}", figures.smtp_faults);
    println!(
        "soak: {} postings naming watched companies; alerts expected {named}, delivered {delivered}, duplicated {duplicated} \
         (same Message-ID), refused for good by a 5xx and shown failed {refused_for_good}; {} emails received, {} refused",
        named,
        received.len(),
        refused.len()
    );
}

/// Found by the soak: a page whose connection closed early, with no
/// `Content-Length` to tell, cut the last posting after its title; without
/// its link it read as a new posting, and the victim was alerted a second
/// time under a new Message-ID.
#[test]
fn a_page_cut_short_after_a_title_does_not_alert_the_victim_twice() {
    let http = HttpServer::start();
    let smtp = SmtpSink::start(Default::default());
    let full = "<html><body>\
        <div class=\"post\"><h2 class=\"victim\">Bakery number 1</h2><a class=\"more\" href=\"/post/1\">more</a></div>\
        <div class=\"post\"><h2 class=\"victim\">BRACELIX</h2><a class=\"more\" href=\"/post/2\">more</a><p class=\"description\">Bracelix files</p></div>\
        </body></html>";
    let cut = full.find("BRACELIX</h2>").unwrap() + "BRACELIX</h2>".len();
    let truncated = Arc::new(Mutex::new(true));
    let t = truncated.clone();
    http.route("/leaks/", move |_| {
        let body = if *t.lock().unwrap() { &full[..cut] } else { full };
        Reply::Trickle {
            headers: vec![("Content-Type".into(), "text/html".into())],
            chunk: body.as_bytes().to_vec(),
            pause: Duration::ZERO,
            count: 1,
        }
    });
    let ws = Workspace::new(&config(&http.url("/leaks/"), smtp.port));
    ws.import("name,aliases,domains,kind,recipients,exclude\nBracelix,,,supplier,,\n");

    assert_ok(&ws.run(&["run"]));
    assert_eq!(smtp.received().len(), 1, "the cut page names Bracelix: one alert");
    *truncated.lock().unwrap() = false;
    assert_ok(&ws.run(&["run"]));
    assert_eq!(ws.count("SELECT count(*) FROM posting WHERE title = 'BRACELIX'"), 2);
    assert_eq!(
        smtp.received().len(),
        1,
        "the whole page names the same victim: no second alert"
    );
}
