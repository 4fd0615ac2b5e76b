//! Which element inside each item holds the title, the link, the date and
//! the body.
//!
//! For every item the descendants are walked once in document order (the
//! item itself first, as scraper's `ElementRef::select` does) and every
//! element is filed under the simple selectors that match it — its tag, and
//! its tag with each class that is not generated (`h5`, `h5.card-title`;
//! utility classes are scored down, for pages that have nothing else). The
//! first element filed under a selector is exactly what the extractor's
//! `select(..).next()` returns, so the values scored here are the values
//! `run` will read. Two more columns cover names no element holds alone:
//! the item's own text, and the last segment of its first link's path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use scraper::ElementRef;

use super::names::{stable_class, usable_class};
use crate::extract::{element_text, own_text, parse_date};
use crate::text;

/// The fields found for one set of items, as selectors relative to an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    pub title: String,
    pub link: Option<String>,
    pub date: Option<String>,
    pub body: Option<String>,
    /// The title of each item, in page order ("" where there is none).
    pub titles: Vec<String>,
    /// How much the titles look like the names of organisations, 0 to ~1.5.
    pub title_score: f64,
}

/// What one relative selector reads in each item.
#[derive(Default)]
struct Column {
    /// Per item: the text of the first match (cleaned), if any.
    text: Vec<Option<String>>,
    /// Per item: the `href` of the first match, if it has one.
    href: Vec<Option<String>>,
    /// Items whose first match is the item itself.
    is_self: usize,
    /// All matches, over all items.
    matches: usize,
    /// Items with at least one match, blank or not.
    found: usize,
}

/// Finds the fields of `items`; `None` when no element reads as a title.
pub fn infer(items: &[ElementRef], texts: &mut Texts) -> Option<Fields> {
    let n = items.len();
    let new_column = || Column {
        text: vec![None; n],
        href: vec![None; n],
        ..Column::default()
    };
    // Keyed by tag and class or "" borrowed from the page while walking,
    // named as selectors once, at the end.
    let mut found: HashMap<(&str, &str, Extra), Column> = HashMap::new();
    let mut seen: HashSet<(&str, &str, Extra)> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        seen.clear();
        for node in item.descendants() {
            let Some(el) = ElementRef::wrap(node) else { continue };
            let e = el.value();
            let tag = e.name();
            if matches!(
                tag,
                "script" | "style" | "noscript" | "template" | "svg" | "br" | "img" | "input"
            ) || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                continue;
            }
            let href = e.attr("href");
            let keys = std::iter::once((tag, "", Extra::None))
                .chain(e.classes().filter(|c| usable_class(c)).map(|c| (tag, c, Extra::None)))
                .chain((tag == "a" && href.is_some()).then_some(("a", "", Extra::Href)))
                .chain(matches!(tag, "td" | "th").then(|| (tag, "", Extra::Nth(nth_of_type(el)))));
            let mut text = None;
            for key in keys {
                let col = found.entry(key).or_insert_with(new_column);
                col.matches += 1;
                if !seen.insert(key) {
                    continue;
                }
                col.found += 1;
                let t: &Rc<str> = text.get_or_insert_with(|| texts.of(el));
                col.text[i] = (!t.is_empty()).then(|| t.to_string());
                col.href[i] = href.map(str::to_owned);
                if el.id() == item.id() {
                    col.is_self += 1;
                }
            }
        }
    }
    let mut columns: BTreeMap<String, Column> = found
        .into_iter()
        .map(|((tag, class, extra), c)| {
            let key = match (class, extra) {
                (_, Extra::Href) => "a[href]".to_owned(),
                (_, Extra::Nth(i)) => format!("{tag}:nth-of-type({i})"),
                ("", Extra::None) => tag.to_owned(),
                (class, Extra::None) => format!("{tag}.{class}"),
            };
            (key, c)
        })
        .collect();
    let own = columns.entry(OWN_TEXT.to_owned()).or_insert_with(|| Column {
        text: vec![None; n],
        href: vec![None; n],
        ..Column::default()
    });
    for (i, item) in items.iter().enumerate() {
        let t = own_text(*item);
        own.matches += 1;
        own.found += 1;
        own.text[i] = (!t.is_empty()).then_some(t);
    }
    if let Some((key, slugs)) = columns.get("a[href]").and_then(|c| slug_column(&c.href)) {
        columns.insert(
            key,
            Column {
                matches: slugs.iter().flatten().count(),
                found: slugs.iter().flatten().count(),
                text: slugs,
                href: vec![None; n],
                is_self: 0,
            },
        );
    }
    let (title_key, title_score) = columns
        .iter()
        .map(|(k, c)| (k, title_score(k, c, n)))
        .filter(|(_, s)| *s > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))?;
    let titles: Vec<String> = columns[title_key]
        .text
        .iter()
        .map(|t| t.clone().unwrap_or_default())
        .collect();
    Some(Fields {
        title: title_key.clone(),
        link: link(&columns, title_key, n),
        date: best(&columns, |k, c| date_score(k, c, n)),
        body: best(&columns, |k, c| body_score(k, c, &titles, title_key, n)),
        titles,
        title_score,
    })
}

/// What a column key says besides tag and class.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Extra {
    None,
    /// `a[href]`: links only.
    Href,
    /// A table cell by its place in the row (`td:nth-of-type(2)`): in a
    /// table without classes, the column is all that tells cells apart.
    Nth(usize),
}

/// The 1-based place of `el` among its siblings of the same tag.
fn nth_of_type(el: ElementRef) -> usize {
    let tag = el.value().name();
    1 + el
        .prev_siblings()
        .filter_map(ElementRef::wrap)
        .filter(|s| s.value().name() == tag)
        .count()
}

/// The column of each item's own text: `title = { own_text = true }`, for
/// sites that write the name straight into the item, details in children.
pub const OWN_TEXT: &str = "{own_text}";

/// Marks the column of names read from link paths: `{slug}/company/` holds
/// `pu.edu.lb` for `<a href="/company/pu.edu.lb">`; `{slug}*/company/` when
/// some links are full addresses.
pub const SLUG: &str = "{slug}";

/// The names in the first links' paths, when most of them point into one
/// section of the site: for sites that show a description and keep the name
/// in the link only.
fn slug_column(hrefs: &[Option<String>]) -> Option<(String, Vec<Option<String>>)> {
    let paths: Vec<Option<(String, bool)>> = hrefs
        .iter()
        .map(|h| h.as_deref().and_then(super::items::link_path))
        .collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in paths.iter().flatten().filter_map(|(p, _)| super::items::section(p)) {
        *counts.entry(s).or_default() += 1;
    }
    let (section, count) = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))?;
    if count * 5 < hrefs.len() * 4 {
        return None;
    }
    let mut absolute = false;
    let slugs = paths
        .iter()
        .map(|p| {
            let (path, abs) = p.as_ref()?;
            let rest = path.strip_prefix(section.as_str())?;
            absolute |= abs;
            let slug = text::clean(rest.split(['/', '?', '#']).next()?);
            (!slug.is_empty()).then_some(slug)
        })
        .collect();
    let mark = if absolute { "*" } else { "" };
    Some((format!("{SLUG}{mark}{section}"), slugs))
}

/// Element texts already read, for the page being suggested for: the
/// candidates overlap (a card, its body, its column), so each element's
/// text is read once rather than once per candidate.
#[derive(Default)]
pub struct Texts {
    /// Keyed by the element's address in the parsed page, which does not
    /// move while the page is borrowed.
    cache: HashMap<usize, Rc<str>>,
}

impl Texts {
    pub fn of(&mut self, el: ElementRef) -> Rc<str> {
        let key = std::ptr::from_ref(el.value()) as usize;
        self.cache.entry(key).or_insert_with(|| element_text(el).into()).clone()
    }
}

fn best(columns: &BTreeMap<String, Column>, score: impl Fn(&str, &Column) -> f64) -> Option<String> {
    columns
        .iter()
        .map(|(k, c)| (k, score(k, c)))
        .filter(|(_, s)| *s > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _)| k.clone())
}

fn values(c: &Column) -> impl Iterator<Item = &str> {
    c.text.iter().flatten().map(String::as_str)
}

/// How much a column reads as the names of posted organisations.
fn title_score(key: &str, c: &Column, n: usize) -> f64 {
    let names = names_score(&values(c).collect::<Vec<_>>(), n);
    if names == 0.0 {
        return 0.0;
    }
    let multiplicity = c.matches as f64 / c.found as f64;
    let tag = key.split(['.', '[', ':']).next().unwrap_or(key);
    let mut bonus = match tag {
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => 1.3,
        "strong" | "b" | "a" | "th" => 1.1,
        "div" | "span" | "p" | "td" => 1.0,
        _ => 0.9,
    };
    let class = key.split_once('.').map_or("", |(_, c)| c).to_ascii_lowercase();
    if ["title", "name", "company", "victim"].iter().any(|h| class.contains(h)) {
        bonus *= 1.3;
    } else if ["date", "time", "desc", "text", "view", "count", "tag", "status"]
        .iter()
        .any(|h| class.contains(h))
    {
        bonus *= 0.5;
    } else if !class.is_empty() {
        bonus *= 1.05;
    }
    if let Some((_, class)) = key.split_once('.')
        && !stable_class(class)
    {
        // A utility class only when nothing stable reads as well.
        bonus *= 0.5;
    }
    if key.starts_with(SLUG) {
        // A name from a path is spelled as a path (`Gihealthcare`): only
        // when no text says it.
        bonus *= 0.4;
    }
    if c.is_self * 2 > n {
        // The whole item as its title: right only when the item is nothing
        // but the name, which a tighter element would say as well.
        bonus *= 0.3;
    }
    names * bonus / multiplicity.max(1.0)
}

/// How much `present`, the values found in `n` items, read as the names of
/// posted organisations, whatever holds them: most items have one, they
/// differ, are shaped like names, and are no longer than a name.
pub(super) fn names_score(present: &[&str], n: usize) -> f64 {
    let coverage = present.len() as f64 / n as f64;
    if coverage < 0.5 {
        return 0.0;
    }
    let distinct = present.iter().collect::<HashSet<_>>().len() as f64 / present.len() as f64;
    let namelike = present.iter().map(|v| name_like(v)).sum::<f64>() / present.len() as f64;
    let avg_chars = present.iter().map(|v| v.chars().count()).sum::<usize>() as f64 / present.len() as f64;
    // Of two elements holding the name, the tighter one: "nhbg.com.co"
    // rather than "nhbg.com.co published".
    let tightness = 1.0 / (1.0 + avg_chars / 100.0);
    coverage * distinct * namelike * tightness
}

/// 1 for a value shaped like an organisation's name or domain, less for
/// sentences, dates, numbers and words like "more".
pub(super) fn name_like(v: &str) -> f64 {
    let chars = v.chars().count();
    let words = v.split_whitespace().count();
    if chars < 2 || !v.chars().any(char::is_alphabetic) || words > 14 || chars > 120 {
        return 0.0;
    }
    if is_date(v) {
        return 0.0;
    }
    let lower = v.to_lowercase();
    if [
        "read more",
        "more",
        "details",
        "view",
        "open",
        "download",
        "published",
        "next",
        "previous",
    ]
    .contains(&lower.as_str())
    {
        return 0.1;
    }
    let digits = v.chars().filter(char::is_ascii_digit).count();
    if words == 1 && ((chars >= 8 && digits * 10 >= chars * 3) || (chars > 30 && !v.contains('.'))) {
        // "67657542ffa6d0708588d654", "QWxhYmFtYSBX…==": an id, not a name.
        return 0.1;
    }
    if v.chars().filter(|c| c.is_alphabetic()).count() < 3 {
        // "25.9 GB", "#12": sizes and counters.
        return 0.3;
    }
    if words > 8 || chars > 70 { 0.4 } else { 1.0 }
}

/// The link: the title's own `href` when the title is a link, else the first
/// link of the item.
fn link(columns: &BTreeMap<String, Column>, title_key: &str, n: usize) -> Option<String> {
    let covered = |c: &Column| c.href.iter().flatten().filter(|h| web_link(h)).count() as f64 / n as f64;
    if title_key.starts_with("a") && columns.get(title_key).is_some_and(|c| covered(c) >= 0.5) {
        return Some(title_key.to_owned());
    }
    columns
        .get("a[href]")
        .filter(|c| covered(c) >= 0.5)
        .map(|_| "a[href]".to_owned())
}

fn web_link(href: &str) -> bool {
    let h = href.trim().to_ascii_lowercase();
    !(h.is_empty() || h.starts_with('#') || h.starts_with("javascript:") || h.starts_with("mailto:"))
}

/// Whether the extractor reads `v` as a date. Values that cannot be one
/// are turned away first: parsing tries dozens of formats, and every value
/// of every column is asked.
pub(super) fn is_date(v: &str) -> bool {
    let plausible = v.len() <= 60
        && (v.bytes().any(|b| b.is_ascii_digit()) || ["ago", "today", "yesterday"].iter().any(|w| v.contains(w)));
    plausible && parse_date(v, None).is_some()
}

fn date_score(key: &str, c: &Column, n: usize) -> f64 {
    let parsed = values(c).filter(|v| is_date(v)).count() as f64 / n as f64;
    if parsed < 0.6 || key == "a[href]" || key.starts_with('{') {
        return 0.0;
    }
    let hint = if key.contains("date") || key.contains("time") {
        1.2
    } else {
        1.0
    };
    parsed * hint
}

fn body_score(key: &str, c: &Column, titles: &[String], title_key: &str, n: usize) -> f64 {
    if key == title_key || key == "a[href]" || key.starts_with('{') || c.is_self * 2 > n {
        return 0.0;
    }
    let present: Vec<&str> = values(c).collect();
    if (present.len() as f64) < 0.5 * n as f64 {
        return 0.0;
    }
    let avg = present.iter().map(|v| v.chars().count()).sum::<usize>() as f64 / present.len() as f64;
    if avg < 30.0 {
        return 0.0;
    }
    let holds_title = c
        .text
        .iter()
        .zip(titles)
        .filter(|(v, t)| !t.is_empty() && v.as_deref().is_some_and(|v| v.contains(t.as_str())))
        .count();
    let mut score = present.len() as f64 / n as f64 * avg.min(400.0);
    if holds_title * 2 > present.len() {
        score *= 0.5;
    }
    if key == "p" || key.starts_with("p.") {
        score *= 1.2;
    }
    score
}
