//! Selector inference: `leakwatch source suggest`.
//!
//! A leak site's listing is the same block repeated once per victim. This
//! module finds such blocks without being told where they are ([`items`]):
//! siblings of the same shape, elements sharing a stable class wherever
//! they sit, links into one section of the site (`/posts/…`), rows of
//! tables without classes. For each it writes an item selector from stable
//! class names and structure (never utility classes, see [`names`]; cell
//! positions only where structure is all there is), reads the items the
//! way the extractor will, finds the title, link, date and body inside them
//! ([`fields`]), leaves out items that are not postings ([`outliers`]),
//! and ranks the results: many items, name-like titles, text and a link in
//! each, a short selector. The best is joined with other sections of
//! postings on the page ([`sections`]) and printed as a `[source.html]`
//! table an analyst can paste under a `[[source]]`. A page that is JSON, or
//! shows JSON inside HTML, gets a `[source.json]` table instead ([`json`]).
//! [`heal_hint`] puts the suggestion in the admin alert of a source whose
//! selectors stopped matching.
//!
//! Pure: the same page gives the same suggestion; no I/O, no clock.

mod definition;
mod fields;
mod heal;
mod items;
mod json;
mod names;
mod outliers;
mod sections;
mod verify;

use std::collections::HashSet;

use scraper::{ElementRef, Html, Selector};

pub use definition::{Definition, HtmlDefinition, JsonDefinition, Title};
pub use heal::heal_hint;
pub use verify::source;

/// The fewest repeats that make a listing.
const MIN_ITEMS: usize = 3;

/// One ranked alternative.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub definition: Definition,
    /// Items the definition selects.
    pub items: usize,
    /// The title of each item, in page order, as read from the page ("" for
    /// none); the extractor may still tidy them (entities escaped twice).
    pub titles: Vec<String>,
    pub score: f64,
    /// Blocks like the items that are not postings, each with why: left
    /// out by the item selector where markup tells them apart, else read
    /// as items (untitled ones are skipped by the extractor).
    pub excluded: Vec<String>,
    /// Other sections of postings on the page that this definition does
    /// not read.
    pub sections_left_out: Vec<String>,
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
    #[error(
        "the page is JSON, but no array in it holds objects with names; write the [source.json] \
         table by hand (items, title: JSON pointers)"
    )]
    NoJsonListing,
    /// Nested deeper than any real listing: see `extract::check_nesting`.
    #[error("{0}")]
    Hostile(String),
}

/// Ranked definitions for a listing page, best first.
pub fn suggest(page: &str) -> Result<Vec<Candidate>, NoSuggestion> {
    if let Some(doc) = json::bare(page) {
        let out = json::candidates(&doc, None);
        return if out.is_empty() {
            Err(NoSuggestion::NoJsonListing)
        } else {
            Ok(out)
        };
    }
    crate::extract::check_nesting(page).map_err(|e| NoSuggestion::Hostile(e.to_string()))?;
    let doc = Html::parse_document(page);
    let mut out = candidates(&doc, MIN_ITEMS, |_| true);
    if !out.is_empty() {
        let best = out.remove(0);
        let best = sections::join(page, &doc, best, &out, |item| {
            evaluate(&doc, item, 1, &mut fields::Texts::default())
        });
        out.insert(0, best);
    }
    // JSON shown in the page (a `<pre>` viewer, a data island) holding more
    // postings than any markup is the listing itself.
    let mut from_json: Vec<Candidate> = json::embedded(&doc)
        .iter()
        .flat_map(|(sel, value)| json::candidates(value, Some(sel)))
        .collect();
    from_json.sort_by(|a, b| b.score.total_cmp(&a.score));
    if let Some(j) = from_json.first()
        && out.first().is_none_or(|h| j.items >= h.items)
    {
        out.splice(0..0, from_json);
    } else {
        out.extend(from_json);
    }
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
    let mut texts = fields::Texts::default();
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen_sets = HashSet::new();
    let mut first: Vec<(String, f64)> = Vec::new();
    for item in items::item_selectors(doc, min) {
        if !keep(&item) || !tried.insert(item.clone()) {
            continue;
        }
        if let Some((items, f)) = read(doc, &item, min, &mut texts) {
            let score = score(&item, &items, &f, &mut texts);
            first.push((item, score));
        }
    }
    // Looking for the items that are not postings costs as much again:
    // only the best first guesses are worth it.
    first.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (item, _) in first.into_iter().take(MAX_REFINED) {
        let Some(c) = evaluate(doc, &item, min, &mut texts) else {
            continue;
        };
        // The same elements under another name: keep the first.
        let Ok(sel) = Selector::parse(&c.definition.item()) else {
            continue;
        };
        if seen_sets.insert(doc.select(&sel).map(|e| e.id()).collect::<Vec<_>>()) {
            out.push(c);
        }
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.definition.item().cmp(&b.definition.item()))
    });
    out
}

/// How many of the first guesses are looked at for items that are not
/// postings; `--all` shows ten.
const MAX_REFINED: usize = 16;

/// The candidate an item selector makes, with the items that are not
/// postings left out when markup allows; `None` when it matches fewer than
/// `min` elements, items inside items, or nothing reads as a title.
fn evaluate(doc: &Html, item: &str, min: usize, texts: &mut fields::Texts) -> Option<Candidate> {
    let (items, f) = read(doc, item, min, texts)?;
    let found = outliers::find(&items, &f);
    let described = |found: &[outliers::Outlier], titles: &[String], dropped: bool| -> Vec<String> {
        found
            .iter()
            .map(|o| {
                let what = match (titles[o.index].is_empty(), dropped) {
                    (true, _) => "the extractor skips it",
                    (_, true) => "left out",
                    (_, false) => "still selected: its markup is that of the postings",
                };
                format!("\"{}\": {}; {what}", titles[o.index], o.reason)
            })
            .collect()
    };
    // Untitled items are skipped by the extractor: no need to narrow for them.
    let to_drop: Vec<outliers::Outlier> = found
        .iter()
        .filter(|o| o.reason != outliers::NO_TITLE)
        .cloned()
        .collect();
    if !to_drop.is_empty()
        && let Some(narrowed) = outliers::narrow(item, &items, &to_drop, &f)
        && let Some((kept, kept_f)) = read(doc, &narrowed, min, texts)
    {
        let mut excluded = described(&to_drop, &f.titles, true);
        excluded.extend(described(&outliers::find(&kept, &kept_f), &kept_f.titles, false));
        let mut c = candidate(narrowed, &kept, kept_f, texts);
        c.excluded = excluded;
        return Some(c);
    }
    let excluded = described(&found, &f.titles, false);
    let mut c = candidate(item.to_owned(), &items, f, texts);
    // Non-postings that markup cannot tell apart, and that the extractor
    // would read as postings, count against it.
    let read_as_postings = to_drop.iter().filter(|o| !c.titles[o.index].is_empty()).count();
    c.score *= 1.0 - read_as_postings as f64 / items.len() as f64;
    c.excluded = excluded;
    Some(c)
}

/// The items a selector matches and their fields.
fn read<'a>(
    doc: &'a Html,
    item: &str,
    min: usize,
    texts: &mut fields::Texts,
) -> Option<(Vec<ElementRef<'a>>, fields::Fields)> {
    let sel = Selector::parse(item).ok()?;
    let items: Vec<ElementRef> = doc.select(&sel).collect();
    if items.len() < min || items::nested(&items) {
        return None;
    }
    let f = fields::infer(&items, texts)?;
    Some((items, f))
}

fn candidate(item: String, items: &[ElementRef], f: fields::Fields, texts: &mut fields::Texts) -> Candidate {
    let score = score(&item, items, &f, texts);
    let title = if f.title == fields::OWN_TEXT {
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
    };
    Candidate {
        definition: Definition::Html(HtmlDefinition {
            item,
            title,
            link: f.link,
            date: f.date,
            body: f.body,
        }),
        items: items.len(),
        titles: f.titles,
        score,
        excluded: Vec::new(),
        sections_left_out: Vec::new(),
    }
}

/// A candidate that is a listing whatever else the page holds: many items,
/// each with a link and a date or a description.
fn unmistakable(c: &Candidate) -> bool {
    c.items >= 10
        && match &c.definition {
            Definition::Html(d) => d.link.is_some() && (d.date.is_some() || d.body.is_some()),
            Definition::Json(d) => d.date.is_some() || d.body.is_some(),
        }
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

    fn html(c: &Candidate) -> &HtmlDefinition {
        match &c.definition {
            Definition::Html(d) => d,
            Definition::Json(d) => panic!("not html: {d:?}"),
        }
    }

    fn extracted_titles(def: &Definition, page: &str) -> Vec<String> {
        let url = Url::parse("http://leak.example/").unwrap();
        let source = source(def, &url).unwrap();
        let x = crate::extract::extract(&source, &url, page).unwrap();
        x.postings.into_iter().map(|p| p.title).collect()
    }

    #[test]
    fn finds_the_posts_and_reads_them_as_the_extractor_does() {
        let best = &suggest(LISTING).unwrap()[0];
        let d = html(best);
        assert_eq!(d.item, "article.post");
        assert_eq!(d.title, Title::Selector("h3.post-title".into()));
        assert!(d.link.is_some() && d.date.is_some() && d.body.is_some(), "{d:?}");
        assert_eq!(best.items, 6);
        let titles = extracted_titles(&best.definition, LISTING);
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
        assert_eq!(html(best).item, "div.entry");
        assert_eq!(
            html(best).title,
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
        assert_eq!((html(best).item.as_str(), best.items), ("div.post", 12));
    }

    #[test]
    fn a_listing_with_one_posting_today_still_gets_one() {
        let single = "<html><body><h1>Leaks</h1><article class=post><h2><a href='/p/1'>Only One Ltd</a></h2>\
                      <p>Data of Only One Ltd</p></article></body></html>";
        let best = &suggest(single).unwrap()[0];
        assert_eq!(html(best).item, "article.post");
        assert_eq!(best.titles, ["Only One Ltd"]);
    }

    #[test]
    fn the_table_survives_quotes_in_selectors() {
        let d = Definition::Html(HtmlDefinition {
            item: "a[href^=\"/posts/\"]".into(),
            title: Title::Selector("h2".into()),
            link: Some("a[href]".into()),
            date: None,
            body: None,
        });
        let url = Url::parse("http://leak.example/").unwrap();
        assert!(source(&d, &url).is_ok(), "{}", d.to_toml());
    }
}
