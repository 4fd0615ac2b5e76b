//! JSON listings: an API response saved as the page, or the same JSON shown
//! inside an HTML page (a browser's `<pre>` viewer, a `<script>` data
//! island). There is no markup to repeat; the listing is an array of
//! objects, and which array and which fields is read from what they hold
//! (names, dates, web addresses, sentences), with key names only breaking
//! near-ties. The result is a `[source.json]` table, with `embedded` when
//! the JSON sits inside HTML.

use std::collections::{BTreeMap, HashMap};

use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use super::definition::{Definition, JsonDefinition};
use super::fields::{is_date, names_score};
use super::{Candidate, MIN_ITEMS};
use crate::text;

/// How deep in the document the array of postings is looked for.
const MAX_ARRAY_DEPTH: usize = 5;
/// How deep inside each posting a field is looked for (`/victim/name`).
const MAX_FIELD_DEPTH: usize = 2;

/// The page itself, when it is a JSON document.
pub(super) fn bare(page: &str) -> Option<Value> {
    let t = page.trim_start_matches('\u{feff}').trim();
    if !t.starts_with(['[', '{']) {
        return None;
    }
    serde_json::from_str(t).ok()
}

/// JSON documents shown inside an HTML page, each with the selector whose
/// first match (the element the extractor reads) is the one holding it.
pub(super) fn embedded(doc: &Html) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let any = Selector::parse("pre, code, script, textarea").expect("static selector");
    for el in doc.select(&any) {
        let json: String = el.text().collect();
        let t = json.trim();
        if !t.starts_with(['[', '{']) {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(t) else {
            continue;
        };
        if let Some(sel) = first_match_selector(doc, el) {
            out.push((sel, value));
        }
    }
    out
}

/// A selector for `el` that matches it before anything else on the page:
/// its tag, else with its id or its `type`.
fn first_match_selector(doc: &Html, el: ElementRef) -> Option<String> {
    let tag = el.value().name();
    let mut tries = vec![tag.to_owned()];
    for attr in ["id", "type"] {
        if let Some(v) = el.value().attr(attr) {
            tries.push(format!("{tag}[{attr}={}]", toml::Value::String(v.to_owned())));
        }
    }
    tries.into_iter().find(|s| {
        Selector::parse(s)
            .ok()
            .and_then(|sel| doc.select(&sel).next())
            .is_some_and(|first| first.id() == el.id())
    })
}

/// The candidates of one JSON document, best first; `embedded` is the
/// selector of the element it sits in. A bare document may list a single
/// posting; JSON inside a page needs as many as a listing of markup does,
/// and more than names, since pages carry other JSON (settings,
/// translations, menus).
pub(super) fn candidates(doc: &Value, embedded: Option<&str>) -> Vec<Candidate> {
    let min = if embedded.is_some() { MIN_ITEMS } else { 1 };
    let mut arrays = Vec::new();
    find_arrays(doc, String::new(), 0, &mut arrays);
    let mut out: Vec<Candidate> = arrays
        .into_iter()
        .filter(|(_, items)| items.len() >= min)
        .filter_map(|(pointer, items)| candidate(pointer, items, embedded))
        // In a page, a list of names alone (menu entries, feature flags)
        // is not taken for postings: they carry a date, a link or a text.
        .filter(|c| {
            embedded.is_none()
                || matches!(&c.definition, Definition::Json(d) if d.date.is_some() || d.link.is_some() || d.body.is_some())
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// Every array of objects in `v`, with its JSON pointer.
fn find_arrays<'a>(v: &'a Value, pointer: String, depth: usize, out: &mut Vec<(String, &'a [Value])>) {
    if depth > MAX_ARRAY_DEPTH {
        return;
    }
    match v {
        Value::Array(items) => {
            let objects = items.iter().filter(|i| i.is_object()).count();
            if objects > 0 && objects * 2 >= items.len() {
                out.push((pointer.clone(), items.as_slice()));
            }
            // Arrays of arrays of postings are rare; one step covers pages.
            if let Some(first) = items.first().filter(|f| f.is_array()) {
                find_arrays(first, format!("{pointer}/0"), depth + 1, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                find_arrays(v, format!("{pointer}/{}", escape(k)), depth + 1, out);
            }
        }
        _ => {}
    }
}

/// A key as a JSON pointer token (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Per field pointer, the value in each item as the extractor reads it.
type Columns = BTreeMap<String, Vec<Option<String>>>;

fn columns(items: &[Value]) -> Columns {
    let mut cols: Columns = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let mut leaves = HashMap::new();
        leaves_of(item, String::new(), 0, &mut leaves);
        for (pointer, value) in leaves {
            cols.entry(pointer).or_insert_with(|| vec![None; items.len()])[i] = Some(value);
        }
    }
    cols
}

fn leaves_of(v: &Value, pointer: String, depth: usize, out: &mut HashMap<String, String>) {
    match v {
        Value::String(s) if !s.trim().is_empty() => {
            out.insert(pointer, s.clone());
        }
        Value::Number(n) => {
            out.insert(pointer, n.to_string());
        }
        Value::Object(map) if depth < MAX_FIELD_DEPTH => {
            for (k, v) in map {
                leaves_of(v, format!("{pointer}/{}", escape(k)), depth + 1, out);
            }
        }
        _ => {}
    }
}

/// How much a key name agrees with what its values say: only ever a
/// tie-break between columns whose content fits.
fn hint(pointer: &str, words: &[&str]) -> f64 {
    let key = pointer.rsplit('/').next().unwrap_or(pointer).to_ascii_lowercase();
    if words.iter().any(|w| key.contains(w)) {
        1.2
    } else {
        1.0
    }
}

fn web_link(v: &str) -> bool {
    let l = v.trim().to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://") || (l.starts_with('/') && !l.starts_with("//"))
}

fn image(v: &str) -> bool {
    let l = v.trim().to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"]
        .iter()
        .any(|e| l.ends_with(e))
}

fn candidate(pointer: String, items: &[Value], embedded: Option<&str>) -> Option<Candidate> {
    let n = items.len();
    let cols = columns(items);
    let cleaned = |vals: &[Option<String>]| -> Vec<String> {
        vals.iter()
            .map(|v| v.as_deref().map(text::clean).unwrap_or_default())
            .collect()
    };
    let best = |score: &dyn Fn(&str, &[Option<String>]) -> f64| {
        cols.iter()
            .map(|(k, v)| (k, score(k, v)))
            .filter(|(_, s)| *s > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(k, s)| (k.clone(), s))
    };
    let (title, title_score) = best(&|k, vals| {
        let texts = cleaned(vals);
        let present: Vec<&str> = texts.iter().map(String::as_str).filter(|t| !t.is_empty()).collect();
        let links = present.iter().filter(|v| web_link(v) || is_date(v)).count();
        names_score(&present, n)
            * (1.0 - links as f64 / present.len().max(1) as f64)
            * hint(k, &["title", "name", "victim", "company", "org"])
    })?;
    let share = |vals: &[Option<String>], f: &dyn Fn(&str) -> bool| {
        vals.iter().flatten().filter(|v| f(v)).count() as f64 / n as f64
    };
    let date = best(&|k, vals| {
        let s = share(vals, &|v| is_date(&text::clean(v)));
        if s < 0.6 || k == title {
            0.0
        } else {
            s * hint(k, &["date", "discovered", "published", "time"])
        }
    });
    let link = best(&|k, vals| {
        let s = share(vals, &|v| web_link(v) && !image(v));
        if s < 0.5 || k == title {
            0.0
        } else {
            s * hint(k, &["url", "link", "href"])
        }
    });
    let body = best(&|k, vals| {
        let texts = cleaned(vals);
        let present: Vec<&String> = texts.iter().filter(|t| !t.is_empty()).collect();
        let avg = present.iter().map(|v| v.chars().count()).sum::<usize>() as f64 / present.len().max(1) as f64;
        let coverage = present.len() as f64 / n as f64;
        let taken = [Some(&title), link.as_ref().map(|l| &l.0)].contains(&Some(&k.to_owned()));
        if coverage < 0.5 || avg < 30.0 || taken {
            0.0
        } else {
            coverage * avg.min(400.0) * hint(k, &["desc", "content", "body", "summary", "text"])
        }
    });
    let title_wrap = wrap_width(&cols[&title]);
    let titles: Vec<String> = cols[&title]
        .iter()
        .map(|v| {
            let raw = v.clone().unwrap_or_default();
            text::clean(&title_wrap.map_or(raw.clone(), |w| crate::extract::unwrap_title(&raw, w)))
        })
        .collect();
    let mut score = title_score * (n as f64 + 1.0).ln();
    for (found, weight) in [(link.is_some(), 1.3), (date.is_some(), 1.3), (body.is_some(), 1.2)] {
        if found {
            score *= weight;
        }
    }
    Some(Candidate {
        definition: Definition::Json(JsonDefinition {
            items: pointer,
            title,
            link: link.map(|l| l.0),
            date: date.map(|d| d.0),
            body: body.map(|b| b.0),
            embedded: embedded.map(str::to_owned),
            title_wrap,
        }),
        items: n,
        titles,
        score,
        excluded: Vec::new(),
        sections_left_out: Vec::new(),
    })
}

/// The width a site hard-wraps its titles at (akira: 20), when most lines
/// that continue on another are exactly that long.
fn wrap_width(titles: &[Option<String>]) -> Option<usize> {
    let mut widths: BTreeMap<usize, usize> = BTreeMap::new();
    let mut wrapped = 0;
    for t in titles.iter().flatten() {
        let lines: Vec<&str> = t.trim_end_matches('\n').split('\n').collect();
        for line in &lines[..lines.len() - 1] {
            wrapped += 1;
            *widths.entry(line.chars().count()).or_default() += 1;
        }
    }
    let (width, count) = widths.into_iter().max_by_key(|&(w, c)| (c, w))?;
    (wrapped >= 2 && count * 5 >= wrapped * 3 && width >= 8).then_some(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_def(c: &Candidate) -> &JsonDefinition {
        match &c.definition {
            Definition::Json(d) => d,
            Definition::Html(d) => panic!("not json: {d:?}"),
        }
    }

    #[test]
    fn fields_are_chosen_by_what_they_hold() {
        // Key names that say nothing: the content decides.
        let doc: Value = serde_json::from_str(
            r#"{"meta":{"count":4,"tags":[{"k":"a"},{"k":"b"}]},"rows":[
            {"a":"Acme Logistics GmbH","b":"2024-03-01","c":"/v/acme","d":"Acme moves freight across Europe; 200 GB of contracts and payroll."},
            {"a":"Qualys, Inc.","b":"2024-03-02","c":"/v/qualys","d":"Vulnerability management vendor. Customer lists and source code."},
            {"a":"northwind.com","b":"2024-03-03","c":"/v/northwind","d":"Northwind Traders, wholesale food. All finance folders published."},
            {"a":"Contoso Ltd","b":"2024-03-04","c":"/v/contoso","d":"Contoso builds everything. HR and legal department archives."}]}"#,
        )
        .unwrap();
        let best = &candidates(&doc, None)[0];
        let d = json_def(best);
        assert_eq!(
            (
                d.items.as_str(),
                d.title.as_str(),
                d.date.as_deref(),
                d.link.as_deref(),
                d.body.as_deref()
            ),
            ("/rows", "/a", Some("/b"), Some("/c"), Some("/d"))
        );
        assert_eq!(best.titles[1], "Qualys, Inc.");
    }

    #[test]
    fn ids_links_and_dates_are_not_titles() {
        let doc: Value = serde_json::from_str(
            r#"[{"id":"QWxhYmFtYSBXb21hbidzIEhlYWx0aCBDYXJlQGVtcGVyYWRvcg==","url":"http://x.example/a","when":"2024-01-01","v":"Alabama Health"},
                {"id":"RXVyYW1leCBNYW5hZ2VtZW50IEdyb3VwQE9yb3ZhYWFhYWFhYQ==","url":"http://x.example/b","when":"2024-01-02","v":"Euramex Group"}]"#,
        )
        .unwrap();
        assert_eq!(json_def(&candidates(&doc, None)[0]).title, "/v");
    }

    #[test]
    fn a_hard_wrap_is_found_and_undone() {
        let titles = [
            "The Akron-Summit Cou\nnty Public Library\n",
            "Galveston College\n",
            "Computer Information\nConcepts Inc\n",
        ]
        .map(|t| Some(t.to_owned()));
        assert_eq!(wrap_width(&titles), Some(20));
        assert_eq!(
            wrap_width(&[Some("One line\n".into()), Some("Two\nlines".into())]),
            None
        );
    }

    #[test]
    fn json_in_a_page_is_found_in_the_element_read_first() {
        let page = Html::parse_document(
            r#"<html><body><script>var x = 1;</script><script type="application/json" id="data">[{"t":"A"}]</script><pre>not json</pre></body></html>"#,
        );
        let found = embedded(&page);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "script[id=\"data\"]");
    }
}
