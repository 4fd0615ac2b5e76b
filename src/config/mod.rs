//! The configuration file: TOML in, a validated [`Config`] out.
//!
//! Loading happens in two steps, as in ripgrep: serde reads the file into the
//! `Raw*` structs (unknown keys are errors), then [`Config::load`] checks every
//! value and builds what the pipeline uses — compiled CSS selectors, parsed
//! rates, resolved paths. Every problem found is kept, with the file, line and
//! key it is about, so `leakwatch check` can list them all at once.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::Address;
use lettre::message::Mailbox;
use scraper::Selector;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use url::Url;

pub const DEFAULT_USER_AGENT: &str = concat!("leakwatch/", env!("CARGO_PKG_VERSION"));
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_PER_HOST_RATE: &str = "1/s";
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 20;
/// Longest silence while reading a body: a server trickling bytes is cut off.
pub const DEFAULT_READ_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_MAX_BODY_BYTES: u64 = 5_000_000;
pub const DEFAULT_RETRIES: u32 = 3;
pub const DEFAULT_MAX_PAGES: u32 = 5;
pub const DEFAULT_SMTP_PORT: u16 = 587;
/// Failed runs in a row before admins hear that a source is broken.
pub const DEFAULT_BROKEN_AFTER: u32 = 3;

/// Everything a run needs, checked.
#[derive(Debug)]
pub struct Config {
    /// The file this was loaded from; relative paths in it are relative to its folder.
    pub path: PathBuf,
    pub database: PathBuf,
    /// `[database] keep_days`: run records and fetch metadata older than this are pruned.
    pub keep_days: Option<u32>,
    pub crawl: Crawl,
    pub smtp: Option<Smtp>,
    pub notify: Notify,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone)]
pub struct Crawl {
    pub user_agent: String,
    pub concurrency: usize,
    pub per_host_rate: Rate,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Longest silence between two reads of one reply.
    pub read_timeout: Duration,
    pub max_body_bytes: u64,
    pub retries: u32,
    pub tor_proxy: Option<Url>,
    pub allow_private_addresses: bool,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub transport: Transport,
    pub from: Mailbox,
}

#[derive(Debug, Clone)]
pub enum Transport {
    Smtp {
        host: String,
        port: u16,
        security: Security,
        username: Option<String>,
        /// Name of the environment variable holding the password.
        password_env: Option<String>,
        /// PEM file of a CA to trust for the server's certificate, besides
        /// the system's (a private relay with its own CA).
        ca_file: Option<PathBuf>,
    },
    /// Writes each email as an `.eml` file into `dir` (the demo uses this).
    File { dir: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Default)]
pub struct Notify {
    pub recipients: Vec<Address>,
    pub admin_recipients: Vec<Address>,
    /// Failed runs in a row before a source counts as broken (at least 1).
    pub broken_after: u32,
    /// Chat / HTTP channels that get the same alerts as email.
    pub webhooks: Vec<Webhook>,
}

/// `[[notify.webhook]]`: alerts POSTed as JSON to a URL kept in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Name of the environment variable holding the URL (a secret).
    pub url_env: String,
    pub format: WebhookFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"text": …}`, what Slack (and Mattermost, Teams' Slack mode) accept.
    Slack,
    /// The alerts as structured JSON.
    Json,
}

/// One configured page (or feed, or API) to watch.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// Shown in emails; defaults to the name.
    pub label: String,
    pub url: Url,
    /// Overrides `crawl.per_host_rate` for this source's host.
    pub rate: Option<Rate>,
    /// This source's own proxy (`socks5h://`, `socks5://`, `http://`), used
    /// instead of the direct client or `crawl.tor_proxy`.
    pub proxy: Option<Url>,
    /// Watch entries this source is the disclosure channel of.
    pub about: Vec<String>,
    pub extractor: Extractor,
}

impl Source {
    pub fn is_onion(&self) -> bool {
        self.url
            .host_str()
            .is_some_and(|h| h.trim_end_matches('.').ends_with(".onion"))
    }
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per source, built once: size does not matter
pub enum Extractor {
    Html(HtmlRules),
    Feed,
    Json(JsonRules),
}

impl Extractor {
    pub fn kind(&self) -> &'static str {
        match self {
            Extractor::Html(_) => "html",
            Extractor::Feed => "feed",
            Extractor::Json(_) => "json",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HtmlRules {
    pub item: Selector,
    pub title: Field,
    pub link: Option<Field>,
    pub date: Option<Field>,
    pub body: Option<Field>,
    pub next_page: Option<Field>,
    pub max_pages: u32,
    /// The page is not a listing when this matches (a site's own CAPTCHA or
    /// maintenance page that the built-in heuristics miss).
    pub blocked_if: Option<Selector>,
}

/// Where one value of a posting comes from, inside its item element.
#[derive(Debug, Clone)]
pub struct Field {
    /// `None` reads the item element itself (e.g. an item that is an `<a>`).
    pub selector: Option<Selector>,
    /// Only the element's own text, not its children's (a name written
    /// before nested `<div>`s of details).
    pub own_text: bool,
    /// Read this attribute instead of the text content.
    pub attr: Option<String>,
    /// Keep only the first capture group of this regex.
    pub regex: Option<regex::Regex>,
    /// chrono format string for dates.
    pub format: Option<String>,
    /// Puts the value into a string at `{}`, e.g. `"topic.php?id={}"` when
    /// the site builds its links in JavaScript.
    pub template: Option<String>,
}

#[derive(Debug, Clone)]
pub struct JsonRules {
    /// JSON pointer to the array of postings; "" is the whole document.
    pub items: String,
    pub title: String,
    pub link: Option<String>,
    pub date: Option<String>,
    pub body: Option<String>,
    /// The JSON sits inside this element of an HTML page (`pre`, `script`).
    pub embedded: Option<Selector>,
    /// With `embedded`: the page is not a listing when this matches.
    pub blocked_if: Option<Selector>,
    /// The site hard-wraps titles at this many characters (akira): a line
    /// this long followed by a lowercase letter was cut mid-word.
    pub title_wrap: Option<usize>,
}

/// A request rate: `count` requests per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Rate {
    /// Parses `"N/s"`, `"N/min"` or `"N/h"`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || format!("`{text}` is not a rate: write it as \"N/s\", \"N/min\" or \"N/h\", e.g. \"1/s\"");
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let count = NonZeroU32::new(count).ok_or_else(|| format!("`{text}`: the rate must be at least 1"))?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(Rate { count, per })
    }

    /// The gap between two requests that keeps to this rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count.get()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Every problem found in one config file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Another file than the config itself (an included sources file).
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    /// The key the problem is about, e.g. `source "clop": html.title`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {n} problem{}:",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {}", p.file.as_deref().unwrap_or(&self.file).display())?;
            if let Some(line) = p.line {
                write!(f, ":{line}")?;
            }
            if p.key.is_empty() {
                write!(f, ": {}", p.message)?;
            } else {
                write!(f, ": {}: {}", p.key, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

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
    /// A `[database]` table is in the file, even if it could not be read:
    /// then its own problem is reported, not "missing".
    database_written: bool,
}

const SECTIONS: &str = "database, crawl, smtp, notify, source, include";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    path: Spanned<String>,
    keep_days: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCrawl {
    user_agent: Option<String>,
    concurrency: Option<Spanned<usize>>,
    per_host_rate: Option<Spanned<String>>,
    timeout_secs: Option<Spanned<u64>>,
    connect_timeout_secs: Option<Spanned<u64>>,
    read_timeout_secs: Option<Spanned<u64>>,
    max_body_bytes: Option<Spanned<u64>>,
    retries: Option<u32>,
    tor_proxy: Option<Spanned<String>>,
    #[serde(default)]
    allow_private_addresses: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    transport: Spanned<String>,
    host: Option<String>,
    port: Option<u16>,
    security: Option<Security>,
    username: Option<String>,
    password_env: Option<String>,
    from: Spanned<String>,
    dir: Option<String>,
    ca_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(default)]
    recipients: Vec<Spanned<String>>,
    #[serde(default)]
    admin_recipients: Vec<Spanned<String>>,
    broken_after: Option<u32>,
    #[serde(default)]
    webhook: Vec<RawWebhook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url_env: String,
    format: WebhookFormat,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    kind: Spanned<String>,
    url: Spanned<String>,
    rate: Option<Spanned<String>>,
    proxy: Option<Spanned<String>>,
    label: Option<String>,
    #[serde(default)]
    about: Vec<String>,
    html: Option<Spanned<RawHtml>>,
    json: Option<Spanned<RawJson>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHtml {
    item: Spanned<String>,
    title: Spanned<RawField>,
    link: Option<Spanned<RawField>>,
    date: Option<Spanned<RawField>>,
    body: Option<Spanned<RawField>>,
    next_page: Option<Spanned<RawField>>,
    max_pages: Option<u32>,
    blocked_if: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJson {
    items: Option<Spanned<String>>,
    title: Spanned<String>,
    link: Option<Spanned<String>>,
    date: Option<Spanned<String>>,
    body: Option<Spanned<String>>,
    embedded: Option<Spanned<String>>,
    blocked_if: Option<Spanned<String>>,
    title_wrap: Option<usize>,
}

/// A field spec: a bare selector string, or a table.
enum RawField {
    Selector(String),
    Spec(RawFieldSpec),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldSpec {
    selector: Option<String>,
    attr: Option<String>,
    regex: Option<String>,
    format: Option<String>,
    #[serde(default)]
    own_text: bool,
    template: Option<String>,
}

impl<'de> Deserialize<'de> for RawField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Written by hand rather than `#[serde(untagged)]` so that an unknown
        // key inside the table still gets serde's precise message.
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a CSS selector string or a table { selector, attr, regex, format, own_text, template }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawField, E> {
                Ok(RawField::Selector(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawField, A::Error> {
                RawFieldSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(RawField::Spec)
            }
        }
        d.deserialize_any(Visitor)
    }
}

// ---- validation ------------------------------------------------------------

/// Collects problems while validating; turns byte offsets into line numbers.
struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    fn add(&mut self, span: Option<std::ops::Range<usize>>, key: impl Into<String>, message: impl Into<String>) {
        let line = span.map(|s| self.line_of(s.start));
        self.problems.push(Problem {
            file: None,
            line,
            key: key.into(),
            message: message.into(),
        });
    }
}

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
    build_sources(&mut ck, raw.source, sources);
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
    let notify = Notify {
        recipients: addresses(ck, "notify.recipients", raw.notify.recipients),
        admin_recipients: addresses(ck, "notify.admin_recipients", raw.notify.admin_recipients),
        broken_after: raw.notify.broken_after.unwrap_or(DEFAULT_BROKEN_AFTER).max(1),
        webhooks: raw
            .notify
            .webhook
            .into_iter()
            .map(|w| Webhook {
                url_env: w.url_env,
                format: w.format,
            })
            .collect(),
    };
    let mut sources: Vec<Source> = Vec::new();
    build_sources(ck, raw.source, &mut sources);
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
        database: resolve(base, database.path.get_ref()),
        crawl,
        smtp,
        notify,
        sources,
    })
}

/// Checks each `[[source]]` and appends it; names are unique across the
/// main config and every included file.
fn build_sources(ck: &mut Checker, raw: Vec<Spanned<RawSource>>, sources: &mut Vec<Source>) {
    for (i, s) in raw.into_iter().enumerate() {
        let span = s.span();
        let s = s.into_inner();
        let name = s.name.get_ref().clone();
        if sources.iter().any(|o| o.name == name) {
            ck.add(
                Some(s.name.span()),
                format!("source[{i}].name"),
                format!("`{name}` is used by an earlier source: names must be unique"),
            );
        }
        if let Some(source) = build_source(ck, i, span, s) {
            sources.push(source);
        }
    }
}

fn build_crawl(ck: &mut Checker, raw: RawCrawl) -> Crawl {
    let per_host_rate = match &raw.per_host_rate {
        Some(r) => Rate::parse(r.get_ref()).unwrap_or_else(|m| {
            ck.add(Some(r.span()), "crawl.per_host_rate", m);
            Rate::parse(DEFAULT_PER_HOST_RATE).expect("default rate")
        }),
        None => Rate::parse(DEFAULT_PER_HOST_RATE).expect("default rate"),
    };
    let positive = |ck: &mut Checker, v: &Option<Spanned<u64>>, key: &str, default: u64| match v {
        Some(v) if *v.get_ref() == 0 => {
            ck.add(Some(v.span()), key, "must be greater than 0");
            default
        }
        Some(v) => *v.get_ref(),
        None => default,
    };
    let timeout = positive(ck, &raw.timeout_secs, "crawl.timeout_secs", DEFAULT_TIMEOUT_SECS);
    let connect_timeout = positive(
        ck,
        &raw.connect_timeout_secs,
        "crawl.connect_timeout_secs",
        DEFAULT_CONNECT_TIMEOUT_SECS,
    );
    let read_timeout = positive(
        ck,
        &raw.read_timeout_secs,
        "crawl.read_timeout_secs",
        DEFAULT_READ_TIMEOUT_SECS,
    );
    let max_body_bytes = positive(ck, &raw.max_body_bytes, "crawl.max_body_bytes", DEFAULT_MAX_BODY_BYTES);
    let concurrency = match raw.concurrency {
        Some(c) if *c.get_ref() == 0 => {
            ck.add(Some(c.span()), "crawl.concurrency", "must be at least 1");
            DEFAULT_CONCURRENCY
        }
        Some(c) => c.into_inner(),
        None => DEFAULT_CONCURRENCY,
    };
    let tor_proxy = raw.tor_proxy.and_then(|p| match Url::parse(p.get_ref()) {
        Ok(u) if u.scheme() == "socks5h" => Some(u),
        Ok(u) if u.scheme() == "socks5" => {
            ck.add(
                Some(p.span()),
                "crawl.tor_proxy",
                format!(
                    "`{u}` would resolve .onion names locally (a DNS leak, and they fail): write socks5h://{}",
                    &u[url::Position::BeforeHost..]
                ),
            );
            None
        }
        Ok(u) => {
            ck.add(
                Some(p.span()),
                "crawl.tor_proxy",
                format!("`{u}`: Tor is reached as socks5h://HOST:PORT, e.g. socks5h://127.0.0.1:9050"),
            );
            None
        }
        Err(e) => {
            ck.add(
                Some(p.span()),
                "crawl.tor_proxy",
                format!("`{}` is not a URL: {e}", p.get_ref()),
            );
            None
        }
    });
    Crawl {
        user_agent: raw.user_agent.unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned()),
        concurrency,
        per_host_rate,
        timeout: Duration::from_secs(timeout),
        connect_timeout: Duration::from_secs(connect_timeout),
        read_timeout: Duration::from_secs(read_timeout),
        max_body_bytes,
        retries: raw.retries.unwrap_or(DEFAULT_RETRIES),
        tor_proxy,
        allow_private_addresses: raw.allow_private_addresses,
    }
}

fn build_smtp(ck: &mut Checker, base: &Path, raw: RawSmtp) -> Option<Smtp> {
    let from = match raw.from.get_ref().parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(e) => {
            ck.add(
                Some(raw.from.span()),
                "smtp.from",
                format!("`{}` is not a mail address: {e}", raw.from.get_ref()),
            );
            None
        }
    };
    let transport = match raw.transport.get_ref().as_str() {
        "smtp" => match raw.host {
            Some(host) => Some(Transport::Smtp {
                host,
                port: raw.port.unwrap_or(DEFAULT_SMTP_PORT),
                security: raw.security.unwrap_or(Security::Starttls),
                username: raw.username,
                password_env: raw.password_env,
                ca_file: raw.ca_file.map(|f| resolve(base, &f)),
            }),
            None => {
                ck.add(
                    Some(raw.transport.span()),
                    "smtp.host",
                    "transport = \"smtp\" needs a host",
                );
                None
            }
        },
        "file" => match raw.dir {
            Some(dir) => Some(Transport::File {
                dir: resolve(base, &dir),
            }),
            None => {
                ck.add(
                    Some(raw.transport.span()),
                    "smtp.dir",
                    "transport = \"file\" needs a dir to write .eml files into",
                );
                None
            }
        },
        other => {
            ck.add(
                Some(raw.transport.span()),
                "smtp.transport",
                format!("`{other}` is not a transport: use \"smtp\" or \"file\""),
            );
            None
        }
    };
    Some(Smtp {
        transport: transport?,
        from: from?,
    })
}

fn addresses(ck: &mut Checker, key: &str, raw: Vec<Spanned<String>>) -> Vec<Address> {
    raw.into_iter()
        .filter_map(|a| match a.get_ref().trim().parse::<Address>() {
            Ok(addr) => Some(addr),
            Err(e) => {
                ck.add(
                    Some(a.span()),
                    key,
                    format!("`{}` is not a mail address: {e}", a.get_ref()),
                );
                None
            }
        })
        .collect()
}

fn valid_source_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn build_source(ck: &mut Checker, index: usize, span: std::ops::Range<usize>, raw: RawSource) -> Option<Source> {
    let name = raw.name.get_ref().clone();
    let key = |k: &str| format!("source \"{name}\": {k}");
    let before = ck.problems.len();
    if !valid_source_name(&name) {
        ck.add(
            Some(raw.name.span()),
            format!("source[{index}].name"),
            format!("`{name}`: a source name is lowercase letters, digits, `_` and `-`"),
        );
    }
    let url = match Url::parse(raw.url.get_ref()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(u) => {
            ck.add(
                Some(raw.url.span()),
                key("url"),
                format!("`{u}`: only http and https URLs can be fetched"),
            );
            None
        }
        Err(e) => {
            ck.add(
                Some(raw.url.span()),
                key("url"),
                format!("`{}` is not a URL: {e}", raw.url.get_ref()),
            );
            None
        }
    };
    let rate = raw.rate.as_ref().and_then(|r| {
        Rate::parse(r.get_ref())
            .map_err(|m| ck.add(Some(r.span()), key("rate"), m))
            .ok()
    });
    let proxy = raw.proxy.as_ref().and_then(|p| {
        source_proxy(url.as_ref(), p.get_ref())
            .map_err(|m| ck.add(Some(p.span()), key("proxy"), m))
            .ok()
    });
    let extractor = match raw.kind.get_ref().as_str() {
        "html" => match raw.html {
            Some(h) => build_html(ck, &name, h.into_inner()).map(Extractor::Html),
            None => {
                ck.add(
                    Some(span.clone()),
                    key("html"),
                    "kind = \"html\" needs a [source.html] table with at least `item` and `title`",
                );
                None
            }
        },
        "feed" => Some(Extractor::Feed),
        "json" => match raw.json {
            Some(j) => build_json(ck, &name, j.into_inner()).map(Extractor::Json),
            None => {
                ck.add(
                    Some(span.clone()),
                    key("json"),
                    "kind = \"json\" needs a [source.json] table with at least `title`",
                );
                None
            }
        },
        other => {
            ck.add(
                Some(raw.kind.span()),
                key("kind"),
                format!("`{other}` is not a source kind: use \"html\", \"feed\" or \"json\""),
            );
            None
        }
    };
    if ck.problems.len() > before {
        return None;
    }
    Some(Source {
        label: raw.label.unwrap_or_else(|| name.clone()),
        name,
        url: url?,
        rate,
        proxy,
        about: raw.about,
        extractor: extractor?,
    })
}

/// A source's own proxy: SOCKS5 or HTTP; a `.onion` source needs `socks5h`
/// so that the proxy, not the local resolver, looks the name up.
fn source_proxy(source_url: Option<&Url>, text: &str) -> Result<Url, String> {
    let u = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let onion = source_url
        .and_then(|s| s.host_str())
        .is_some_and(|h| h.trim_end_matches('.').ends_with(".onion"));
    match u.scheme() {
        "socks5h" | "http" | "https" => Ok(u),
        "socks5" if onion => Err(format!(
            "`{u}` would resolve the .onion name locally (a DNS leak, and it fails): write socks5h://{}",
            &u[url::Position::BeforeHost..]
        )),
        "socks5" => Ok(u),
        _ => Err(format!(
            "`{u}`: a proxy is socks5h://HOST:PORT, socks5://HOST:PORT or http://HOST:PORT"
        )),
    }
}

fn build_html(ck: &mut Checker, source: &str, raw: RawHtml) -> Option<HtmlRules> {
    let before = ck.problems.len();
    let item = selector(ck, source, "html.item", &raw.item);
    let title = field(ck, source, "html.title", raw.title);
    let link = raw.link.and_then(|f| field(ck, source, "html.link", f));
    let date = raw.date.and_then(|f| field(ck, source, "html.date", f));
    let body = raw.body.and_then(|f| field(ck, source, "html.body", f));
    let next_page = raw.next_page.and_then(|f| field(ck, source, "html.next_page", f));
    let blocked_if = raw.blocked_if.and_then(|s| selector(ck, source, "html.blocked_if", &s));
    if ck.problems.len() > before {
        return None;
    }
    Some(HtmlRules {
        item: item?,
        title: title?,
        link,
        date,
        body,
        next_page,
        max_pages: raw.max_pages.unwrap_or(DEFAULT_MAX_PAGES).max(1),
        blocked_if,
    })
}

fn selector(ck: &mut Checker, source: &str, key: &str, text: &Spanned<String>) -> Option<Selector> {
    match Selector::parse(text.get_ref()) {
        Ok(s) => Some(s),
        Err(e) => {
            ck.add(
                Some(text.span()),
                format!("source \"{source}\": {key}"),
                format!("`{}` is not a valid CSS selector: {e}", text.get_ref()),
            );
            None
        }
    }
}

fn field(ck: &mut Checker, source: &str, key: &str, raw: Spanned<RawField>) -> Option<Field> {
    let span = raw.span();
    let spec = match raw.into_inner() {
        RawField::Selector(s) => RawFieldSpec {
            selector: Some(s),
            attr: None,
            regex: None,
            format: None,
            own_text: false,
            template: None,
        },
        RawField::Spec(spec) => spec,
    };
    let sel = match spec.selector {
        Some(s) => Some(selector(ck, source, key, &Spanned::new(span.clone(), s))?),
        None => None,
    };
    if let Some(t) = &spec.template
        && !t.contains("{}")
    {
        ck.add(
            Some(span),
            format!("source \"{source}\": {key}.template"),
            format!("`{t}` has no `{{}}` to put the value in"),
        );
        return None;
    }
    let regex = match spec.regex {
        Some(r) => match regex::Regex::new(&r) {
            Ok(re) if re.captures_len() >= 2 => Some(re),
            Ok(_) => {
                ck.add(
                    Some(span),
                    format!("source \"{source}\": {key}.regex"),
                    format!("`{r}` has no capture group: wrap the part to keep in ( )"),
                );
                return None;
            }
            Err(e) => {
                ck.add(
                    Some(span),
                    format!("source \"{source}\": {key}.regex"),
                    format!("`{r}` is not a valid regex: {e}"),
                );
                return None;
            }
        },
        None => None,
    };
    Some(Field {
        selector: sel,
        own_text: spec.own_text,
        attr: spec.attr,
        regex,
        format: spec.format,
        template: spec.template,
    })
}

fn build_json(ck: &mut Checker, source: &str, raw: RawJson) -> Option<JsonRules> {
    let before = ck.problems.len();
    let mut pointer = |k: &str, p: Spanned<String>| {
        let text = p.get_ref();
        if !text.is_empty() && !text.starts_with('/') {
            ck.add(
                Some(p.span()),
                format!("source \"{source}\": json.{k}"),
                format!("`{text}` is not a JSON pointer: it starts with `/`, e.g. \"/data\""),
            );
        }
        p.into_inner()
    };
    let items = raw.items.map(|p| pointer("items", p)).unwrap_or_default();
    let title = pointer("title", raw.title);
    let link = raw.link.map(|p| pointer("link", p));
    let date = raw.date.map(|p| pointer("date", p));
    let body = raw.body.map(|p| pointer("body", p));
    let embedded = raw.embedded.and_then(|s| selector(ck, source, "json.embedded", &s));
    let blocked_if = raw.blocked_if.and_then(|s| selector(ck, source, "json.blocked_if", &s));
    let rules = JsonRules {
        items,
        title,
        link,
        date,
        body,
        embedded,
        blocked_if,
        title_wrap: raw.title_wrap.filter(|&w| w > 0),
    };
    (ck.problems.len() == before).then_some(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
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

    fn problems(text: &str) -> Vec<Problem> {
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
    fn alert_settings_load_with_defaults() {
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), GOOD).unwrap();
        assert_eq!(c.notify.broken_after, DEFAULT_BROKEN_AFTER);
        assert!(c.notify.webhooks.is_empty());
        let text = GOOD
            .replace("transport = \"file\"\ndir = \"out\"", "transport = \"smtp\"\nhost = \"relay.example\"\nca_file = \"ca.pem\"")
            .replace(
                "recipients = [\"secops@example.org\"]",
                "recipients = [\"secops@example.org\"]\nbroken_after = 5\n\n[[notify.webhook]]\nurl_env = \"HOOK\"\nformat = \"json\"",
            );
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), &text).unwrap();
        assert_eq!(c.notify.broken_after, 5);
        assert_eq!(
            c.notify.webhooks,
            [Webhook {
                url_env: "HOOK".into(),
                format: WebhookFormat::Json
            }]
        );
        assert!(matches!(
            &c.smtp.unwrap().transport,
            Transport::Smtp { ca_file: Some(f), .. } if f == Path::new("/etc/lw/ca.pem")
        ));
        let p = problems(&text.replace("format = \"json\"", "format = \"teams\""));
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("unknown variant `teams`"), "{p:?}");
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
    fn bad_rate_names_key_and_line() {
        let p = problems(&GOOD.replace("\"6/min\"", "\"6 per minute\""));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "source \"clop\": rate");
        assert_eq!(p[0].line, Some(20));
        assert!(p[0].message.contains("N/min"));
    }

    #[test]
    fn missing_title_selector_is_an_error() {
        let p = problems(&GOOD.replace("title = \"h2\"\n", ""));
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("missing field `title`"), "{p:?}");
        assert!(p[0].line.is_some());
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
    fn socks5_without_h_is_refused_for_tor() {
        let text = GOOD.replace("[crawl]", "[crawl]\ntor_proxy = \"socks5://127.0.0.1:9050\"");
        let p = problems(&text);
        assert!(p[0].message.contains("socks5h://127.0.0.1:9050"), "{p:?}");
    }

    #[test]
    fn a_source_proxy_for_onion_must_resolve_names_remotely() {
        let text = GOOD.replace(
            "rate = \"6/min\"",
            "rate = \"6/min\"\nproxy = \"socks5://127.0.0.1:9150\"",
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].key, "source \"clop\": proxy");
        assert!(p[0].message.contains("socks5h://127.0.0.1:9150"), "{p:?}");
        let text = GOOD.replace(
            "rate = \"6/min\"",
            "rate = \"6/min\"\nproxy = \"socks5h://127.0.0.1:9150\"",
        );
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), &text).unwrap();
        assert_eq!(
            c.sources[0].proxy.as_ref().map(Url::as_str),
            Some("socks5h://127.0.0.1:9150")
        );
    }

    #[test]
    fn read_timeout_is_configurable_and_positive() {
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), GOOD).unwrap();
        assert_eq!(c.crawl.read_timeout, Duration::from_secs(DEFAULT_READ_TIMEOUT_SECS));
        let text = GOOD.replace("[crawl]", "[crawl]\nread_timeout_secs = 0");
        assert_eq!(problems(&text)[0].key, "crawl.read_timeout_secs");
    }

    #[test]
    fn the_example_config_is_valid() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/leakwatch.example.toml"));
        let c = Config::load(path).unwrap();
        assert_eq!(c.sources.len(), 3);
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
    fn bad_embedded_blocked_if_and_template_name_their_key() {
        let text = "[database]\npath = \"x.db\"\n[[source]]\nname = \"a\"\nkind = \"json\"\nurl = \"http://a.example/\"\n[source.json]\ntitle = \"/t\"\nembedded = \"pre[[\"\n[[source]]\nname = \"b\"\nkind = \"html\"\nurl = \"http://b.example/\"\n[source.html]\nitem = \"li\"\ntitle = { selector = \"a\", template = \"x\" }\nblocked_if = \"##\"\n";
        let keys: Vec<_> = problems(text).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "source \"a\": json.embedded",
                "source \"b\": html.title.template",
                "source \"b\": html.blocked_if"
            ]
        );
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

    #[test]
    fn rates_parse() {
        assert_eq!(Rate::parse("1/s").unwrap().interval(), Duration::from_secs(1));
        assert_eq!(Rate::parse("4/h").unwrap().interval(), Duration::from_secs(900));
        assert!(Rate::parse("0/s").is_err());
        assert!(Rate::parse("1/day").is_err());
        assert_eq!(Rate::parse("6/min").unwrap().to_string(), "6/min");
    }
}
