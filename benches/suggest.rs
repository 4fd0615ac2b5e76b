//! `source suggest` speed on real ~200 KB listing pages (target: under
//! 50 ms a page). Prints the median and slowest of repeated runs per page.
//!
//! cargo bench --bench suggest

use std::path::Path;
use std::time::{Duration, Instant};

const PAGES: &[&str] = &[
    "ransomhub/RansomHub.html",
    "8base/8base-basemmnnqwxevlymli5bs36o5ynti55xojzvn246spahniugwkff2pad.html",
];
const RUNS: usize = 30;
const TARGET: Duration = Duration::from_millis(50);

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = ["../shared/corpus/leaksites", "../../shared/corpus/leaksites"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.is_dir())
        .expect("the real corpus: shared/corpus/leaksites beside the checkout");
    println!("suggest: {RUNS} runs per page, target {} ms", TARGET.as_millis());
    for page in PAGES {
        let body = std::fs::read_to_string(corpus.join(page)).expect("corpus page");
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let best = leakwatch::suggest::suggest(&body).expect("a suggestion");
                std::hint::black_box(best);
                start.elapsed()
            })
            .collect();
        times.sort();
        let median = times[RUNS / 2];
        println!(
            "  {page} ({} KB): median {:.1} ms, max {:.1} ms ({})",
            body.len() / 1000,
            median.as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3,
            if median < TARGET { "under target" } else { "OVER target" }
        );
    }
}
