//! The snippet stored with a hit: the posting text around the match, the
//! match marked with `[[ ]]` for the alert to highlight.

/// Most bytes of posting text shown on each side of a match.
const SNIPPET_CONTEXT: usize = 60;

/// Up to [`SNIPPET_CONTEXT`] bytes each side of `original[start..end]`, cut at
/// word breaks, the match wrapped in `[[ ]]`.
pub(super) fn snippet(original: &str, start: usize, end: usize) -> String {
    let floor = |mut i: usize| {
        while !original.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let ceil = |mut i: usize| {
        while !original.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    let from = floor(start.saturating_sub(SNIPPET_CONTEXT));
    let to = ceil((end + SNIPPET_CONTEXT).min(original.len()));
    let from = if from > 0 {
        original[from..start].find(' ').map_or(from, |i| from + i + 1)
    } else {
        0
    };
    let to = if to < original.len() {
        original[end..to].rfind(' ').map_or(to, |i| end + i)
    } else {
        to
    };
    let mut out = String::with_capacity(to - from + 10);
    // Brackets in the posting itself must not look like our marks; most
    // postings have no bracket at all.
    let brackets = original[from..to].bytes().any(|b| b == b'[' || b == b']');
    let part = |out: &mut String, s: &str| {
        if brackets && (s.contains("[[") || s.contains("]]")) {
            out.push_str(&s.replace("[[", "[ [").replace("]]", "] ]"));
        } else {
            out.push_str(s);
        }
    };
    if from > 0 {
        out.push('…');
    }
    part(&mut out, &original[from..start]);
    out.push_str("[[");
    part(&mut out, &original[start..end]);
    out.push_str("]]");
    part(&mut out, &original[end..to]);
    if to < original.len() {
        out.push('…');
    }
    out
}
