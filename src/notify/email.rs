//! The alert email: subject, text part and HTML part of one digest.
//!
//! Everything from a posting is untrusted. Header text goes through
//! [`crate::text::clean`] (no CR, LF or other control characters, so no
//! header can be injected and lettre's display-name panic cannot be
//! reached); HTML text is escaped; links are linked only when they are web
//! links. Bodies are normalized to CRLF and sent quoted-printable: lettre
//! 0.11.23 does not dot-stuff after a bare CR or LF (RUSTSEC-2026-0561), and
//! an encoded body has no line a posting could turn into "." plus SMTP
//! commands.

use std::fmt::Write as _;

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::Alert;
use crate::text::clean;

/// What `List-Id` says, so recipients can filter leakwatch mail.
pub const LIST_ID: &str = "leakwatch alerts <alerts.leakwatch>";

/// A digest, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders a digest of `alerts` (at least one) for one recipient.
pub fn render(alerts: &[Alert]) -> Rendered {
    Rendered {
        subject: subject(alerts),
        text: text(alerts),
        html: html(alerts),
    }
}

/// `[leakwatch] Accellion (supplier) named on Cl0p leak site` for one watched
/// name, `[leakwatch] 3 watched names posted: Accellion, Qualys, +1` for several.
pub fn subject(alerts: &[Alert]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for a in alerts {
        if !names.contains(&a.entry.as_str()) {
            names.push(&a.entry);
        }
    }
    let s = match (names.len(), alerts) {
        (1, [a]) if a.disclosure.is_some() => format!(
            "[leakwatch] {} ({}): {}",
            a.entry,
            a.entry_kind,
            a.disclosure.as_deref().unwrap_or_default()
        ),
        (1, [a]) => format!("[leakwatch] {} ({}) named on {}", a.entry, a.entry_kind, a.source_label),
        (1, [a, ..]) => format!(
            "[leakwatch] {} ({}) named in {} postings",
            a.entry,
            a.entry_kind,
            alerts.len()
        ),
        (n, _) => {
            let shown: Vec<&str> = names.iter().take(2).copied().collect();
            let more = if n > 2 { format!(", +{}", n - 2) } else { String::new() };
            format!("[leakwatch] {n} watched names posted: {}{more}", shown.join(", "))
        }
    };
    clean(&s)
}

/// For a disclosure source, what was disclosed and by whom:
/// "Accellion FTA — CVE-2021-27101 added to CISA KEV on 2021-11-03, known
/// ransomware use: Known, due: 2021-11-17".
fn disclosed(a: &Alert) -> Option<String> {
    let says = a.disclosure.as_deref()?;
    let f = &a.facts;
    let what = match (f.vendor.as_deref(), f.product.as_deref()) {
        (Some(v), Some(p)) => format!("{v} {p}"),
        (Some(x), None) | (None, Some(x)) => x.to_owned(),
        (None, None) => a.title.clone(),
    };
    let mut line = what;
    if let Some(id) = &f.id {
        let _ = write!(line, " — {id}");
    }
    let _ = write!(line, " {says}");
    if let Some(date) = &a.posted_at {
        let _ = write!(line, " on {}", day(date));
    }
    if !a.body.is_empty() {
        let _ = write!(line, ", {}", crate::text::truncate(&a.body, 300));
    }
    Some(line)
}

/// What the source states beyond the title, as (label, value) lines.
fn stated(a: &Alert) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(line) = disclosed(a) {
        out.push(("Disclosed", line));
    }
    if let (None, Some(g)) = (&a.disclosure, &a.facts.group) {
        out.push(("Group", g.clone()));
    }
    if let Some(w) = &a.facts.website {
        out.push(("Website", w.clone()));
    }
    if !a.also_reported_by.is_empty() {
        out.push(("Also reported by", a.also_reported_by.join(", ")));
    }
    out
}

/// The closing warning: leak-site text is the criminals'; a digest of
/// disclosures only is public record.
fn footer(alerts: &[Alert]) -> &'static str {
    if alerts.iter().all(|a| a.disclosure.is_some()) {
        "Disclosures are quoted from public sources as they list them."
    } else {
        "Posting text is written by the leak site's operators: do not download anything it links to."
    }
}

fn why(a: &Alert) -> String {
    let reason = match a.reason.as_str() {
        "name" => "its name",
        "alias" => "an alias",
        "domain" => "a domain",
        "suffix" => "its name without the legal suffix",
        "label" => "its name run together in a domain",
        "truncated" => "the start of its name, in a truncated title",
        "masked" => "its name, partly masked",
        "about" => "a posting on its own disclosure channel",
        other => other,
    };
    match a.field.as_str() {
        "page" => format!("\"{}\" ({reason}) found in the post's page", a.term),
        field => format!("\"{}\" ({reason}) in the posting's {field}", a.term),
    }
}

/// "60% (truncated title: only the start of the name is shown)": how sure
/// the match is, and why not more, in the analyst's words.
fn confidence(a: &Alert) -> String {
    confidence_why(a.confidence, &a.reason, &a.field)
}

/// The same, from a stored match's confidence, reason and field (the
/// workspace shows it too).
pub fn confidence_why(confidence: i64, reason: &str, field: &str) -> String {
    let why = match reason {
        "truncated" => "truncated title: only the start of the name is shown".to_owned(),
        "masked" => "masked title: the site hid some letters".to_owned(),
        "about" => "a posting on the entry's own disclosure channel".to_owned(),
        reason => {
            let what = match reason {
                "name" => "the exact name",
                "alias" => "an alias",
                "domain" => "a domain",
                "suffix" => "the name without its legal suffix",
                "label" => "a domain spelling the name",
                other => other,
            };
            let place = match field {
                "title" => "in the title",
                "body" => "only in the posting's text, maybe a passing mention",
                "page" => "only in the post's page, maybe a passing mention",
                "link" => "only in the link",
                other => other,
            };
            format!("{what} {place}")
        }
    };
    format!("{confidence}% ({why})")
}

fn notes(a: &Alert) -> Vec<String> {
    let mut notes = Vec::new();
    if a.retroactive {
        let date = a.posted_at.as_deref().unwrap_or(&a.first_seen_at);
        notes.push(format!(
            "already posted on {}: found when the watch entry was added or changed",
            day(date)
        ));
    }
    if a.first_look {
        notes.push("already listed when leakwatch first looked at this source".into());
    }
    if a.changed {
        notes.push("the posting changed since leakwatch first saw it".into());
    }
    if let Some(change) = &a.change_note {
        notes.push(format!("what changed: {change}"));
    }
    notes
}

/// "2021-03-03" from an RFC 3339 timestamp; the time when it is not midnight.
fn day(ts: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(d) if d.format("%H:%M:%S").to_string() == "00:00:00" => d.format("%Y-%m-%d").to_string(),
        Ok(d) => d.format("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => ts.to_owned(),
    }
}

/// Only web and onion links are made clickable; anything else is shown as text.
fn linkable(link: &str) -> bool {
    url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

fn text(alerts: &[Alert]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "leakwatch found {} new match{} for your watch list.\n",
        alerts.len(),
        if alerts.len() == 1 { "" } else { "es" }
    );
    for (i, a) in alerts.iter().enumerate() {
        let _ = writeln!(s, "{}. {} ({})", i + 1, clean(&a.entry), a.entry_kind);
        let _ = writeln!(s, "   Matched:     {}", clean(&why(a)));
        let _ = writeln!(s, "   Confidence:  {}", clean(&confidence(a)));
        let _ = writeln!(
            s,
            "   Snippet:     {}",
            clean(&a.snippet).replace("[[", ">>").replace("]]", "<<")
        );
        for (k, v) in stated(a) {
            let _ = writeln!(s, "   {:<12} {}", format!("{k}:"), clean(&v));
        }
        let _ = writeln!(s, "   Source:      {}", clean(&a.source_label));
        let _ = writeln!(s, "   Posting:     {}", clean(&a.title));
        let _ = writeln!(
            s,
            "   Link:        {}",
            a.link.as_deref().map(clean).unwrap_or_else(|| "(none)".into())
        );
        let _ = writeln!(
            s,
            "   Posted:      {}",
            a.posted_at.as_deref().map(day).unwrap_or_else(|| "(not given)".into())
        );
        let _ = writeln!(s, "   First seen:  {}", day(&a.first_seen_at));
        for n in notes(a) {
            let _ = writeln!(s, "   Note:        {n}");
        }
        s.push('\n');
    }
    s.push_str(footer(alerts));
    s.push_str("\n-- \nleakwatch\n");
    s
}

/// HTML-escapes untrusted text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// The snippet with its `[[match]]` marked, everything escaped.
fn marked(snippet: &str) -> String {
    let mut out = String::new();
    let mut rest = snippet;
    while let Some(start) = rest.find("[[") {
        let Some(len) = rest[start..].find("]]") else { break };
        out.push_str(&escape(&rest[..start]));
        let _ = write!(out, "<mark><b>{}</b></mark>", escape(&rest[start + 2..start + len]));
        rest = &rest[start + len + 2..];
    }
    out.push_str(&escape(rest));
    out
}

fn html(alerts: &[Alert]) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>leakwatch alert</title></head>\n<body style=\"font-family:sans-serif\">\n",
    );
    let _ = writeln!(
        s,
        "<p>leakwatch found {} new match{} for your watch list.</p>",
        alerts.len(),
        if alerts.len() == 1 { "" } else { "es" }
    );
    for a in alerts {
        let _ = writeln!(
            s,
            "<h3>{} ({})</h3>\n<table cellpadding=\"3\">",
            escape(&a.entry),
            escape(&a.entry_kind)
        );
        let row = |s: &mut String, k: &str, v: String| {
            let _ = writeln!(s, "<tr><th align=\"left\" valign=\"top\">{k}</th><td>{v}</td></tr>");
        };
        row(&mut s, "Matched", escape(&why(a)));
        row(&mut s, "Confidence", escape(&confidence(a)));
        row(&mut s, "Snippet", marked(&a.snippet));
        for (k, v) in stated(a) {
            row(&mut s, k, escape(&v));
        }
        row(&mut s, "Source", escape(&a.source_label));
        row(&mut s, "Posting", escape(&a.title));
        let link = match a.link.as_deref() {
            Some(l) if linkable(l) => format!("<a href=\"{0}\">{0}</a>", escape(l)),
            Some(l) => escape(l),
            None => "(none)".into(),
        };
        row(&mut s, "Link", link);
        row(
            &mut s,
            "Posted",
            escape(&a.posted_at.as_deref().map(day).unwrap_or_else(|| "(not given)".into())),
        );
        row(&mut s, "First seen", escape(&day(&a.first_seen_at)));
        for n in notes(a) {
            row(&mut s, "Note", escape(&n));
        }
        s.push_str("</table>\n");
    }
    let _ = writeln!(s, "<p><small>{}</small></p>\n</body></html>", footer(alerts));
    s
}

/// Builds the message: multipart/alternative, both parts quoted-printable.
pub fn message(from: &Mailbox, to: &str, message_id: &str, r: &Rendered) -> Result<Message, String> {
    let to: lettre::Address = to.parse().map_err(|e| format!("`{to}` is not a mail address: {e}"))?;
    let part = |content_type: ContentType, body: &str| {
        SinglePart::builder()
            .header(content_type)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(crlf(body))
    };
    let mut message = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(clean(&r.subject))
        .message_id(Some(message_id.to_owned()))
        .date_now()
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, &r.text))
                .singlepart(part(ContentType::TEXT_HTML, &r.html)),
        )
        .map_err(|e| e.to_string())?;
    let headers = message.headers_mut();
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".into(),
    ));
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Id"),
        LIST_ID.into(),
    ));
    Ok(message)
}

/// Every line ending as CRLF, whatever mix the text had.
fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n").replace('\n', "\r\n")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn alert(entry: &str, title: &str) -> Alert {
        Alert {
            entry: entry.into(),
            entry_kind: "supplier".into(),
            term: entry.into(),
            reason: "name".into(),
            field: "title".into(),
            confidence: 100,
            snippet: format!("[[{entry}]] files"),
            source: "clop".into(),
            source_label: "Cl0p leak site".into(),
            title: title.into(),
            link: Some("http://clop.example.onion/post/1".into()),
            posted_at: Some("2021-03-03T00:00:00Z".into()),
            first_seen_at: "2021-03-03T10:15:00Z".into(),
            retroactive: false,
            changed: false,
            first_look: false,
            change_note: None,
            body: String::new(),
            facts: Default::default(),
            also_reported_by: Vec::new(),
            disclosure: None,
        }
    }

    #[test]
    fn subjects() {
        assert_eq!(
            subject(&[alert("Accellion", "x")]),
            "[leakwatch] Accellion (supplier) named on Cl0p leak site"
        );
        let three = [alert("Accellion", "x"), alert("Qualys", "y"), alert("Kroger", "z")];
        assert_eq!(
            subject(&three),
            "[leakwatch] 3 watched names posted: Accellion, Qualys, +1"
        );
        assert_eq!(
            subject(&[alert("Qualys", "PART1"), alert("Qualys", "PART2")]),
            "[leakwatch] Qualys (supplier) named in 2 postings"
        );
        assert_eq!(
            subject(&[alert("Evil\r\nBcc: x@y", "x")]),
            "[leakwatch] Evil Bcc: x@y (supplier) named on Cl0p leak site"
        );
    }

    #[test]
    fn html_is_escaped_and_only_web_links_link() {
        let mut a = alert("Acme", "<script>alert(1)</script>");
        a.link = Some("javascript:alert(1)".into());
        a.snippet = "<b>[[Acme]]</b>".into();
        let h = html(&[a]);
        assert!(!h.contains("<script>"));
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!h.contains("href=\"javascript"));
        assert!(h.contains("&lt;b&gt;<mark><b>Acme</b></mark>&lt;/b&gt;"));
    }

    #[test]
    fn text_has_every_field() {
        let mut a = alert("Qualys", "QUALYS.COM FILES PART1");
        a.retroactive = true;
        let t = text(&[a]);
        for needle in [
            "Qualys (supplier)",
            "Cl0p leak site",
            "QUALYS.COM FILES PART1",
            "http://clop.example.onion/post/1",
            "2021-03-03",
            "2021-03-03 10:15 UTC",
            ">>Qualys<< files",
            "already posted on 2021-03-03",
            "   Confidence:  100% (the exact name in the title)\n",
        ] {
            assert!(t.contains(needle), "missing {needle} in\n{t}");
        }
    }

    #[test]
    fn confidence_says_why_it_is_not_certain() {
        let mut a = alert("Bombardier Recreational Products", "Bombardier Recreational Pro...");
        (a.reason, a.confidence) = ("truncated".into(), 60);
        let shown = "60% (truncated title: only the start of the name is shown)";
        assert!(text(std::slice::from_ref(&a)).contains(&format!("   Confidence:  {shown}\n")));
        assert!(html(std::slice::from_ref(&a)).contains(&format!(
            "<tr><th align=\"left\" valign=\"top\">Confidence</th><td>{shown}</td></tr>"
        )));
        (a.reason, a.field, a.confidence) = ("alias".into(), "body".into(), 71);
        assert_eq!(
            confidence(&a),
            "71% (an alias only in the posting's text, maybe a passing mention)"
        );
        (a.reason, a.field, a.confidence) = ("masked".into(), "title".into(), 50);
        assert_eq!(confidence(&a), "50% (masked title: the site hid some letters)");
        (a.reason, a.field, a.confidence) = ("domain".into(), "link".into(), 90);
        assert_eq!(confidence(&a), "90% (a domain only in the link)");
    }

    #[test]
    fn bare_line_breaks_and_dots_cannot_end_the_message() {
        let mut a = alert("Acme", "x\n.\nMAIL FROM:<evil@example.org>\r\n.\r\nRCPT TO:<x@y>");
        a.snippet = "a\r.\rb".into();
        let r = render(&[a]);
        let from: Mailbox = "lw <alerts@example.org>".parse().unwrap();
        let m = message(&from, "secops@example.org", "<id.1@example.org>", &r).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        // No bare CR or LF is left: lettre dot-stuffs every CRLF-ended line.
        assert!(!raw.replace("\r\n", "").contains(['\r', '\n']));
        assert!(raw.contains("Content-Transfer-Encoding: quoted-printable"));
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("Message-ID: <id.1@example.org>"));
    }
}
