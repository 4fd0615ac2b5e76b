//! Which class names and ids a suggested selector may rely on.
//!
//! A selector breaks when the site's next build renames what it relies on.
//! Semantic names (`post`, `card-title`, `list-group-item`) survive a
//! redesign far more often than utility classes (`px-4`, `md:basis-1/3`,
//! `d-flex`, `col-md-4`) or generated ones (`css-1x2ab3`, `astro-J7PV25F6`),
//! so only the former are ever written into a suggestion.

/// Prefixes of utility classes (Tailwind, Bootstrap helpers and similar),
/// matched before a `-` or as the whole name.
const UTILITY_PREFIXES: &[&str] = &[
    "p",
    "px",
    "py",
    "pt",
    "pb",
    "pl",
    "pr",
    "ps",
    "pe",
    "m",
    "mx",
    "my",
    "mt",
    "mb",
    "ml",
    "mr",
    "ms",
    "me",
    "w",
    "h",
    "min",
    "max",
    "size",
    "gap",
    "space",
    "text",
    "font",
    "leading",
    "tracking",
    "bg",
    "border",
    "rounded",
    "shadow",
    "opacity",
    "flex",
    "grid",
    "col",
    "row-span",
    "cols",
    "basis",
    "grow",
    "shrink",
    "order",
    "items",
    "justify",
    "content",
    "self",
    "place",
    "align",
    "d",
    "float",
    "clear",
    "overflow",
    "position",
    "top",
    "bottom",
    "left",
    "right",
    "inset",
    "z",
    "fw",
    "fs",
    "lh",
    "display",
    "lead",
    "small",
    "visually",
    "sr",
    "ring",
    "outline",
    "transition",
    "duration",
    "ease",
    "delay",
    "animate",
    "cursor",
    "select",
    "pointer",
    "hover",
    "focus",
    "object",
    "aspect",
    "container",
    "truncate",
    "whitespace",
    "break",
    "line",
    "decoration",
    "underline",
    "uppercase",
    "lowercase",
    "capitalize",
    "italic",
    "not",
    "tw",
    "g",
    "gx",
    "gy",
    "offset",
    "ratio",
    "vstack",
    "hstack",
    "clearfix",
    "img",
    "divide",
    "fill",
    "stroke",
    "block",
    "inline",
    "hidden",
    "visible",
    "invisible",
    "static",
    "fixed",
    "absolute",
    "relative",
    "sticky",
    "antialiased",
    "backdrop",
    "blur",
    "filter",
    "scale",
    "rotate",
    "translate",
    "skew",
    "origin",
    "prose",
    "dark",
    "light",
    "is",
    "has",
    "js",
    "row",
    "to",
    "from",
    "via",
    "last",
    "group",
    "peer",
];

/// Classes that say what state an element is in, not what it is: the same
/// post changes them (`new` today, not tomorrow; `bad` until it is published).
const STATE: &[&str] = &[
    "active",
    "current",
    "selected",
    "new",
    "hot",
    "featured",
    "good",
    "bad",
    "open",
    "closed",
    "disabled",
    "show",
    "hide",
    "odd",
    "even",
    "first",
    "last",
    "published",
    "expired",
    "pinned",
    "fade",
    "in",
    "out",
    "on",
    "off",
];

/// Whether `class` is worth writing into a selector.
pub fn stable_class(class: &str) -> bool {
    css_ident(class)
        && !utility_class(class)
        && !generated(class)
        && !STATE.contains(&class.to_ascii_lowercase().as_str())
}

/// Whether an `id` is worth writing into a selector: readable, not numbered.
pub fn stable_id(id: &str) -> bool {
    css_ident(id) && !id.chars().any(|c| c.is_ascii_digit()) && id.len() <= 40
}

/// Whether `class` may be written into a selector at all: a utility class
/// will do as a last resort inside an item, a generated one never.
pub fn usable_class(class: &str) -> bool {
    css_ident(class) && !generated(class)
}

fn utility_class(class: &str) -> bool {
    // Variants (`md:`, `hover:`), fractions (`w-1/2`) and arbitrary values
    // (`top-[3px]`) only occur in utility classes; css_ident already refuses
    // them, this keeps the rule readable on its own.
    if class.contains([':', '/', '[', '.']) {
        return true;
    }
    let head = class.trim_start_matches('-');
    let first = head.split('-').next().unwrap_or(head);
    UTILITY_PREFIXES.contains(&first)
}

/// Build tools' scoped or hashed names: `css-1x2ab3`, `sc-bdVaJa`,
/// `astro-J7PV25F6`, `svelte-1xyz`, `jsx-2831`, `_3xYz9`.
fn generated(class: &str) -> bool {
    let lower = class.to_ascii_lowercase();
    if [
        "css-", "sc-", "astro-", "svelte-", "jsx-", "emotion-", "styled-", "data-v-",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
    {
        return true;
    }
    let digits = class.chars().filter(char::is_ascii_digit).count();
    let upper = class.chars().filter(char::is_ascii_uppercase).count();
    class.starts_with('_') || digits >= 3 || (digits >= 1 && upper >= 2)
}

/// A name that can be written after `.` or `#` without escaping.
fn css_ident(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    body.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_classes_are_stable() {
        for c in [
            "post",
            "card",
            "card-title",
            "list-group-item",
            "stretched-link",
            "News",
            "post-title",
        ] {
            assert!(stable_class(c), "{c}");
        }
    }

    #[test]
    fn utility_and_generated_classes_are_not() {
        for c in [
            "px-4",
            "md:basis-1/3",
            "text-sm",
            "flex",
            "d-flex",
            "col-md-4",
            "mb-3",
            "opacity-25",
            "small",
            "w-1/2",
            "top-[3px]",
            "css-1x2ab3",
            "astro-J7PV25F6",
            "sc-bdVaJa",
            "_3xYz9",
            "hover:bg-red-500",
            "g-4",
            "row-span-2",
            "9lives",
        ] {
            assert!(!stable_class(c), "{c}");
        }
    }

    #[test]
    fn ids() {
        assert!(stable_id("posts"));
        assert!(!stable_id("post-1234"));
        assert!(!stable_id("a b"));
    }
}
