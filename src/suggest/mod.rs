//! Selector inference: `leakwatch source suggest`.
//!
//! A leak site's listing is the same block repeated once per victim. This
//! module finds such blocks without being told where they are: siblings of
//! the same shape, elements sharing a stable class wherever they sit, links
//! into one section of the site (`/posts/…`). For each it writes an item
//! selector from stable class names and structure (never positions, never
//! utility classes, see [`names`]), reads the items the way the extractor
//! will, finds the title, link, date and body inside them ([`fields`]), and
//! ranks the results: many items, name-like titles, text and a link in each,
//! a short selector. The best is printed as a `[source.html]` table an
//! analyst can paste under a `[[source]]`; [`heal_hint`] puts it in the
//! admin alert of a source whose selectors stopped matching.
//!
//! Pure: the same page gives the same suggestion; no I/O, no clock.

mod fields;
mod heal;
mod names;
mod verify;

use std::collections::{BTreeMap, HashSet};

use scraper::{ElementRef, Html, Selector};

pub use heal::{heal_hint, proposal};
pub use verify::source;

/// The fewest repeats that make a listing.
const MIN_ITEMS: usize = 3;

/// A suggested `[source.html]` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub item: String,
    pub title: Title,
    pub link: Option<String>,
    pub date: Option<String>,
    pub body: Option<String>,
}

/// Where an item's title is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Title {
    /// The text of the first element this selector matches in the item.
    Selector(String),
    /// The item's own text, without its children's.
    OwnText,
    /// The path segment after this section (`/company/`) in the first
    /// link; `absolute` when some links are full addresses.
    Slug { section: String, absolute: bool },
}

impl std::fmt::Display for Title {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Title::Selector(s) => f.write_str(s),
            Title::OwnText => f.write_str("(own text)"),
            Title::Slug { section, .. } => write!(f, "(link path after {section})"),
        }
    }
}

impl Definition {
    /// The `[source.html]` table, ready to paste under a `[[source]]`.
    pub fn to_toml(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let title = match &self.title {
            Title::Selector(s) => q(s),
            Title::OwnText => "{ own_text = true }".to_owned(),
            Title::Slug { section, absolute } => format!(
                "{{ selector = \"a[href]\", attr = \"href\", regex = {} }}",
                q(&format!("{}{section}([^/?#]+)", if *absolute { "" } else { "^" }))
            ),
        };
        let mut out = format!("[source.html]\nitem = {}\ntitle = {title}\n", q(&self.item));
        if let Some(link) = &self.link {
            out.push_str(&format!("link = {{ selector = {}, attr = \"href\" }}\n", q(link)));
        }
        if let Some(date) = &self.date {
            out.push_str(&format!("date = {}\n", q(date)));
        }
        if let Some(body) = &self.body {
            out.push_str(&format!("body = {}\n", q(body)));
        }
        out
    }
}

/// One ranked alternative.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub definition: Definition,
    /// Elements the item selector matches.
    pub items: usize,
    /// The title of each item, in page order, as read from the page ("" for
    /// none); the extractor may still tidy them (entities escaped twice).
    pub titles: Vec<String>,
    pub score: f64,
}

/// Why there is no suggestion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoSuggestion {
    #[error("the page is not a listing: {0}; fetch the listing itself and try again")]
    Blocked(String),
    #[error(
        "no repeated structure with titles found (fewer than {MIN_ITEMS} items of the same shape, \
         and no element named like a posting); write the [source.html] table by hand, or try a page \
         that lists more postings"
    )]
    NoRepeats,
    /// Nested deeper than any real listing: see `extract::check_nesting`.
    #[error("{0}")]
    Hostile(String),
}

/// Ranked definitions for a listing page, best first.
pub fn suggest(page: &str) -> Result<Vec<Candidate>, NoSuggestion> {
    crate::extract::check_nesting(page).map_err(|e| NoSuggestion::Hostile(e.to_string()))?;
    let doc = Html::parse_document(page);
    let mut out = candidates(&doc, MIN_ITEMS, |_| true);
    // The extract stage asks its blocked-page heuristics only when nothing
    // was found, since a listing may carry a login box or mention a CAPTCHA;
    // here "found" must mean a listing no portal or error page looks like.
    if let Some(reason) = crate::extract::blocked_reason(&doc)
        && !out.first().is_some_and(unmistakable)
    {
        return Err(NoSuggestion::Blocked(reason));
    }
    if out.is_empty() {
        // A listing with one or two postings today has nothing repeated;
        // an element named like a posting is the next best thing.
        out = candidates(&doc, 1, named_like_a_posting);
    }
    if out.is_empty() {
        Err(NoSuggestion::NoRepeats)
    } else {
        Ok(out)
    }
}

/// Every item selector matching at least `min` elements (and accepted by
/// `keep`) with the fields found in its items, ranked.
fn candidates(doc: &Html, min: usize, keep: impl Fn(&str) -> bool) -> Vec<Candidate> {
    let mut tried = HashSet::new();
    let mut seen_sets = HashSet::new();
    let mut texts = fields::Texts::default();
    let mut out = Vec::new();
    for item in item_selectors(doc, min) {
        if !keep(&item) || !tried.insert(item.clone()) {
            continue;
        }
        let Ok(sel) = Selector::parse(&item) else { continue };
        let items: Vec<ElementRef> = doc.select(&sel).collect();
        if items.len() < min || nested(&items) {
            continue;
        }
        if !seen_sets.insert(items.iter().map(|e| e.id()).collect::<Vec<_>>()) {
            continue;
        }
        let Some(f) = fields::infer(&items, &mut texts) else {
            continue;
        };
        let score = score(&item, &items, &f, &mut texts);
        out.push(Candidate {
            definition: Definition {
                item,
                title: if f.title == fields::OWN_TEXT {
                    Title::OwnText
                } else if let Some(section) = f.title.strip_prefix(fields::SLUG) {
                    match section.strip_prefix('*') {
                        Some(section) => Title::Slug {
                            section: section.to_owned(),
                            absolute: true,
                        },
                        None => Title::Slug {
                            section: section.to_owned(),
                            absolute: false,
                        },
                    }
                } else {
                    Title::Selector(f.title)
                },
                link: f.link,
                date: f.date,
                body: f.body,
            },
            items: items.len(),
            titles: f.titles,
            score,
        });
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.definition.item.cmp(&b.definition.item))
    });
    out
}

/// A candidate that is a listing whatever else the page holds: many items,
/// each with a link and a date or a description.
fn unmistakable(c: &Candidate) -> bool {
    c.items >= 10 && c.definition.link.is_some() && (c.definition.date.is_some() || c.definition.body.is_some())
}

/// An item selector whose element is named like one posting: `article`,
/// `div.post`, `li.victim`.
fn named_like_a_posting(item: &str) -> bool {
    let last = item.rsplit(" > ").next().unwrap_or(item);
    let (tag, classes) = last.split_once('.').unwrap_or((last, ""));
    tag == "article"
        || ["post", "entry", "victim", "leak", "company", "card"]
            .iter()
            .any(|w| classes.to_ascii_lowercase().contains(w))
}

/// Item selectors worth trying, from every group of same-shaped siblings:
/// the siblings' own tag and stable classes, then qualified by their parent
/// and grandparent when that narrows the match.
fn item_selectors(doc: &Html, min: usize) -> Vec<String> {
    let mut out = Vec::new();
    // Elements sharing a stable class wherever they sit (cards each wrapped
    // in their own grid column are not siblings).
    let mut classed: BTreeMap<String, usize> = BTreeMap::new();
    // Links into the same section of the site (`/posts/…`, `/company/…`):
    // the structure that survives even a page styled only with utilities.
    let mut sections: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for el in doc.root_element().descendants().filter_map(ElementRef::wrap) {
        let tag = el.value().name();
        if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        for c in el.value().classes().filter(|c| names::stable_class(c)) {
            *classed.entry(format!("{tag}.{c}")).or_default() += 1;
        }
        if tag == "a"
            && let Some((path, absolute)) = el.value().attr("href").and_then(link_path)
            && let Some(prefix) = section(&path)
        {
            let entry = sections.entry(prefix).or_default();
            entry.0 += 1;
            entry.1 |= absolute;
        }
    }
    out.extend(classed.into_iter().filter(|(_, n)| *n >= min).map(|(s, _)| s));
    out.extend(
        sections
            .into_iter()
            .filter(|(_, (n, _))| *n >= min)
            .map(|(p, (_, absolute))| {
                // Full addresses carry the host first: match the section anywhere.
                let op = if absolute { "*=" } else { "^=" };
                format!("a[href{op}{}]", toml::Value::String(p))
            }),
    );
    for parent in doc.root_element().descendants().filter_map(ElementRef::wrap) {
        let mut groups: BTreeMap<String, Vec<ElementRef>> = BTreeMap::new();
        for child in parent.children().filter_map(ElementRef::wrap) {
            if matches!(
                child.value().name(),
                "script" | "style" | "br" | "hr" | "img" | "option" | "meta" | "link" | "input"
            ) {
                continue;
            }
            groups.entry(shape(child)).or_default().push(child);
        }
        for (own, members) in groups {
            if members.len() < min || own.is_empty() {
                continue;
            }
            let p = simple(parent);
            let gp = parent.parent().and_then(ElementRef::wrap).map(simple);
            if own.contains('.') {
                out.push(own.clone());
            }
            if let Some(p) = &p {
                out.push(format!("{p} > {own}"));
                if let Some(Some(gp)) = &gp {
                    out.push(format!("{gp} > {p} > {own}"));
                }
            }
        }
    }
    out
}

/// A link's path as written (`/posts/1/`), or the path of a full web
/// address (`http://host/posts/1/`), with whether it was a full address.
pub(crate) fn link_path(href: &str) -> Option<(String, bool)> {
    if href.starts_with('/') && !href.starts_with("//") {
        return Some((href.to_owned(), false));
    }
    let url = url::Url::parse(href).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| (url.path().to_owned(), true))
}

/// The section a link path points into: `/posts/` for `/posts/6765…/`;
/// `None` for paths less than two segments deep, or whose section would
/// need quoting.
pub(crate) fn section(href: &str) -> Option<String> {
    let rest = href.strip_prefix('/')?;
    let (first, tail) = rest.split_once('/')?;
    let ok = !first.is_empty()
        && !tail.trim_matches('/').is_empty()
        && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| format!("/{first}/"))
}

/// `tag.class1.class2` from an element's tag and stable classes; "" for a
/// tag that cannot be written in a selector.
fn shape(el: ElementRef) -> String {
    let tag = el.value().name();
    if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return String::new();
    }
    let mut classes: Vec<&str> = el.value().classes().filter(|c| names::stable_class(c)).collect();
    classes.sort_unstable();
    classes.truncate(2);
    let mut s = tag.to_owned();
    for c in classes {
        s.push('.');
        s.push_str(c);
    }
    s
}

/// How a parent is written in a selector: `#id` when it has a readable id,
/// else its shape; `None` for `html`/`body`, which add nothing.
fn simple(el: ElementRef) -> Option<String> {
    if let Some(id) = el.value().id().filter(|id| names::stable_id(id)) {
        return Some(format!("#{id}"));
    }
    let s = shape(el);
    (!s.is_empty() && s != "html" && s != "body").then_some(s)
}

/// Whether one item lies inside another: such a selector reads every
/// posting twice.
fn nested(items: &[ElementRef]) -> bool {
    let ids: HashSet<_> = items.iter().map(|e| e.id()).collect();
    items.iter().any(|e| e.ancestors().any(|a| ids.contains(&a.id())))
}

/// Ranks a candidate: many items, name-like titles, text and a link in each,
/// a short selector on class names.
fn score(item: &str, items: &[ElementRef], f: &fields::Fields, texts: &mut fields::Texts) -> f64 {
    let n = items.len() as f64;
    let text: usize = items.iter().map(|e| texts.of(*e).chars().count().min(600)).sum();
    let per_item = text as f64 / n;
    let mut s = f.title_score * (n + 1.0).ln() * (1.0 + (1.0 + per_item / 20.0).ln());
    for (found, weight) in [
        (f.link.is_some(), 1.3),
        (f.date.is_some(), 1.3),
        (f.body.is_some(), 1.2),
    ] {
        if found {
            s *= weight;
        }
    }
    let parts = item.split(" > ").count();
    s *= 1.0 - 0.05 * (parts as f64 - 1.0);
    if !item.contains(['.', '#']) {
        s *= 0.85;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    const LISTING: &str = include_str!("../../fixtures/suggest/listing.html");
    const REDESIGNED: &str = include_str!("../../fixtures/suggest/redesigned.html");

    fn extracted_titles(def: &Definition, page: &str) -> Vec<String> {
        let url = Url::parse("http://leak.example/").unwrap();
        let source = source(def, &url).unwrap();
        let x = crate::extract::extract(&source, &url, page).unwrap();
        x.postings.into_iter().map(|p| p.title).collect()
    }

    #[test]
    fn finds_the_posts_and_reads_them_as_the_extractor_does() {
        let best = &suggest(LISTING).unwrap()[0];
        let d = &best.definition;
        assert_eq!(d.item, "article.post");
        assert_eq!(d.title, Title::Selector("h3.post-title".into()));
        assert!(d.link.is_some() && d.date.is_some() && d.body.is_some(), "{d:?}");
        assert_eq!(best.items, 6);
        let titles = extracted_titles(d, LISTING);
        assert_eq!(titles, best.titles);
        assert_eq!(titles[1], "Qualys, Inc.");
    }

    #[test]
    fn never_writes_utility_classes_or_positions() {
        for page in [LISTING, REDESIGNED] {
            for c in suggest(page).unwrap() {
                let toml = c.definition.to_toml();
                for bad in ["px-4", "basis", "text-", "font-", "flex", "nth-", "rounded", "p-4"] {
                    assert!(!toml.contains(bad), "{bad} in\n{toml}");
                }
            }
        }
    }

    #[test]
    fn the_suggestion_survives_a_restyle() {
        let best = &suggest(LISTING).unwrap()[0];
        let restyled = LISTING
            .replace("md:basis-1/3 px-4 mb-4", "lg:basis-1/4 px-6 mb-2")
            .replace("rounded-2xl bg-stone-200 p-4 shadow", "rounded-md bg-zinc-800 p-6")
            .replace("text-lg font-bold", "text-xl font-semibold")
            .replace("line-clamp-3 pt-2", "line-clamp-2 pt-4");
        assert_ne!(restyled, LISTING);
        assert_eq!(extracted_titles(&best.definition, &restyled), best.titles);
    }

    #[test]
    fn a_name_kept_only_in_the_link_path_is_read_from_it() {
        let item = |slug: &str| {
            format!(
                "<div class=entry><a href='http://leak.example.onion/company/{slug}/'><img src=x.png></a>\
                 <p class=text>We are a leading provider of solutions for the modern world and its many customers.</p></div>"
            )
        };
        let page = format!(
            "<html><body>{}</body></html>",
            ["Acme-Corp", "Qualys", "pu.edu.lb", "Northwind"].map(item).concat()
        );
        let best = &suggest(&page).unwrap()[0];
        assert_eq!(best.definition.item, "div.entry");
        assert_eq!(
            best.definition.title,
            Title::Slug {
                section: "/company/".into(),
                absolute: true
            }
        );
        assert_eq!(
            extracted_titles(&best.definition, &page),
            ["Acme-Corp", "Qualys", "pu.edu.lb", "Northwind"]
        );
        assert_eq!(best.titles, extracted_titles(&best.definition, &page));
    }

    #[test]
    fn the_same_page_gives_the_same_suggestion() {
        let a: Vec<String> = suggest(LISTING)
            .unwrap()
            .iter()
            .map(|c| c.definition.to_toml())
            .collect();
        let b: Vec<String> = suggest(LISTING)
            .unwrap()
            .iter()
            .map(|c| c.definition.to_toml())
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn blocked_pages_and_pages_without_repeats_get_none() {
        let captcha = "<html><head><title>DDOS Protection</title></head><body><form><p>Prove that you are human</p>\
                       <input name=c></form></body></html>";
        assert!(matches!(suggest(captcha), Err(NoSuggestion::Blocked(_))));
        let prose = "<html><body><div class=intro><h2>About us</h2><p>We are a blog.</p></div></body></html>";
        assert_eq!(suggest(prose).unwrap_err(), NoSuggestion::NoRepeats);
    }

    #[test]
    fn a_page_nested_deeper_than_the_limit_is_refused_before_parsing() {
        let hostile = format!("<html><body>{}", "<div class=post><a href=/x>ACME</a>".repeat(3000));
        let err = suggest(&hostile).unwrap_err().to_string();
        assert!(err.contains("page nests 3003 elements deep"), "{err}");
        assert!(err.contains("refused as hostile"), "{err}");
    }

    #[test]
    fn a_listing_with_a_login_box_is_still_a_listing() {
        let post = |i: usize| {
            format!(
                "<div class=post><h2><a href='/p/{i}'>Victim Number {i} Ltd</a></h2>\
                 <p class=desc>All files of victim number {i}, published after the deadline.</p></div>"
            )
        };
        let login = "<form><input name=user><input type=password name=pass></form>";
        let few = format!(
            "<html><body>{login}{}</body></html>",
            (1..4).map(post).collect::<String>()
        );
        assert!(matches!(suggest(&few), Err(NoSuggestion::Blocked(_))));
        let many = format!(
            "<html><body>{login}{}</body></html>",
            (1..13).map(post).collect::<String>()
        );
        let best = &suggest(&many).unwrap()[0];
        assert_eq!((best.definition.item.as_str(), best.items), ("div.post", 12));
    }

    #[test]
    fn a_listing_with_one_posting_today_still_gets_one() {
        let single = "<html><body><h1>Leaks</h1><article class=post><h2><a href='/p/1'>Only One Ltd</a></h2>\
                      <p>Data of Only One Ltd</p></article></body></html>";
        let best = &suggest(single).unwrap()[0];
        assert_eq!(best.definition.item, "article.post");
        assert_eq!(best.titles, ["Only One Ltd"]);
    }

    #[test]
    fn the_table_survives_quotes_in_selectors() {
        let d = Definition {
            item: "a[href^=\"/posts/\"]".into(),
            title: Title::Selector("h2".into()),
            link: Some("a[href]".into()),
            date: None,
            body: None,
        };
        let url = Url::parse("http://leak.example/").unwrap();
        assert!(source(&d, &url).is_ok(), "{}", d.to_toml());
    }
}
