//! The configuration file: TOML in, a validated [`Config`] out.
//!
//! Loading happens in two steps, as in ripgrep: serde reads the file into the
//! `Raw*` structs (unknown keys are errors), then [`Config::load`] checks every
//! value and builds what the pipeline uses — compiled CSS selectors, parsed
//! rates, resolved paths. Every problem found is kept, with the file, line and
//! key it is about, so `leakwatch check` can list them all at once.
//!
//! This file holds the whole-file flow (sections, `include`, `[database]`);
//! each other section is read and checked in its own module — `crawl`,
//! `notify` (`[smtp]` and `[notify]`), `source` — all reporting into the one
//! problem list of `problems`. Their types are re-exported here, so callers
//! only ever name `config::X`.

mod crawl;
mod detail;
mod extraction;
mod kinds;
mod notify;
pub mod onion;
mod problems;
mod request;
mod source;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub use crawl::{
    Crawl, DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_MAX_BODY_BYTES, DEFAULT_PER_HOST_RATE,
    DEFAULT_READ_TIMEOUT_SECS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECS, DEFAULT_USER_AGENT, Rate,
};
pub use detail::{DEFAULT_DETAIL_PER_RUN, DetailRules};
pub use extraction::{DEFAULT_MAX_PAGES, Field, HtmlRules, JsonNext, JsonRules};
pub use kinds::{CsvDate, CsvRules, Facts, FeedField, FeedPart, FeedRules};
pub use notify::{DEFAULT_BROKEN_AFTER, DEFAULT_SMTP_PORT, Notify, Security, Smtp, Transport, Webhook, WebhookFormat};
pub use problems::{ConfigError, Problem};
pub use request::{Body, Request, TOKEN_PLACEHOLDER};
pub use source::{Extractor, Render, Source};

use crawl::{RawCrawl, build_crawl};
use notify::{RawNotify, RawSmtp, build_notify, build_smtp};
use problems::Checker;
use source::{RawSource, build_sources};

/// Everything a run needs, checked.
#[derive(Debug)]
pub struct Config {
    /// The file this was loaded from; relative paths in it are relative to its folder.
    pub path: PathBuf,
    pub database: PathBuf,
    /// `[database] keep_days`: run records and fetch metadata older than this are pruned.
    pub keep_days: Option<u32>,
    /// `[database] min_free_mb`: `check` warns when less is free under the database's folder.
    pub min_free_mb: u64,
    pub crawl: Crawl,
    pub smtp: Option<Smtp>,
    pub notify: Notify,
    pub sources: Vec<Source>,
    /// `[serve] tls_cert` and `tls_key`: the workspace speaks HTTPS with them.
    pub serve_tls: Option<ServeTls>,
}

/// The workspace's certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

// ---- the file as serde reads it -------------------------------------------

/// The file, section by section. Each section (and each `[[source]]`) is
/// deserialized on its own, so a problem in one does not hide the others.
#[derive(Default)]
struct RawConfig {
    database: Option<RawDatabase>,
    crawl: RawCrawl,
    smtp: Option<RawSmtp>,
    notify: RawNotify,
    source: Vec<Spanned<RawSource>>,
    include: Vec<Spanned<String>>,
    serve: RawServe,
    /// A `[database]` table is in the file, even if it could not be read:
    /// then its own problem is reported, not "missing".
    database_written: bool,
}

const SECTIONS: &str = "database, crawl, smtp, notify, source, include, serve";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServe {
    tls_cert: Option<Spanned<String>>,
    tls_key: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    path: Spanned<String>,
    keep_days: Option<Spanned<u32>>,
    min_free_mb: Option<u64>,
}

/// `[database] min_free_mb` when not set: room for months of postings and
/// for SQLite's temporary copies during a vacuum.
pub const DEFAULT_MIN_FREE_MB: u64 = 100;

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            problems: vec![Problem {
                file: None,
                line: None,
                key: String::new(),
                message: format!(
                    "cannot read it: {e} (give another with --config, set LEAKWATCH_CONFIG, or create one with `leakwatch init`)"
                ),
            }],
        })?;
        Config::parse(path, &text)
    }

    /// Validates `text` as if it were the file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let (config, problems) = Config::parse_partial(path, text);
        if problems.is_empty() {
            Ok(config.expect("a config without problems is complete"))
        } else {
            Err(ConfigError {
                file: path.to_owned(),
                problems,
            })
        }
    }

    /// What could be built despite problems (sources and sections with
    /// problems left out), and every problem: `leakwatch check` goes on from
    /// it to the checks that need the machine (database, secrets, proxy).
    pub fn parse_partial(path: &Path, text: &str) -> (Option<Config>, Vec<Problem>) {
        let mut ck = Checker {
            text,
            problems: Vec::new(),
        };
        let mut raw = read_sections(&mut ck);
        let base = path.parent().unwrap_or(Path::new("."));
        let includes = std::mem::take(&mut raw.include);
        let mut config = build(&mut ck, path, base, raw);
        let mut scratch = Vec::new();
        for file in include_files(&mut ck, base, &includes) {
            let sources = config.as_mut().map_or(&mut scratch, |c| &mut c.sources);
            if let Err(e) = include_sources(&file, sources) {
                ck.problems.extend(e.problems.into_iter().map(|p| Problem {
                    file: Some(file.clone()),
                    ..p
                }));
            }
        }
        (config, ck.problems)
    }
}

/// The files an `include` list names, in order: a file as is, a folder (or
/// `folder/*.toml`) as every `.toml` file in it, sorted by name.
fn include_files(ck: &mut Checker, base: &Path, includes: &[Spanned<String>]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for inc in includes {
        let text = inc.get_ref();
        let dir_part = text.strip_suffix("*.toml").unwrap_or(text);
        let path = resolve(base, dir_part);
        if path.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(e) => ck.add(
                    Some(inc.span()),
                    "include",
                    format!("cannot read the folder {}: {e}", path.display()),
                ),
            }
        } else if path.is_file() && !text.ends_with("*.toml") {
            files.push(path);
        } else {
            ck.add(
                Some(inc.span()),
                "include",
                format!(
                    "{} is neither a file nor a folder (paths are relative to this config's folder)",
                    path.display()
                ),
            );
        }
    }
    files
}

/// Adds the `[[source]]` tables of an included file to `sources`; its
/// problems are reported against that file, with its own line numbers.
fn include_sources(file: &Path, sources: &mut Vec<Source>) -> Result<(), ConfigError> {
    let fail = |problems| ConfigError {
        file: file.to_owned(),
        problems,
    };
    let text = std::fs::read_to_string(file).map_err(|e| {
        fail(vec![Problem {
            file: None,
            line: None,
            key: String::new(),
            message: format!("cannot read this included file: {e}"),
        }])
    })?;
    let mut ck = Checker {
        text: &text,
        problems: Vec::new(),
    };
    let raw = read_sections(&mut ck);
    if raw.database.is_some() || raw.smtp.is_some() || !raw.include.is_empty() {
        ck.add(
            None,
            "",
            "an included file holds only [[source]] tables: move other sections to the main config",
        );
    }
    let first = sources.len();
    build_sources(&mut ck, raw.source, sources);
    for s in &mut sources[first..] {
        s.file = Some(file.to_owned());
    }
    if ck.problems.is_empty() {
        Ok(())
    } else {
        Err(fail(ck.problems))
    }
}

/// Parses the TOML and deserializes each section on its own, keeping spans.
fn read_sections(ck: &mut Checker) -> RawConfig {
    let mut raw = RawConfig::default();
    let root = match DeTable::parse(ck.text) {
        Ok(root) => root,
        Err(e) => {
            ck.add(e.span(), "", e.message().trim());
            // Nothing else can be judged in a file that does not parse.
            raw.database_written = true;
            return raw;
        }
    };
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "database" => {
                raw.database_written = true;
                raw.database = section(ck, value);
            }
            "crawl" => raw.crawl = section(ck, value).unwrap_or_default(),
            "smtp" => raw.smtp = section(ck, value),
            "notify" => raw.notify = section(ck, value).unwrap_or_default(),
            "include" => raw.include = section(ck, value).unwrap_or_default(),
            "serve" => raw.serve = section(ck, value).unwrap_or_default(),
            "source" => {
                let span = value.span();
                match value.into_inner() {
                    DeValue::Array(items) => {
                        for item in items {
                            let span = item.span();
                            if let Some(s) = section::<RawSource>(ck, item) {
                                raw.source.push(Spanned::new(span, s));
                            }
                        }
                    }
                    _ => ck.add(Some(span), "source", "write each source as a [[source]] table"),
                }
            }
            other => ck.add(
                Some(key.span()),
                other,
                format!("unknown section: the sections are {SECTIONS}"),
            ),
        }
    }
    raw
}

fn section<T: serde::de::DeserializeOwned>(ck: &mut Checker, value: Spanned<DeValue>) -> Option<T> {
    let span = value.span();
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(v) => Some(v),
        Err(e) => {
            ck.add(e.span().or(Some(span)), "", e.message().trim());
            None
        }
    }
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() { p.to_owned() } else { base.join(p) }
}

fn build(ck: &mut Checker, path: &Path, base: &Path, raw: RawConfig) -> Option<Config> {
    let crawl = build_crawl(ck, raw.crawl);
    let smtp = raw.smtp.and_then(|s| build_smtp(ck, base, s));
    let notify = build_notify(ck, raw.notify);
    let mut sources: Vec<Source> = Vec::new();
    build_sources(ck, raw.source, &mut sources);
    let serve_tls = build_serve(ck, base, raw.serve);
    let Some(database) = raw.database else {
        if !raw.database_written {
            ck.add(
                None,
                "database",
                "missing [database] section: add one with path = \"leakwatch.db\"",
            );
        }
        return None;
    };
    let keep_days = database.keep_days.and_then(|k| {
        if *k.get_ref() == 0 {
            ck.add(
                Some(k.span()),
                "database.keep_days",
                "must be at least 1 (leave it out to keep everything)",
            );
            None
        } else {
            Some(k.into_inner())
        }
    });
    Some(Config {
        path: path.to_owned(),
        keep_days,
        min_free_mb: database.min_free_mb.unwrap_or(DEFAULT_MIN_FREE_MB),
        database: resolve(base, database.path.get_ref()),
        crawl,
        smtp,
        notify,
        sources,
        serve_tls,
    })
}

/// `[serve]`: certificate and key come together.
fn build_serve(ck: &mut Checker, base: &Path, raw: RawServe) -> Option<ServeTls> {
    match (raw.tls_cert, raw.tls_key) {
        (Some(cert), Some(key)) => Some(ServeTls {
            cert: resolve(base, cert.get_ref()),
            key: resolve(base, key.get_ref()),
        }),
        (Some(one), None) | (None, Some(one)) => {
            ck.add(
                Some(one.span()),
                "serve",
                "tls_cert and tls_key go together: give both PEM files, or neither",
            );
            None
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    pub(super) const GOOD: &str = r#"
[database]
path = "lw.db"

[crawl]
per_host_rate = "2/min"

[smtp]
transport = "file"
dir = "out"
from = "leakwatch <alerts@example.org>"

[notify]
recipients = ["secops@example.org"]

[[source]]
name = "clop"
kind = "html"
url = "http://example.onion/"
rate = "6/min"
[source.html]
item = "div.post"
title = "h2"
link = { selector = "a", attr = "href" }
"#;

    pub(super) fn problems(text: &str) -> Vec<Problem> {
        Config::parse(Path::new("/etc/lw/leakwatch.toml"), text)
            .expect_err("config should be refused")
            .problems
    }

    #[test]
    fn good_config_loads_with_paths_relative_to_the_file() {
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), GOOD).unwrap();
        assert_eq!(c.database, Path::new("/etc/lw/lw.db"));
        assert_eq!(c.crawl.per_host_rate.interval(), Duration::from_secs(30));
        assert_eq!(c.sources[0].rate.unwrap().interval(), Duration::from_secs(10));
        assert!(c.sources[0].is_onion());
        assert!(matches!(&c.smtp.unwrap().transport, Transport::File { dir } if dir == Path::new("/etc/lw/out")));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = GOOD.replace("per_host_rate = \"2/min\"", "per_host_rate = \"2/min\"\nspeed = 3");
        let p = problems(&text);
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("unknown field `speed`"), "{p:?}");
        assert_eq!(p[0].line, Some(7));
    }

    #[test]
    fn every_problem_is_listed_not_just_the_first() {
        let text = GOOD
            .replace("\"2/min\"", "\"fast\"")
            .replace("item = \"div.post\"", "item = \"div..post\"")
            .replace("secops@example.org", "not an address");
        let p = problems(&text);
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["crawl.per_host_rate", "notify.recipients", "source \"clop\": html.item"]
        );
    }

    #[test]
    fn the_example_config_is_valid() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/leakwatch.example.toml"));
        let c = Config::load(path).unwrap();
        let kinds: Vec<_> = c.sources.iter().map(|s| s.extractor.kind()).collect();
        assert_eq!(kinds, ["html", "feed", "csv", "json"]);
    }

    #[test]
    fn included_source_files_add_sources_and_report_their_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sources")).unwrap();
        let one = "[[source]]\nname = \"a\"\nkind = \"feed\"\nurl = \"http://a.example/\"\n";
        std::fs::write(dir.path().join("sources/a.toml"), one).unwrap();
        std::fs::write(dir.path().join("sources/b.toml"), one.replace("\"a\"", "\"b\"")).unwrap();
        std::fs::write(dir.path().join("sources/notes.txt"), "not toml").unwrap();
        let main = dir.path().join("leakwatch.toml");
        let text = "include = [\"sources/*.toml\"]\n[database]\npath = \"x.db\"\n";
        let c = Config::parse(&main, text).unwrap();
        let names: Vec<_> = c.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);

        std::fs::write(
            dir.path().join("sources/b.toml"),
            "[[source]]\nname = \"b\"\nkind = \"html\"\nurl = \"http://b.example/\"\n[source.html]\nitem = \"div..x\"\ntitle = \"h2\"\n",
        )
        .unwrap();
        let e = Config::parse(&main, text).unwrap_err();
        assert_eq!(
            e.problems[0].file.as_deref(),
            Some(dir.path().join("sources/b.toml").as_path())
        );
        assert!(
            e.to_string().contains("sources/b.toml:6: source \"b\": html.item"),
            "{e}"
        );
        assert_eq!(e.problems[0].key, "source \"b\": html.item");
        assert_eq!(e.problems[0].line, Some(6));

        let e = Config::parse(&main, &text.replace("sources/*.toml", "nowhere/")).unwrap_err();
        assert_eq!(e.problems[0].key, "include");
    }

    #[test]
    fn shipped_source_definitions_load() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sources"));
        let text = format!(
            "include = [{:?}]\n[database]\npath = \"x.db\"\n",
            dir.display().to_string()
        );
        let c = Config::parse(Path::new("/tmp/leakwatch.toml"), &text).unwrap();
        assert!(c.sources.len() >= 10, "{}", c.sources.len());
    }
}
