//! Run throughput: a big first crawl, then the same crawl again, against a
//! bare parse-and-insert in Python — and the backfill of a big new watch list.
//!
//! A loopback server serves one JSON source of N postings (the ransomwatch
//! `posts.json` shape: `post_title`, `group_name`, `discovered`, plus a
//! `description`), titles taken from the real ransomlook sample and numbered
//! to stay distinct. The watch list holds E entries: generated supplier names
//! and a hundred of the sample's victims, so a few thousand postings hit and
//! reach the outbox. In one process, one after another:
//!
//! 1. `benches/run_baseline.py`: fetch, `json.load`, `executemany` into a
//!    fresh database with leakwatch's schema (the reference);
//! 2. `run::run` on a fresh database (first crawl);
//! 3. `run::run` again, the source unchanged (no validators are served, so
//!    every posting is fetched, extracted and compared again).
//!
//! It prints wall and CPU time of each, their ratios, leakwatch's time per
//! stage ([`leakwatch::run::StageTimes`]), the parse of the body alone, and the
//! peak resident memory (VmHWM of the process from the first run on, the
//! server and its copy of the body included; what the bench's own setup
//! freed is handed back to the system first, with `malloc_trim`).
//!
//! ```sh
//! cargo bench --bench run -- [--postings 200000] [--entries 50000] [--runs 2]
//! cargo bench --bench run -- --backfill [--stored 1000000] [--entries 100000]
//! ```

#[path = "support/http.rs"]
mod http;
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use leakwatch::config::Config;
use leakwatch::run::{self, RunOptions, RunSummary};
use leakwatch::store::Store;
use leakwatch::watch::{EntryKind, WatchEntry};
use tokio::io::AsyncWriteExt;

struct Params {
    postings: usize,
    entries: usize,
    runs: usize,
    backfill: bool,
    stored: usize,
}

fn params() -> Params {
    let mut p = Params {
        postings: 200_000,
        entries: 50_000,
        runs: 2,
        backfill: false,
        stored: 1_000_000,
    };
    let mut entries = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || {
            args.get(i + 1)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--postings" => p.postings = value(),
            "--entries" => entries = Some(value()),
            "--runs" => p.runs = value(),
            "--stored" => p.stored = value(),
            "--backfill" => {
                p.backfill = true;
                i += 1;
                continue;
            }
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}: use --postings --entries --runs --backfill --stored"),
        }
        i += 2;
    }
    p.entries = entries.unwrap_or(if p.backfill { 100_000 } else { 50_000 });
    p
}

/// The sample's titles, the seed of every generated posting.
fn sample_titles() -> Vec<String> {
    let path = support::corpus().join("posts/ransomlook_sample_posts_2022-08.json");
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&path).expect("sample posts")).expect("sample JSON");
    // Distinct as leakwatch keys them, so every generated posting is new.
    let mut seen = std::collections::HashSet::new();
    items
        .iter()
        .filter_map(|i| i["post_title"].as_str())
        .filter(|t| !t.trim().is_empty() && seen.insert(leakwatch::text::normalize(t)))
        .map(str::to_owned)
        .collect()
}

/// Title `i`: a sample title, numbered from its second use on.
fn title(titles: &[String], i: usize) -> String {
    let (t, round) = (&titles[i % titles.len()], i / titles.len());
    if round == 0 { t.clone() } else { format!("{t} r{round}") }
}

fn body(titles: &[String], n: usize) -> Vec<u8> {
    // Titles distinct as leakwatch keys them (a numbered one may meet a
    // sample title, "X r2"): a repeated key would read as a change every run.
    let mut seen = std::collections::HashSet::new();
    let items: Vec<serde_json::Value> = (0..)
        .map(|i| (i, title(titles, i)))
        .filter(|(_, t)| seen.insert(leakwatch::text::normalize(&leakwatch::extract::decode_entities(t))))
        .take(n)
        .map(|(i, t)| {
            serde_json::json!({
                "post_title": t,
                "group_name": (["lockbit3", "alphv", "clop", "play"][i % 4]),
                "discovered": format!("2024-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", 1 + i % 12, 1 + i % 28, i % 24, i % 60, (i / 60) % 60, i % 999_999),
                "description": format!("Leaked data of {t}: {} GB of contracts, HR and finance files. Publication soon.", 10 + i % 500),
            })
        })
        .collect();
    serde_json::to_vec(&items).expect("serialize")
}

/// A deterministic generator for supplier names (no crate needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as usize
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "vex", "tor", "mi", "ran", "qua", "zen", "bri", "dal", "fen", "gor", "hal", "jun", "kel", "mor", "nex",
    "pra", "sul", "tev", "ul", "vor", "wyn", "xan", "yel", "zor",
];
const SECOND: &[&str] = &[
    " Logistics",
    " Systems",
    " Health",
    " Foods",
    " Energy",
    " Partners",
    "",
];
const FORMS: &[&str] = &[" GmbH", " Ltd", " Inc", " SA", " BV", " AB", ""];

/// `n` watch entries: every 57th sample title, then generated names.
fn entries(titles: &[String], n: usize) -> Vec<WatchEntry> {
    let mut names = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    for t in titles.iter().step_by(57).take(100) {
        if names.insert(t.to_lowercase()) {
            out.push(WatchEntry::new(t, EntryKind::Supplier));
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    while out.len() < n {
        let word = |rng: &mut Rng| {
            let w: String = (0..2 + rng.next() % 3)
                .map(|_| SYLLABLES[rng.next() % SYLLABLES.len()])
                .collect();
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        };
        let first = word(&mut rng);
        let name = format!(
            "{first}{}{}",
            SECOND[rng.next() % SECOND.len()],
            FORMS[rng.next() % FORMS.len()]
        );
        if names.insert(name.to_lowercase()) {
            let mut e = WatchEntry::new(&name, EntryKind::Supplier);
            if rng.next().is_multiple_of(2) {
                e.domains.push(format!("{}.com", first.to_lowercase()));
            }
            out.push(e);
        }
    }
    out
}

/// Serves `body` as JSON on every request.
async fn serve(listener: tokio::net::TcpListener, body: Arc<Vec<u8>>) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let body = body.clone();
        tokio::spawn(async move {
            if http::read_head(&mut socket).await.is_none() {
                return;
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        });
    }
}

fn config_text(addr: SocketAddr) -> String {
    format!(
        "[database]\npath = \"bench.db\"\n\n[crawl]\nper_host_rate = \"100/s\"\nretries = 0\nmax_body_bytes = 500000000\ntimeout_secs = 300\n\n\
         [notify]\nrecipients = [\"soc@example.invalid\"]\n\n\
         [[source]]\nname = \"posts\"\nkind = \"json\"\nurl = \"http://{addr}/posts.json\"\n\
         [source.json]\nitems = \"\"\ntitle = \"/post_title\"\ndate = \"/discovered\"\nbody = \"/description\"\n"
    )
}

/// User and system CPU seconds of this process, and of its waited-for children.
fn cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let f: Vec<f64> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // Fields 14-17 (utime stime cutime cstime), counted after the `)` from field 3; clock ticks of 10 ms.
    ((f[11] + f[12]) / 100.0, (f[13] + f[14]) / 100.0)
}

/// `VmHWM` (the peak) or `VmRSS` (now) of this process, in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0)
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

struct Timed {
    wall: f64,
    cpu: f64,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Timed) {
    let (cpu0, child0) = cpu();
    let start = Instant::now();
    let out = f();
    let wall = start.elapsed().as_secs_f64();
    let (cpu1, child1) = cpu();
    (
        out,
        Timed {
            wall,
            cpu: (cpu1 - cpu0) + (child1 - child0),
        },
    )
}

fn python(url: &str, db: &std::path::Path) -> usize {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(root.join("benches/run_baseline.py"))
        .arg(url)
        .arg(db)
        .arg(root.join("schema.sql"))
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a count")
}

fn leakwatch(rt: &tokio::runtime::Runtime, config: &Config) -> RunSummary {
    let summary = rt.block_on(run::run(config, &RunOptions::default())).expect("run");
    assert_eq!(summary.counts.sources_failed, 0, "{:?}", summary.source_failures);
    summary
}

fn stages_line(s: &RunSummary) -> String {
    format!("    stages: {}", s.stages.line())
}

fn crawl(p: &Params, titles: &[String]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let body = Arc::new(body(titles, p.postings));
    let (_, parse) = timed(|| serde_json::from_slice::<serde_json::Value>(&body).expect("JSON"));
    println!(
        "run: {} postings ({:.1} MB of JSON), {} watch entries; body parsed alone (serde_json::Value) in {:.0} ms",
        p.postings,
        body.len() as f64 / 1e6,
        p.entries,
        parse.wall * 1000.0
    );
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, body.clone()));
        addr
    });
    let url = format!("http://{addr}/posts.json");
    let entries = entries(titles, p.entries);
    let mut firsts = Vec::new();
    let mut seconds = Vec::new();
    for run_no in 1..=p.runs {
        let dir = tempfile::tempdir().expect("temp dir");
        let (stored, py) = timed(|| python(&url, &dir.path().join("python.db")));
        assert_eq!(stored, p.postings);
        let path = dir.path().join("leakwatch.toml");
        std::fs::write(&path, config_text(addr)).expect("write config");
        let config = Config::load(&path).expect("config");
        Store::open(&config.database)
            .expect("database")
            .import_entries(&entries, false, "bench")
            .expect("entries");
        // Entries imported before the first crawl would be backfilled against
        // nothing; a run marks them done.
        run::backfill_now(&config).expect("backfill");
        // What the bench itself freed (the body parsed alone, the generated
        // entries) goes back to the system first, and the peak from here on
        // is the runs' (and the server's copy of the body).
        // SAFETY: malloc_trim only hands free memory back; nothing is in use.
        unsafe { libc::malloc_trim(0) };
        let before = rss_mib();
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let (first, t1) = timed(|| leakwatch(&rt, &config));
        let (second, t2) = timed(|| leakwatch(&rt, &config));
        println!("round {run_no}: resident before the runs {before:.0} MiB (the server's body included)");
        println!("  python parse-and-insert: wall {:.2} s, CPU {:.2} s", py.wall, py.cpu);
        println!(
            "  leakwatch first crawl:   wall {:.2} s, CPU {:.2} s ({:.2}x python wall, {:.2}x CPU); {} new, {} matches",
            t1.wall,
            t1.cpu,
            t1.wall / py.wall,
            t1.cpu / py.cpu,
            first.counts.postings_new,
            first.counts.matches
        );
        println!("{}", stages_line(&first));
        println!(
            "  leakwatch second crawl:  wall {:.2} s, CPU {:.2} s ({:.2}x the first, wall); {} new, {} changed",
            t2.wall,
            t2.cpu,
            t2.wall / t1.wall,
            second.counts.postings_new,
            second.counts.postings_changed
        );
        println!("{}", stages_line(&second));
        firsts.push(t1.wall / py.wall);
        seconds.push(t2.wall / t1.wall);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "median: first crawl {:.2}x python (target <= 1.0); second crawl {:.2}x the first (target <= 0.3); peak memory (VmHWM, server and its {:.0} MB body included) {:.0} MiB (target < 400)",
        median(&mut firsts),
        median(&mut seconds),
        body.len() as f64 / 1e6,
        peak_rss_mib()
    );
}

fn backfill(p: &Params, titles: &[String]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leakwatch.toml");
    std::fs::write(&path, config_text("127.0.0.1:9".parse().unwrap())).expect("write config");
    let config = Config::load(&path).expect("config");
    let (_, fill) = timed(|| {
        let store = Store::open(&config.database).expect("database");
        drop(store);
        let mut conn = rusqlite::Connection::open(&config.database).expect("database");
        let tx = conn.transaction().expect("transaction");
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO posting (source, key, victim, title, posted_at, body, first_seen_at, first_run_id)
                     VALUES ('posts', ?1, ?2, ?3, '2024-01-01T00:00:00Z', ?4, '2024-01-01T00:00:00Z', 1)",
                )
                .expect("prepare");
            for i in 0..p.stored {
                let t = title(titles, i);
                let body = format!("Leaked data of {t}: {} GB. Publication soon.", 10 + i % 500);
                insert
                    .execute(rusqlite::params![
                        leakwatch::extract::posting_key(&t, None),
                        leakwatch::extract::victim_key(&t),
                        t,
                        body
                    ])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
        Store::open(&config.database)
            .expect("database")
            .import_entries(&entries(titles, p.entries), false, "bench")
            .expect("entries");
    });
    let (matches, t) = timed(|| run::backfill_now(&config).expect("backfill"));
    println!(
        "backfill: {} new entries against {} stored postings (set up in {:.1} s): wall {:.2} s, CPU {:.2} s (target < 30 s CPU); {} matches; peak memory {:.0} MiB",
        p.entries,
        p.stored,
        fill.wall,
        t.wall,
        t.cpu,
        matches,
        peak_rss_mib()
    );
}

fn main() {
    let p = params();
    let titles = sample_titles();
    match p.backfill {
        true => backfill(&p, &titles),
        false => crawl(&p, &titles),
    }
}
