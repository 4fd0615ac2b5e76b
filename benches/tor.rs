//! A Tor-scale crawl: many onion sources through one SOCKS5 proxy that is
//! as slow and as flaky as Tor.
//!
//! S sources, each its own `.onion` host, all reached through one loopback
//! SOCKS5 proxy (fast-socks5's server protocol) that holds every CONNECT for
//! a random 1–4 s — a circuit being built — and then fails 10 % of them;
//! the rest are relayed to one loopback HTTP server that answers each host
//! with a one-posting listing. The run is the real pipeline (`run::run`:
//! per-source circuits, retries, SQLite writes) on a fresh database.
//!
//! Time is compressed by `--scale` (default 20) so the benchmark takes
//! about a minute and a half: latencies are 1–4 s / scale, the per-host rate
//! 1/s × scale and the first retry delay 500 ms / scale; ratios are what a
//! real run would show. Both crawls are run: leakwatch's, `--concurrency`
//! requests in flight, and sequential (one source after another, as the
//! trackers crawl).
//!
//! ```sh
//! cargo bench --bench tor -- [--sources 500] [--concurrency 64] [--scale 20] [--fail-percent 10] [--auth 1] [--sequential 1]
//! ```
//!
//! It prints each crawl's wall time beside the ideal schedule — the larger
//! of all connection time spread over the slots, and the slowest source's own
//! chain (its tries' latencies, and between them the retry delay or its
//! host's rate, whichever is longer) — the peak resident memory after the
//! concurrent crawl (VmHWM, proxy and server included), and the smallest gap
//! the proxy saw between two connections to one host beside the rate.

#[path = "support/http.rs"]
mod http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fast_socks5::server::Socks5ServerProtocol;
use fast_socks5::util::target_addr::TargetAddr;
use fast_socks5::{ReplyError, Socks5Command};
use leakwatch::config::Config;
use leakwatch::run::{self, RunOptions};
use tokio::io::AsyncWriteExt;

struct Params {
    sources: usize,
    concurrency: usize,
    scale: u32,
    fail_percent: u64,
    /// The proxy asks for SOCKS credentials (per-source circuits); 0 offers
    /// no authentication, so every source shares one client.
    auth: bool,
    sequential: bool,
}

fn params() -> Params {
    let mut p = Params {
        sources: 500,
        concurrency: 64,
        scale: 20,
        fail_percent: 10,
        auth: true,
        sequential: true,
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
            "--sources" => p.sources = value() as usize,
            "--concurrency" => p.concurrency = value() as usize,
            "--scale" => p.scale = value() as u32,
            "--fail-percent" => p.fail_percent = value(),
            "--auth" => p.auth = value() != 0,
            "--sequential" => p.sequential = value() != 0,
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!(
                "unknown argument {other}: use --sources --concurrency --scale --fail-percent --auth 0|1 --sequential 0|1"
            ),
        }
        i += 2;
    }
    p
}

/// One CONNECT as the proxy handled it.
#[derive(Clone)]
struct Connection {
    host: String,
    at: Instant,
    latency: Duration,
    failed: bool,
}

type Log = Arc<Mutex<Vec<Connection>>>;

/// A small deterministic generator (splitmix64), one draw per connection.
fn draw(counter: &AtomicU64) -> u64 {
    let mut z = counter.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

async fn proxy(listener: tokio::net::TcpListener, upstream: SocketAddr, p: Arc<Params>, log: Log) {
    let counter = Arc::new(AtomicU64::new(42));
    while let Ok((socket, _)) = listener.accept().await {
        let (p, log, counter) = (p.clone(), log.clone(), counter.clone());
        tokio::spawn(async move {
            let greeted = if p.auth {
                Socks5ServerProtocol::accept_password_auth(socket, |_, _| true)
                    .await
                    .map(|(proto, _)| proto)
            } else {
                Socks5ServerProtocol::accept_no_auth(socket).await
            };
            let Ok(proto) = greeted else {
                return;
            };
            let Ok((proto, cmd, target)) = proto.read_command().await else {
                return;
            };
            let r = draw(&counter);
            // 1–4 s, scaled: a circuit being built.
            let latency = Duration::from_millis(1000 + r % 3001) / p.scale;
            let failed = (r >> 32) % 100 < p.fail_percent;
            let host = match &target {
                TargetAddr::Domain(h, _) => h.clone(),
                TargetAddr::Ip(a) => a.to_string(),
            };
            log.lock().unwrap().push(Connection {
                host,
                at: Instant::now(),
                latency,
                failed,
            });
            tokio::time::sleep(latency).await;
            if failed || cmd != Socks5Command::TCPConnect {
                let _ = proto.reply_error(&ReplyError::HostUnreachable).await;
                return;
            }
            let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                return;
            };
            let Ok(mut inbound) = proto.reply_success(outbound.local_addr().unwrap()).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}

/// Answers every request with a one-posting listing naming its host.
async fn site(listener: tokio::net::TcpListener) {
    while let Ok((mut socket, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Some(head) = http::read_head(&mut socket).await else {
                return;
            };
            let host = head
                .lines()
                .find_map(|l| l.strip_prefix("host: ").or_else(|| l.strip_prefix("Host: ")))
                .unwrap_or("?")
                .to_owned();
            let body =
                format!("<html><body><div class=\"post\"><h2>Victim of {host}</h2><p>data</p></div></body></html>");
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        });
    }
}

fn config_text(proxy: SocketAddr, p: &Params, concurrency: usize) -> String {
    let mut text = format!(
        "[database]\npath = \"bench.db\"\n\n[crawl]\nper_host_rate = \"{}/s\"\nconcurrency = {concurrency}\nretries = 3\ntor_proxy = \"socks5h://{proxy}\"\n",
        p.scale
    );
    for i in 0..p.sources {
        text.push_str(&format!(
            "\n[[source]]\nname = \"s{i}\"\nkind = \"html\"\nurl = \"http://leaksite{i:04}{}.onion/\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\n",
            "x".repeat(44)
        ));
    }
    text
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The best a crawl with `slots` requests in flight could do with the
/// connections the proxy actually handed out.
fn ideal(log: &[Connection], slots: usize, p: &Params) -> (Duration, Duration, Duration) {
    let busy: Duration = log.iter().map(|c| c.latency).sum();
    let spread = busy / slots as u32;
    let rate_gap = Duration::from_secs(1) / p.scale;
    let base = Duration::from_millis(500) / p.scale;
    let mut chains: HashMap<&str, (Duration, u32)> = HashMap::new();
    for c in log {
        let (chain, tries) = chains.entry(c.host.as_str()).or_default();
        if *tries > 0 {
            *chain += rate_gap.max(base * 2u32.pow(*tries - 1));
        }
        *chain += c.latency;
        *tries += 1;
    }
    let longest = chains.values().map(|(d, _)| *d).max().unwrap_or_default();
    (spread.max(longest), spread, longest)
}

fn main() {
    let p = Arc::new(params());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "tor: {} onion sources through one SOCKS5 proxy, latency 1-4 s, {} % of connections fail, retries 3; time scaled 1/{} (latency {}-{} ms, rate {}/s per host, first retry {} ms)",
        p.sources,
        p.fail_percent,
        p.scale,
        1000 / p.scale,
        4000 / p.scale,
        p.scale,
        500 / p.scale
    );
    let crawls = [("leakwatch", p.concurrency), ("sequential", 1)];
    for (what, slots) in crawls.into_iter().filter(|(_, slots)| p.sequential || *slots > 1) {
        let log: Log = Arc::default();
        let proxy_addr = rt.block_on(async {
            let site_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let upstream = site_listener.local_addr().unwrap();
            tokio::spawn(site(site_listener));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().unwrap();
            tokio::spawn(proxy(listener, upstream, p.clone(), log.clone()));
            addr
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("leakwatch.toml");
        std::fs::write(&path, config_text(proxy_addr, &p, slots)).expect("write config");
        let config = Config::load(&path).expect("config");
        let opts = RunOptions {
            retry_base: Some(Duration::from_millis(500) / p.scale),
            ..RunOptions::default()
        };
        let started = Instant::now();
        let summary = rt.block_on(run::run(&config, &opts)).expect("run");
        let wall = started.elapsed();
        let log = log.lock().unwrap().clone();
        let (best, spread, longest) = ideal(&log, slots, &p);
        let failed = log.iter().filter(|c| c.failed).count();
        let mut by_host: HashMap<&str, Vec<Instant>> = HashMap::new();
        for c in &log {
            by_host.entry(c.host.as_str()).or_default().push(c.at);
        }
        let min_gap = by_host
            .values()
            .flat_map(|t| t.windows(2).map(|w| w[1] - w[0]))
            .min()
            .unwrap_or_default();
        println!(
            "{what} ({slots} in flight): wall {:.2} s, ideal {:.2} s (connection time / slots {:.2} s, slowest source's chain {:.2} s), ratio {:.3}; {} connections, {failed} failed; sources ok {}, failed {}; smallest gap between two connections to one host {:.1} ms (rate spacing {:.1} ms)",
            wall.as_secs_f64(),
            best.as_secs_f64(),
            spread.as_secs_f64(),
            longest.as_secs_f64(),
            wall.as_secs_f64() / best.as_secs_f64(),
            log.len(),
            summary.counts.sources_ok,
            summary.counts.sources_failed,
            min_gap.as_secs_f64() * 1000.0,
            1000.0 / p.scale as f64
        );
        if slots > 1 {
            println!(
                "peak memory after the concurrent crawl (VmHWM, proxy and server included): {} KiB",
                peak_rss_kib().map_or("?".into(), |k| k.to_string())
            );
        }
    }
}
