//! `[[source]]`: one watched page, feed or API, and how to read postings from it.
//!
//! Checks the name, addresses, rate and proxy of each source and which
//! extraction table it has; the tables themselves are checked and compiled
//! once in `extraction` (html, json) and `kinds` (feed, csv), so that
//! extraction never meets an invalid rule.

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::Rate;
use super::detail::{DetailRules, RawDetail, build_detail};
use super::extraction::{HtmlRules, JsonRules, RawHtml, RawJson, build_html, build_json};
use super::kinds::{CsvRules, FeedRules, RawCsv, RawFeed, build_csv, build_feed};
use super::problems::Checker;
use super::request::{RawRequest, Request, build_request};

/// One configured page (or feed, or API) to watch.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// Shown in emails; defaults to the name.
    pub label: String,
    pub url: Url,
    /// Other addresses of the same site, tried in turn when `url` fails.
    pub mirrors: Vec<Url>,
    /// Overrides `crawl.per_host_rate` for this source's host.
    pub rate: Option<Rate>,
    /// This source's own proxy (`socks5h://`, `socks5://`, `http://`), used
    /// instead of the direct client or `crawl.tor_proxy`.
    pub proxy: Option<Url>,
    /// Watch entries this source is the disclosure channel of.
    pub about: Vec<String>,
    /// The threat actor behind the site, for postings that do not name one.
    pub group: Option<String>,
    /// What a posting here means, for disclosure sources ("added to CISA
    /// KEV"): the email says so instead of "named on a leak site".
    pub disclosure: Option<String>,
    pub extractor: Extractor,
    /// `[source.request]`: how to ask for the page (a plain GET by default).
    pub request: Request,
    /// `[source.detail]`: the posts' own pages to read.
    pub detail: Option<DetailRules>,
    /// The included file this source was read from (`None`: the main config).
    pub file: Option<std::path::PathBuf>,
    /// Load pages in a browser first (sites that build their listing in JavaScript).
    pub render: Option<Render>,
}

/// How a page is loaded before extraction, besides a plain GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// Headless Chromium: see `fetch::render`.
    Chromium,
}

impl Source {
    pub fn is_onion(&self) -> bool {
        self.addresses()
            .any(|u| u.host_str().is_some_and(super::onion::is_onion))
    }

    /// `url`, then the mirrors, as configured.
    pub fn addresses(&self) -> impl Iterator<Item = &Url> {
        std::iter::once(&self.url).chain(&self.mirrors)
    }

    /// No extraction rules yet: a `kind = "html"` source without its
    /// `[source.html]` table, e.g. one `source import` added. A run fetches
    /// its page and stores a proposal for it, no postings.
    pub fn is_pending(&self) -> bool {
        matches!(self.extractor, Extractor::Pending)
    }
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per source, built once: size does not matter
pub enum Extractor {
    Html(HtmlRules),
    Feed(FeedRules),
    Json(JsonRules),
    Csv(CsvRules),
    /// Waiting for its selectors: see [`Source::is_pending`].
    Pending,
}

impl Extractor {
    pub fn kind(&self) -> &'static str {
        match self {
            Extractor::Html(_) => "html",
            Extractor::Feed(_) => "feed",
            Extractor::Json(_) => "json",
            Extractor::Csv(_) => "csv",
            Extractor::Pending => "html",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    name: Spanned<String>,
    kind: Spanned<String>,
    url: Spanned<String>,
    #[serde(default)]
    mirrors: Vec<Spanned<String>>,
    rate: Option<Spanned<String>>,
    proxy: Option<Spanned<String>>,
    label: Option<String>,
    #[serde(default)]
    about: Vec<String>,
    group: Option<String>,
    disclosure: Option<String>,
    render: Option<Spanned<String>>,
    html: Option<Spanned<RawHtml>>,
    json: Option<Spanned<RawJson>>,
    feed: Option<Spanned<RawFeed>>,
    csv: Option<Spanned<RawCsv>>,
    request: Option<Spanned<RawRequest>>,
    detail: Option<Spanned<RawDetail>>,
}

/// Checks each `[[source]]` and appends it; names are unique across the
/// main config and every included file.
pub(super) fn build_sources(ck: &mut Checker, raw: Vec<Spanned<RawSource>>, sources: &mut Vec<Source>) {
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
    let url = address(ck, &raw.url, key("url"));
    let mirrors: Vec<Url> = raw
        .mirrors
        .iter()
        .enumerate()
        .filter_map(|(i, m)| address(ck, m, key(&format!("mirrors[{i}]"))))
        .collect();
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
            None => Some(Extractor::Pending),
        },
        "feed" => build_feed(ck, &name, raw.feed.map(Spanned::into_inner).unwrap_or_default()).map(Extractor::Feed),
        "csv" => match raw.csv {
            Some(c) => build_csv(ck, &name, c.into_inner()).map(Extractor::Csv),
            None => {
                ck.add(
                    Some(span.clone()),
                    key("csv"),
                    "kind = \"csv\" needs a [source.csv] table with at least `title` (a column name)",
                );
                None
            }
        },
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
                format!("`{other}` is not a source kind: use \"html\", \"feed\", \"json\" or \"csv\""),
            );
            None
        }
    };
    let render = raw.render.as_ref().and_then(|r| match r.get_ref().as_str() {
        "chromium" => Some(Render::Chromium),
        other => {
            ck.add(
                Some(r.span()),
                key("render"),
                format!("`{other}` is not a way to render: the only one is \"chromium\""),
            );
            None
        }
    });
    if let Some(problem) = render_problem(render, extractor.as_ref()) {
        let at = raw.render.as_ref().map_or(span.clone(), |r| r.span());
        ck.add(Some(at), key(problem.0), problem.1);
    }
    let request = raw.request.and_then(|r| build_request(ck, &name, url.as_ref(), r));
    let detail = raw.detail.and_then(|d| build_detail(ck, &name, d));
    let has_link = match &extractor {
        Some(Extractor::Html(h)) => h.link.is_some(),
        Some(Extractor::Json(j)) => j.link.is_some(),
        _ => true,
    };
    if detail.is_some() && !has_link {
        ck.add(
            Some(span),
            key("detail"),
            format!(
                "reads each posting's own page, but [source.{}] has no `link` to find it by: add `link`",
                raw.kind.get_ref()
            ),
        );
    }
    if ck.problems.len() > before {
        return None;
    }
    Some(Source {
        render,
        label: raw.label.unwrap_or_else(|| name.clone()),
        name,
        url: url?,
        mirrors,
        rate,
        proxy,
        about: raw.about,
        group: raw.group.filter(|g| !g.trim().is_empty()),
        disclosure: raw.disclosure.filter(|d| !d.trim().is_empty()),
        extractor: extractor?,
        request: request.unwrap_or_default(),
        detail,
        file: None,
    })
}

/// What is wrong with `render` on this extractor, as (key, message): a
/// browser renders HTML, so a feed or a bare JSON API has nothing to run, and
/// `wait_for` means nothing without a browser.
fn render_problem(render: Option<Render>, extractor: Option<&Extractor>) -> Option<(&'static str, String)> {
    match (render, extractor?) {
        (Some(_), Extractor::Feed(_)) => Some(("render", "a feed has no scripts to run: remove `render`".into())),
        (Some(_), Extractor::Csv(_)) => Some(("render", "a CSV file has no scripts to run: remove `render`".into())),
        (Some(_), Extractor::Json(j)) if j.embedded.is_none() => Some((
            "render",
            "a JSON API has no scripts to run: remove `render`, or set json.embedded when the JSON sits in a page that scripts fill".into(),
        )),
        (None, Extractor::Html(h)) if h.wait_for.is_some() => Some((
            "html.wait_for",
            "waits for a selector in a browser: add render = \"chromium\" or remove it".into(),
        )),
        _ => None,
    }
}

/// A source address (`url` or a mirror): http or https.
fn address(ck: &mut Checker, text: &Spanned<String>, key: String) -> Option<Url> {
    match Url::parse(text.get_ref()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(u) => {
            ck.add(
                Some(text.span()),
                key,
                format!("`{u}`: only http and https URLs can be fetched"),
            );
            None
        }
        Err(e) => {
            ck.add(
                Some(text.span()),
                key,
                format!("`{}` is not a URL: {e}", text.get_ref()),
            );
            None
        }
    }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::config::tests::{GOOD, problems};

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
    fn render_fits_only_pages_that_scripts_fill() {
        let source = |kind: &str, extra: &str, table: &str| {
            format!("[[source]]\nname = \"{kind}\"\nkind = \"{kind}\"\nurl = \"http://a.example/\"\n{extra}\n{table}\n")
        };
        let text = format!(
            "[database]\npath = \"x.db\"\n{}{}{}",
            source("feed", "render = \"chromium\"", ""),
            source("json", "render = \"firefox\"", "[source.json]\ntitle = \"/t\""),
            source(
                "html",
                "",
                "[source.html]\nitem = \"li\"\ntitle = \"a\"\nwait_for = \"li\""
            ),
        );
        let found: Vec<_> = problems(&text).into_iter().map(|p| (p.key, p.message)).collect();
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "source \"feed\": render",
                "source \"json\": render",
                "source \"html\": html.wait_for"
            ],
            "{found:?}"
        );
        assert!(found[0].1.contains("a feed has no scripts"), "{found:?}");
        assert!(found[1].1.contains("the only one is \"chromium\""), "{found:?}");
        assert!(found[2].1.contains("add render = \"chromium\""), "{found:?}");
        let embedded = "[database]\npath = \"x.db\"\n[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"http://a.example/\"\nrender = \"chromium\"\n[source.json]\ntitle = \"/t\"\nembedded = \"pre\"\n";
        let config = Config::parse(std::path::Path::new("leakwatch.toml"), embedded);
        assert!(
            config.is_ok_and(|c| c.sources[0].render == Some(Render::Chromium)),
            "json inside a page may be rendered"
        );
    }
}
