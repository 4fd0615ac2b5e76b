//! `[source.feed]` and `[source.csv]`, and the structured facts every kind
//! may read (`group`, `website`, `vendor`, `product`, `id`).
//!
//! Feeds need no table at all; one is written when a feed packs several
//! facts into one element (ransomware.live: `alphv has just published a new
//! victim : Tempur Sealy`), so each fact names the element it is read from
//! and a regex keeping the part wanted. CSV registries name their columns.

use serde::Deserialize;
use toml::Spanned;

use super::problems::Checker;

/// Where each structured fact of a posting is read; `T` is how a kind
/// addresses a value (a JSON pointer, a feed element, a CSV column).
#[derive(Debug, Clone)]
pub struct Facts<T> {
    /// The threat actor, per item (aggregators).
    pub group: Option<T>,
    /// The victim's own domain as the item states it.
    pub website: Option<T>,
    /// The vendor and product a disclosure is about (KEV `vendorProject`, `product`).
    pub vendor: Option<T>,
    pub product: Option<T>,
    /// A stable identity for items whose titles repeat (a CVE id, a guid).
    pub id: Option<T>,
}

impl<T> Default for Facts<T> {
    fn default() -> Self {
        Facts {
            group: None,
            website: None,
            vendor: None,
            product: None,
            id: None,
        }
    }
}

/// The parts of a feed entry a value can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedPart {
    Title,
    Summary,
    Link,
    /// `guid` (RSS) or `id` (Atom).
    Guid,
    /// Each `category` in turn: the first the regex fits.
    Category,
}

/// One value of a feed entry: a part, and optionally the capture group of a
/// regex over it.
#[derive(Debug, Clone)]
pub struct FeedField {
    pub from: FeedPart,
    pub regex: Option<regex::Regex>,
}

#[derive(Debug, Clone, Default)]
pub struct FeedRules {
    /// The title (default: the entry's title as it is).
    pub title: Option<FeedField>,
    pub facts: Facts<FeedField>,
}

/// A date column and its chrono format.
#[derive(Debug, Clone)]
pub struct CsvDate {
    pub column: String,
    pub format: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CsvRules {
    pub title: String,
    pub link: Option<String>,
    pub date: Option<CsvDate>,
    /// Columns joined, each as `column: value`, into the body.
    pub body: Vec<String>,
    pub facts: Facts<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    title: Option<Spanned<RawFeedField>>,
    group: Option<Spanned<RawFeedField>>,
    website: Option<Spanned<RawFeedField>>,
    vendor: Option<Spanned<RawFeedField>>,
    product: Option<Spanned<RawFeedField>>,
    id: Option<Spanned<RawFeedField>>,
}

/// `"title"`, or `{ from = "title", regex = "…" }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawFeedField {
    Part(String),
    Spec { from: String, regex: Option<String> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCsv {
    title: Spanned<String>,
    link: Option<String>,
    date: Option<RawCsvDate>,
    #[serde(default)]
    body: Vec<String>,
    group: Option<String>,
    website: Option<String>,
    vendor: Option<String>,
    product: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCsvDate {
    Column(String),
    Spec { column: String, format: Option<String> },
}

/// The facts of `[source.json]`: JSON pointers, checked by the caller.
pub(super) struct RawJsonFacts {
    pub group: Option<Spanned<String>>,
    pub website: Option<Spanned<String>>,
    pub vendor: Option<Spanned<String>>,
    pub product: Option<Spanned<String>>,
    pub id: Option<Spanned<String>>,
}

impl RawJsonFacts {
    pub fn build(self, mut pointer: impl FnMut(&str, Spanned<String>) -> String) -> Facts<String> {
        Facts {
            group: self.group.map(|p| pointer("group", p)),
            website: self.website.map(|p| pointer("website", p)),
            vendor: self.vendor.map(|p| pointer("vendor", p)),
            product: self.product.map(|p| pointer("product", p)),
            id: self.id.map(|p| pointer("id", p)),
        }
    }
}

pub(super) fn build_feed(ck: &mut Checker, source: &str, raw: RawFeed) -> Option<FeedRules> {
    let before = ck.problems.len();
    let mut field = |k: &str, f: Option<Spanned<RawFeedField>>| f.and_then(|f| feed_field(ck, source, k, f));
    let rules = FeedRules {
        title: field("title", raw.title),
        facts: Facts {
            group: field("group", raw.group),
            website: field("website", raw.website),
            vendor: field("vendor", raw.vendor),
            product: field("product", raw.product),
            id: field("id", raw.id),
        },
    };
    (ck.problems.len() == before).then_some(rules)
}

fn feed_field(ck: &mut Checker, source: &str, key: &str, raw: Spanned<RawFeedField>) -> Option<FeedField> {
    let span = raw.span();
    let (from, regex) = match raw.into_inner() {
        RawFeedField::Part(p) => (p, None),
        RawFeedField::Spec { from, regex } => (from, regex),
    };
    let part = match from.as_str() {
        "title" => FeedPart::Title,
        "summary" | "description" => FeedPart::Summary,
        "link" => FeedPart::Link,
        "guid" | "id" => FeedPart::Guid,
        "category" => FeedPart::Category,
        other => {
            ck.add(
                Some(span),
                format!("source \"{source}\": feed.{key}"),
                format!("`{other}` is not a part of a feed entry: use \"title\", \"summary\", \"link\", \"guid\" or \"category\""),
            );
            return None;
        }
    };
    let regex = match regex {
        None => None,
        Some(r) => Some(capturing_regex(ck, source, &format!("feed.{key}.regex"), span, &r)?),
    };
    Some(FeedField { from: part, regex })
}

/// A regex with a capture group: the part of the value to keep.
pub(super) fn capturing_regex(
    ck: &mut Checker,
    source: &str,
    key: &str,
    span: std::ops::Range<usize>,
    r: &str,
) -> Option<regex::Regex> {
    match regex::Regex::new(r) {
        Ok(re) if re.captures_len() >= 2 => Some(re),
        Ok(_) => {
            ck.add(
                Some(span),
                format!("source \"{source}\": {key}"),
                format!("`{r}` has no capture group: wrap the part to keep in ( )"),
            );
            None
        }
        Err(e) => {
            ck.add(
                Some(span),
                format!("source \"{source}\": {key}"),
                format!("`{r}` is not a valid regex: {e}"),
            );
            None
        }
    }
}

pub(super) fn build_csv(ck: &mut Checker, source: &str, raw: RawCsv) -> Option<CsvRules> {
    if raw.title.get_ref().trim().is_empty() {
        ck.add(
            Some(raw.title.span()),
            format!("source \"{source}\": csv.title"),
            "the title is a column name from the header row, e.g. \"Name of Covered Entity\"",
        );
        return None;
    }
    Some(CsvRules {
        title: raw.title.into_inner(),
        link: raw.link,
        date: raw.date.map(|d| match d {
            RawCsvDate::Column(column) => CsvDate { column, format: None },
            RawCsvDate::Spec { column, format } => CsvDate { column, format },
        }),
        body: raw.body,
        facts: Facts {
            group: raw.group,
            website: raw.website,
            vendor: raw.vendor,
            product: raw.product,
            id: raw.id,
        },
    })
}
