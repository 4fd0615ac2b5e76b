//! The extraction tables of HTML and JSON sources — `[source.html]` and
//! `[source.json]` — and the field spec they share (a selector, or
//! `{ selector, attr, regex, format }`): the raw TOML, the checks, and the
//! compiled rules `extract` runs. Feeds and CSV registries are in `kinds`.

use std::fmt;

use scraper::Selector;
use serde::Deserialize;
use toml::Spanned;

use super::kinds::{Facts, RawJsonFacts, capturing_regex};
use super::problems::Checker;

pub const DEFAULT_MAX_PAGES: u32 = 5;

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
    /// With `render`: the page is ready when this CSS selector matches
    /// (checked by the browser, so kept as written).
    pub wait_for: Option<String>,
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
pub(super) struct RawHtml {
    item: Spanned<String>,
    title: Spanned<RawField>,
    link: Option<Spanned<RawField>>,
    date: Option<Spanned<RawField>>,
    body: Option<Spanned<RawField>>,
    website: Option<Spanned<RawField>>,
    next_page: Option<Spanned<RawField>>,
    max_pages: Option<u32>,
    blocked_if: Option<Spanned<String>>,
    wait_for: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJson {
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

pub(super) fn build_html(ck: &mut Checker, source: &str, raw: RawHtml) -> Option<HtmlRules> {
    let before = ck.problems.len();
    let item = selector(ck, source, "html.item", &raw.item);
    let title = field(ck, source, "html.title", raw.title);
    let link = raw.link.and_then(|f| field(ck, source, "html.link", f));
    let date = raw.date.and_then(|f| field(ck, source, "html.date", f));
    let body = raw.body.and_then(|f| field(ck, source, "html.body", f));
    let website = raw.website.and_then(|f| field(ck, source, "html.website", f));
    let next_page = raw.next_page.and_then(|f| field(ck, source, "html.next_page", f));
    let blocked_if = raw.blocked_if.and_then(|s| selector(ck, source, "html.blocked_if", &s));
    let wait_for = raw
        .wait_for
        .and_then(|s| selector(ck, source, "html.wait_for", &s).map(|_| s.into_inner()));
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
        wait_for,
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

pub(super) fn build_json(ck: &mut Checker, source: &str, raw: RawJson) -> Option<JsonRules> {
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
