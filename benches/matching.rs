//! Matching throughput: the watch-list matcher over every posting title of
//! the real ransomlook sample (repeated to ≥ 100 MB of text), with 1 000,
//! 10 000 and 100 000 watch entries — victim names from the same sample plus
//! generated supplier names — beside a naive baseline that searches each
//! term separately. Also the index build time and its heap, counted by a
//! counting global allocator.
//!
//! Run: `cargo bench --bench matching` (corpus from `$LEAKWATCH_CORPUS`, else
//! `../shared/corpus` or `/work/shared/corpus`).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use leakwatch::extract::Posting;
use leakwatch::watch::{EntryKind, Matcher, WatchEntry};

/// The system allocator, counting bytes held now and at most.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if new > layout.size() {
            let now = HELD.fetch_add(new - layout.size(), Ordering::Relaxed) + new - layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            HELD.fetch_sub(layout.size() - new, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const TARGET_BYTES: usize = 100 * 1024 * 1024;

fn titles() -> Vec<String> {
    let file = support::corpus().join("posts/ransomlook_sample_posts_2022-08.json");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let posts: Vec<serde_json::Value> = serde_json::from_str(&text).expect("posts JSON");
    posts
        .iter()
        .filter_map(|p| p["post_title"].as_str())
        .map(str::to_owned)
        .collect()
}

/// Deterministic xorshift, so every run matches the same names.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }
}

const SYLLABLES: &[&str] = &[
    "kor", "va", "ni", "tel", "dex", "ab", "ro", "lin", "mar", "quo", "sen", "tri", "vel", "zu", "pha", "gor", "mi",
    "stra", "lo", "ben", "cas", "dri", "fen", "hal", "jup", "kel", "nor", "pel", "ryn", "sol", "tav", "wex",
];
const FORMS: &[&str] = &["", "", " GmbH", " Inc.", " Ltd", " S.A.", " LLC", " AG", " B.V."];
const SECOND: &[&str] = &[
    "",
    "",
    "",
    " Logistics",
    " Medical",
    " Systems",
    " Foods",
    " Partners",
    " Holding",
    " Engineering",
];

fn generated(rng: &mut Rng) -> WatchEntry {
    let word = |rng: &mut Rng| {
        let n = 2 + rng.next() % 3;
        let w: String = (0..n).map(|_| SYLLABLES[rng.next() % SYLLABLES.len()]).collect();
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    let first = word(rng);
    let name = format!(
        "{first}{}{}",
        SECOND[rng.next() % SECOND.len()],
        FORMS[rng.next() % FORMS.len()]
    );
    let mut e = WatchEntry::new(&name, EntryKind::Supplier);
    if rng.next().is_multiple_of(2) {
        e.domains.push(format!("{}.com", first.to_lowercase()));
    }
    if rng.next().is_multiple_of(4) {
        e.aliases.push(format!("{first} Group"));
    }
    e
}

/// `n` entries: the sample's victim names first (deduplicated), then
/// generated ones. With no victims: generated names only, the usual case of
/// a supplier list that few postings name.
fn entries(n: usize, victims: &[String]) -> Vec<WatchEntry> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<WatchEntry> = Vec::with_capacity(n);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let real = victims
        .iter()
        .map(|t| leakwatch::text::clean(t))
        .filter(|t| !t.is_empty());
    for name in real {
        if out.len() == n {
            break;
        }
        if seen.insert(leakwatch::text::normalize(&name)) {
            out.push(WatchEntry::new(&name, EntryKind::Supplier));
        }
    }
    while out.len() < n {
        let e = generated(&mut rng);
        if seen.insert(leakwatch::text::normalize(&e.name)) {
            out.push(e);
        }
    }
    for (i, e) in out.iter_mut().enumerate() {
        e.id = i as i64 + 1;
    }
    out
}

fn posting(title: &str) -> Posting {
    Posting {
        source: "bench".into(),
        key: String::new(),
        title: title.into(),
        link: None,
        posted_at: None,
        body: String::new(),
        victim: String::new(),
        masked: false,
        truncated: false,
        facts: Default::default(),
    }
}

/// The baseline: normalize, then search for every term on its own, whole words.
fn naive_count(patterns: &[String], posting: &Posting) -> usize {
    let norm = leakwatch::text::normalize(&posting.title);
    let b = norm.as_bytes();
    patterns
        .iter()
        .filter(|p| {
            norm.match_indices(p.as_str()).any(|(s, _)| {
                let e = s + p.len();
                (s == 0 || b[s - 1] == b' ') && (e == b.len() || b[e] == b' ')
            })
        })
        .count()
}

/// Seconds this thread has run on a CPU (Linux `/proc/thread-self/schedstat`),
/// so a loaded machine — other builds sharing the cores — does not count
/// against the matcher. None where that file does not exist.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Wall and CPU seconds `f` took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (c, t) = (cpu_secs(), Instant::now());
    let out = f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_secs().zip(c).map_or(wall, |(b, a)| b - a);
    (out, wall, cpu)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let victims = titles();
    let postings: Vec<Posting> = victims.iter().map(|t| posting(t)).collect();
    let pass_bytes: usize = postings.iter().map(|p| p.title.len()).sum();
    let repeats = TARGET_BYTES.div_ceil(pass_bytes);
    println!(
        "corpus: {} postings, {:.2} MB of titles per pass; {} passes = {:.1} MB, {} postings per measurement",
        postings.len(),
        mb(pass_bytes),
        repeats,
        mb(pass_bytes * repeats),
        postings.len() * repeats
    );
    // Normalization alone, the floor under any matcher on this text.
    let (_, _, norm_cpu) = timed(|| {
        let (mut out, mut offsets) = (String::new(), Vec::new());
        for _ in 0..repeats {
            for p in &postings {
                leakwatch::text::normalize_reusing(&p.title, &mut out, &mut offsets);
                std::hint::black_box(&out);
            }
        }
    });
    println!(
        "normalization alone (with offsets): {:.1} MB/s CPU",
        mb(pass_bytes * repeats) / norm_cpu
    );
    println!(
        "{:>7} | {:>8} {:>7} | {:>7} {:>7} {:>10} {:>6} | {:>8} {:>10} {:>5} | {:>7}",
        "entries",
        "build ms",
        "heap MB",
        "MB/s",
        "cpu MB/s",
        "cpu post/s",
        "hits",
        "naive MB/s",
        "naive p/s",
        "slice",
        "speedup"
    );
    let none: Vec<String> = Vec::new();
    let runs = [
        (1_000, &victims, ""),
        (10_000, &victims, ""),
        (100_000, &victims, ""),
        (100_000, &none, " generated names only"),
    ];
    for (n, names, what) in runs {
        let list = entries(n, names);
        let before = HELD.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let (matcher, _, build_cpu) = timed(|| Matcher::new(&list));
        let held = HELD.load(Ordering::Relaxed) - before;
        let peak = PEAK.load(Ordering::Relaxed) - before;

        // Warm the per-thread buffers, then measure end to end (normalization included).
        let hits: usize = postings.iter().map(|p| matcher.find(p).len()).sum();
        let (total_hits, wall, cpu) = timed(|| {
            let mut total = 0usize;
            for _ in 0..repeats {
                for p in &postings {
                    total += std::hint::black_box(matcher.find(p)).len();
                }
            }
            total
        });
        let bytes = mb(pass_bytes * repeats);

        // The naive baseline on a slice small enough to finish, extrapolated by rate.
        let patterns: Vec<String> = matcher.patterns().map(str::to_owned).collect();
        let slice = (2_000_000 / patterns.len()).clamp(50, postings.len());
        let (naive_hits, _, naive_cpu) = timed(|| {
            postings[..slice]
                .iter()
                .map(|p| naive_count(&patterns, p))
                .sum::<usize>()
        });
        std::hint::black_box(naive_hits);
        let slice_bytes: usize = postings[..slice].iter().map(|p| p.title.len()).sum();
        let naive_rate = mb(slice_bytes) / naive_cpu;
        println!(
            "{:>7} | {:>8.0} {:>7.1} | {:>7.1} {:>7.1} {:>10.0} {:>6} | {:>8.3} {:>10.0} {:>5} | {:>6.0}×",
            n,
            build_cpu * 1000.0,
            mb(held),
            bytes / wall,
            bytes / cpu,
            (postings.len() * repeats) as f64 / cpu,
            hits,
            naive_rate,
            slice as f64 / naive_cpu,
            slice,
            (bytes / cpu) / naive_rate
        );
        println!(
            "        |{what} build peak heap {:.1} MB; {} terms; {} hits over the measured passes; {:.1} s wall, {:.1} s CPU",
            mb(peak),
            patterns.len(),
            total_hits,
            wall,
            cpu
        );
        drop(matcher);
    }
    println!(
        "build ms: CPU time; heap MB: bytes the built matcher holds; MB/s: wall clock, cpu MB/s and post/s: CPU time of the matching thread; hits: per pass;\n\
         naive: each term searched separately (normalize + str::match_indices per term) over the first `slice` postings, CPU time, rate extrapolated; speedup: cpu MB/s over naive MB/s"
    );
}
