//! Text cleanup shared by extraction, matching and rendering.
//!
//! Posting text comes from criminals' web pages: it carries control characters,
//! zero-width characters, odd Unicode forms and escape sequences. Two forms
//! are kept apart on purpose: [`clean`] is what people read (the original
//! characters, made safe to display), and [`normalize`] is what the matcher
//! and the posting key compare (folded so that spelling variants meet).

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Legal-form suffixes, normalized, that may follow a name or not:
/// "Accellion Inc." is Accellion, and the entry "Qualys, Inc." is found in
/// "QUALYS" (the matcher); "PrintGlobe, Inc." is the victim "Print Globe"
/// (the victim key).
pub const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "l l c",
    "llp",
    "lp",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "sa",
    "s a",
    "sas",
    "s a s",
    "sarl",
    "spa",
    "s p a",
    "srl",
    "s r l",
    "bv",
    "b v",
    "nv",
    "n v",
    "pty",
    "kk",
    "ab",
    "oy",
    "oyj",
    "as",
    "a s",
    "ltda",
    "sl",
    "s l",
    "se",
    "group",
];

/// A normalized name with its trailing legal suffixes taken off one by one, as long
/// as a word remains: "bns group ltd" → ["bns group", "bns"].
pub fn legal_stems(normalized: &str) -> Vec<&str> {
    let mut stems = Vec::new();
    let mut s = normalized;
    while let Some(rest) = LEGAL_SUFFIXES.iter().find_map(|suffix| {
        s.strip_suffix(suffix)
            .and_then(|r| r.strip_suffix(' '))
            .filter(|r| !r.is_empty())
    }) {
        // "gmbh and co kg": a connective left before a legal form goes with it.
        s = rest.strip_suffix(" and").filter(|r| !r.is_empty()).unwrap_or(rest);
        stems.push(s);
    }
    stems
}

/// Characters that render as nothing and can hide inside a name
/// (`Acc\u{200B}ellion`) to dodge matching.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}'
    )
}

/// Display form: control and invisible characters removed, runs of whitespace
/// collapsed to one space, trimmed. Safe in a terminal and in a header.
pub fn clean(s: &str) -> String {
    let mut c = Cleaner::with_capacity(s.len());
    c.push(s);
    c.finish()
}

/// [`clean`], without a copy when `s` is clean already (text an earlier
/// stage cleaned, which most posting text is by the time it is stored).
pub fn clean_cow(s: &str) -> Cow<'_, str> {
    if is_clean(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(clean(s))
    }
}

/// Whether [`clean`] would return `s` unchanged: no control or invisible
/// character, and no whitespace but single spaces between other characters.
fn is_clean(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    // Most text is printable ASCII: checked in bulk, a block at a time.
    let printable = |block: &[u8]| block.iter().fold(true, |ok, c| ok & matches!(c, 0x20..=0x7e));
    if b.chunks(64).all(printable) {
        return memchr::memmem::find(b, b"  ").is_none();
    }
    let mut after_space = false;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b' ' if after_space => return false,
            b' ' => after_space = true,
            0x21..=0x7e => after_space = false,
            0..=0x7f => return false,
            // Not the first byte of a character: its first byte was looked at.
            0x80..=0xbf => {}
            _ => {
                let ch = s[i..].chars().next().unwrap_or_default();
                if ch.is_whitespace() || ch.is_control() || is_invisible(ch) {
                    return false;
                }
                after_space = false;
            }
        }
    }
    true
}

/// [`clean`] fed piece by piece (the text nodes of an element, one after
/// another): the same result as cleaning their concatenation, without
/// building it first.
#[derive(Default)]
pub struct Cleaner {
    out: String,
    /// Whitespace was seen since the last kept character.
    space: bool,
}

impl Cleaner {
    pub fn with_capacity(bytes: usize) -> Cleaner {
        Cleaner {
            out: String::with_capacity(bytes),
            space: false,
        }
    }

    pub fn push(&mut self, s: &str) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            // Printable ASCII, most of any page, is copied a run at a time,
            // single spaces between words included.
            let run = i;
            while let Some(&c) = b.get(i) {
                let word_gap = c == b' ' && i > run && b.get(i + 1).is_some_and(|c| matches!(c, 0x21..=0x7e));
                if !(matches!(c, 0x21..=0x7e) || word_gap) {
                    break;
                }
                i += 1;
            }
            if i > run {
                self.keep(&s[run..i]);
            }
            let Some(&c) = b.get(i) else {
                break;
            };
            if c.is_ascii() {
                // Whitespace as `char::is_whitespace` has it (a page's
                // indentation: skipped a run at a time); other ASCII here is control.
                let ascii_space = |c: &u8| matches!(c, b' ' | b'\t'..=b'\r');
                if ascii_space(&c) {
                    self.space = !self.out.is_empty();
                    i += b[i..].iter().position(|c| !ascii_space(c)).unwrap_or(b.len() - i);
                } else {
                    i += 1;
                }
                continue;
            }
            let ch = s[i..].chars().next().unwrap_or_default();
            i += ch.len_utf8();
            if ch.is_whitespace() {
                self.space = !self.out.is_empty();
            } else if !(ch.is_control() || is_invisible(ch)) {
                self.keep(ch.encode_utf8(&mut [0; 4]));
            }
        }
    }

    fn keep(&mut self, kept: &str) {
        if self.space {
            self.out.push(' ');
            self.space = false;
        }
        self.out.push_str(kept);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Display form for text whose lines matter (a TOML table to paste): every
/// line keeps its indentation and its end, control and invisible characters
/// go, a tab reads as a space and trailing spaces are trimmed; each line
/// ends with `\n`.
pub fn clean_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let start = out.len();
        for c in line.chars() {
            if c == '\t' {
                out.push(' ');
            } else if !(c.is_control() || is_invisible(c)) {
                out.push(c);
            }
        }
        out.truncate(start + out[start..].trim_end().len());
        out.push('\n');
    }
    out
}

/// Keeps at most `max` bytes of `s`, cut at a character boundary, with `…`
/// added when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Matching form: Unicode compatibility forms folded (NFKD), case-folded,
/// diacritics and invisible characters removed, `&` read as "and", every
/// other non-alphanumeric character a word break, words separated by single
/// spaces. Watch terms and posting text both go through it, so they meet.
///
/// "Zürich  Versicherungs-AG" → "zurich versicherungs ag".
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    normalize_into(s, &mut out, &mut ());
    out
}

/// [`normalize`], also recording for every byte of the output the byte
/// offset in `s` it came from, so a match can be shown in the original text.
pub fn normalize_with_offsets(s: &str) -> (String, Vec<u32>) {
    let mut out = String::with_capacity(s.len());
    let mut offsets = Vec::with_capacity(s.len());
    normalize_into(s, &mut out, &mut offsets);
    (out, offsets)
}

/// [`normalize_with_offsets`] into buffers the caller reuses (cleared first),
/// so a hot loop over many postings does not allocate.
pub fn normalize_reusing(s: &str, out: &mut String, offsets: &mut Vec<u32>) {
    out.clear();
    offsets.clear();
    out.reserve(s.len());
    offsets.reserve(s.len());
    normalize_into(s, out, offsets);
}

/// Where the offsets of the normalized bytes go: nowhere for [`normalize`].
trait Offsets {
    fn push(&mut self, at: u32);
}

impl Offsets for () {
    fn push(&mut self, _: u32) {}
}

impl Offsets for Vec<u32> {
    fn push(&mut self, at: u32) {
        Vec::push(self, at);
    }
}

fn normalize_into(s: &str, out: &mut String, offsets: &mut impl Offsets) {
    let mut f = Folder {
        out,
        offsets,
        pending_space: false,
        prev_end: 0,
    };
    let bytes = s.as_bytes();
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if b.is_ascii_alphanumeric() {
            // Most text is ASCII: its letters and digits go straight through,
            // without the decomposition machinery.
            f.space();
            f.out.push(char::from(b.to_ascii_lowercase()));
            f.offsets.push(at as u32);
            at += 1;
            f.prev_end = at;
        } else if b == b'&' {
            // Sites that escape twice show `&amp;` for `&`: "Henry Oil &amp; Gas".
            let end = at
                + if bytes[at..].starts_with(b"&amp;") {
                    "&amp;".len()
                } else {
                    1
                };
            f.fold('&', at, end);
            at = end;
        } else if b.is_ascii() {
            f.pending_space = true;
            at += 1;
        } else {
            let orig = s[at..].chars().next().unwrap_or_default();
            let end = at + orig.len_utf8();
            for c in std::iter::once(orig).nfkd() {
                if !(is_combining_mark(c) || is_invisible(c)) {
                    f.fold(c, at, end);
                }
            }
            at = end;
        }
    }
}

/// The output of [`normalize_into`] being built.
struct Folder<'a, O> {
    out: &'a mut String,
    offsets: &'a mut O,
    pending_space: bool,
    /// Where in the input the last word character ended: a word break maps there.
    prev_end: usize,
}

impl<O: Offsets> Folder<'_, O> {
    /// One (decomposed) character of the input at `at..end`.
    fn fold(&mut self, c: char, at: usize, end: usize) {
        if c == '&' {
            self.pending_space = true;
            for w in "and".chars() {
                self.push(w, at, end);
            }
            self.pending_space = true;
        } else if c.is_alphanumeric() {
            if c.is_ascii() {
                self.push(c.to_ascii_lowercase(), at, end);
            } else {
                for lower in c.to_lowercase() {
                    self.push(lower, at, end);
                }
            }
        } else {
            self.pending_space = true;
        }
    }

    fn push(&mut self, c: char, at: usize, end: usize) {
        self.space();
        self.out.push(c);
        for _ in 0..c.len_utf8() {
            self.offsets.push(at as u32);
        }
        self.prev_end = end;
    }

    /// The word break before the next character, if one is pending.
    fn space(&mut self) {
        if self.pending_space && !self.out.is_empty() {
            self.out.push(' ');
            self.offsets.push(self.prev_end as u32);
        }
        self.pending_space = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_stripping_keeps_a_word() {
        assert_eq!(legal_stems("qualys inc"), ["qualys"]);
        assert_eq!(legal_stems("bns group ltd"), ["bns group", "bns"]);
        assert_eq!(
            legal_stems("kupp gmbh and co kg"),
            ["kupp gmbh and co", "kupp gmbh", "kupp"]
        );
        assert!(legal_stems("ltd").is_empty());
        assert!(legal_stems("acme").is_empty());
    }

    #[test]
    fn clean_lines_keeps_lines_and_indentation() {
        assert_eq!(
            clean_lines("[source.html]\r\nitem = \"tr\"\u{7}\u{200B}  \n\n  -\tAcme\u{1b}[0m\n"),
            "[source.html]\nitem = \"tr\"\n\n  - Acme[0m\n"
        );
        assert_eq!(clean_lines(""), "");
    }

    #[test]
    fn clean_collapses_whitespace_and_drops_controls() {
        assert_eq!(clean("  Acme\u{1b}[31m \n\t Corp\u{200B} "), "Acme[31m Corp");
        assert_eq!(clean("a\r\nBcc: x"), "a Bcc: x");
    }

    /// What [`clean`] did before it copied runs of ASCII at once: one
    /// character at a time.
    fn clean_by_char(s: &str) -> String {
        let mut out = String::new();
        let mut space = false;
        for c in s.chars() {
            if c.is_whitespace() {
                space = !out.is_empty();
            } else if !(c.is_control() || is_invisible(c)) {
                if space {
                    out.push(' ');
                    space = false;
                }
                out.push(c);
            }
        }
        out
    }

    fn messy_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let c = prop_oneof![
            prop::sample::select(vec![
                ' ', ' ', 'a', 'Z', '.', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{7}', '\u{1b}', '\u{7f}', '\u{1c}',
                '\u{85}', '\u{a0}', '\u{9f}', '\u{200b}', '\u{feff}', '\u{2028}', '\u{3000}', 'é', 'ß', '日', '𝐁',
            ]),
            any::<char>(),
        ];
        prop::collection::vec(c, 0..40).prop_map(|v| v.into_iter().collect())
    }

    proptest::proptest! {
        #[test]
        fn clean_matches_the_char_by_char_form(s in messy_text(), cut in 0usize..40) {
            let expected = clean_by_char(&s);
            proptest::prop_assert_eq!(&clean(&s), &expected);
            proptest::prop_assert_eq!(is_clean(&s), expected == s);
            let cow = clean_cow(&s);
            proptest::prop_assert_eq!(cow.as_ref(), expected.as_str());
            // Fed in two pieces, cut at any character boundary.
            let at = s.char_indices().nth(cut).map_or(s.len(), |(i, _)| i);
            let mut c = Cleaner::default();
            c.push(&s[..at]);
            c.push(&s[at..]);
            proptest::prop_assert_eq!(c.finish(), expected);
        }
    }

    #[test]
    fn normalize_folds_case_diacritics_punctuation() {
        assert_eq!(normalize("Zürich  Versicherungs-AG"), "zurich versicherungs ag");
        assert_eq!(normalize("QUALYS.COM FILES  PART1"), "qualys com files part1");
        assert_eq!(normalize("Acc\u{200B}ellion, Inc."), "accellion inc");
        assert_eq!(normalize("Marks & Spencer"), "marks and spencer");
        assert_eq!(normalize("Ｆｕｌｌ ｗｉｄｔｈ"), "full width");
        assert_eq!(normalize("𝐁𝐥𝐚𝐜𝐤𝐒𝐮𝐢𝐭"), "blacksuit");
        assert_eq!(normalize("ÉCOLE"), "ecole");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("AT&T"), "at and t");
        assert_eq!(normalize("Henry Oil &amp; Gas"), "henry oil and gas");
    }

    #[test]
    fn offsets_point_back_into_the_original() {
        let (n, o) = normalize_with_offsets("Zü-AG");
        assert_eq!(n, "zu ag");
        assert_eq!(o.len(), n.len());
        assert_eq!(o, [0, 1, 3, 4, 5]);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
