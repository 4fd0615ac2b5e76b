//! JSON sources: aggregator and leak-site APIs, mapped with JSON pointers (RFC 6901).

use scraper::Html;
use serde_json::Value;
use url::Url;

use super::{ExtractError, Extraction, html, parse_date, posting, resolve_link};
use crate::config::JsonRules;

pub(super) fn extract(rules: &JsonRules, url: &Url, body: &str) -> Result<Extraction, ExtractError> {
    match &rules.embedded {
        None => from_json(rules, url, body),
        Some(sel) => {
            // Some sites serve their API's JSON inside an HTML page (akira:
            // a `<pre>`); the same page may instead be a CAPTCHA or portal.
            let doc = Html::parse_document(body);
            let json = doc.select(sel).next().map(|el| el.text().collect::<String>());
            let mut out = match json {
                Some(json) if !json.trim().is_empty() => from_json(rules, url, &json)?,
                _ => Extraction::default(),
            };
            out.blocked = html::classify(&doc, rules.blocked_if.as_ref(), out.postings.is_empty());
            Ok(out)
        }
    }
}

fn from_json(rules: &JsonRules, url: &Url, body: &str) -> Result<Extraction, ExtractError> {
    let doc: Value = serde_json::from_str(body).map_err(|e| ExtractError::Json(e.to_string()))?;
    let items = doc
        .pointer(&rules.items)
        .and_then(Value::as_array)
        .ok_or_else(|| ExtractError::NotAnArray(rules.items.clone()))?;
    let mut out = Extraction::default();
    for item in items {
        let field = |p: &Option<String>| p.as_deref().and_then(|p| scalar(item.pointer(p)?));
        let mut title = scalar_at(item, &rules.title).unwrap_or_default();
        if let Some(width) = rules.title_wrap {
            title = unwrap(&title, width);
        }
        let link = field(&rules.link).and_then(|l| {
            let resolved = resolve_link(url, &l);
            if resolved.is_none() {
                out.warnings
                    .push(format!("link `{l}` of \"{title}\" is not a web link"));
            }
            resolved
        });
        let date = field(&rules.date).and_then(|d| {
            let parsed = parse_date(&d, None);
            if parsed.is_none() {
                out.warnings.push(format!("date `{d}` of \"{title}\" did not parse"));
            }
            parsed
        });
        let body = field(&rules.body).unwrap_or_default();
        match posting(&title, link, date, &body) {
            Some(p) => out.postings.push(p),
            None => out.untitled += 1,
        }
    }
    Ok(out)
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
            body: Some("/missing".into()),
            embedded: None,
            blocked_if: None,
            title_wrap: None,
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
