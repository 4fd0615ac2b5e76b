//! Domain-shaped strings in posting text, read through the public suffix list.
//!
//! Leak sites name victims by domain (`QUALYS.COM FILES PART1`). Such a string
//! must be matched as a whole domain — by its registrable domain — and never
//! word by word, or `accellion.com.evil.io` would name Accellion. The scan is
//! a plain byte loop (no regex): most posting text has no dot at all.

use psl::{List, Psl};

/// Legal-form words that are also public suffixes (`.ltd`, `.inc`, `.kg`, …):
/// `Corp.Ltd` or `GmbH & Co.KG` written in capitals is a company form, not a domain.
const LEGAL_TLDS: &[&str] = &[
    "ltd", "inc", "llc", "gmbh", "ag", "kg", "sa", "sas", "sarl", "spa", "srl", "bv", "nv", "plc", "co", "ltda", "sl",
    "se", "ab", "as", "kk", "corp", "limited", "company", "group",
];

/// A domain found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDomain {
    /// Byte span in the scanned text.
    pub start: usize,
    pub end: usize,
    /// The whole host, lowercased (`files.accellion.com`).
    pub host: String,
    /// Where the registrable domain (`accellion.com`) starts in `host`.
    pub registrable: usize,
    /// Length of the registrable label (`accellion`).
    pub label_len: usize,
}

impl FoundDomain {
    /// The label the owner chose: `accellion` of `ftp.accellion.co.uk`.
    pub fn label(&self) -> &str {
        &self.host[self.registrable..self.registrable + self.label_len]
    }

    /// The host and each parent down to the registrable domain:
    /// `a.b.example.com`, `b.example.com`, `example.com`.
    pub fn candidates(&self) -> impl Iterator<Item = &str> {
        let host = self.host.as_str();
        let stop = self.registrable;
        std::iter::successors(Some(0usize), move |&at| {
            (at < stop).then(|| host[at..].find('.').map(|i| at + i + 1)).flatten()
        })
        .take_while(move |&at| at <= stop)
        .map(move |at| &host[at..])
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// Every domain in `text`, in order: dot-separated labels of letters, digits
/// and hyphens ending in a public suffix the list knows, with a registrable
/// label before it.
pub fn scan(text: &str, out: &mut Vec<FoundDomain>) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(dot) = bytes[from..].iter().position(|&b| b == b'.').map(|i| from + i) {
        let mut start = dot;
        while start > 0 && is_host_byte(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = dot + 1;
        while end < bytes.len() && is_host_byte(bytes[end]) {
            end += 1;
        }
        from = end.max(dot + 1);
        // A word glued to non-ASCII letters (`café.com`) is not a host name.
        let glued = |c: Option<char>| c.is_some_and(|c| !c.is_ascii() && c.is_alphanumeric());
        if glued(text[..start].chars().next_back()) || glued(text[end..].chars().next()) {
            continue;
        }
        while start < end && matches!(bytes[start], b'.' | b'-') {
            start += 1;
        }
        while end > start && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if let Some(found) = domain_at(text, start, end) {
            out.push(found);
        }
    }
}

fn domain_at(text: &str, start: usize, end: usize) -> Option<FoundDomain> {
    let written = &text[start..end];
    let labels_ok = written
        .split('.')
        .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
    if !labels_ok || !written.contains('.') {
        return None;
    }
    // Most dotted strings are not domains (`10.0.1.2`, `Corp.Ltd`): look them
    // up lowercased on the stack, and make the host only for a domain.
    let mut buf = [0u8; 256];
    let owned;
    let lower: &[u8] = match buf.get_mut(..written.len()) {
        Some(b) => {
            b.copy_from_slice(written.as_bytes());
            b.make_ascii_lowercase();
            b
        }
        None => {
            owned = written.to_ascii_lowercase();
            owned.as_bytes()
        }
    };
    let registrable = List.domain(lower)?;
    let suffix = registrable.suffix();
    if !suffix.is_known() || suffix.as_bytes().iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (suffix_len, registrable_len) = (suffix.as_bytes().len(), registrable.as_bytes().len());
    let tld = &lower[lower.len() - suffix_len..];
    if written.bytes().any(|b| b.is_ascii_uppercase()) && LEGAL_TLDS.iter().any(|t| t.as_bytes() == tld) {
        return None;
    }
    Some(FoundDomain {
        start,
        end,
        registrable: lower.len() - registrable_len,
        label_len: registrable_len - suffix_len - 1,
        host: written.to_ascii_lowercase(),
    })
}

/// `name` itself written as a domain (`Foodland.com`): its lowercased host.
pub fn as_domain(name: &str) -> Option<String> {
    let name = name.trim();
    let found = domain_at(name, 0, name.len())?;
    Some(found.host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> Vec<(String, String)> {
        let mut v = Vec::new();
        scan(text, &mut v);
        v.iter().map(|d| (d.host.clone(), d.label().to_owned())).collect()
    }

    #[test]
    fn finds_domains_by_public_suffix() {
        assert_eq!(
            hosts("QUALYS.COM FILES  PART1 PUBLISHED"),
            [("qualys.com".into(), "qualys".into())]
        );
        assert_eq!(
            hosts("see https://ftp.Accellion.co.uk/x."),
            [("ftp.accellion.co.uk".into(), "accellion".into())]
        );
        assert_eq!(
            hosts("mail: it@sgs-law.com."),
            [("sgs-law.com".into(), "sgs-law".into())]
        );
    }

    #[test]
    fn company_forms_versions_and_files_are_not_domains() {
        assert!(hosts("Acme Corp.Ltd").is_empty());
        assert!(hosts("Johann Kupp GmbH & Co.KG").is_empty());
        assert!(hosts("S.A. and S.p.A. and B.V.").is_empty());
        assert!(hosts("version 1.2.3 of report.pdf").is_empty());
        assert!(hosts("Inc. Ltd. end.").is_empty());
        assert!(hosts("café.com").is_empty());
        assert_eq!(hosts("acme.ltd")[0].0, "acme.ltd");
    }

    #[test]
    fn candidates_walk_up_to_the_registrable_domain() {
        let mut v = Vec::new();
        scan("a.b.accellion.com.evil.io", &mut v);
        let c: Vec<&str> = v[0].candidates().collect();
        assert_eq!(
            c,
            [
                "a.b.accellion.com.evil.io",
                "b.accellion.com.evil.io",
                "accellion.com.evil.io",
                "com.evil.io",
                "evil.io"
            ]
        );
        assert_eq!(v[0].label(), "evil");
    }
}
