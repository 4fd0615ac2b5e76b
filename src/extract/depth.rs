//! The nesting guard: refuse a page nested deeper than any real listing
//! before it reaches the HTML parser.
//!
//! html5ever's scope checks and CSS descendant matching both walk the stack
//! of open elements, so a hostile page of never-closed elements costs time
//! that grows with depth × size (a 5 MB page nested ~90 000 deep takes tens
//! of seconds; see BENCHMARKS.md, "Extraction"). One linear byte scan
//! estimates the depth the parser would reach, and a page deeper than
//! [`MAX_NESTING`] is refused as hostile.
//!
//! The estimate follows the tokenizer closely enough for this purpose:
//! comments and raw-text contents (`<script>`, `<style>`, `<title>`, …) hold
//! no tags; void elements and elements whose end tag is optional and that do
//! not nest in practice (`p`, `li`, `td`, …) never count; `/>` closes only
//! void and SVG/MathML elements (as in HTML: `<div/>` opens a div); an end
//! tag pops back to the matching open element, or is ignored when none is
//! open. Per-name counts of open elements keep that linear.

use std::collections::HashMap;

use memchr::{memchr, memmem};

/// The deepest page accepted. Real leak-site pages reach at most 76 by
/// this estimate (the Play pages; every page of the corpus is checked in the
/// tests), most under 16.
/// At this depth a 5 MB page still extracts in about 1.5 s (BENCHMARKS.md).
pub const MAX_NESTING: usize = 1000;

/// Elements that never hold others, or whose end tag is optional and that
/// close each other instead of nesting: they never add depth.
const FLAT: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "param",
    "keygen", "basefont", "bgsound", "frame", "image", "p", "li", "dt", "dd", "option", "tr", "td", "th", "tbody",
    "thead", "tfoot", "colgroup", "rt", "rp", "optgroup",
];

/// Elements whose content is text up to their end tag, never markup.
const RAW_TEXT: &[&str] = &[
    "script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// Foreign-content roots, inside which `/>` closes any element.
const FOREIGN: &[&str] = &["svg", "math"];

/// The deepest nesting of elements the HTML parser would build from `html`,
/// estimated in one pass over its bytes.
pub fn nesting_depth(html: &str) -> usize {
    let b = html.as_bytes();
    let mut names = Names::default();
    let mut stack: Vec<usize> = Vec::new();
    let mut foreign = 0usize;
    let mut deepest = 0usize;
    let mut i = 0;
    while let Some(lt) = find_byte(b, i, b'<') {
        i = lt + 1;
        match b.get(i) {
            Some(b'!') if b[i..].starts_with(b"!--") => {
                i = memmem::find(&b[i + 3..], b"-->").map_or(b.len(), |e| i + 3 + e + 3);
            }
            Some(b'!' | b'?') => i = bogus_comment(b, i),
            Some(b'/') if b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) => {
                let end = name_end(b, i + 1);
                let closing = names.find(&b[i + 1..end]);
                i = skip_attributes(b, end).0;
                if let Some(id) = closing
                    && names.kinds[id].open > 0
                {
                    while let Some(top) = stack.pop() {
                        let kind = &mut names.kinds[top];
                        kind.open -= 1;
                        if kind.foreign {
                            foreign -= 1;
                        }
                        if top == id {
                            break;
                        }
                    }
                }
            }
            Some(b'/') => i = bogus_comment(b, i),
            Some(c) if c.is_ascii_alphabetic() => {
                let end = name_end(b, i);
                let id = names.id(&b[i..end]);
                let self_closed;
                (i, self_closed) = skip_attributes(b, end);
                let kind = &mut names.kinds[id];
                if kind.plaintext {
                    break;
                }
                // Inside SVG or MathML, `<style>` and `<title>` hold markup.
                if foreign == 0 && kind.raw_text {
                    i = find_end_tag(b, i, &names.lowercase[id]).unwrap_or(b.len());
                    continue;
                }
                if kind.flat || (self_closed && (foreign > 0 || kind.foreign)) {
                    continue;
                }
                foreign += usize::from(kind.foreign);
                kind.open += 1;
                stack.push(id);
                deepest = deepest.max(stack.len());
            }
            _ => {}
        }
    }
    deepest
}

/// The tag names seen on a page, each once, by number: a tag costs a hash
/// lookup, not an allocation, and what its name means is worked out once.
#[derive(Default)]
struct Names {
    ids: HashMap<Vec<u8>, usize, foldhash::fast::RandomState>,
    /// By id: the name lowercased as the tokenizer does.
    lowercase: Vec<Vec<u8>>,
    kinds: Vec<Kind>,
    /// Scratch for lowercasing a name written with capitals.
    scratch: Vec<u8>,
}

#[derive(Clone, Copy)]
struct Kind {
    /// How many elements of this name are open.
    open: usize,
    flat: bool,
    raw_text: bool,
    foreign: bool,
    plaintext: bool,
}

impl Names {
    /// The id of a name already seen.
    fn find(&mut self, name: &[u8]) -> Option<usize> {
        if name.iter().any(u8::is_ascii_uppercase) {
            self.scratch.clear();
            self.scratch.extend(name.iter().map(u8::to_ascii_lowercase));
            self.ids.get(self.scratch.as_slice()).copied()
        } else {
            self.ids.get(name).copied()
        }
    }

    /// The id of a name, given one if it is new.
    fn id(&mut self, name: &[u8]) -> usize {
        if let Some(id) = self.find(name) {
            return id;
        }
        let lower = name.to_ascii_lowercase();
        let is = |set: &[&str]| set.iter().any(|n| n.as_bytes() == lower.as_slice());
        self.kinds.push(Kind {
            open: 0,
            flat: is(FLAT),
            raw_text: is(RAW_TEXT),
            foreign: is(FOREIGN),
            plaintext: lower == b"plaintext",
        });
        self.ids.insert(lower.clone(), self.lowercase.len());
        self.lowercase.push(lower);
        self.lowercase.len() - 1
    }
}
/// Where the tag name starting at `start` ends.
fn name_end(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'))
        .map_or(b.len(), |n| start + n)
}

/// Just past the `>` that ends a tag's attributes, and whether it ended in
/// `/>`, read as the tokenizer reads them: a value is quoted only after
/// `name =`, and a `/` closes the tag only right before `>`.
fn skip_attributes(b: &[u8], mut i: usize) -> (usize, bool) {
    let space = |c: u8| c.is_ascii_whitespace();
    let skip = |i: &mut usize, f: fn(u8) -> bool| {
        let rest = b.get(*i..).unwrap_or_default();
        *i += rest.iter().position(|&c| !f(c)).unwrap_or(rest.len());
    };
    loop {
        let gap = i;
        skip(&mut i, |c| c.is_ascii_whitespace() || c == b'/');
        match b.get(i) {
            None => return (b.len(), false),
            Some(b'>') => return (i + 1, i > gap && b[i - 1] == b'/'),
            // An attribute name: its first character may be anything, `=` too.
            Some(_) => i += 1,
        }
        skip(&mut i, |c| {
            !(c.is_ascii_whitespace() || matches!(c, b'/' | b'>' | b'='))
        });
        skip(&mut i, space);
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        skip(&mut i, space);
        match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => i = find_byte(b, i + 1, q).map_or(b.len(), |e| e + 1),
            _ => skip(&mut i, |c| !(c.is_ascii_whitespace() || c == b'>')),
        }
    }
}

/// Just past the `>` that ends a `<!…>`, `<?…>` or `</ …>` (no quotes there).
fn bogus_comment(b: &[u8], i: usize) -> usize {
    find_byte(b, i, b'>').map_or(b.len(), |e| e + 1)
}

fn find_byte(b: &[u8], from: usize, byte: u8) -> Option<usize> {
    memchr(byte, b.get(from..)?).map(|n| from + n)
}

/// Where `</name` starts at or after `from`, in any case.
fn find_end_tag(b: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut at = from;
    loop {
        let lt = find_byte(b, at, b'<')?;
        let rest = &b[lt + 1..];
        if rest.first() == Some(&b'/') && rest.get(1..=name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name)) {
            return Some(lt);
        }
        at = lt + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn elements_count_and_end_tags_pop() {
        assert_eq!(nesting_depth("<html><body><div><span>x</span></div></body></html>"), 4);
        assert_eq!(nesting_depth("<div></div><div></div><div><b><i>x</i></b></div>"), 3);
        // An end tag closes everything opened inside its element.
        assert_eq!(nesting_depth(&"<div><span><b>x</div>".repeat(100)), 3);
        // An end tag with nothing to close is ignored.
        assert_eq!(nesting_depth("</div></div><div><div></div></div>"), 2);
        assert_eq!(nesting_depth("<DIV><Div></dIV></div>"), 2);
    }

    #[test]
    fn comments_scripts_and_styles_hold_no_tags() {
        let tags = "<div>".repeat(50);
        assert_eq!(nesting_depth(&format!("<!-- {tags} --><div></div>")), 1);
        assert_eq!(nesting_depth(&format!("<script>var s = '{tags}';</script><div>")), 1);
        assert_eq!(nesting_depth(&format!("<STYLE>{tags}</style><div>")), 1);
        assert_eq!(
            nesting_depth(&format!("<title>{tags}</title><textarea>{tags}</textarea>")),
            0
        );
        assert_eq!(
            nesting_depth(&format!("<!DOCTYPE html><?xml x?><![CDATA[x]]>{tags}")),
            50
        );
    }

    #[test]
    fn void_optional_end_and_self_closed_elements_do_not_nest() {
        let flat = "<br><img src=x><input><meta charset=utf-8><link rel=x><hr/><p>a<li>b<dt>c<dd>d\
                    <option>e<tr><td>f<th>g<tbody><thead><tfoot><colgroup><rt><rp><optgroup>";
        assert_eq!(nesting_depth(&flat.repeat(200)), 0);
        // `/>` closes SVG elements; in HTML it does not close a div.
        assert_eq!(
            nesting_depth(&format!("<svg>{}</svg>", "<path d='M0 0'/>".repeat(500))),
            1
        );
        assert_eq!(nesting_depth(&"<div/>".repeat(30)), 30);
        // A `>` inside a quoted attribute value does not end the tag.
        assert_eq!(nesting_depth("<a title='1 > 0 <div>'>x</a>"), 1);
        // A quote opens a value only after `=`; `/` self-closes only before `>`.
        assert_eq!(nesting_depth(&"<div =\"><div>\"x".repeat(20)), 40);
        assert_eq!(nesting_depth(&format!("<svg>{}", "<g a=b/>".repeat(20))), 21);
        assert_eq!(nesting_depth("<div a = \"x>\" b='y>'/ c=d>"), 1);
        // In SVG a <title> holds markup, so it cannot hide what follows.
        assert_eq!(nesting_depth(&format!("<svg><title>{}", "<div>".repeat(20))), 22);
    }

    #[test]
    fn a_legit_deep_ish_page_passes() {
        let mut page = String::from("<!DOCTYPE html><html><head><title>Blog</title></head><body>");
        page.push_str(&"<div class=wrap><section><article>".repeat(40));
        page.push_str(&"<ul><li><a href=/x>post</a><li><span>2024</span></ul>".repeat(1000));
        page.push_str(&"</article></section></div>".repeat(40));
        page.push_str("</body></html>");
        let depth = nesting_depth(&page);
        assert_eq!(depth, 2 + 120 + 2);
        assert!(depth < MAX_NESTING / 4);
    }

    #[test]
    fn a_hostile_page_nested_10000_deep_is_refused_fast() {
        let page = format!("<html><body>{}", "<div><span>x".repeat(5000));
        let start = Instant::now();
        let depth = nesting_depth(&page);
        let took = start.elapsed();
        assert_eq!(depth, 10_002);
        assert!(depth > MAX_NESTING);
        // Linear: printed, not asserted (the machine is shared).
        eprintln!("10 000-deep page ({} KB) scanned in {took:?}", page.len() / 1024);
    }

    #[test]
    fn every_real_corpus_page_passes_with_a_wide_margin() {
        let corpus = crate::testdata::corpus().join("leaksites");
        let mut pages = 0;
        let mut dirs = vec![corpus];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "html" || e == "htm") {
                    let page = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                    let depth = nesting_depth(&page);
                    eprintln!("{depth:5}  {}", path.display());
                    assert!(depth <= MAX_NESTING / 10, "{}: {depth}", path.display());
                    pages += 1;
                }
            }
        }
        assert!(pages > 30, "only {pages} corpus pages found");
    }
}
