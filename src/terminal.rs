//! Untrusted text on its way to a terminal, in machine formats.
//!
//! Tables are safe because every cell goes through [`crate::text::clean`].
//! JSON keeps the text exact, and serde_json already escapes C0 controls
//! (`ESC` becomes `\u001b`) — but not DEL, the C1 controls (U+009B is a
//! one-character CSI that some terminals obey) or the bidirectional
//! overrides that make text display in another order than it reads. Those
//! are escaped here, which changes no JSON value.

/// Characters a terminal may act on or display out of order.
fn unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `json` (serde_json output) with every character a terminal could act on
/// written as a `\uXXXX` escape. Such characters only occur inside JSON
/// strings, where the escape means the same character.
pub fn escape_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if unsafe_for_terminal(c) && !matches!(c, '\n' | '\t' | '\r') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c1_controls_and_bidi_overrides_are_escaped_and_the_value_is_kept() {
        let value = serde_json::json!({"title": "a\u{1b}[31m\u{9b}1m\u{7f}\u{202e}evil\u{2066}"});
        let json = escape_json(&serde_json::to_string_pretty(&value).unwrap());
        assert!(!json.chars().any(|c| c != '\n' && unsafe_for_terminal(c)), "{json:?}");
        assert!(json.contains(r"\u009b1m"), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, value);
    }
}
