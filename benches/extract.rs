//! Extraction throughput on the real leak-site captures, with every shipped
//! source definition: MB/s and postings/s over repeated rounds, then how the
//! time grows with page size (a flat listing repeated) and with nesting depth
//! (hostile input). `benches/extract.sh` runs this beside the BeautifulSoup
//! baseline (`benches/extract_baseline.py`) on the same pages.
//!
//! Run: `cargo bench --bench extract` (or `bash benches/extract.sh`).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leakwatch::config::{Config, Source};
use leakwatch::extract::{MAX_NESTING, extract, nesting_depth};
use url::Url;

/// (source, page folder, file name prefix): every page of the corpus that a
/// shipped definition reads.
const PAGES: &[(&str, &str, &str)] = &[
    ("8base", "8base", "8base-"),
    ("akira", "akira", "akira-"),
    ("babuk", "babuk", "babuk-"),
    ("bianlian", "bianlian", "bianlian-"),
    ("blacksuit", "blacksuit", "blacksuit-"),
    ("clop", "clop", "clop-"),
    ("crosslock", "crosslock", "crosslock-"),
    ("daixin", "daixin", "daixin-"),
    ("darkrace", "darkrace", "darkrace-"),
    ("fog", "fog", "FOG-"),
    ("lockbit3", "lockbit3", "LockBit3"),
    ("play", "play", "Play"),
    ("ransomhub", "ransomhub", "RansomHub"),
];

fn sources() -> Vec<Source> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sources");
    let text = format!(
        "include = [{:?}]\n[database]\npath = \"x.db\"\n",
        dir.display().to_string()
    );
    Config::parse(&dir.join("bench.toml"), &text)
        .expect("shipped sources")
        .sources
}

fn pages() -> Vec<(String, PathBuf, String)> {
    let mut out = Vec::new();
    for (source, dir, prefix) in PAGES {
        let mut files: Vec<PathBuf> = std::fs::read_dir(support::corpus().join("leaksites").join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .collect();
        files.sort();
        for f in files {
            let body = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            out.push((source.to_string(), f, body));
        }
    }
    out
}

fn main() {
    let sources = sources();
    let pages = pages();
    let source = |name: &str| sources.iter().find(|s| s.name == name).unwrap();
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(20);

    let bytes: usize = pages.iter().map(|(_, _, b)| b.len()).sum();
    let mut postings = 0usize;
    let mut per_source: Vec<(String, usize, usize, Duration)> = Vec::new();
    let start = Instant::now();
    let cpu_start = cpu_secs();
    for round in 0..rounds {
        for (name, _, body) in &pages {
            let s = source(name);
            let t = Instant::now();
            let x = extract(s, &s.url, body).expect("extracts");
            let took = t.elapsed();
            postings += x.postings.len();
            if round == 0 {
                match per_source.iter_mut().find(|e| &e.0 == name) {
                    Some(e) => {
                        e.1 += body.len();
                        e.2 += x.postings.len();
                    }
                    None => per_source.push((name.clone(), body.len(), x.postings.len(), Duration::ZERO)),
                }
            }
            per_source.iter_mut().find(|e| &e.0 == name).unwrap().3 += took;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    // The machine is shared: CPU time is what this process used, the fair
    // figure to compare; wall time is printed too.
    let secs = cpu_secs().map_or(wall, |c| c - cpu_start.unwrap_or(0.0)).max(1e-9);
    println!(
        "rust scraper: {} pages, {:.2} MB, {rounds} rounds",
        pages.len(),
        bytes as f64 / 1e6
    );
    println!(
        "{:<10} {:>9} {:>8} {:>10}",
        "source", "bytes", "postings", "ms/page-set"
    );
    for (name, b, p, d) in &per_source {
        println!(
            "{name:<10} {b:>9} {p:>8} {:>10.2}",
            d.as_secs_f64() * 1000.0 / rounds as f64
        );
    }
    println!(
        "TOTAL rust: {:.1} MB/s, {:.0} postings/s ({} postings per round, {:.1} ms CPU per round; wall {:.1} MB/s)",
        (bytes * rounds) as f64 / 1e6 / secs,
        postings as f64 / secs,
        postings / rounds,
        secs * 1000.0 / rounds as f64,
        (bytes * rounds) as f64 / 1e6 / wall
    );

    // The nesting guard is part of every extraction above; its own share:
    let (guard_ms, deepest) = time(|| pages.iter().map(|(_, _, b)| nesting_depth(b)).max().unwrap_or(0));
    println!(
        "nesting guard alone: {guard_ms:.2} ms per round ({:.1} ms/MB), deepest page {deepest} (limit {MAX_NESTING})",
        guard_ms / (bytes as f64 / 1e6)
    );

    scaling(&sources);
}

/// Time per MB as inputs grow. A flat listing (the RansomHub page's cards
/// repeated) should cost the same per MB at every size; nested items
/// (hostile) are shown to make any super-linear growth visible.
fn scaling(sources: &[Source]) {
    let hub = sources.iter().find(|s| s.name == "ransomhub").unwrap();
    let url = Url::parse("http://ransomhub.example.onion/").unwrap();
    let page = std::fs::read_to_string(support::corpus().join("leaksites/ransomhub/RansomHub.html")).unwrap();
    let (head, rest) = page.split_at(page.find("<div class=\"col-12 col-md-6 col-lg-4\">").unwrap());
    let tail_at = rest
        .rfind("</a>\n            </div>")
        .map(|i| i + "</a>\n            </div>".len())
        .unwrap();
    let (cards, tail) = rest.split_at(tail_at);
    println!("\nscaling, flat listing (RansomHub cards repeated):");
    println!("{:>6} {:>10} {:>9} {:>10}", "copies", "bytes", "postings", "ms/MB");
    for copies in [1, 2, 4, 8, 16] {
        let body = format!("{head}{}{tail}", cards.repeat(copies));
        let (ms, n) = time(|| extract(hub, &url, &body).unwrap().postings.len());
        println!(
            "{copies:>6} {:>10} {n:>9} {:>10.2}",
            body.len(),
            ms / (body.len() as f64 / 1e6)
        );
    }
    let generic = sources.iter().find(|s| s.name == "bianlian").unwrap();
    println!("\nscaling, nesting depth (hostile: <section class=list-item><h1 class=title>… never closed):");
    println!(
        "{:>6} {:>10} {:>9} {:>10} {:>14} {:>12}",
        "depth", "bytes", "postings", "ms/MB", "parse-only ms/MB", "guard ms/MB"
    );
    // `MAX_NESTING - 3`: with <main>, the last <h1> and <a>, exactly the limit.
    for depth in [250, 500, MAX_NESTING - 3, 2000, 4000, 90_000] {
        let body = format!(
            "<main class=list>{}</main>",
            "<section class=list-item><h1 class=title><a>x</a></h1>".repeat(depth)
        );
        let mb = body.len() as f64 / 1e6;
        let (guard_ms, found) = time(|| nesting_depth(&body));
        if found > MAX_NESTING {
            // Refused before parsing: only the guard's scan is paid.
            let refused = extract(generic, &url, &body).is_err();
            println!(
                "{depth:>6} {:>10} {:>9} {:>10} {:>14} {:>12.2}",
                body.len(),
                "-",
                if refused { "refused" } else { "ACCEPTED?" },
                "-",
                guard_ms / mb
            );
            continue;
        }
        let (ms, n) = time(|| extract(generic, &url, &body).unwrap().postings.len());
        let (parse_ms, _) = time(|| scraper::Html::parse_document(&body).tree.nodes().count());
        println!(
            "{depth:>6} {:>10} {n:>9} {:>10.2} {:>14.2} {:>12.2}",
            body.len(),
            ms / mb,
            parse_ms / mb,
            guard_ms / mb
        );
    }
    worst_accepted(generic, &url);
}

/// The most a page the guard accepts can cost: 5 MB of listing items, every
/// one of them under the deepest stack of open elements allowed, so each tag
/// the parser sees and each item the selectors test sits under ~1000 others.
fn worst_accepted(source: &Source, url: &Url) {
    let item = "<section class=list-item><h1 class=title><a href=/x>ACME</a></h1></section>";
    let open = "<div>".repeat(MAX_NESTING - 4);
    let items = item.repeat((5_000_000 - open.len()) / item.len());
    let body = format!("<main class=list>{open}{items}</main>");
    let (guard_ms, depth) = time(|| nesting_depth(&body));
    let (ms, n) = time(|| extract(source, url, &body).unwrap().postings.len());
    let (parse_ms, _) = time(|| scraper::Html::parse_document(&body).tree.nodes().count());
    println!(
        "\nworst accepted page: {} bytes, depth {depth} (limit {MAX_NESTING}), {n} postings: \
         extract {ms:.0} ms (guard scan {guard_ms:.0} ms), parse alone {parse_ms:.0} ms",
        body.len()
    );
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`,
/// in clock ticks of 1/100 s), `None` elsewhere.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Median of a few runs, in ms, and the last result.
fn time(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut runs = Vec::new();
    let mut n = 0;
    for _ in 0..5 {
        let t = Instant::now();
        n = f();
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    runs.sort_by(f64::total_cmp);
    (runs[2], n)
}
