//! Feed sources: RSS 2.0, RSS 1.0, Atom and JSON Feed, read by feed-rs.

use scraper::Html;
use url::Url;

use super::{ExtractError, Extraction, posting, resolve_link};
use crate::text;

pub(super) fn extract(url: &Url, body: &str) -> Result<Extraction, ExtractError> {
    // The parser's message quotes the feed's bytes, control characters
    // included, and it is printed on a terminal: clean it.
    let feed = feed_rs::parser::parse(body.as_bytes()).map_err(|e| ExtractError::Feed(text::clean(&e.to_string())))?;
    let mut out = Extraction::default();
    for entry in feed.entries {
        let title = entry.title.map(|t| strip_html(&t.content)).unwrap_or_default();
        let link = entry.links.first().and_then(|l| resolve_link(url, &l.href));
        let summary = entry
            .summary
            .map(|s| s.content)
            .or_else(|| entry.content.and_then(|c| c.body))
            .unwrap_or_default();
        match posting(&title, link, entry.published.or(entry.updated), &strip_html(&summary)) {
            Some(p) => out.postings.push(p),
            None => out.untitled += 1,
        }
    }
    Ok(out)
}

/// Feed summaries are often HTML: keep the text only.
fn strip_html(s: &str) -> String {
    if !s.contains('<') && !s.contains('&') {
        return s.to_owned();
    }
    Html::parse_fragment(s)
        .root_element()
        .text()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_and_atom() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Advisories</title>
          <item><title>Accellion FTA vulnerability</title><link>/adv/1</link>
          <pubDate>Wed, 23 Dec 2020 10:00:00 GMT</pubDate><description>&lt;p&gt;Patch &lt;b&gt;now&lt;/b&gt;&lt;/p&gt;</description></item>
          <item><title></title></item></channel></rss>"#;
        let url = Url::parse("https://vendor.example/feed.xml").unwrap();
        let out = extract(&url, rss).unwrap();
        assert_eq!(out.postings.len(), 1);
        assert_eq!(out.untitled, 1);
        let p = &out.postings[0];
        assert_eq!(p.title, "Accellion FTA vulnerability");
        assert_eq!(p.body, "Patch now");
        assert_eq!(p.posted_at.unwrap().format("%Y-%m-%d").to_string(), "2020-12-23");

        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><id>x</id><updated>2021-01-01T00:00:00Z</updated>
          <entry><title>Qualys statement</title><id>1</id><link href="https://vendor.example/q"/><updated>2021-03-03T00:00:00Z</updated><summary>text</summary></entry></feed>"#;
        let out = extract(&url, atom).unwrap();
        assert_eq!(out.postings[0].link.as_deref(), Some("https://vendor.example/q"));
        assert!(extract(&url, "<html>not a feed</html>").is_err());
    }
}
