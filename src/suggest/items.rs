//! Where a page repeats itself: the item selectors worth trying. Every
//! group of same-shaped siblings gives its tag and stable classes, qualified
//! by its parents; elements sharing a stable class wherever they sit, and
//! links into one section of the site (`/posts/…`), give more. On old
//! pages styled without classes, structure is all there is: rows of nested
//! layout tables are told apart by the path above them.

use std::collections::{BTreeMap, HashSet};

use scraper::{ElementRef, Html};

use super::names;

/// Item selectors worth trying, from every group of same-shaped siblings:
/// the siblings' own tag and stable classes, then qualified by their parent
/// and grandparent when that narrows the match.
pub(super) fn item_selectors(doc: &Html, min: usize) -> Vec<String> {
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
                    let path = format!("{gp} > {p} > {own}");
                    // Without classes or ids, a layout table's rows and the
                    // rows of the listing nested in one of its cells differ
                    // only further up.
                    let ggp = parent.parent().and_then(|g| g.parent()).and_then(ElementRef::wrap);
                    if !path.contains(['.', '#'])
                        && let Some(ggp) = ggp.and_then(simple)
                    {
                        out.push(format!("{ggp} > {path}"));
                    }
                    out.push(path);
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
pub(super) fn nested(items: &[ElementRef]) -> bool {
    let ids: HashSet<_> = items.iter().map(|e| e.id()).collect();
    items.iter().any(|e| e.ancestors().any(|a| ids.contains(&a.id())))
}
