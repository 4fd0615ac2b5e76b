//! The self-healing hint: when a source's selectors stop matching, the admin
//! alert carries a replacement definition and what it would extract, so the
//! analyst can check it and paste it in a minute.

use url::Url;

use super::{Definition, suggest};
use crate::text;

/// Titles shown in the hint; enough to judge the suggestion at a glance.
const SHOWN: usize = 10;

/// The text to attach to a "source yields nothing" admin alert: a suggested
/// `[source.html]` table and the postings it extracts from `page_html`.
/// `None` when the page is blocked or holds no listing to suggest from.
pub fn heal_hint(page_html: &str, page_url: &Url) -> Option<String> {
    // The alert says to replace the source's [source.html]: an HTML table.
    let best = suggest(page_html)
        .ok()?
        .into_iter()
        .find(|c| matches!(c.definition, Definition::Html(_)))?;
    let source = super::verify::source(&best.definition, page_url).ok()?;
    let x = crate::extract::extract(&source, page_url, page_html).ok()?;
    if x.postings.is_empty() {
        return None;
    }
    let mut out = format!(
        "The page still lists postings, in a layout the configured selectors no longer match.\n\
         Suggested replacement (paste under the source's [[source]], replacing its [source.html]):\n\n{}\n\
         It extracts {} postings from the page just fetched:\n",
        best.definition.to_toml(),
        x.postings.len()
    );
    for p in x.postings.iter().take(SHOWN) {
        out.push_str(&format!("  - {}", text::clean(&p.title)));
        if let Some(link) = &p.link {
            out.push_str(&format!("  <{}>", text::clean(link)));
        }
        out.push('\n');
    }
    if x.postings.len() > SHOWN {
        out.push_str(&format!("  … and {} more\n", x.postings.len() - SHOWN));
    }
    out.push_str("Check it with `leakwatch source test NAME` before relying on it.\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redesigned_listing_gets_a_replacement_and_its_postings() {
        let page = include_str!("../../fixtures/suggest/redesigned.html");
        let url = Url::parse("http://leak.example/news/").unwrap();
        let hint = heal_hint(page, &url).expect("a hint");
        assert!(
            hint.contains("[source.html]\nitem = \"tr.victim\"\ntitle = \"td.name\""),
            "{hint}"
        );
        assert!(hint.contains("It extracts 6 postings"), "{hint}");
        assert!(
            hint.contains("  - Qualys, Inc.  <http://leak.example/posts/qualys/>"),
            "{hint}"
        );
    }

    #[test]
    fn a_blocked_page_gets_no_hint() {
        let url = Url::parse("http://leak.example/").unwrap();
        let login =
            "<html><head><title>Sign in</title></head><body><form><input type=password name=p></form></body></html>";
        assert_eq!(heal_hint(login, &url), None);
    }
}
