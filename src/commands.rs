//! What each CLI command does, between parsed arguments (`main.rs`) and the
//! pipeline stages. Output that carries posting text goes through
//! [`text::clean`] so a hostile page cannot send escape sequences to the
//! analyst's terminal.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, ConfigError, Extractor};
use crate::run::{self, RunError, RunOptions};
use crate::store::{Store, StoreError};
use crate::text;
use crate::watch::{self, WatchEntry};

/// How a command that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0
    Success,
    /// 1: the command ran and found problems (`check`, `source test` finding nothing).
    Problems,
    /// 3: the run finished, but a source or a delivery failed.
    Partial,
}

/// Output formats of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Other(String),
}

impl CommandError {
    /// 75 when another run holds the lock, 2 for usage errors, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Run(RunError::Lock(crate::lock::LockError::Held { .. })) => 75,
            CommandError::Usage(_) => 2,
            _ => 1,
        }
    }
}

type Result<T> = std::result::Result<T, CommandError>;

/// Logs go to stderr; quiet (warnings only) unless asked, `RUST_LOG` wins.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("leakwatch={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Other(format!("cannot start the async runtime: {e}")))
}

/// `--config`, else `$LEAKWATCH_CONFIG`, else `./leakwatch.toml`.
pub fn config_path(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| {
            std::env::var_os("LEAKWATCH_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("leakwatch.toml"))
}

fn load(config: Option<PathBuf>) -> Result<Config> {
    Ok(Config::load(&config_path(config))?)
}

fn open_store(config: &Config) -> Result<Store> {
    Ok(Store::open(&config.database)?)
}

pub fn demo() -> Result<Exit> {
    let report = runtime()?
        .block_on(crate::demo::demo(Path::new("demo-outbox")))
        .map_err(CommandError::Other)?;
    let c1 = &report.first.counts;
    let c2 = &report.second.counts;
    println!("leakwatch demo: 2 sources served on loopback (a made-up leak site over 2 pages, a vendor advisory feed)");
    println!(
        "  run 1: {} pages, {} postings new, {} matches, {} emails written",
        c1.pages_fetched, c1.postings_new, c1.matches, c1.emails_sent
    );
    println!(
        "  run 2: {} pages, {} postings new, {} matches, {} emails written (nothing new, nothing sent twice)",
        c2.pages_fetched, c2.postings_new, c2.matches, c2.emails_sent
    );
    println!("  postings stored: {}", report.postings);
    println!("  emails in {}:", report.outbox.display());
    for e in &report.emails {
        println!("    {}", e.display());
    }
    let ok = report.first.all_ok() && report.second.all_ok() && c1.emails_sent > 0 && c2.emails_sent == 0;
    Ok(if ok { Exit::Success } else { Exit::Partial })
}

pub fn check(config: Option<PathBuf>) -> Result<Exit> {
    let path = config_path(config);
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(Exit::Problems);
        }
    };
    let mut problems = Vec::new();
    if let Some(crate::config::Smtp {
        transport: crate::config::Transport::Smtp {
            password_env: Some(var),
            ..
        },
        ..
    }) = &config.smtp
        && std::env::var_os(var).is_none()
    {
        problems.push(format!("smtp.password_env: {var} is not set in this environment"));
    }
    if config.crawl.tor_proxy.is_none() {
        for s in config.sources.iter().filter(|s| s.is_onion()) {
            problems.push(format!(
                "source \"{}\": {} is a .onion address, but crawl.tor_proxy is not set",
                s.name, s.url
            ));
        }
    }
    // Opening creates the file: only open one that exists.
    if config.database.exists() {
        if let Err(e) = Store::open(&config.database) {
            problems.push(e.to_string());
        }
    } else if let Some(dir) = config
        .database
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.is_dir())
    {
        problems.push(format!("database.path: the folder {} does not exist", dir.display()));
    }
    if problems.is_empty() {
        println!("{}: ok, {} sources", path.display(), config.sources.len());
        Ok(Exit::Success)
    } else {
        eprintln!(
            "{} has {} problem{}:",
            path.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        for p in problems {
            eprintln!("  {}: {p}", path.display());
        }
        Ok(Exit::Problems)
    }
}

pub fn run(config: Option<PathBuf>, sources: Vec<String>) -> Result<Exit> {
    let config = load(config)?;
    let opts = RunOptions {
        sources,
        ..RunOptions::default()
    };
    let summary = runtime()?.block_on(run::run(&config, &opts))?;
    for f in &summary.source_failures {
        eprintln!("leakwatch: {f}");
    }
    for e in &summary.delivery.errors {
        eprintln!("leakwatch: {e}");
    }
    if summary.eventful() || tracing::enabled!(tracing::Level::INFO) {
        eprintln!("leakwatch: {}", summary.line());
    }
    Ok(if summary.all_ok() { Exit::Success } else { Exit::Partial })
}

pub fn source_list(config: Option<PathBuf>) -> Result<Exit> {
    let config = load(config)?;
    let store = open_store(&config)?;
    let mut rows = vec![vec![
        "NAME".into(),
        "KIND".into(),
        "URL".into(),
        "LAST".into(),
        "POSTINGS".into(),
        "LAST SUCCESS".into(),
    ]];
    for s in &config.sources {
        let last = store.last_fetch(&s.name)?;
        rows.push(vec![
            s.name.clone(),
            s.extractor.kind().into(),
            s.url.to_string(),
            last.as_ref().map_or("never".into(), |l| l.status.clone()),
            last.as_ref().map_or(String::new(), |l| l.postings.to_string()),
            last.and_then(|l| l.last_success).unwrap_or_default(),
        ]);
    }
    print_table(&rows);
    Ok(Exit::Success)
}

pub fn source_test(config: Option<PathBuf>, name: &str, file: Option<PathBuf>) -> Result<Exit> {
    let config = load(config)?;
    let source = config
        .sources
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| CommandError::Usage(format!("no source named `{name}` in {}", config.path.display())))?;
    let (url, body) = match file {
        Some(f) => {
            let bytes =
                std::fs::read(&f).map_err(|e| CommandError::Other(format!("cannot read {}: {e}", f.display())))?;
            (source.url.clone(), String::from_utf8_lossy(&bytes).into_owned())
        }
        None => {
            let fetcher =
                crate::fetch::Fetcher::new(&config.crawl, std::slice::from_ref(source)).map_err(CommandError::Other)?;
            let page = runtime()?
                .block_on(fetcher.fetch(&source.url, &Default::default()))
                .map_err(|e| CommandError::Other(e.to_string()))?;
            (page.url, page.body)
        }
    };
    let x =
        crate::extract::extract(source, &url, &body).map_err(|e| CommandError::Other(format!("source {name}: {e}")))?;
    println!("{}: {} postings ({:?})", source.name, x.postings.len(), x.class());
    let mut rows = vec![vec!["TITLE".into(), "DATE".into(), "LINK".into(), "BODY".into()]];
    for p in &x.postings {
        rows.push(vec![
            p.title.clone(),
            p.posted_at
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            p.link.clone().unwrap_or_default(),
            text::truncate(&p.body, 40),
        ]);
    }
    print_table(&rows);
    if x.untitled > 0 {
        println!("warning: {} items had no title and were skipped", x.untitled);
    }
    for w in &x.warnings {
        println!("warning: {}", text::clean(w));
    }
    if let Some(b) = &x.blocked {
        println!("blocked: {b}");
    }
    if let (Some(next), Extractor::Html(_)) = (&x.next_page, &source.extractor) {
        println!("next page: {next}");
    }
    Ok(if x.postings.is_empty() {
        Exit::Problems
    } else {
        Exit::Success
    })
}

pub fn watch_add(config: Option<PathBuf>, entry: WatchEntry) -> Result<Exit> {
    if text::clean(&entry.name).is_empty() {
        return Err(CommandError::Usage("the name is empty".into()));
    }
    for r in &entry.recipients {
        r.parse::<lettre::Address>()
            .map_err(|e| CommandError::Usage(format!("--notify {r}: not a mail address: {e}")))?;
    }
    let config = load(config)?;
    let new = open_store(&config)?.upsert_entry(&entry)?;
    println!(
        "{} {}: it will be matched against stored postings at the next run",
        if new { "added" } else { "updated" },
        entry.name
    );
    Ok(Exit::Success)
}

pub fn watch_rm(config: Option<PathBuf>, name: &str) -> Result<Exit> {
    let config = load(config)?;
    if open_store(&config)?.remove_entry(name)? {
        println!("removed {name}");
        Ok(Exit::Success)
    } else {
        Err(CommandError::Usage(format!(
            "no watch entry named `{name}` (see `leakwatch watch list`)"
        )))
    }
}

pub fn watch_list(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    let config = load(config)?;
    let entries = open_store(&config)?.entries()?;
    if json {
        print_json(&entries)?;
        return Ok(Exit::Success);
    }
    let mut rows = vec![vec![
        "NAME".into(),
        "KIND".into(),
        "ALIASES".into(),
        "DOMAINS".into(),
        "RECIPIENTS".into(),
        "EXCLUDE".into(),
    ]];
    for e in entries {
        rows.push(vec![
            e.name,
            e.kind.to_string(),
            e.aliases.join(";"),
            e.domains.join(";"),
            e.recipients.join(";"),
            e.exclude.join(";"),
        ]);
    }
    print_table(&rows);
    Ok(Exit::Success)
}

pub fn watch_import(config: Option<PathBuf>, file: &Path, replace: bool) -> Result<Exit> {
    let config = load(config)?;
    let input =
        std::fs::File::open(file).map_err(|e| CommandError::Other(format!("cannot read {}: {e}", file.display())))?;
    let entries = watch::csv::read(std::io::BufReader::new(input), Some(&file.display().to_string()))
        .map_err(|e| CommandError::Other(format!("{e}; nothing was imported")))?;
    let r = open_store(&config)?.import_entries(&entries, replace)?;
    println!(
        "{}: {} added, {} changed, {} unchanged, {} removed",
        file.display(),
        r.added,
        r.changed,
        r.unchanged,
        r.removed
    );
    Ok(Exit::Success)
}

pub fn watch_export(config: Option<PathBuf>) -> Result<Exit> {
    let config = load(config)?;
    let entries = open_store(&config)?.entries()?;
    watch::csv::write(std::io::stdout().lock(), &entries).map_err(|e| CommandError::Other(e.to_string()))?;
    Ok(Exit::Success)
}

pub fn postings(
    config: Option<PathBuf>,
    source: Option<String>,
    since: Option<String>,
    format: Format,
) -> Result<Exit> {
    let config = load(config)?;
    let since = since.map(|s| parse_since(&s)).transpose()?;
    let rows = open_store(&config)?.postings(source.as_deref(), since.as_deref())?;
    output(
        &rows,
        format,
        &["SOURCE", "TITLE", "POSTED", "FIRST SEEN", "LINK"],
        |p| {
            vec![
                p.source.clone(),
                p.title.clone(),
                p.posted_at.clone().unwrap_or_default(),
                p.first_seen_at.clone(),
                p.link.clone().unwrap_or_default(),
            ]
        },
    )
}

pub fn matches(config: Option<PathBuf>, since: Option<String>, format: Format) -> Result<Exit> {
    let config = load(config)?;
    let since = since.map(|s| parse_since(&s)).transpose()?;
    let rows = open_store(&config)?.matches(since.as_deref())?;
    output(
        &rows,
        format,
        &[
            "MATCHED", "ENTRY", "KIND", "TERM", "WHY", "SOURCE", "TITLE", "SENT", "PENDING", "FAILED",
        ],
        |m| {
            vec![
                m.matched_at.clone(),
                m.entry.clone(),
                m.kind.clone(),
                m.term.clone(),
                format!("{} in {}", m.reason, m.field),
                m.source.clone(),
                m.title.clone(),
                m.emails_sent.to_string(),
                m.emails_pending.to_string(),
                m.emails_failed.to_string(),
            ]
        },
    )
}

pub fn runs(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    let config = load(config)?;
    let rows = open_store(&config)?.runs(50)?;
    let format = if json { Format::Json } else { Format::Table };
    output(
        &rows,
        format,
        &[
            "RUN", "STARTED", "STATUS", "OK", "FAILED", "NEW", "MATCHES", "SENT", "PENDING",
        ],
        |r| {
            vec![
                r.id.to_string(),
                r.started_at.clone(),
                r.status.clone(),
                r.counts.sources_ok.to_string(),
                r.counts.sources_failed.to_string(),
                r.counts.postings_new.to_string(),
                r.counts.matches.to_string(),
                r.counts.emails_sent.to_string(),
                r.counts.emails_pending.to_string(),
            ]
        },
    )
}

/// `YYYY-MM-DD` (or a full RFC 3339 time) as the stored timestamp form.
fn parse_since(s: &str) -> Result<String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(format!("{d}T00:00:00Z"));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .map_err(|_| CommandError::Usage(format!("--since {s}: write a date as YYYY-MM-DD")))
}

fn output<T: Serialize>(
    rows: &[T],
    format: Format,
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
) -> Result<Exit> {
    match format {
        Format::Json => print_json(rows)?,
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            let err = |e: csv::Error| CommandError::Other(e.to_string());
            w.write_record(header).map_err(err)?;
            for r in rows {
                w.write_record(cells(r)).map_err(err)?;
            }
            w.flush().map_err(|e| CommandError::Other(e.to_string()))?;
        }
        Format::Table => {
            let mut table = vec![header.iter().map(|h| h.to_string()).collect()];
            table.extend(rows.iter().map(&cells));
            print_table(&table);
        }
    }
    Ok(Exit::Success)
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let json = serde_json::to_string_pretty(value).map_err(|e| CommandError::Other(e.to_string()))?;
    let _ = writeln!(out, "{}", crate::terminal::escape_json(&json));
    Ok(())
}

/// Aligned columns; each cell cleaned of control characters and cut at 60 characters.
fn print_table(rows: &[Vec<String>]) {
    const MAX: usize = 60;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    let c = text::clean(c);
                    if c.chars().count() > MAX {
                        format!("{}…", c.chars().take(MAX - 1).collect::<String>())
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for r in &cells {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = if i + 1 == r.len() { 0 } else { widths[i] }))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
}
