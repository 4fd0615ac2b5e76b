//! `[[source]]`: one watched page, feed or API, and how to read postings from it.
//!
//! Checks the name, URL, rate and proxy of each source and compiles its
//! extraction rules (CSS selectors, field specs, JSON pointers) once, so
//! that extraction never meets an invalid rule.

use std::fmt;

use scraper::Selector;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::Rate;
use super::detail::{DetailRules, RawDetail, build_detail};
use super::kinds::{CsvRules, Facts, FeedRules, RawCsv, RawFeed, RawJsonFacts, build_csv, build_feed, capturing_regex};
use super::problems::Checker;
use super::request::{RawRequest, Request, build_request};

pub const DEFAULT_MAX_PAGES: u32 = 5;

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
    Feed(FeedRules),
    Json(JsonRules),
    Csv(CsvRules),
}

impl Extractor {
    pub fn kind(&self) -> &'static str {
        match self {
            Extractor::Html(_) => "html",
            Extractor::Feed(_) => "feed",
            Extractor::Json(_) => "json",
            Extractor::Csv(_) => "csv",
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
    /// The victim's own domain as the site states it.
    pub website: Option<Field>,
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
    /// Pointers joined into the body; a labelled one reads `label: value`.
    pub body: Vec<(Option<String>, String)>,
    pub facts: Facts<String>,
    /// Only items where this pointer is `true` (or a non-empty string other
    /// than "false") are postings: the SEC list keeps Item 1.05 filings.
    pub keep_if: Option<String>,
    /// The JSON sits inside this element of an HTML page (`pre`, `script`).
    pub embedded: Option<Selector>,
    /// With `embedded`: the page is not a listing when this matches.
    pub blocked_if: Option<Selector>,
    /// The site hard-wraps titles at this many characters (akira): a line
    /// this long followed by a lowercase letter was cut mid-word.
    pub title_wrap: Option<usize>,
    /// How a paginated API says where its next page is.
    pub next_page: Option<JsonNext>,
    pub max_pages: u32,
}

/// The next page of a JSON API.
#[derive(Debug, Clone)]
pub enum JsonNext {
    /// A JSON pointer to the next page's URL in the document.
    Pointer(String),
    /// This query parameter, incremented, until a page has no postings.
    PageParam(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    name: Spanned<String>,
    kind: Spanned<String>,
    url: Spanned<String>,
    rate: Option<Spanned<String>>,
    proxy: Option<Spanned<String>>,
    label: Option<String>,
    #[serde(default)]
    about: Vec<String>,
    group: Option<String>,
    disclosure: Option<String>,
    html: Option<Spanned<RawHtml>>,
    json: Option<Spanned<RawJson>>,
    feed: Option<Spanned<RawFeed>>,
    csv: Option<Spanned<RawCsv>>,
    request: Option<Spanned<RawRequest>>,
    detail: Option<Spanned<RawDetail>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHtml {
    item: Spanned<String>,
    title: Spanned<RawField>,
    link: Option<Spanned<RawField>>,
    date: Option<Spanned<RawField>>,
    body: Option<Spanned<RawField>>,
    website: Option<Spanned<RawField>>,
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
    body: Option<Spanned<RawBody>>,
    embedded: Option<Spanned<String>>,
    blocked_if: Option<Spanned<String>>,
    title_wrap: Option<usize>,
    next_page: Option<Spanned<String>>,
    page_param: Option<String>,
    max_pages: Option<u32>,
    keep_if: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    website: Option<Spanned<String>>,
    vendor: Option<Spanned<String>>,
    product: Option<Spanned<String>>,
    id: Option<Spanned<String>>,
}

/// `body = "/description"`, or several: `["/a", { label = "due", pointer = "/dueDate" }]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawBody {
    One(String),
    Many(Vec<RawBodyPart>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawBodyPart {
    Pointer(String),
    Labelled { label: String, pointer: String },
}

/// A field spec: a bare selector string, or a table.
pub(super) enum RawField {
    Selector(String),
    Spec(RawFieldSpec),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFieldSpec {
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
        label: raw.label.unwrap_or_else(|| name.clone()),
        name,
        url: url?,
        rate,
        proxy,
        about: raw.about,
        group: raw.group.filter(|g| !g.trim().is_empty()),
        disclosure: raw.disclosure.filter(|d| !d.trim().is_empty()),
        extractor: extractor?,
        request: request.unwrap_or_default(),
        detail,
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
    let website = raw.website.and_then(|f| field(ck, source, "html.website", f));
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
        website,
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

pub(super) fn field(ck: &mut Checker, source: &str, key: &str, raw: Spanned<RawField>) -> Option<Field> {
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
        Some(r) => Some(capturing_regex(ck, source, &format!("{key}.regex"), span, &r)?),
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
    let body = match raw.body.map(|b| (b.span(), b.into_inner())) {
        None => Vec::new(),
        Some((span, RawBody::One(p))) => vec![(None, pointer("body", Spanned::new(span, p)))],
        Some((span, RawBody::Many(parts))) => parts
            .into_iter()
            .map(|part| match part {
                RawBodyPart::Pointer(p) => (None, pointer("body", Spanned::new(span.clone(), p))),
                RawBodyPart::Labelled { label, pointer: p } => {
                    (Some(label), pointer("body", Spanned::new(span.clone(), p)))
                }
            })
            .collect(),
    };
    let facts = RawJsonFacts {
        group: raw.group,
        website: raw.website,
        vendor: raw.vendor,
        product: raw.product,
        id: raw.id,
    }
    .build(&mut pointer);
    let keep_if = raw.keep_if.map(|p| pointer("keep_if", p));
    let next_pointer = raw.next_page.map(|p| pointer("next_page", p));
    let next_page = match (next_pointer, raw.page_param) {
        (Some(p), None) => Some(JsonNext::Pointer(p)),
        (None, Some(param)) if !param.is_empty() => Some(JsonNext::PageParam(param)),
        (None, None) => None,
        (_, _) => {
            ck.add(
                None,
                format!("source \"{source}\": json.page_param"),
                "give `next_page` (a JSON pointer to the next URL) or `page_param` (a query parameter to count up), not both, and not empty",
            );
            None
        }
    };
    let embedded = raw.embedded.and_then(|s| selector(ck, source, "json.embedded", &s));
    let blocked_if = raw.blocked_if.and_then(|s| selector(ck, source, "json.blocked_if", &s));
    let rules = JsonRules {
        items,
        title,
        link,
        date,
        body,
        facts,
        keep_if,
        embedded,
        blocked_if,
        title_wrap: raw.title_wrap.filter(|&w| w > 0),
        next_page,
        max_pages: raw.max_pages.unwrap_or(DEFAULT_MAX_PAGES).max(1),
    };
    (ck.problems.len() == before).then_some(rules)
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
}
