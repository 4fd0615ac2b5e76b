//! Crawl efficiency: how close a run comes to the schedule the rate limits
//! allow.
//!
//! N hosts (distinct loopback addresses 127.0.0.2, 127.0.0.3, …, each its
//! own server) each serve a listing of M pages chained by `next_page`,
//! answering after a latency L. Every host is one source, limited to R
//! requests per second. The ideal wall time is the slowest host's schedule:
//! M / R plus one latency. The run is the real pipeline (`run::run`: fetch,
//! extract, SQLite writes) on a fresh database.
//!
//! ```sh
//! cargo bench --bench crawl -- [--hosts 20] [--pages 10] [--rate 5] [--latency-ms 50] [--runs 3]
//! ```
//!
//! It prints each run's wall time beside the ideal, their ratio (target
//! ≤ 1.2), the smallest gap the servers saw between two requests to one host
//! (politeness is not traded for speed: it should be near 1/R, less only by
//! how much later one request arrived than the next), and the peak resident
//! memory of the process (servers included).

#[path = "support/http.rs"]
mod http;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leakwatch::config::Config;
use leakwatch::run::{self, RunOptions};
use tokio::io::AsyncWriteExt;

struct Params {
    hosts: usize,
    pages: usize,
    rate: u32,
    latency: Duration,
    runs: usize,
    concurrency: usize,
}

fn params() -> Params {
    let mut p = Params {
        hosts: 20,
        pages: 10,
        rate: 5,
        latency: Duration::from_millis(50),
        runs: 3,
        concurrency: 16,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || {
            args.get(i + 1)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--hosts" => p.hosts = value() as usize,
            "--pages" => p.pages = value() as usize,
            "--rate" => p.rate = value() as u32,
            "--latency-ms" => p.latency = Duration::from_millis(value()),
            "--runs" => p.runs = value() as usize,
            "--concurrency" => p.concurrency = value() as usize,
            // `cargo bench` passes `--bench`; nothing else is expected.
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}: use --hosts --pages --rate --latency-ms --runs --concurrency"),
        }
        i += 2;
    }
    assert!(p.hosts <= 250, "at most 250 hosts (127.0.0.2 … 127.0.0.251)");
    p
}

/// Request arrival times, per host.
type Log = Arc<Mutex<Vec<Vec<Instant>>>>;

/// Serves `/p/K`: one posting, and a link to `/p/K+1` while K < pages.
async fn serve(listener: tokio::net::TcpListener, host: usize, pages: usize, latency: Duration, log: Log) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let log = log.clone();
        tokio::spawn(async move {
            let Some(head) = http::read_head(&mut socket).await else {
                return;
            };
            log.lock().unwrap()[host].push(Instant::now());
            let page: usize = head
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.strip_prefix("/p/"))
                .and_then(|k| k.parse().ok())
                .unwrap_or(1);
            let next = if page < pages {
                format!("<a class=\"next\" href=\"/p/{}\">next</a>", page + 1)
            } else {
                String::new()
            };
            let body = format!(
                "<html><body><div class=\"post\"><h2>Victim {host}-{page}</h2><p>data</p></div>{next}</body></html>"
            );
            tokio::time::sleep(latency).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        });
    }
}

fn config_text(addrs: &[SocketAddr], p: &Params) -> String {
    let mut text = format!(
        "[database]\npath = \"bench.db\"\n\n[crawl]\nper_host_rate = \"{}/s\"\nconcurrency = {}\nretries = 0\n",
        p.rate, p.concurrency
    );
    for (i, a) in addrs.iter().enumerate() {
        text.push_str(&format!(
            "\n[[source]]\nname = \"host{i}\"\nkind = \"html\"\nurl = \"http://{a}/p/1\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\nbody = \"p\"\nnext_page = {{ selector = \"a.next\", attr = \"href\" }}\nmax_pages = {}\n",
            p.pages
        ));
    }
    text
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let p = params();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ideal = Duration::from_secs_f64(p.pages as f64 / p.rate as f64) + p.latency;
    println!(
        "crawl: {} hosts x {} pages, {}/s per host, {} ms latency; ideal {:.3} s (pages / rate + latency)",
        p.hosts,
        p.pages,
        p.rate,
        p.latency.as_millis(),
        ideal.as_secs_f64()
    );
    // What else bounds a run: a host's pages are fetched one after another
    // (the next link is on the page), and `concurrency` requests at most are
    // in flight, each taking a latency.
    let chained = p.latency * p.pages as u32;
    let slots = Duration::from_secs_f64((p.hosts * p.pages) as f64 * p.latency.as_secs_f64() / p.concurrency as f64);
    println!(
        "other bounds: pages chained one after another {:.3} s; {} requests in flight at most (crawl.concurrency) {:.3} s",
        chained.as_secs_f64(),
        p.concurrency,
        slots.as_secs_f64()
    );
    let mut ratios = Vec::new();
    for run_no in 1..=p.runs {
        let log: Log = Arc::new(Mutex::new(vec![Vec::new(); p.hosts]));
        let addrs: Vec<SocketAddr> = rt.block_on(async {
            let mut addrs = Vec::new();
            for h in 0..p.hosts {
                let ip = format!("127.0.0.{}", h + 2);
                let listener = tokio::net::TcpListener::bind((ip.as_str(), 0)).await.expect("bind");
                addrs.push(listener.local_addr().unwrap());
                tokio::spawn(serve(listener, h, p.pages, p.latency, log.clone()));
            }
            addrs
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("leakwatch.toml");
        std::fs::write(&path, config_text(&addrs, &p)).expect("write config");
        let config = Config::load(&path).expect("config");
        let started = Instant::now();
        let summary = rt.block_on(run::run(&config, &RunOptions::default())).expect("run");
        let wall = started.elapsed();
        assert_eq!(summary.counts.sources_failed, 0, "{:?}", summary.source_failures);
        assert_eq!(
            summary.counts.pages_fetched as usize,
            p.hosts * p.pages,
            "every page fetched"
        );
        // Gaps as the servers saw them: the limiter's spacing plus whatever
        // delays one request's arrival more than the next (connect, scheduling).
        let gaps: Vec<Vec<Duration>> = log
            .lock()
            .unwrap()
            .iter()
            .map(|times| times.windows(2).map(|w| w[1] - w[0]).collect())
            .collect();
        let first_gap = gaps.iter().filter_map(|g| g.first()).min().copied().unwrap_or_default();
        let later_gap = gaps
            .iter()
            .flat_map(|g| g.iter().skip(1))
            .min()
            .copied()
            .unwrap_or_default();
        let ratio = wall.as_secs_f64() / ideal.as_secs_f64();
        ratios.push(ratio);
        println!(
            "run {run_no}: wall {:.3} s, ideal {:.3} s, ratio {:.3}; smallest gap between two requests to one host: {:.1} ms after page 1, {:.1} ms after later pages (limiter spacing {:.1} ms); {} postings",
            wall.as_secs_f64(),
            ideal.as_secs_f64(),
            ratio,
            first_gap.as_secs_f64() * 1000.0,
            later_gap.as_secs_f64() * 1000.0,
            1000.0 / p.rate as f64,
            summary.counts.postings_new
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median ratio {:.3} (target <= 1.2); peak memory (VmHWM, servers included) {} KiB",
        ratios[ratios.len() / 2],
        peak_rss_kib().map_or("?".into(), |k| k.to_string())
    );
}
