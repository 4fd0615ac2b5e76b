//! Pages that list postings in several sections (auction / releasing /
//! released), each with its own markup: the best listing found is joined
//! with the others into one selector list (`div.auction, div.released`)
//! when the same fields read all of them; a section they do not read is
//! named, so the analyst knows what the suggestion leaves out.

use std::collections::HashSet;

use scraper::{ElementRef, Html, Selector};

use super::Candidate;
use super::definition::{Definition, HtmlDefinition, Title};
use super::fields::names_score;
use crate::extract::element_text;
use crate::text;

/// A section counts when it scores at least this share of the best one.
const MIN_SHARE: f64 = 0.2;

fn elements<'a>(doc: &'a Html, item: &str) -> Vec<ElementRef<'a>> {
    Selector::parse(item).map_or_else(|_| Vec::new(), |s| doc.select(&s).collect())
}

fn fields(d: &Definition) -> usize {
    match d {
        Definition::Html(h) => [h.link.is_some(), h.date.is_some(), h.body.is_some()]
            .iter()
            .filter(|b| **b)
            .count(),
        Definition::Json(_) => 0,
    }
}

/// Whether `el` sits in the page's navigation, header or footer.
fn in_chrome(el: ElementRef) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| matches!(a.value().name(), "nav" | "header" | "footer"))
}

/// Whether items hold more than their names: a posting tells something
/// about its victim, a menu button holds only its label.
fn more_than_names(items: &[ElementRef], titles: &[&str]) -> bool {
    let chars = |s: &str| s.chars().count();
    let text: usize = items.iter().map(|e| chars(&element_text(*e))).sum();
    let names: usize = titles.iter().map(|t| chars(t)).sum();
    text * 2 >= names * 3
}

/// The other sections of postings on the page: candidates apart from the
/// best one and from each other, whose titles are names and whose items
/// carry about as much as the best one's.
fn other_sections<'a>(doc: &'a Html, best: &Candidate, rest: &'a [Candidate]) -> Vec<&'a Candidate> {
    let Definition::Html(b) = &best.definition else {
        return Vec::new();
    };
    let mut claimed = HashSet::new();
    let claim = |claimed: &mut HashSet<_>, els: &[ElementRef]| {
        for el in els {
            claimed.extend(el.ancestors().map(|a| a.id()));
            claimed.extend(el.descendants().map(|d| d.id()));
        }
    };
    claim(&mut claimed, &elements(doc, &b.item));
    let mut out = Vec::new();
    for c in rest {
        let Definition::Html(d) = &c.definition else { continue };
        if c.score < best.score * MIN_SHARE || fields(&c.definition) + 1 < fields(&best.definition) {
            continue;
        }
        let els = elements(doc, &d.item);
        if els.iter().any(|e| claimed.contains(&e.id()) || in_chrome(*e)) {
            continue;
        }
        let present: Vec<&str> = c.titles.iter().map(String::as_str).filter(|t| !t.is_empty()).collect();
        if names_score(&present, c.items) < 0.5 || !more_than_names(&els, &present) {
            continue;
        }
        claim(&mut claimed, &els);
        out.push(c);
    }
    out
}

/// The best candidate widened to every section of postings the same fields
/// read, and what is left out; `evaluate` reads a selector as a candidate.
pub(super) fn join(
    page: &str,
    doc: &Html,
    best: Candidate,
    rest: &[Candidate],
    evaluate: impl Fn(&str) -> Option<Candidate>,
) -> Candidate {
    let others = other_sections(doc, &best, rest);
    if others.is_empty() {
        return best;
    }
    let mut joined = best;
    let mut left_out = Vec::new();
    for other in others {
        let list = format!("{}, {}", joined.definition.item(), other.definition.item());
        let wanted: HashSet<String> = joined
            .titles
            .iter()
            .chain(&other.titles)
            .filter(|t| !t.is_empty())
            .map(|t| text::normalize(t))
            .collect();
        let reads_all = |c: &Candidate| {
            let got: HashSet<String> = c
                .titles
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| text::normalize(t))
                .collect();
            let both = got.intersection(&wanted).count();
            c.items == joined.items + other.items && both * 10 >= wanted.len() * 9 && both * 10 >= got.len() * 9
        };
        // One set of fields for every section, else each section's own
        // fields side by side in selector lists.
        let found = evaluate(&list)
            .filter(reads_all)
            .or_else(|| field_lists(page, &joined, other).filter(reads_all));
        match found {
            Some(c) => {
                joined = Candidate {
                    excluded: [joined.excluded, c.excluded].concat(),
                    ..c
                };
            }
            None => {
                let shown: Vec<&str> = other
                    .titles
                    .iter()
                    .filter(|t| !t.is_empty())
                    .take(3)
                    .map(String::as_str)
                    .collect();
                left_out.push(format!(
                    "`{}`: {} more items ({}) whose fields the suggested table does not read; \
                     define a second source for them",
                    other.definition.item(),
                    other.items,
                    shown.join(" | ")
                ));
            }
        }
    }
    joined.sections_left_out = left_out;
    joined
}

/// `a` and `b` read with each one's fields in selector lists (`title =
/// "h3, a.name"`), as the extractor reads them on `page`: the first element
/// in an item matching any of the list. `None` unless both name their
/// titles with selectors.
fn field_lists(page: &str, a: &Candidate, b: &Candidate) -> Option<Candidate> {
    let (Definition::Html(x), Definition::Html(y)) = (&a.definition, &b.definition) else {
        return None;
    };
    let (Title::Selector(tx), Title::Selector(ty)) = (&x.title, &y.title) else {
        return None;
    };
    let list = |p: Option<&String>, q: Option<&String>| -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        for part in p.into_iter().chain(q).flat_map(|s| s.split(", ")) {
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    };
    let definition = Definition::Html(HtmlDefinition {
        item: format!("{}, {}", x.item, y.item),
        title: Title::Selector(list(Some(tx), Some(ty))?),
        link: list(x.link.as_ref(), y.link.as_ref()),
        date: list(x.date.as_ref(), y.date.as_ref()),
        body: list(x.body.as_ref(), y.body.as_ref()),
    });
    let url = url::Url::parse("http://suggest.invalid/").expect("static URL");
    let source = super::verify::source(&definition, &url).ok()?;
    let read = crate::extract::extract(&source, &url, page).ok()?;
    let mut titles: Vec<String> = read.postings.into_iter().map(|p| p.title).collect();
    titles.extend(std::iter::repeat_n(String::new(), read.untitled));
    Some(Candidate {
        definition,
        items: titles.len(),
        titles,
        score: a.score + b.score,
        excluded: Vec::new(),
        sections_left_out: Vec::new(),
    })
}
