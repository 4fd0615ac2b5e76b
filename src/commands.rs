//! What each CLI command does, between parsed arguments (`main.rs`) and the
//! pipeline stages. Output that carries posting text goes through
//! [`text::clean`] so a hostile page cannot send escape sequences to the
//! analyst's terminal.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use crate::config::{Config, ConfigError, Extractor};
use crate::logging;
use crate::run::{self, RunError, RunOptions};
use crate::store::{Store, StoreError};
use crate::text;
use crate::watch::{self, WatchEntry};

/// `println!` for command output that stops quietly when the reader closed
/// stdout (`leakwatch postings | head`): it has what it wanted, and a
/// "failed printing to stdout" panic would only alarm whoever ran it.
macro_rules! say {
    ($($arg:tt)*) => {
        write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with the same manners as `say!`.
macro_rules! say_raw {
    ($($arg:tt)*) => {
        write_out(format_args!($($arg)*))
    };
}

/// Writes to stdout; a closed pipe is not an error, any other failure is
/// reported on stderr once per write.
fn write_out(args: std::fmt::Arguments) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args)
        && !closed(&e)
    {
        eprintln!("leakwatch: cannot write to stdout: {e}");
    }
}

/// The reader of stdout went away (`| head`).
fn closed(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// A CSV write to stdout that failed: fine when the reader closed the pipe.
fn csv_written(r: std::result::Result<(), csv::Error>) -> Result<()> {
    match r {
        Err(e) if !matches!(e.kind(), csv::ErrorKind::Io(io) if closed(io)) => {
            Err(CommandError::Other(format!("cannot write CSV to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

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
    say!("leakwatch demo: 2 sources served on loopback (a made-up leak site over 2 pages, a vendor advisory feed)");
    say!(
        "  run 1: {} pages, {} postings new, {} matches, {} emails written",
        c1.pages_fetched,
        c1.postings_new,
        c1.matches,
        c1.emails_sent
    );
    say!(
        "  run 2: {} pages, {} postings new, {} matches, {} emails written (nothing new, nothing sent twice)",
        c2.pages_fetched,
        c2.postings_new,
        c2.matches,
        c2.emails_sent
    );
    say!("  postings stored: {}", report.postings);
    say!("  emails in {}:", report.outbox.display());
    for e in &report.emails {
        say!("    {}", e.display());
    }
    let ok = report.first.all_ok() && report.second.all_ok() && c1.emails_sent > 0 && c2.emails_sent == 0;
    Ok(if ok { Exit::Success } else { Exit::Partial })
}

pub fn init(dir: &Path) -> Result<Exit> {
    let written = crate::init::init(dir).map_err(CommandError::Other)?;
    for p in &written {
        say!("wrote {}", p.display());
    }
    let config = dir.join("leakwatch.toml");
    let c = config.display();
    say!(
        "next:
  1. edit {c}: [smtp], [notify] and the sources (the comments say how)
  2. leakwatch --config {c} source test example-leaks --file {}
  3. leakwatch --config {c} watch import {}
  4. export LEAKWATCH_SMTP_PASSWORD=...; leakwatch --config {c} check
  5. leakwatch --config {c} run, then a cron entry (see the README)",
        dir.join("samples/leaksite.html").display(),
        dir.join("watchlist.csv").display()
    );
    Ok(Exit::Success)
}

pub fn check(config: Option<PathBuf>) -> Result<Exit> {
    let path = config_path(config);
    let report = crate::check::check(&path);
    match report.config {
        Some(config) if report.problems.problems.is_empty() => {
            say!("{}: ok, {} sources", path.display(), config.sources.len());
            Ok(Exit::Success)
        }
        _ => {
            eprintln!("{}", report.problems);
            Ok(Exit::Problems)
        }
    }
}

/// One run, or with `every` one run per period until SIGTERM or Ctrl-C.
/// SIGTERM during a run closes it as 'interrupted' (exit 3 for a single
/// run); `--every` stopped by a signal exits 0.
pub fn run(
    config: Option<PathBuf>,
    sources: Vec<String>,
    every: Option<std::time::Duration>,
    progress: bool,
) -> Result<Exit> {
    let path = config_path(config);
    let mut config = Config::load(&path)?;
    runtime()?.block_on(async {
        let mut stop = crate::schedule::stop_on_signals()
            .map_err(|e| CommandError::Other(format!("cannot install signal handlers: {e}")))?;
        let opts = RunOptions {
            sources,
            stop: Some(stop.clone()),
            progress,
            ..RunOptions::default()
        };
        let Some(period) = every else {
            let summary = run::run(&config, &opts).await?;
            report_run(&summary);
            return Ok(if summary.all_ok() { Exit::Success } else { Exit::Partial });
        };
        loop {
            let started = tokio::time::Instant::now();
            match run::run(&config, &opts).await {
                Ok(summary) => report_run(&summary),
                // A cron run or a manual one is at work: this tick is skipped, not fatal.
                Err(RunError::Lock(e @ crate::lock::LockError::Held { .. })) => tracing::warn!("{e}"),
                Err(e) => return Err(e.into()),
            }
            if !crate::schedule::wait_next(started, period, &mut stop).await {
                return Ok(Exit::Success);
            }
            // Edits to the config (a fixed selector, a new source) count from the next run on.
            match Config::load(&path) {
                Ok(fresh) => config = fresh,
                Err(e) => logging::failure(&format!("{e}\n(the next run uses the config as it was last read)")),
            }
        }
    })
}

/// Failures, then the summary line when something happened (or when asked).
fn report_run(summary: &run::RunSummary) {
    for f in &summary.source_failures {
        logging::failure(f);
    }
    for e in &summary.delivery.errors {
        logging::failure(e);
    }
    if summary.interrupted {
        logging::failure(&format!(
            "run {} was interrupted; the sources not done and the alerts not sent are for the next run",
            summary.run_id
        ));
    }
    logging::summary(summary);
}

/// `run --dry-run`: the whole run on a copy of the database; the emails it
/// would send go to stdout, nothing is sent and the real database is untouched.
pub fn dry_run(config: Option<PathBuf>, sources: Vec<String>) -> Result<Exit> {
    let config = load(config)?;
    let opts = RunOptions {
        sources,
        dry_run: true,
        ..RunOptions::default()
    };
    let summary = runtime()?.block_on(run::run(&config, &opts))?;
    let total = summary.previews.len();
    for (i, email) in summary.previews.iter().enumerate() {
        say!("===== email {} of {total} =====\n{email}", i + 1);
    }
    for f in &summary.source_failures {
        eprintln!("leakwatch: {f}");
    }
    eprintln!("leakwatch: dry run: {total} email(s) rendered, nothing sent, the database left as it was");
    eprintln!("leakwatch: {}", summary.line());
    Ok(if summary.source_failures.is_empty() {
        Exit::Success
    } else {
        Exit::Partial
    })
}

/// `notify test`: one message through the configured transport, to `to`
/// or the first of `notify.recipients`; prints the server's reply.
pub fn notify_test(config: Option<PathBuf>, to: Option<String>) -> Result<Exit> {
    let config = load(config)?;
    let smtp = config
        .smtp
        .as_ref()
        .ok_or_else(|| CommandError::Other(crate::notify::NotifyError::NotConfigured.to_string()))?;
    let to = match to {
        Some(to) => to,
        None => config
            .notify
            .recipients
            .first()
            .or(config.notify.admin_recipients.first())
            .map(|a| a.to_string())
            .ok_or_else(|| {
                CommandError::Usage("no --to given and notify.recipients is empty: say where to send the test".into())
            })?,
    };
    let reply = runtime()?
        .block_on(crate::notify::send_test(smtp, &to))
        .map_err(|e| CommandError::Other(format!("notify test: {e}")))?;
    say!("test message sent to {to}; the server replied: {reply}");
    Ok(Exit::Success)
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
    say!("{}: {} postings ({:?})", source.name, x.postings.len(), x.class());
    let mut rows = vec![vec![
        "TITLE".into(),
        "DATE".into(),
        "LINK".into(),
        "BODY".into(),
        "VICTIM".into(),
    ]];
    for p in &x.postings {
        let flag = match (p.masked, p.truncated) {
            (true, _) => " (masked)",
            (_, true) => " (truncated)",
            _ => "",
        };
        rows.push(vec![
            p.title.clone(),
            p.posted_at
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            p.link.clone().unwrap_or_default(),
            text::truncate(&p.body, 40),
            format!("{}{flag}", p.victim),
        ]);
    }
    print_table(&rows);
    if x.untitled > 0 {
        say!("warning: {} items had no title and were skipped", x.untitled);
    }
    for w in &x.warnings {
        say!("warning: {}", text::clean(w));
    }
    if let Some(b) = &x.blocked {
        say!("blocked: {b}");
    }
    if let (Some(next), Extractor::Html(_)) = (&x.next_page, &source.extractor) {
        say!("next page: {next}");
    }
    Ok(if x.postings.is_empty() {
        Exit::Problems
    } else {
        Exit::Success
    })
}

/// `source suggest`: the best definition alone on stdout, so it can be
/// redirected into a file; the alternatives and any refusal on stderr.
pub fn source_suggest(config: Option<PathBuf>, url: Option<&str>, file: Option<PathBuf>, all: bool) -> Result<Exit> {
    let url = url
        .map(|u| Url::parse(u).map_err(|e| CommandError::Usage(format!("{u}: not a URL: {e}"))))
        .transpose()?;
    let body = match (file, &url) {
        (Some(f), _) => {
            let bytes =
                std::fs::read(&f).map_err(|e| CommandError::Other(format!("cannot read {}: {e}", f.display())))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        (None, Some(url)) => {
            let path = config_path(config);
            // Fetch as `run` would: the configured client, limits and Tor
            // proxy when there is a config, the defaults when there is none.
            let config = if path.exists() {
                Config::load(&path)?
            } else {
                Config::parse(&path, "[database]\npath = \"leakwatch.db\"\n")?
            };
            let fetcher = crate::fetch::Fetcher::new(&config.crawl, &config.sources).map_err(CommandError::Other)?;
            runtime()?
                .block_on(fetcher.fetch(url, &Default::default()))
                .map_err(|e| CommandError::Other(e.to_string()))?
                .body
        }
        (None, None) => {
            return Err(CommandError::Usage(
                "give the listing page's URL, or --file PAGE".into(),
            ));
        }
    };
    let candidates = match crate::suggest::suggest(&body) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("leakwatch: no suggestion: {e}");
            return Ok(Exit::Problems);
        }
    };
    if all {
        let mut err = std::io::stderr().lock();
        for (i, c) in candidates.iter().enumerate().take(10) {
            let samples: Vec<String> = c
                .titles
                .iter()
                .filter(|t| !t.is_empty())
                .take(3)
                .map(|t| text::truncate(&text::clean(t), 40))
                .collect();
            let d = &c.definition;
            let _ = writeln!(
                err,
                "#{} score {:.2}: {} items `{}` title `{}`: {}",
                i + 1,
                c.score,
                c.items,
                text::clean(&d.item()),
                text::clean(&d.title()),
                samples.join(" | ")
            );
        }
    }
    say_raw!("{}", candidates[0].definition.to_toml());
    Ok(Exit::Success)
}

pub fn watch_add(config: Option<PathBuf>, entry: WatchEntry, backfill: bool) -> Result<Exit> {
    if text::clean(&entry.name).is_empty() {
        return Err(CommandError::Usage("the name is empty".into()));
    }
    for r in &entry.recipients {
        r.parse::<lettre::Address>()
            .map_err(|e| CommandError::Usage(format!("--notify {r}: not a mail address: {e}")))?;
    }
    let config = load(config)?;
    let new = open_store(&config)?.upsert_entry(&entry)?;
    let done = if new { "added" } else { "updated" };
    if let Some(flag) = watch::noise_flag(&entry) {
        say!("note: {flag}");
    }
    if backfill {
        let matches = crate::run::backfill_now(&config).map_err(|e| CommandError::Other(e.to_string()))?;
        say!(
            "{done} {}: {matches} new matches in stored postings; their alerts go out at the next run",
            entry.name
        );
    } else {
        say!(
            "{done} {}: it will be matched against stored postings at the next run",
            entry.name
        );
    }
    Ok(Exit::Success)
}

pub fn watch_rm(config: Option<PathBuf>, name: &str) -> Result<Exit> {
    let config = load(config)?;
    if open_store(&config)?.remove_entry(name)? {
        say!("removed {name}");
        Ok(Exit::Success)
    } else {
        Err(CommandError::Usage(format!(
            "no watch entry named `{name}` (see `leakwatch watch list`)"
        )))
    }
}

pub fn watch_list(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    /// One entry for scripts: the entry, its times, and why it matches only in titles.
    #[derive(serde::Serialize)]
    struct Listed {
        #[serde(flatten)]
        listed: crate::store::ListedEntry,
        title_only: Option<String>,
    }
    let config = load(config)?;
    let entries = open_store(&config)?.entries_listed()?;
    if json {
        let listed: Vec<Listed> = entries
            .into_iter()
            .map(|l| Listed {
                title_only: watch::noise_flag(&l.entry),
                listed: l,
            })
            .collect();
        print_json(&listed)?;
        return Ok(Exit::Success);
    }
    let mut rows = vec![vec![
        "NAME".into(),
        "KIND".into(),
        "ALIASES".into(),
        "DOMAINS".into(),
        "RECIPIENTS".into(),
        "EXCLUDE".into(),
        "CREATED".into(),
        "UPDATED".into(),
        "NOTE".into(),
    ]];
    for l in entries {
        let note = watch::noise_flag(&l.entry).unwrap_or_default();
        let e = l.entry;
        rows.push(vec![
            e.name,
            e.kind.to_string(),
            e.aliases.join(";"),
            e.domains.join(";"),
            e.recipients.join(";"),
            e.exclude.join(";"),
            l.created_at,
            l.updated_at,
            note,
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
    say!(
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
    csv_written(watch::csv::write(std::io::stdout().lock(), &entries))?;
    Ok(Exit::Success)
}

/// `--source`, `--since`, `--entry` as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub source: Option<String>,
    pub since: Option<String>,
    pub entry: Option<String>,
}

impl Filters {
    /// Checks the date and that the entry exists (a typo would list nothing, silently).
    fn resolve(self, store: &Store) -> Result<crate::store::Filter> {
        if let Some(name) = &self.entry
            && !store.entries()?.iter().any(|e| e.name.eq_ignore_ascii_case(name))
        {
            return Err(CommandError::Usage(format!(
                "--entry {name}: no watch entry of that name (see `leakwatch watch list`)"
            )));
        }
        Ok(crate::store::Filter {
            source: self.source,
            since: self.since.map(|s| parse_since(&s)).transpose()?,
            entry: self.entry,
        })
    }
}

pub fn postings(config: Option<PathBuf>, filters: Filters, format: Format) -> Result<Exit> {
    let config = load(config)?;
    let store = open_store(&config)?;
    let rows = store.postings(&filters.resolve(&store)?)?;
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

pub fn matches(config: Option<PathBuf>, filters: Filters, format: Format) -> Result<Exit> {
    let config = load(config)?;
    let store = open_store(&config)?;
    let rows = store.matches(&filters.resolve(&store)?)?;
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

pub fn report(config: Option<PathBuf>, out: &Path, since: Option<String>) -> Result<Exit> {
    let since = match since {
        Some(s) => parse_since(&s)?,
        None => (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let config = load(config)?;
    let store = open_store(&config)?;
    let report = crate::report::Report::load(&config, &store, &since)?;
    let path = crate::report::write(out, &report).map_err(CommandError::Other)?;
    say!(
        "wrote {}: {} matches since {}, {} sources",
        path.display(),
        report.matches.len(),
        since,
        report.sources.len()
    );
    Ok(Exit::Success)
}

pub fn runs(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    let config = load(config)?;
    let rows = open_store(&config)?.runs(50)?;
    let format = if json { Format::Json } else { Format::Table };
    output(
        &rows,
        format,
        &[
            "RUN", "STARTED", "TOOK", "STATUS", "OK", "FAILED", "PAGES", "NEW", "CHANGED", "MATCHES", "SENT", "PENDING",
        ],
        |r| {
            vec![
                r.id.to_string(),
                r.started_at.clone(),
                took(&r.started_at, r.finished_at.as_deref()),
                r.status.clone(),
                r.counts.sources_ok.to_string(),
                r.counts.sources_failed.to_string(),
                r.counts.pages_fetched.to_string(),
                r.counts.postings_new.to_string(),
                r.counts.postings_changed.to_string(),
                r.counts.matches.to_string(),
                r.counts.emails_sent.to_string(),
                r.counts.emails_pending.to_string(),
            ]
        },
    )
}

/// How long a run took, from its stored start and finish ("" while unfinished).
fn took(started: &str, finished: Option<&str>) -> String {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (parse(started), finished.and_then(parse)) {
        (Some(s), Some(f)) => format!("{}s", (f - s).num_seconds().max(0)),
        _ => String::new(),
    }
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
            csv_written((|| {
                w.write_record(header)?;
                for r in rows {
                    w.write_record(cells(r).iter().map(|c| spreadsheet_safe(c)))?;
                }
                Ok(w.flush()?)
            })())?;
        }
        Format::Table => {
            let mut table = vec![header.iter().map(|h| h.to_string()).collect()];
            table.extend(rows.iter().map(&cells));
            print_table(&table);
        }
    }
    Ok(Exit::Success)
}

/// A cell a spreadsheet will not run as a formula: posting text is written
/// by criminals, and `=HYPERLINK(…)` in a title would be live in Excel.
/// Such cells get a leading `'`, the usual guard.
fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_string_pretty(value)
        .map_err(std::io::Error::from)
        .and_then(|json| writeln!(out, "{}", crate::terminal::escape_json(&json)));
    match written {
        Err(e) if !closed(&e) => Err(CommandError::Other(format!("cannot write JSON to stdout: {e}"))),
        _ => Ok(()),
    }
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
