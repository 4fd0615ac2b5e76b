//! JSON sources: aggregator and leak-site APIs, mapped with JSON pointers (RFC 6901).

use serde_json::Value;
use url::Url;

use super::{ExtractError, Extraction, parse_date, posting, resolve_link};
use crate::config::JsonRules;

pub(super) fn extract(rules: &JsonRules, url: &Url, body: &str) -> Result<Extraction, ExtractError> {
    let doc: Value = serde_json::from_str(body).map_err(|e| ExtractError::Json(e.to_string()))?;
    let items = doc
        .pointer(&rules.items)
        .and_then(Value::as_array)
        .ok_or_else(|| ExtractError::NotAnArray(rules.items.clone()))?;
    let mut out = Extraction::default();
    for item in items {
        let field = |p: &Option<String>| p.as_deref().and_then(|p| scalar(item.pointer(p)?));
        let title = scalar_at(item, &rules.title).unwrap_or_default();
        let link = field(&rules.link).and_then(|l| resolve_link(url, &l));
        let date = field(&rules.date).and_then(|d| parse_date(&d, None));
        let body = field(&rules.body).unwrap_or_default();
        match posting(&title, link, date, &body) {
            Some(p) => out.postings.push(p),
            None => out.untitled += 1,
        }
    }
    Ok(out)
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
