//! `leakwatch serve` and `leakwatch run --every` side by side on one
//! database, with triage and watch-list traffic all the while: neither may
//! ever report "database is locked" (WAL, busy timeout, short write
//! transactions on both sides).
//!
//! `LEAKWATCH_WORKSPACE_SOAK_SECS` sets how long the traffic lasts (15 s by
//! default, for CI; `benches/workspace_soak.sh` runs 10 minutes with
//! `run --every 1m`). Run with `--nocapture` to see the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::http::{HttpServer, Reply};
use crate::support::smtp::{Behaviour, SmtpSink};
use crate::support::web::{Client, Serve};
use crate::support::{assert_ok, signal};

use crate::workspace::seeded;

#[test]
fn serve_and_run_every_share_the_database_without_locking_each_other_out() {
    let secs: u64 = std::env::var("LEAKWATCH_WORKSPACE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let every = if secs >= 300 { "1m" } else { "2s" };
    let (http, smtp) = (HttpServer::start(), SmtpSink::start(Behaviour::default()));
    let ws = seeded(&http, &smtp);
    // Each fetch lists new postings naming watched entries: every run writes.
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    http.route("/leaks", move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let posts: String = (0..20)
            .map(|i| {
                format!(
                    "<div class=\"post\"><h2 class=\"victim\">Acme Corp unit {n}-{i}</h2><a class=\"more\" href=\"/p/{n}/{i}\">read</a><span class=\"date\">2026-11-20</span><p class=\"description\">Globex Industries too, batch {n}</p></div>"
                )
            })
            .collect();
        Reply::html(&format!("<html><body>{posts}</body></html>"))
    });
    let serve = Serve::start(&ws);
    let cron = ws
        .command(&["run", "--every", every])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn run --every");
    let mut c = Client::new(&serve.base);
    assert_eq!(c.login("alice", "correct horse battery").status, 303);
    let started = Instant::now();
    let (mut requests, mut slowest) = (0usize, Duration::ZERO);
    let mut timed = |c: &mut Client, f: &mut dyn FnMut(&mut Client) -> u16, want: u16| {
        let t = Instant::now();
        let status = f(c);
        slowest = slowest.max(t.elapsed());
        requests += 1;
        assert_eq!(status, want);
    };
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        round += 1;
        let page = c.get("/matches?status=new");
        let csrf = page.csrf();
        let ids: Vec<String> = page
            .body
            .match_indices("id=\"match-")
            .map(|(at, m)| page.body[at + m.len()..].split('"').next().unwrap().to_owned())
            .take(3)
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let action = ["confirm", "dismiss", "reopen"][(round + i) % 3];
            let path = format!("/matches/{id}/triage");
            timed(
                &mut c,
                &mut |c| {
                    c.post(&path, &[("csrf", &csrf), ("action", action), ("note", "soak")])
                        .status
                },
                303,
            );
        }
        let alias = format!("Acme soak {round}");
        timed(
            &mut c,
            &mut |c| {
                c.post(
                    "/watch",
                    &[
                        ("csrf", &csrf),
                        ("name", "Acme Corp"),
                        ("aliases", &alias),
                        ("kind", "supplier"),
                    ],
                )
                .status
            },
            200,
        );
        timed(&mut c, &mut |c| c.get("/postings?q=acme").status, 200);
        timed(&mut c, &mut |c| c.get("/").status, 200);
    }
    signal(cron.id(), "TERM");
    let out = cron.wait_with_output().expect("run --every output");
    assert_ok(&out);
    let cron_err = String::from_utf8_lossy(&out.stderr).into_owned();
    let serve_err = serve.stop();
    for (who, err) in [("run --every", &cron_err), ("serve", &serve_err)] {
        assert!(!err.to_lowercase().contains("database is locked"), "{who}:\n{err}");
        assert!(!err.contains("ERROR"), "{who}:\n{err}");
    }
    let runs = ws.count("SELECT count(*) FROM run WHERE status = 'ok'");
    assert!(runs >= 2, "{runs} runs finished ok\n{cron_err}");
    let triaged = ws.count("SELECT count(*) FROM audit WHERE action = 'triage'");
    assert!(triaged > 0);
    println!(
        "workspace soak: {secs} s, {requests} requests (slowest {} ms), {triaged} triages, {runs} runs, {} fetches, {} matches",
        slowest.as_millis(),
        fetches.load(Ordering::SeqCst),
        ws.count("SELECT count(*) FROM \"match\"")
    );
}
