//! JSON sources: aggregator and leak-site APIs, mapped with JSON pointers (RFC 6901).

use scraper::Html;
use std::collections::HashMap;

use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use super::{ExtractError, Extraction, Posting, PostingFacts, html, parse_date, posting, resolve_link};
use crate::config::{JsonNext, JsonRules};

/// Extracts a JSON page. A JSON API's postings are handed to `each` in
/// item order as they are read, after `finish` and after `ready` (called
/// once the body was read as far as its items); a page embedding its JSON
/// in HTML returns them unfinished in [`Extraction::postings`], since the
/// page may still read as blocked.
pub(super) fn extract_each(
    rules: &JsonRules,
    url: &Url,
    body: &str,
    ready: impl FnOnce(),
    finish: &(dyn Fn(&mut Posting) + Sync),
    each: impl FnMut(Posting),
) -> Result<Extraction, ExtractError> {
    match &rules.embedded {
        None => from_json(rules, url, body, ready, finish, each),
        // The API itself, not a browser's page around it.
        Some(_) if body.trim_start().starts_with(['[', '{']) => from_json(rules, url, body, ready, finish, each),
        Some(sel) => {
            // Some sites serve their API's JSON inside an HTML page (akira:
            // a `<pre>`); the same page may instead be a CAPTCHA or portal.
            let doc = Html::parse_document(body);
            let json = doc.select(sel).next().map(|el| el.text().collect::<String>());
            let mut out = match json {
                Some(json) if !json.trim().is_empty() => {
                    let mut postings = Vec::new();
                    let mut out = from_json(rules, url, &json, || (), &|_| (), |p| postings.push(p))?;
                    (out.postings, out.handed_over) = (postings, 0);
                    out
                }
                _ => Extraction::default(),
            };
            out.blocked = html::classify(&doc, rules.blocked_if.as_ref(), out.postings.is_empty());
            Ok(out)
        }
    }
}

/// [`extract_each`], every posting in [`Extraction::postings`].
#[cfg(test)]
fn extract(rules: &JsonRules, url: &Url, body: &str) -> Result<Extraction, ExtractError> {
    let mut postings = Vec::new();
    let mut out = extract_each(rules, url, body, || (), &|_| (), |p| postings.push(p))?;
    if out.handed_over > 0 {
        (out.postings, out.handed_over) = (postings, 0);
    }
    Ok(out)
}

/// Items read by one thread at a time. A page of more items is read by two
/// threads, block by block in turn, and its postings still come out in item
/// order: the second core reads while the first hands over.
const BLOCK: usize = 512;

/// What reading a block of items gave, up to its first error.
#[derive(Default)]
struct Block {
    postings: Vec<Posting>,
    untitled: usize,
    warnings: Vec<String>,
    error: Option<ExtractError>,
}

fn from_json(
    rules: &JsonRules,
    url: &Url,
    body: &str,
    ready: impl FnOnce(),
    finish: &(dyn Fn(&mut Posting) + Sync),
    mut each: impl FnMut(Posting),
) -> Result<Extraction, ExtractError> {
    let items = items(body, &rules.items)?;
    let items = items.as_slice();
    ready();
    let read = |block: &[&RawValue]| {
        let mut read = Block::default();
        for raw in block {
            match item(rules, url, raw, &mut read.warnings) {
                Ok(Item::Posting(mut p)) => {
                    finish(&mut p);
                    read.postings.push(p);
                }
                Ok(Item::Untitled) => read.untitled += 1,
                Ok(Item::Dropped) => {}
                Err(e) => {
                    read.error = Some(e);
                    break;
                }
            }
        }
        read
    };
    let mut out = Extraction::default();
    let mut take = |block: Block| -> Result<(), ExtractError> {
        out.untitled += block.untitled;
        out.warnings.extend(block.warnings);
        out.handed_over += block.postings.len();
        block.postings.into_iter().for_each(&mut each);
        block.error.map_or(Ok(()), Err)
    };
    if items.len() <= BLOCK {
        take(read(items))?;
    } else {
        std::thread::scope(|scope| {
            let (to, from) = std::sync::mpsc::sync_channel(2);
            // Stops at its next block once this side stopped listening.
            scope.spawn(move || {
                for block in items.chunks(BLOCK).skip(1).step_by(2) {
                    if to.send(read(block)).is_err() {
                        break;
                    }
                }
            });
            for (i, block) in items.chunks(BLOCK).enumerate() {
                let block = match i % 2 {
                    0 => read(block),
                    _ => from.recv().unwrap_or_default(),
                };
                take(block)?;
            }
            Ok::<_, ExtractError>(())
        })?;
    }
    out.next_page = match &rules.next_page {
        Some(JsonNext::Pointer(p)) => raw_at(body, p)?
            .and_then(|n| serde_json::from_str::<String>(n.get()).ok())
            .filter(|n| !n.trim().is_empty())
            .and_then(|n| url.join(n.trim()).ok()),
        // An empty page is the end.
        Some(JsonNext::PageParam(param)) if out.handed_over > 0 => Some(next_page_number(url, param)),
        _ => None,
    }
    .filter(|next| next != url);
    Ok(out)
}

/// What one item is.
#[allow(clippy::large_enum_variant)] // returned and unpacked at once: boxing would cost an allocation per item
enum Item {
    Posting(Posting),
    /// No title: counted, skipped.
    Untitled,
    /// Not kept (`keep_if`).
    Dropped,
}

/// Reads one item. Parsed on its own: a page of 200 000 items is never held
/// as one tree.
fn item(rules: &JsonRules, url: &Url, raw: &RawValue, warnings: &mut Vec<String>) -> Result<Item, ExtractError> {
    let item: Value = serde_json::from_str(raw.get()).map_err(|e| ExtractError::Json(e.to_string()))?;
    let kept = match &rules.keep_if {
        None => true,
        Some(p) => match item.pointer(p) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => !s.trim().is_empty() && !s.trim().eq_ignore_ascii_case("false"),
            Some(Value::Number(n)) => n.as_f64() != Some(0.0),
            _ => false,
        },
    };
    if !kept {
        return Ok(Item::Dropped);
    }
    let field = |p: &Option<String>| p.as_deref().and_then(|p| scalar(item.pointer(p)?));
    let mut title = scalar_at(&item, &rules.title).unwrap_or_default();
    if let Some(width) = rules.title_wrap {
        title = unwrap(&title, width);
    }
    let link = field(&rules.link).and_then(|l| {
        let resolved = resolve_link(url, &l);
        if resolved.is_none() {
            warnings.push(format!("link `{l}` of \"{title}\" is not a web link"));
        }
        resolved
    });
    let date = field(&rules.date).and_then(|d| {
        let parsed = parse_date(&d, None);
        if parsed.is_none() {
            warnings.push(format!("date `{d}` of \"{title}\" did not parse"));
        }
        parsed
    });
    let body = rules
        .body
        .iter()
        .filter_map(|(label, p)| {
            let value = field(&Some(p.clone()))?;
            let value = value.trim();
            if value.is_empty() {
                return None;
            }
            Some(match label {
                Some(label) => format!("{label}: {value}"),
                None => value.to_owned(),
            })
        })
        .collect::<Vec<_>>()
        .join(", ");
    let facts = PostingFacts::read(&rules.facts, |p| scalar(item.pointer(p)?));
    Ok(match posting(&title, link, date, &body, facts) {
        Some(p) => Item::Posting(p),
        None => Item::Untitled,
    })
}

/// The items at JSON pointer `pointer`, each still unparsed.
fn items<'a>(body: &'a str, pointer: &str) -> Result<Vec<&'a RawValue>, ExtractError> {
    match raw_at(body, pointer)? {
        Some(at) if at.get().trim_start().starts_with('[') => {
            serde_json::from_str(at.get()).map_err(|e| ExtractError::Json(e.to_string()))
        }
        _ => Err(ExtractError::NotAnArray(pointer.to_owned())),
    }
}

/// The value at JSON pointer `pointer` (RFC 6901), unparsed: the body is
/// checked whole, but only the containers on the pointer's path are parsed,
/// and only as far as their children's extents.
fn raw_at<'a>(body: &'a str, pointer: &str) -> Result<Option<&'a RawValue>, ExtractError> {
    let json_err = |e: serde_json::Error| ExtractError::Json(e.to_string());
    let mut at: &RawValue = serde_json::from_str(body).map_err(json_err)?;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Ok(None);
    }
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let next = match at.get().trim_start().as_bytes().first() {
            Some(b'{') => {
                let map: HashMap<String, &RawValue> = serde_json::from_str(at.get()).map_err(json_err)?;
                map.get(&token).copied()
            }
            Some(b'[') => {
                let list: Vec<&RawValue> = serde_json::from_str(at.get()).map_err(json_err)?;
                // As `Value::pointer`: a plain decimal index, no sign or leading zero.
                let index = (!token.starts_with('+') && (token == "0" || !token.starts_with('0')))
                    .then(|| token.parse::<usize>().ok())
                    .flatten();
                index.and_then(|i| list.get(i).copied())
            }
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// `url` with query parameter `param` counted up (absent counts as page 1).
fn next_page_number(url: &Url, param: &str) -> Url {
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    match pairs.iter_mut().find(|(k, _)| k == param) {
        Some((_, v)) => *v = (v.parse::<u64>().unwrap_or(1).saturating_add(1)).to_string(),
        None => pairs.push((param.to_owned(), "2".to_owned())),
    }
    let mut next = url.clone();
    next.query_pairs_mut().clear().extend_pairs(pairs);
    next
}

/// Undoes a hard wrap at `width` characters: a full-width line followed by a
/// lowercase letter was cut mid-word (`Cou` + `nty`) and joins without a
/// space; any other line break is a space (`Computer Information` +
/// `Concepts Inc`).
pub(crate) fn unwrap(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut lines = s.split('\n').peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        if let Some(next) = lines.peek() {
            let mid_word = line.chars().count() == width && next.chars().next().is_some_and(char::is_lowercase);
            if !mid_word {
                out.push(' ');
            }
        }
    }
    out
}

fn scalar_at(item: &Value, pointer: &str) -> Option<String> {
    scalar(item.pointer(pointer)?)
}

/// Strings as they are, numbers and booleans as written; anything else is "not there".
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_map_items() {
        let rules = JsonRules {
            items: "/data".into(),
            title: "/victim".into(),
            link: Some("/url".into()),
            date: Some("/discovered".into()),
            body: vec![(None, "/missing".into())],
            facts: Default::default(),
            keep_if: None,
            embedded: None,
            blocked_if: None,
            title_wrap: None,
            next_page: None,
            max_pages: 1,
        };
        let body = r#"{"data":[{"victim":"Qualys","url":"/v/1","discovered":"2021-03-03 10:00:00"},{"victim":null},{"victim":42}]}"#;
        let out = extract(&rules, &Url::parse("https://api.example/").unwrap(), body).unwrap();
        assert_eq!(out.postings.len(), 2);
        assert_eq!(out.untitled, 1);
        assert_eq!(out.postings[0].link.as_deref(), Some("https://api.example/v/1"));
        assert_eq!(out.postings[1].title, "42");
        assert!(
            extract(
                &JsonRules {
                    items: "/nope".into(),
                    ..rules
                },
                &Url::parse("https://a.example/").unwrap(),
                body
            )
            .is_err()
        );
    }
}

#[cfg(test)]
mod pointer_tests {
    use super::*;

    /// The items are those `Value::pointer` finds, read without the whole tree.
    #[test]
    fn items_follow_the_pointer_as_value_pointer_does() {
        let body = r#"{"a/b": {"list": [[1], {"posts": [{"t": "x"}, {"t": "y"}]}]}, "~k": [true], "n": 3}"#;
        let tree: Value = serde_json::from_str(body).unwrap();
        for pointer in ["/a~1b/list/1/posts", "/~0k", "/a~1b/list", "/a~1b/list/0"] {
            let raw: Vec<Value> = match items(body, pointer) {
                Ok(items) => items.iter().map(|r| serde_json::from_str(r.get()).unwrap()).collect(),
                Err(e) => panic!("{pointer}: {e}"),
            };
            assert_eq!(Some(&raw), tree.pointer(pointer).and_then(Value::as_array), "{pointer}");
        }
        assert_eq!(items("[{}, 2]", "").unwrap().len(), 2);
        for pointer in ["", "/n", "/missing", "/a~1b/list/01", "/a~1b/list/9", "a"] {
            assert!(
                matches!(items(body, pointer), Err(ExtractError::NotAnArray(_))),
                "{pointer}"
            );
        }
        assert!(matches!(items("[1, 2", ""), Err(ExtractError::Json(_))));
        assert!(matches!(items(r#"{"d": [1,]}"#, "/d"), Err(ExtractError::Json(_))));
    }
}

#[cfg(test)]
mod facts_tests {
    use super::*;
    use crate::config::Facts;

    #[test]
    fn aggregator_items_with_nulls_nan_duplicates_and_crlf() {
        let rules = JsonRules {
            items: "".into(),
            title: "/victim".into(),
            link: None,
            date: Some("/discovered".into()),
            body: vec![(None, "/description".into()), (Some("due".into()), "/due".into())],
            facts: Facts {
                group: Some("/group".into()),
                website: Some("/website".into()),
                ..Facts::default()
            },
            keep_if: None,
            embedded: None,
            blocked_if: None,
            title_wrap: None,
            next_page: None,
            max_pages: 1,
        };
        let huge = "x".repeat(100_000);
        let body = format!(
            "[\r\n{{\"victim\": \"Dynamo Electric \", \"group\": \"play\", \"website\": \"NaN\", \"description\": \"a\\r\\nb\", \"due\": null, \"discovered\": \"2024-06-13 13:36:49.833854\"}},\r\n\
             {{\"victim\": \"Dynamo Electric \", \"group\": \"play\", \"website\": \"\", \"description\": \"a\\r\\nb\", \"due\": null, \"discovered\": \"2024-06-13 13:36:49.833854\"}},\r\n\
             {{\"victim\": null, \"group\": null}},\r\n\
             {{\"victim\": \"SolidCAM\", \"group\": \"\", \"website\": \" solidcam.com\", \"description\": \"{huge}\", \"due\": \"2024-07-01\"}}]"
        );
        let out = extract(&rules, &Url::parse("https://api.example/").unwrap(), &body).unwrap();
        assert_eq!(
            out.postings.len(),
            3,
            "duplicates are both extracted; the store keeps one"
        );
        assert_eq!(out.untitled, 1);
        let p = &out.postings[0];
        assert_eq!((p.title.as_str(), p.body.as_str()), ("Dynamo Electric", "a b"));
        assert_eq!(
            (p.facts.group.as_deref(), p.facts.website.as_deref()),
            (Some("play"), None)
        );
        let last = &out.postings[2];
        assert_eq!(last.facts.group, None);
        assert_eq!(last.facts.website.as_deref(), Some("solidcam.com"));
        assert!(last.body.len() <= crate::extract::MAX_BODY_BYTES + "…".len());
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;

    fn rules(next: JsonNext) -> JsonRules {
        JsonRules {
            items: "/data".into(),
            title: "/t".into(),
            link: None,
            date: None,
            body: Vec::new(),
            facts: Default::default(),
            keep_if: None,
            embedded: None,
            blocked_if: None,
            title_wrap: None,
            next_page: Some(next),
            max_pages: 5,
        }
    }

    #[test]
    fn a_page_parameter_counts_up_until_a_page_is_empty() {
        let r = rules(JsonNext::PageParam("page".into()));
        let url = Url::parse("http://a.example/l?page=1&sort=name:asc").unwrap();
        let out = extract(&r, &url, r#"{"data": [{"t": "Acme"}]}"#).unwrap();
        assert_eq!(
            out.next_page.unwrap().as_str(),
            "http://a.example/l?page=2&sort=name%3Aasc"
        );
        assert!(extract(&r, &url, r#"{"data": []}"#).unwrap().next_page.is_none());
        let bare = Url::parse("http://a.example/l").unwrap();
        let out = extract(&r, &bare, r#"{"data": [{"t": "Acme"}]}"#).unwrap();
        assert_eq!(out.next_page.unwrap().as_str(), "http://a.example/l?page=2");
    }

    #[test]
    fn a_next_pointer_is_followed_but_never_to_the_same_page() {
        let r = rules(JsonNext::Pointer("/links/next".into()));
        let url = Url::parse("http://a.example/api?p=1").unwrap();
        let page = |next: &str| format!(r#"{{"data": [{{"t": "Acme"}}], "links": {{"next": "{next}"}}}}"#);
        let out = extract(&r, &url, &page("/api?p=2")).unwrap();
        assert_eq!(out.next_page.unwrap().as_str(), "http://a.example/api?p=2");
        assert!(extract(&r, &url, &page("/api?p=1")).unwrap().next_page.is_none());
        assert!(extract(&r, &url, &page("")).unwrap().next_page.is_none());
    }
}

#[cfg(test)]
mod embedded_tests {
    use super::*;

    #[test]
    fn hard_wrapped_titles_are_rejoined() {
        assert_eq!(
            unwrap("The Akron-Summit Cou\nnty Public Library\n", 20),
            "The Akron-Summit County Public Library "
        );
        assert_eq!(
            unwrap("Computer Information\nConcepts Inc\n", 20),
            "Computer Information Concepts Inc "
        );
        assert_eq!(
            unwrap("The Adams County Com\nmunication Center or\nADCOM911\n", 20),
            "The Adams County Communication Center or ADCOM911 "
        );
        assert_eq!(unwrap("short\nline", 20), "short line");
    }
}

#[cfg(test)]
mod block_tests {
    use super::*;

    fn rules() -> JsonRules {
        JsonRules {
            items: "/data".into(),
            title: "/t".into(),
            link: Some("/u".into()),
            date: None,
            body: Vec::new(),
            facts: Default::default(),
            keep_if: Some("/keep".into()),
            embedded: None,
            blocked_if: None,
            title_wrap: None,
            next_page: None,
            max_pages: 1,
        }
    }

    /// Item `i`: untitled every 7th, dropped every 11th, a bad link every 13th.
    fn page(n: usize, broken: &[(usize, &str)]) -> String {
        let items: Vec<String> = (0..n)
            .map(|i| {
                let title = if i % 7 == 0 {
                    "null".to_owned()
                } else {
                    format!("\"Firm {i}\"")
                };
                let link = if i % 13 == 0 { "javascript:x" } else { "/p" };
                let extra = broken.iter().find(|(at, _)| *at == i).map_or("", |(_, e)| *e);
                format!(r#"{{"t": {title}, "u": "{link}", "keep": {}{extra}}}"#, i % 11 != 0)
            })
            .collect();
        format!(r#"{{"data": [{}]}}"#, items.join(","))
    }

    #[test]
    fn a_page_read_by_two_threads_comes_out_as_one_would_read_it() {
        let url = Url::parse("https://api.example/").unwrap();
        let n = 3 * BLOCK + 7;
        let mut order = Vec::new();
        let mut ready = false;
        let out = extract_each(
            &rules(),
            &url,
            &page(n, &[]),
            || ready = true,
            &|_| (),
            |p| {
                order.push(p.title);
            },
        )
        .unwrap();
        assert!(ready);
        let expected: Vec<String> = (0..n)
            .filter(|i| i % 11 != 0 && i % 7 != 0)
            .map(|i| format!("Firm {i}"))
            .collect();
        assert_eq!(order, expected);
        assert_eq!(out.handed_over, expected.len());
        assert_eq!(out.untitled, (0..n).filter(|i| i % 11 != 0 && i % 7 == 0).count());
        let bad_links: Vec<String> = (0..n)
            .filter(|i| i % 13 == 0 && i % 11 != 0)
            .map(|i| match i % 7 {
                0 => "link `javascript:x` of \"\" is not a web link".to_owned(),
                _ => format!("link `javascript:x` of \"Firm {i}\" is not a web link"),
            })
            .collect();
        assert_eq!(out.warnings, bad_links);
    }

    #[test]
    fn the_first_item_that_fails_fails_the_page_after_those_before_it() {
        let url = Url::parse("https://api.example/").unwrap();
        // Both read as JSON in the whole body; neither parses on its own.
        // The first is read by the second thread, the later one by the first.
        let broken = [(BLOCK + 5, r#", "n": 1e400"#), (2 * BLOCK + 3, r#", "s": "\ud800""#)];
        let mut handed = 0;
        let e = extract_each(
            &rules(),
            &url,
            &page(3 * BLOCK, &broken),
            || (),
            &|_| (),
            |_| handed += 1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let before = (0..BLOCK + 5).filter(|i| i % 11 != 0 && i % 7 != 0).count();
        assert_eq!(handed, before);
    }
}
