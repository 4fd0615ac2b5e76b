//! Does a page look built by scripts? An application root and scripts, and
//! next to no text of its own: what a server sends when the browser is
//! meant to fetch or build the listing. Such a page reads as `empty` to the
//! plain client; the hint is to render it (`render = "chromium"`).

use scraper::{ElementRef, Html, Node, Selector};

/// Said of a plain page that came out empty and looks built by scripts.
pub const SCRIPTED_HINT: &str = "the page looks built by scripts (an app root, scripts, no listing): try render = \"chromium\" (`leakwatch source test NAME --render`)";

/// Visible text shorter than this, next to a script, is an app shell.
const SHELL_TEXT_CHARS: usize = 200;

/// Scripts, and less than [`SHELL_TEXT_CHARS`] of text outside them.
pub fn looks_scripted(html: &str) -> bool {
    let doc = Html::parse_document(html);
    let script = Selector::parse("script").expect("valid selector");
    let has_script = doc.select(&script).any(|s| {
        s.value().attr("src").is_some()
            || !matches!(s.value().attr("type"), Some(t) if t.contains("json"))
                && s.text().any(|t| !t.trim().is_empty())
    });
    if !has_script {
        return false;
    }
    let body = Selector::parse("body").expect("valid selector");
    let text = doc.select(&body).next().map_or(0, visible_chars);
    text < SHELL_TEXT_CHARS
}

/// Characters of text under `el`, outside scripts, styles and templates.
fn visible_chars(el: ElementRef) -> usize {
    el.children()
        .map(|child| match child.value() {
            Node::Text(t) => t.trim().chars().count(),
            Node::Element(e) if matches!(e.name(), "script" | "style" | "noscript" | "template") => 0,
            Node::Element(_) => ElementRef::wrap(child).map_or(0, visible_chars),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_shell_looks_scripted() {
        assert!(looks_scripted(
            "<html><body><div id=\"root\"></div><script src=\"/app.js\"></script></body></html>"
        ));
        assert!(looks_scripted(
            "<html><body><div id=\"app\">Loading…</div><script>render()</script></body></html>"
        ));
    }

    #[test]
    fn a_page_with_its_own_text_or_no_script_does_not() {
        let listing = format!(
            "<html><body>{}<script>analytics()</script></body></html>",
            "<div class=\"post\"><h2>Some Victim Corporation</h2></div>".repeat(10)
        );
        assert!(!looks_scripted(&listing));
        assert!(!looks_scripted("<html><body><p>No postings yet.</p></body></html>"));
        assert!(
            !looks_scripted("<html><body><script type=\"application/json\">[1]</script></body></html>"),
            "data alone is not a script"
        );
    }
}
