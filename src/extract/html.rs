//! HTML sources: CSS selectors from the source definition, applied with scraper.

use std::borrow::Cow;

use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::{Extraction, PostingFacts, parse_date, posting, resolve_link};
use crate::config::{Field, HtmlRules};
use crate::text::{self, Cleaner};

pub(super) fn extract(rules: &HtmlRules, url: &Url, body: &str) -> Extraction {
    let doc = parse(body);
    let mut out = Extraction::default();
    let items: Vec<ElementRef> = doc.select(&rules.item).collect();
    let mut nested = items.clone();
    nested.sort_by_key(|e| e.id());
    let nested = Items(&nested);
    for &item in &items {
        let value = |f: &Field| value(item, f, Some(nested));
        let Some(title) = value(&rules.title) else {
            out.untitled += 1;
            continue;
        };
        let link = rules.link.as_ref().and_then(value).and_then(|href| {
            let link = resolve_link(url, &href);
            if link.is_none() {
                out.warnings
                    .push(format!("link `{href}` of \"{title}\" is not a web link"));
            }
            link
        });
        let posted_at = rules.date.as_ref().and_then(|f| {
            let raw = value(f)?;
            let date = parse_date(&raw, f.format.as_deref());
            if date.is_none() {
                out.warnings.push(format!("date `{raw}` of \"{title}\" did not parse"));
            }
            date
        });
        let body = rules.body.as_ref().and_then(value).unwrap_or_default();
        let facts = PostingFacts {
            website: rules.website.as_ref().and_then(value),
            ..PostingFacts::default()
        };
        match posting(&title, link, posted_at, &body, facts) {
            Some(p) => out.postings.push(p),
            None => out.untitled += 1,
        }
    }
    out.next_page = rules
        .next_page
        .as_ref()
        .and_then(|f| value(doc.root_element(), f, None))
        .and_then(|href| url.join(href.trim()).ok())
        .filter(|next| next != url);
    out.blocked = classify(&doc, rules.blocked_if.as_ref(), out.postings.is_empty());
    out
}

/// Parses a page. Line ends are made `\n` first, as the HTML parser would
/// make them itself, a character at a time: a page written with `\r\n`
/// (LockBit's) then parses at the speed of one written with `\n`.
pub(super) fn parse(body: &str) -> Html {
    Html::parse_document(&unix_newlines(body))
}

/// `\r\n` and a lone `\r` as `\n`: the HTML parser's input preprocessing.
fn unix_newlines(body: &str) -> Cow<'_, str> {
    let Some(first) = memchr::memchr(b'\r', body.as_bytes()) else {
        return Cow::Borrowed(body);
    };
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    let mut at = first;
    loop {
        out.push_str(&rest[..at]);
        out.push('\n');
        rest = &rest[at + 1..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
        match memchr::memchr(b'\r', rest.as_bytes()) {
            Some(next) => at = next,
            None => break,
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Why this page is not a listing, if it is not: the source's own
/// `blocked_if` selector always counts; the heuristics are only asked when
/// no posting was found, since a listing may mention "captcha" in a post.
pub(super) fn classify(doc: &Html, blocked_if: Option<&Selector>, nothing_found: bool) -> Option<String> {
    if let Some(sel) = blocked_if
        && doc.select(sel).next().is_some()
    {
        return Some("the page matches this source's blocked_if selector".into());
    }
    if nothing_found { blocked_reason(doc) } else { None }
}

/// One value read on a whole page (a prelude's token): a field spec, or,
/// with only a `regex`, the regex on the page's source (a token in a script).
/// `None` when it is not there, or the page nests too deep to parse.
pub fn read_field(body: &str, field: &Field) -> Option<String> {
    if let (None, None, Some(re)) = (&field.selector, &field.attr, &field.regex) {
        return Some(re.captures(body)?.get(1)?.as_str().to_owned()).filter(|v| !v.is_empty());
    }
    super::check_nesting(body).ok()?;
    page_value(&parse(body), field)
}

/// The value a field spec reads on the whole page (a post's detail page).
pub(super) fn page_value(doc: &Html, field: &Field) -> Option<String> {
    value(doc.root_element(), field, None)
}

/// The items the page's `item` selector matched, by node id: whether an
/// element is one is a binary search, not a selector match.
#[derive(Clone, Copy)]
struct Items<'a, 'doc>(&'a [ElementRef<'doc>]);

impl Items<'_, '_> {
    fn contains(&self, el: &ElementRef) -> bool {
        self.0.binary_search_by_key(&el.id(), |e| e.id()).is_ok()
    }
}

/// The value a field spec reads inside `scope`: the first element its
/// selector matches, its text or attribute, through its regex. `None` when
/// nothing is there or it is blank.
fn value(scope: ElementRef, field: &Field, items: Option<Items>) -> Option<String> {
    let el = match &field.selector {
        Some(sel) => first_match(scope, sel, items)?,
        None => scope,
    };
    // Element text comes out clean; an attribute or a regex capture is cleaned here.
    let kept = match (&field.attr, &field.regex) {
        (Some(attr), re) => text::clean(through(el.value().attr(attr)?, re.as_ref())?),
        (None, re) => {
            let text = if field.own_text { own_text(el) } else { element_text(el) };
            match re {
                None => text,
                Some(re) => text::clean(through(&text, Some(re))?),
            }
        }
    };
    if kept.is_empty() {
        return None;
    }
    Some(match &field.template {
        Some(t) => t.replacen("{}", &kept, 1),
        None => kept,
    })
}

/// `raw` through a field's regex: its first group, if it matches.
fn through<'a>(raw: &'a str, regex: Option<&Regex>) -> Option<&'a str> {
    match regex {
        Some(re) => Some(re.captures(raw)?.get(1)?.as_str()),
        None => Some(raw),
    }
}

/// The first element under `scope` that `sel` matches, in document order,
/// not looking inside nested items: an item's fields are its own, and on a
/// hostile page of items nested 10 000 deep, searching each item's whole
/// subtree would cost the square of the page size.
fn first_match<'a>(scope: ElementRef<'a>, sel: &Selector, items: Option<Items>) -> Option<ElementRef<'a>> {
    let Some(items) = items else {
        return scope.select(sel).next();
    };
    // Document order without a stack: down to a first child, else on to the
    // next sibling of the node or of its nearest ancestor below `scope`.
    let mut next = scope.first_child();
    while let Some(node) = next {
        let mut inside = node.first_child();
        if let Some(el) = ElementRef::wrap(node) {
            if items.contains(&el) {
                inside = None;
            } else if sel.matches(&el) {
                return Some(el);
            }
        }
        next = inside.or_else(|| {
            let mut at = node;
            loop {
                if let Some(sibling) = at.next_sibling() {
                    return Some(sibling);
                }
                at = at.parent().filter(|p| p.id() != scope.id())?;
            }
        });
    }
    None
}

/// Text beyond this is never kept (bodies are capped at 4 KiB), so
/// collecting stops here rather than walking a huge subtree.
const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The text directly inside `el`, without its child elements' text; a
/// `<br>` between its lines counts as a space ("Hartmann<br>Logistik").
pub(crate) fn own_text(el: ElementRef) -> String {
    let mut s = Cleaner::default();
    for node in el.children() {
        match node.value() {
            scraper::Node::Text(t) => s.push(t),
            scraper::Node::Element(e) if e.name() == "br" => s.push(" "),
            _ => {}
        }
    }
    s.finish()
}

/// Text content with whitespace collapsed; `<br>` counts as a space so that
/// "Name<br>Address" does not read as one word.
pub(crate) fn element_text(el: ElementRef) -> String {
    let mut s = Cleaner::default();
    let mut read = 0;
    for node in el.descendants() {
        if let Some(t) = node.value().as_text() {
            s.push(t);
            read += t.len();
        } else if node.value().as_element().is_some_and(|e| e.name() == "br") {
            s.push(" ");
            read += 1;
        }
        if read > MAX_TEXT_BYTES {
            break;
        }
    }
    s.finish()
}

/// Recognises pages that are not listings at all: anti-DDoS and CAPTCHA
/// interstitials, victim login and ransom portals, and error pages served with
/// status 200. Only asked when no posting was found.
pub fn blocked_reason(doc: &Html) -> Option<String> {
    let sel = |s: &str| Selector::parse(s).expect("static selector");
    let title = doc
        .select(&sel("title"))
        .next()
        .map(|t| text::normalize(&t.text().collect::<String>()))
        .unwrap_or_default();
    let body_text = text::normalize(&doc.root_element().text().collect::<String>());
    let has = |needle: &str| body_text.contains(needle) || title.contains(needle);
    if has("captcha") || has("prove that you are human") || has("ddos protection") || has("are you human") {
        return Some("a CAPTCHA or anti-DDoS check stands in front of the listing".into());
    }
    if doc.select(&sel("input[type=password]")).next().is_some() {
        return Some("a login form, not a listing".into());
    }
    let error_title = [
        "404",
        "403",
        "500",
        "502",
        "503",
        "not found",
        "forbidden",
        "bad gateway",
        "service unavailable",
    ];
    if error_title.iter().any(|e| title.contains(e)) {
        return Some(format!("an error page (title \"{title}\")"));
    }
    if doc.select(&sel("form")).next().is_some()
        && (has("decrypt") || has("ransom") || has("your id") || has("enter id") || has("negotiat"))
    {
        return Some("a ransom or negotiation portal, not a listing".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Extractor};
    use std::path::Path;

    fn rules(html_table: &str) -> HtmlRules {
        let text = format!(
            "[database]\npath = \"x.db\"\n[[source]]\nname = \"t\"\nkind = \"html\"\nurl = \"http://leak.example/list/\"\n[source.html]\n{html_table}"
        );
        let c = Config::parse(Path::new("t.toml"), &text).unwrap();
        match c.sources.into_iter().next().unwrap().extractor {
            Extractor::Html(r) => r,
            _ => unreachable!(),
        }
    }

    const PAGE: &str = r#"<html><body>
      <div class="post"><h2> Acme
         Corp </h2><a href="/post/1">more</a><span class="date">2021-03-01</span>
         <p class="d">Data of Acme<br>Corp.</p></div>
      <div class="post"><h2></h2><a href="/post/2">x</a></div>
      <div class="post"><h2>Qualys &amp; Co</h2><a href="javascript:alert(1)">x</a><span class="date">soon</span></div>
      <a class="next" href="?page=2">next</a>
    </body></html>"#;

    #[test]
    fn a_website_field_reads_the_stated_domain() {
        let r = rules(
            "item = \"th.News\"\ntitle = { own_text = true }\nwebsite = { selector = \"div\", regex = \"((?:www\\\\.)?[a-z0-9-]+(?:\\\\.[a-z0-9-]+)+)\" }",
        );
        // As Play writes it (leaksites/play/Play9.html).
        let page = "<table><tr><th class=\"News\">Western Mechanical<div><i class='location'></i>&nbsp;United States<div><i class='link'></i>&nbsp;&nbsp;www.westmech-hvac.com<div>&#128065;&#65039; views: 20003</div></div></div></th></tr></table>";
        let out = extract(&r, &Url::parse("http://leak.example/").unwrap(), page);
        assert_eq!(out.postings[0].facts.website.as_deref(), Some("www.westmech-hvac.com"));
    }

    #[test]
    fn extracts_titles_links_dates_bodies() {
        let r = rules(
            "item = \"div.post\"\ntitle = \"h2\"\nlink = { selector = \"a\", attr = \"href\" }\ndate = \".date\"\nbody = \"p.d\"\nnext_page = { selector = \"a.next\", attr = \"href\" }",
        );
        let url = Url::parse("http://leak.example/list/").unwrap();
        let out = extract(&r, &url, PAGE);
        assert_eq!(out.untitled, 1);
        let titles: Vec<_> = out.postings.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Acme Corp", "Qualys & Co"]);
        assert_eq!(out.postings[0].link.as_deref(), Some("http://leak.example/post/1"));
        assert_eq!(out.postings[0].body, "Data of Acme Corp.");
        assert_eq!(
            out.postings[0].posted_at.unwrap().to_rfc3339(),
            "2021-03-01T00:00:00+00:00"
        );
        assert_eq!(out.postings[1].link, None);
        assert_eq!(out.postings[1].posted_at, None);
        assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
        assert_eq!(out.next_page.unwrap().as_str(), "http://leak.example/list/?page=2");
        assert!(out.blocked.is_none());
    }

    #[test]
    fn text_is_cleaned_and_missing_optional_fields_are_empty() {
        let r = rules(
            "item = \"li\"\ntitle = \"b\"\nlink = { selector = \"a\", attr = \"href\" }\ndate = \"time\"\nbody = \"p\"",
        );
        let url = Url::parse("http://leak.example/").unwrap();
        let page = "<ul><li><b>Acc\u{200B}el\u{7}lion\u{FEFF}  &amp;amp;\n Co</b></li><li><b>   </b><p>x</p></li></ul>";
        let out = extract(&r, &url, page);
        assert_eq!(out.postings.len(), 1);
        assert_eq!(out.untitled, 1);
        let p = &out.postings[0];
        assert_eq!(p.title, "Accellion & Co");
        assert_eq!((p.link.as_deref(), p.posted_at, p.body.as_str()), (None, None, ""));
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn item_itself_own_text_and_template() {
        let r = rules(
            "item = \"th.News\"\ntitle = { own_text = true }\nlink = { attr = \"onclick\", regex = \"view\\\\('(\\\\w+)'\\\\)\", template = \"topic.php?id={}\" }",
        );
        let url = Url::parse("http://leak.example/index.php").unwrap();
        let page = "<table><tr><th class=News onclick=\"view('AB12')\">Garvey<div>United States<div>added: 2024-09-29</th></tr></table>";
        let out = extract(&r, &url, page);
        assert_eq!(out.postings[0].title, "Garvey");
        assert_eq!(
            out.postings[0].link.as_deref(),
            Some("http://leak.example/topic.php?id=AB12")
        );
        let split = page.replace("Garvey<div>", "Garvey<br>Carpet<br/>Mills<div>");
        assert_eq!(extract(&r, &url, &split).postings[0].title, "Garvey Carpet Mills");
    }

    #[test]
    fn blocked_if_wins_even_when_items_match() {
        let r = rules("item = \"div.post\"\ntitle = \"h2\"\nblocked_if = \"#maintenance\"");
        let url = Url::parse("http://leak.example/").unwrap();
        let page = "<div id=maintenance></div><div class=post><h2>Back soon</h2></div>";
        assert_eq!(extract(&r, &url, page).class(), super::super::PageClass::Blocked);
        assert_eq!(
            extract(&r, &url, &page.replace("maintenance", "m")).class(),
            super::super::PageClass::Ok
        );
    }

    #[test]
    fn regex_keeps_first_group() {
        let r = rules("item = \"div.post\"\ntitle = { selector = \"a\", attr = \"href\", regex = \"/post/(\\\\d+)\" }");
        let url = Url::parse("http://leak.example/").unwrap();
        let out = extract(&r, &url, PAGE);
        let titles: Vec<_> = out.postings.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["1", "2"]);
    }

    #[test]
    fn line_ends_become_newlines_before_parsing() {
        assert_eq!(unix_newlines("a\r\nb\rc\r\r\nd\n\re\r"), "a\nb\nc\n\nd\n\ne\n");
        assert!(matches!(unix_newlines("a\nb"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_parser_builds_the_same_tree_from_normalized_line_ends() {
        // LockBit's page is written with `\r\n`; the others get `\r\n` and
        // lone `\r` put in, inside text, attributes, `<pre>` and `<textarea>`.
        let dir = crate::testdata::corpus().join("leaksites");
        let lockbit = std::fs::read_to_string(dir.join("lockbit3/LockBit3.0.html")).unwrap();
        assert!(lockbit.contains("\r\n"));
        let made_up = "<pre>\r\nx</pre><textarea>\r\r\ny</textarea><p title='a\r\nb'>c\rd</p><table>\r\n<tr><td>e";
        let ransomhub = std::fs::read_to_string(dir.join("ransomhub/RansomHub.html")).unwrap();
        for page in [
            lockbit,
            made_up.to_owned(),
            ransomhub.replace('\n', "\r\n"),
            ransomhub.replace('\n', "\r"),
        ] {
            let as_written = Html::parse_document(&page);
            assert_eq!(format!("{:?}", parse(&page).tree), format!("{:?}", as_written.tree));
        }
    }

    #[test]
    fn captcha_page_is_blocked_not_empty() {
        let r = rules("item = \"div.post\"\ntitle = \"h2\"");
        let url = Url::parse("http://leak.example/").unwrap();
        let page = "<html><head><title>DDOS Protection</title></head><body><form><img src='x'><p>Prove that you are human</p><input name=c></form></body></html>";
        let out = extract(&r, &url, page);
        assert!(out.blocked.is_some());
        assert_eq!(out.class(), super::super::PageClass::Blocked);
        let listing = "<html><head><title>Blog</title></head><body><div class=posts></div></body></html>";
        assert_eq!(extract(&r, &url, listing).class(), super::super::PageClass::Empty);
    }
}
