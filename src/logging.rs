//! Logs and the few lines a run prints on stderr.
//!
//! Quiet by default, for cron: warnings and failures only, and the one-line
//! run summary when something happened. `-v` adds each stage, `-vv` each
//! request; `RUST_LOG` overrides both. With `--log-format json` every line on
//! stderr is one JSON object (for journald, Loki, Elastic…): the summary then
//! carries its counters as fields. Text lines are written around the
//! progress bar on screen, if any, so the two never garble each other.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};

use indicatif::WeakProgressBar;

use crate::summary::RunSummary;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines; colours on a terminal.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The format chosen at start-up.
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// The progress bar on screen, if any, so log lines can be written around it.
static SHOWN: Mutex<Option<WeakProgressBar>> = Mutex::new(None);

/// From now on, text log lines clear `bar` while they are written and redraw
/// it after (see [`crate::progress`], which draws it).
pub fn write_around(bar: WeakProgressBar) {
    if let Ok(mut shown) = SHOWN.lock() {
        *shown = Some(bar);
    }
}

/// Stderr for the log subscriber: while a bar is drawn, it is cleared for
/// the log line and redrawn after, so the two never garble each other.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shown = SHOWN
            .lock()
            .ok()
            .and_then(|s| s.as_ref().and_then(WeakProgressBar::upgrade));
        match shown {
            Some(bar) if !bar.is_finished() => bar.suspend(|| std::io::stderr().write(buf)),
            _ => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Installs the subscriber. Call once, before anything logs.
pub fn init(verbose: u8, format: LogFormat) {
    let _ = FORMAT.set(format);
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // The summary and command reports are their own targets so that they
    // pass the quiet default.
    let default = format!("leakwatch={level},leakwatch::summary=info,leakwatch::report=info");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_writer(|| Stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_ansi(false)
            .try_init(),
    };
}

/// An error that ends the command.
pub fn fatal(message: &str) {
    match format() {
        LogFormat::Text => eprintln!("leakwatch: {message}"),
        LogFormat::Json => tracing::error!("{message}"),
    }
}

/// A failure the run went on after (a source, a delivery).
pub fn failure(message: &str) {
    match format() {
        LogFormat::Text => eprintln!("leakwatch: {message}"),
        LogFormat::Json => tracing::warn!("{message}"),
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The command fails of it (a `check` problem).
    Problem,
    /// Worth fixing; nothing fails of it yet.
    Warning,
    /// Information beside a table (`source test`'s next page).
    Note,
}

/// Where a finding is: the config file, line and key (`check`), or the source (`source test`).
#[derive(Debug, Clone, Copy, Default)]
pub struct At<'a> {
    pub file: Option<&'a str>,
    pub line: Option<usize>,
    pub key: Option<&'a str>,
    pub source: Option<&'a str>,
}

/// A finding a command reports beside its output (`check`'s problems and
/// warnings, `source test`'s warnings) as one JSON object on stderr, with
/// where it is as fields: for `--log-format json` (in text, each command
/// prints its findings its own way).
pub fn finding(severity: Severity, at: At, message: &str) {
    let At {
        file,
        line,
        key,
        source,
    } = at;
    match severity {
        Severity::Problem => {
            tracing::error!(target: "leakwatch::report", file, line, key, source, "{message}")
        }
        Severity::Warning => tracing::warn!(target: "leakwatch::report", file, line, key, source, "{message}"),
        Severity::Note => tracing::info!(target: "leakwatch::report", file, line, key, source, "{message}"),
    }
}

/// The run summary line: printed when the run did something or failed, or
/// when asked for with `-v`.
pub fn summary(summary: &RunSummary) {
    if !(summary.eventful() || tracing::enabled!(tracing::Level::INFO)) {
        return;
    }
    let line = summary.line();
    match format() {
        LogFormat::Text => eprintln!("leakwatch: {line}"),
        LogFormat::Json => {
            let c = &summary.counts;
            tracing::info!(
                target: "leakwatch::summary",
                run_id = summary.run_id,
                ok = summary.all_ok(),
                interrupted = summary.interrupted,
                sources_ok = c.sources_ok,
                sources_failed = c.sources_failed,
                pages_fetched = c.pages_fetched,
                pages_not_modified = c.pages_not_modified,
                postings_new = c.postings_new,
                postings_changed = c.postings_changed,
                matches = c.matches,
                emails_sent = c.emails_sent,
                emails_pending = c.emails_pending,
                emails_failed = c.emails_failed,
                duration_secs = summary.duration.as_secs_f64(),
                "{line}"
            );
        }
    }
}
