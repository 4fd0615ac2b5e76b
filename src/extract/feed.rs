//! Feed sources: RSS 2.0, RSS 1.0, Atom and JSON Feed, read by feed-rs.

use scraper::Html;
use url::Url;

use super::{ExtractError, Extraction, PostingFacts, posting, resolve_link};
use crate::config::{FeedField, FeedPart, FeedRules};
use crate::text;

pub(super) fn extract(rules: &FeedRules, url: &Url, body: &str) -> Result<Extraction, ExtractError> {
    // The parser's message quotes the feed's bytes, control characters
    // included, and it is printed on a terminal: clean it.
    let feed = feed_rs::parser::parse(body.as_bytes()).map_err(|e| ExtractError::Feed(text::clean(&e.to_string())))?;
    let mut out = Extraction::default();
    for entry in feed.entries {
        let parts = Parts {
            title: entry.title.map(|t| strip_html(&t.content)).unwrap_or_default(),
            summary: strip_html(
                &entry
                    .summary
                    .map(|s| s.content)
                    .or_else(|| entry.content.and_then(|c| c.body))
                    .unwrap_or_default(),
            ),
            link: entry.links.first().map(|l| l.href.clone()).unwrap_or_default(),
            guid: entry.id,
            categories: entry.categories.into_iter().map(|c| c.term).collect(),
        };
        let title = match &rules.title {
            Some(f) => parts.read(f).unwrap_or_default(),
            None => parts.title.clone(),
        };
        let link = resolve_link(url, &parts.link);
        let facts = PostingFacts::read(&rules.facts, |f| parts.read(f));
        match posting(&title, link, entry.published.or(entry.updated), &parts.summary, facts) {
            Some(p) => out.postings.push(p),
            None => out.untitled += 1,
        }
    }
    Ok(out)
}

/// The parts of one entry a field can read.
struct Parts {
    title: String,
    summary: String,
    link: String,
    guid: String,
    categories: Vec<String>,
}

impl Parts {
    /// The field's part, through its regex if it has one; for categories,
    /// the first that fits.
    fn read(&self, f: &FeedField) -> Option<String> {
        let keep = |v: &str| match &f.regex {
            None => Some(v.to_owned()),
            Some(re) => re.captures(v)?.get(1).map(|m| m.as_str().to_owned()),
        };
        match f.from {
            FeedPart::Title => keep(&self.title),
            FeedPart::Summary => keep(&self.summary),
            FeedPart::Link => keep(&self.link),
            FeedPart::Guid => keep(&self.guid),
            FeedPart::Category => self.categories.iter().find_map(|c| keep(c)),
        }
    }
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
        let out = extract(&FeedRules::default(), &url, rss).unwrap();
        assert_eq!(out.postings.len(), 1);
        assert_eq!(out.untitled, 1);
        let p = &out.postings[0];
        assert_eq!(p.title, "Accellion FTA vulnerability");
        assert_eq!(p.body, "Patch now");
        assert_eq!(p.posted_at.unwrap().format("%Y-%m-%d").to_string(), "2020-12-23");

        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><id>x</id><updated>2021-01-01T00:00:00Z</updated>
          <entry><title>Qualys statement</title><id>1</id><link href="https://vendor.example/q"/><updated>2021-03-03T00:00:00Z</updated><summary>text</summary></entry></feed>"#;
        let out = extract(&FeedRules::default(), &url, atom).unwrap();
        assert_eq!(out.postings[0].link.as_deref(), Some("https://vendor.example/q"));
        assert!(extract(&FeedRules::default(), &url, "<html>not a feed</html>").is_err());
    }
}
