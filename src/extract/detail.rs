//! A post's own page ([source.detail]): the field specs read on the whole
//! page, as a listing's are read inside an item, with the same cleaning and
//! limits.

use chrono::{DateTime, Utc};
use scraper::Html;
use url::Url;

use super::{ExtractError, MAX_BODY_BYTES, check_nesting, entities, html, parse_date};
use crate::config::DetailRules;
use crate::text;

/// What a post's page says beyond its listing entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    pub body: String,
    /// The victim's own site as the page states it.
    pub website: Option<String>,
    pub posted_at: Option<DateTime<Utc>>,
}

impl Detail {
    /// The text matched against the watch list: the body and the website.
    pub fn text(&self) -> String {
        match &self.website {
            Some(w) => format!("{} {w}", self.body),
            None => self.body.clone(),
        }
    }
}

/// Reads `rules` on the detail page at `url`.
pub fn read(rules: &DetailRules, url: &Url, body: &str) -> Result<Detail, ExtractError> {
    check_nesting(body)?;
    let doc = Html::parse_document(body);
    let value = |f: &Option<crate::config::Field>| f.as_ref().and_then(|f| html::page_value(&doc, f));
    let clean = |s: String| text::truncate(&text::clean_cow(&entities::decode(&s)), MAX_BODY_BYTES);
    let posted_at = rules
        .date
        .as_ref()
        .and_then(|f| parse_date(&html::page_value(&doc, f)?, f.format.as_deref()));
    let website = value(&rules.website).map(clean).filter(|w| !w.is_empty());
    // A relative link to the victim's site is the leak site's own page, not a website.
    let website = website.filter(|w| url.join(w).map_or(true, |u| u.host_str() != url.host_str()));
    Ok(Detail {
        body: value(&rules.body).map(clean).unwrap_or_default(),
        website,
        posted_at,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn rules() -> DetailRules {
        let text = "[database]\npath = \"x.db\"\n[[source]]\nname = \"s\"\nkind = \"html\"\nurl = \"http://s.example/\"\n[source.html]\nitem = \"li\"\ntitle = \"a\"\nlink = { selector = \"a\", attr = \"href\" }\n[source.detail]\nbody = \"div.post-body\"\nwebsite = { selector = \"a.site\", attr = \"href\" }\ndate = { selector = \"time\", format = \"%d.%m.%Y\" }\n";
        Config::parse(Path::new("t.toml"), text).unwrap().sources[0]
            .detail
            .clone()
            .unwrap()
    }

    #[test]
    fn fields_are_read_on_the_whole_page_and_cleaned() {
        let page = "<html><body><time>07.05.2024</time><div class=\"post-body\">They trusted  ONSUPPORT &amp;amp; CO\u{200b}</div><a class=\"site\" href=\"https://victim.example/\">site</a></body></html>";
        let url = Url::parse("http://s.example/company/1").unwrap();
        let d = read(&rules(), &url, page).unwrap();
        assert_eq!(d.body, "They trusted ONSUPPORT & CO");
        assert_eq!(d.website.as_deref(), Some("https://victim.example/"));
        assert_eq!(d.posted_at.unwrap().format("%Y-%m-%d").to_string(), "2024-05-07");
        assert_eq!(d.text(), "They trusted ONSUPPORT & CO https://victim.example/");
    }

    #[test]
    fn a_hostile_page_is_refused_and_a_missing_field_is_empty() {
        let url = Url::parse("http://s.example/company/1").unwrap();
        let deep = format!("<html><body>{}</body></html>", "<div>".repeat(5000));
        assert!(matches!(read(&rules(), &url, &deep), Err(ExtractError::TooDeep(_))));
        let bare = read(&rules(), &url, "<html><body><p>nothing</p></body></html>").unwrap();
        assert_eq!(bare, Detail::default());
        let own = read(&rules(), &url, "<a class=\"site\" href=\"/company/2\">x</a>").unwrap();
        assert_eq!(
            own.website, None,
            "a link back into the leak site is not the victim's site"
        );
    }
}
