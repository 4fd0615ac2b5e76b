//! Items that repeat the listing's markup without being postings: a
//! greeting card in the grid, a statement about a rival group, a pinned
//! announcement, an empty template in a hidden popup. Each is named with
//! why it is not a posting, and where markup tells it apart from the
//! postings (a class of its own, `hidden`, a field every posting has and it
//! lacks) the item selector is narrowed to leave it out.

use scraper::{ElementRef, Selector};

use super::fields::{Fields, is_date, name_like};
use super::names::stable_class;
use crate::extract::element_text;

/// Words that open or make up announcements and greetings rather than
/// the names of organisations.
const NOT_A_NAME: &[&str] = &[
    "happy",
    "merry",
    "greetings",
    "congratulations",
    "welcome",
    "thank",
    "statement",
    "announcement",
    "attention",
    "notice",
    "warning",
    "important",
    "rules",
    "about us",
    "contact us",
    "faq",
    "how to",
    "dear",
    "we are",
];

/// Why an item with an empty title is not a posting: the extractor skips
/// it, so the selector need not.
pub(super) const NO_TITLE: &str = "no title";

/// An item that is not a posting, by its index among the items.
#[derive(Debug, Clone)]
pub(super) struct Outlier {
    pub index: usize,
    pub reason: &'static str,
}

/// The items of a candidate that are not postings, and why.
pub(super) fn find(items: &[ElementRef], f: &Fields) -> Vec<Outlier> {
    // Whether the field's first element in each item holds a value.
    let has = |key: &Option<String>, holds: &dyn Fn(ElementRef) -> bool| -> Vec<bool> {
        let sel = key.as_deref().and_then(|k| Selector::parse(k).ok());
        items
            .iter()
            .map(|el| sel.as_ref().is_none_or(|s| first_inside(*el, s).is_some_and(holds)))
            .collect()
    };
    let links = has(&f.link, &|e| e.value().attr("href").is_some());
    let dates = has(&f.date, &|e| is_date(&element_text(e)));
    let plain: Vec<Option<&'static str>> = items
        .iter()
        .zip(&f.titles)
        .map(|(el, title)| {
            if hidden(*el) {
                Some("hidden on the page (a template or popup)")
            } else if title.is_empty() {
                Some(NO_TITLE)
            } else if !names_something(title) {
                Some("reads as a sentence or greeting, not a name")
            } else {
                None
            }
        })
        .collect();
    // The link and date most of the items with a name have.
    let named = plain.iter().filter(|p| p.is_none()).count();
    let common: Vec<Vec<bool>> = [links, dates]
        .into_iter()
        .filter(|v| v.iter().zip(&plain).filter(|(b, p)| **b && p.is_none()).count() * 5 >= named * 4)
        .collect();
    let mut out = Vec::new();
    for (i, title) in f.titles.iter().enumerate() {
        let missing = common.iter().filter(|v| !v[i]).count();
        let reason = if let Some(reason) = plain[i] {
            reason
        } else if missing > 0 && announcement(title) {
            "an announcement: it lacks the link or date the postings have"
        } else if missing == 2 {
            "a header or note: neither the link nor the date the postings have"
        } else {
            continue;
        };
        out.push(Outlier { index: i, reason });
    }
    out
}

/// Whether a title can be an organisation's name.
fn names_something(title: &str) -> bool {
    name_like(title) >= 0.5 && !title.ends_with(['!', '?']) && !(announcement(title) && title.ends_with('.'))
}

fn announcement(title: &str) -> bool {
    let lower = title.to_lowercase();
    NOT_A_NAME
        .iter()
        .any(|w| lower.starts_with(w) || lower.contains(&format!(" {w}")))
}

/// Whether the element, or one around it, is not shown.
fn hidden(el: ElementRef) -> bool {
    std::iter::once(el)
        .chain(el.ancestors().filter_map(ElementRef::wrap))
        .any(|e| {
            let v = e.value();
            let style: String = v
                .attr("style")
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            v.name() == "template"
                || v.attr("hidden").is_some()
                || style.contains("display:none")
                || style.contains("visibility:hidden")
                || (v.classes().any(|c| ["hidden", "d-none", "template"].contains(&c))
                    // `hidden md:grid`, `d-none d-md-block`: shown on wider screens.
                    && !v.classes().any(|c| c.contains(':') || (c.starts_with("d-") && c != "d-none")))
        })
}

/// The first element below `el` (not `el` itself, as `:has` and the
/// extractor read it) that `sel` matches.
fn first_inside<'a>(el: ElementRef<'a>, sel: &Selector) -> Option<ElementRef<'a>> {
    el.descendants()
        .skip(1)
        .filter_map(ElementRef::wrap)
        .find(|d| sel.matches(d))
}

/// The item selector narrowed to leave out `outliers` and keep every
/// other item: a class only outliers carry, an attribute, or a field every
/// posting has and no outlier has. `None` when markup does not tell them
/// apart.
pub(super) fn narrow(item: &str, items: &[ElementRef], outliers: &[Outlier], f: &Fields) -> Option<String> {
    let out: Vec<bool> = {
        let mut v = vec![false; items.len()];
        for o in outliers {
            v[o.index] = true;
        }
        v
    };
    // Several selectors in a list each get the same condition.
    let with = |cond: &str| {
        item.split(", ")
            .map(|s| format!("{s}{cond}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let splits = |test: &dyn Fn(&ElementRef) -> bool| items.iter().zip(&out).all(|(el, o)| test(el) == *o);
    let mut classes: Vec<&str> = outliers
        .iter()
        .flat_map(|o| items[o.index].value().classes())
        .filter(|c| stable_class(c) || ["pinned", "featured", "hidden", "d-none"].contains(c))
        .collect();
    classes.sort_unstable();
    classes.dedup();
    for c in classes {
        if splits(&|el| el.value().classes().any(|x| x == c)) {
            return Some(with(&format!(":not(.{c})")));
        }
    }
    for attr in ["hidden", "style"] {
        if splits(&|el| el.value().attr(attr).is_some()) {
            return Some(with(&format!(":not([{attr}])")));
        }
    }
    for key in [&f.link, &f.date, &f.body].into_iter().flatten() {
        let Ok(sel) = Selector::parse(key) else { continue };
        if splits(&|el| first_inside(*el, &sel).is_none()) {
            return Some(with(&format!(":has({key})")));
        }
    }
    None
}
