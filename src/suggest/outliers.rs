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
/// other item, by conditions each of which leaves out some outliers and no
/// posting: a class only outliers carry (`:not(.notice)`), an attribute
/// (`:not([style])`), a field the postings have (`:has(span.date)`). `None`
/// when markup does not tell them all apart.
pub(super) fn narrow(item: &str, items: &[ElementRef], outliers: &[Outlier], f: &Fields) -> Option<String> {
    let mut out = vec![false; items.len()];
    for o in outliers {
        out[o.index] = true;
    }
    let mut classes: Vec<&str> = outliers
        .iter()
        .flat_map(|o| items[o.index].value().classes())
        .filter(|c| stable_class(c) || ["pinned", "featured", "hidden", "d-none"].contains(c))
        .collect();
    classes.sort_unstable();
    classes.dedup();
    let fields: Vec<(&String, Selector)> = [&f.link, &f.date, &f.body]
        .into_iter()
        .flatten()
        .filter_map(|k| Some((k, Selector::parse(k).ok()?)))
        .collect();
    // Each condition with whether an item passes it.
    type Keeps<'a> = Box<dyn Fn(&ElementRef) -> bool + 'a>;
    let mut conditions: Vec<(String, Keeps)> = Vec::new();
    for c in classes {
        conditions.push((
            format!(":not(.{c})"),
            Box::new(move |el| !el.value().classes().any(|x| x == c)),
        ));
    }
    for attr in ["hidden", "style"] {
        conditions.push((
            format!(":not([{attr}])"),
            Box::new(move |el| el.value().attr(attr).is_none()),
        ));
    }
    for (key, sel) in &fields {
        conditions.push((
            format!(":has({key})"),
            Box::new(move |el| first_inside(*el, sel).is_some()),
        ));
    }
    let mut left = out.clone();
    let mut chosen = String::new();
    while left.contains(&true) {
        let (cond, keeps) = conditions.iter().find(|(_, keeps)| {
            let keeps_postings = items.iter().zip(&out).all(|(el, o)| *o || keeps(el));
            keeps_postings && items.iter().zip(&left).any(|(el, l)| *l && !keeps(el))
        })?;
        chosen.push_str(cond);
        for (el, l) in items.iter().zip(left.iter_mut()) {
            *l &= keeps(el);
        }
    }
    // Several selectors in a list each get the same conditions.
    Some(
        item.split(", ")
            .map(|s| format!("{s}{chosen}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suggest::fields::{Texts, infer};
    use scraper::Html;

    #[test]
    fn names_are_names_and_greetings_and_sentences_are_not() {
        for name in [
            "Acme Logistics GmbH",
            "krauss-elektro.de",
            "Welcome Break Ltd",
            "News Corp",
        ] {
            assert!(names_something(name), "{name}");
        }
        for not in [
            "Happy New Year 2025!",
            "Read this before you place a bid!",
            "Statement on our partners.",
            "The Babuk team shares the position stated by the most famous hacktivist group and its friends.",
        ] {
            assert!(!names_something(not), "{not}");
        }
    }

    #[test]
    fn a_pinned_notice_with_a_class_of_its_own_is_narrowed_away() {
        let page = Html::parse_document(
            "<div class='lot notice'><h3>Read this before you bid!</h3></div>\
             <div class=lot><h3>Acme Corp</h3><a href=/a>bid</a></div>\
             <div class=lot><h3>Beta Industries</h3><a href=/b>bid</a></div>\
             <div class=lot><h3>Gamma Foods Ltd</h3><a href=/c>bid</a></div>\
             <div class=lot style='display:none'><h3></h3><a href=/d>bid</a></div>",
        );
        let sel = Selector::parse("div.lot").unwrap();
        let items: Vec<ElementRef> = page.select(&sel).collect();
        let f = infer(&items, &mut Texts::default()).unwrap();
        let found = find(&items, &f);
        let reasons: Vec<(usize, &str)> = found.iter().map(|o| (o.index, o.reason)).collect();
        assert_eq!(
            reasons,
            [
                (0, "reads as a sentence or greeting, not a name"),
                (4, "hidden on the page (a template or popup)")
            ]
        );
        assert_eq!(
            narrow("div.lot", &items, &found[..1], &f).as_deref(),
            Some("div.lot:not(.notice)")
        );
        // The hidden template has the postings' class and link: its style
        // tells it apart, a condition of its own.
        assert_eq!(
            narrow("div.lot", &items, &found, &f).as_deref(),
            Some("div.lot:not(.notice):not([style])")
        );
        let unlike = [Outlier {
            index: 1,
            reason: "reads as a sentence or greeting, not a name",
        }];
        assert_eq!(
            narrow("div.lot", &items, &unlike, &f),
            None,
            "Acme's markup is the others'"
        );
    }
}
