//! `source suggest` speed on real ~200 KB listing pages (target: under
//! 50 ms a page), and on two smaller JSON listings. Prints, per page, the median and slowest wall time of
//! repeated runs, and the median CPU time of this thread (from
//! /proc/thread-self/schedstat): on a shared machine the wall time also
//! counts the time other processes held the CPU.
//!
//! cargo bench --bench suggest

mod support;

use std::time::{Duration, Instant};

const PAGES: &[&str] = &[
    "ransomhub/RansomHub.html",
    "8base/8base-basemmnnqwxevlymli5bs36o5ynti55xojzvn246spahniugwkff2pad.html",
    "lockbit3/LockBit3.0.html",
    // JSON: in a browser's `<pre>` viewer, and a bare API response.
    "akira/akira-akiral2iz6a7qgd3ayp3l6yub7xx2uep76idk3u2kollpj5z3z636bad.html",
    "../disclosure/aggregators/ransomware.live_pro_recentvictims_2026-09-20.json",
];
const RUNS: usize = 30;
const TARGET: Duration = Duration::from_millis(50);

/// Time this thread has spent on a CPU, when the kernel says.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(s.split_whitespace().next()?.parse().ok()?))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let corpus = support::corpus().join("leaksites");
    println!(
        "suggest: {RUNS} runs per page, target {} ms per 200 KB page",
        TARGET.as_millis()
    );
    for page in PAGES {
        let body = std::fs::read_to_string(corpus.join(page)).expect("corpus page");
        let mut wall = Vec::with_capacity(RUNS);
        let mut cpu = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let (c0, start) = (cpu_time(), Instant::now());
            let best = leakwatch::suggest::suggest(&body).expect("a suggestion");
            std::hint::black_box(best);
            wall.push(start.elapsed());
            if let (Some(c0), Some(c1)) = (c0, cpu_time()) {
                cpu.push(c1 - c0);
            }
        }
        wall.sort();
        cpu.sort();
        let cpu_median = cpu.get(RUNS / 2).copied();
        let judged = cpu_median.unwrap_or(wall[RUNS / 2]);
        let verdict = match (body.len() <= 250_000, judged < TARGET) {
            (false, _) => "for scale: not a 200 KB page",
            (true, true) => "under target",
            (true, false) => "OVER target",
        };
        println!(
            "  {page} ({} KB): wall median {:.1} ms, max {:.1} ms; CPU median {} ({})",
            body.len() / 1000,
            ms(wall[RUNS / 2]),
            ms(wall[RUNS - 1]),
            cpu_median.map_or("n/a".into(), |c| format!("{:.1} ms", ms(c))),
            verdict
        );
    }
}
