//! HTML entities left in text after parsing.
//!
//! The HTML parser decodes entities once. Sites that escape twice
//! (`M Metzler &amp;amp; Associates` on 8base) and JSON sources that carry
//! escaped HTML (`Weir &amp; Partners` in aggregator data) still hold
//! entities in the parsed text; a watch term "Metzler & Associates" must
//! meet them, and a reader must not see `&amp;`.

use std::borrow::Cow;

use markup5ever::data::NAMED_ENTITIES;

/// How many escaping layers are undone; three covers every case seen, and a
/// bound keeps a hostile `&amp;amp;amp;…` from costing more than a few passes.
const MAX_LAYERS: usize = 3;

/// Decodes entities (named with `;`, `&#NN;`, `&#xHH;`) repeatedly, up to
/// [`MAX_LAYERS`] times. Text without `&` is returned as is.
pub fn decode(s: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(s);
    for _ in 0..MAX_LAYERS {
        match decode_once(&out) {
            Some(next) => out = Cow::Owned(next),
            None => break,
        }
    }
    out
}

/// One layer; `None` when nothing was decoded.
fn decode_once(s: &str) -> Option<String> {
    if !s.contains('&') {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match entity(tail) {
            Some((decoded, len)) => {
                out.extend(decoded.into_iter().flatten());
                rest = &tail[len..];
                changed = true;
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The entity at the start of `s` (which starts with `&`): its characters
/// and its length in bytes. Only entities closed by `;` count, so that
/// "AT&T" or "R&D;" stay as written.
fn entity(s: &str) -> Option<([Option<char>; 2], usize)> {
    let end = s[1..].find(';')? + 1;
    let name = &s[1..end];
    if name.is_empty() || name.len() > 32 {
        return None;
    }
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        let c = char::from_u32(code).filter(|&c| c != '\0')?;
        return Some(([Some(c), None], end + 1));
    }
    let (a, b) = *NAMED_ENTITIES.get(&s[1..=end])?;
    Some(([char::from_u32(a), char::from_u32(b).filter(|&c| c != '\0')], end + 1))
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_single_and_double_escaped_text() {
        assert_eq!(decode("M Metzler &amp;amp; Associates"), "M Metzler & Associates");
        assert_eq!(decode("Weir &amp; Partners LLP"), "Weir & Partners LLP");
        assert_eq!(
            decode("COMUNE DI VILLAFRANCA D&#039;ASTI"),
            "COMUNE DI VILLAFRANCA D'ASTI"
        );
        assert_eq!(decode("Atlanta Allergy &#038; Asthma"), "Atlanta Allergy & Asthma");
        assert_eq!(decode("caf&eacute; &#x41;"), "café A");
        assert_eq!(decode("&amp;eacute;"), "é");
    }

    #[test]
    fn leaves_what_is_not_an_entity() {
        assert_eq!(decode("AT&T and R&D"), "AT&T and R&D");
        assert_eq!(decode("a & b; c"), "a & b; c");
        assert_eq!(decode("&nosuch; &#xZZ; &#0; &;"), "&nosuch; &#xZZ; &#0; &;");
        assert_eq!(decode("trailing &"), "trailing &");
        assert!(matches!(decode("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn stops_after_a_few_layers() {
        assert_eq!(decode("&amp;amp;amp;amp;amp;"), "&amp;amp;");
    }
}
