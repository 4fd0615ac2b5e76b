//! Structured facts a source states about a posting, beyond its title: the
//! group claiming it, the victim's website, the vendor and product of a
//! disclosure, and a stable id.
//!
//! Aggregators fill these fields carelessly (`""`, `"NaN"`, `" bank.com"`,
//! `"www.clevo.com.tw<UPDATED>"`, masked `"lo***********.com"`), so each is
//! cleaned here, and a website is trusted as a domain only when it is one.

use serde::Serialize;

use crate::config::Facts;
use crate::text;

/// The longest fact kept; a longer value is no name, domain or id.
const MAX_FACT_BYTES: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PostingFacts {
    pub group: Option<String>,
    pub website: Option<String>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub id: Option<String>,
}

impl PostingFacts {
    /// Reads each fact a source's rules say where to find.
    pub(super) fn read<T>(rules: &Facts<T>, get: impl Fn(&T) -> Option<String>) -> PostingFacts {
        let read = |at: &Option<T>| at.as_ref().and_then(&get);
        PostingFacts {
            group: read(&rules.group),
            website: read(&rules.website),
            vendor: read(&rules.vendor),
            product: read(&rules.product),
            id: read(&rules.id),
        }
    }

    /// The group as the cross-source rule compares it: `LockBit 3.0` and
    /// `lockbit3.0` are one group; spacing and case are how sites differ.
    pub fn claim_group(&self) -> Option<String> {
        let g: String = text::normalize(self.group.as_deref()?).split_whitespace().collect();
        (!g.is_empty()).then_some(g)
    }

    /// The victim's domain, when the source states one that is a domain.
    pub fn claim_site(&self) -> Option<String> {
        website_domain(self.website.as_deref()?)
    }

    pub(super) fn cleaned(self) -> PostingFacts {
        PostingFacts {
            group: self.group.and_then(clean),
            website: self.website.and_then(clean),
            vendor: self.vendor.and_then(clean),
            product: self.product.and_then(clean),
            id: self.id.and_then(clean),
        }
    }
}

/// Cleans one value; placeholders for "nothing" are nothing.
fn clean(raw: String) -> Option<String> {
    let decoded = super::entities::decode(&raw);
    let value = text::clean_cow(&decoded);
    let value = value.trim();
    let placeholder = ["", "-", "nan", "null", "none", "n/a", "undefined"]
        .iter()
        .any(|p| value.eq_ignore_ascii_case(p));
    (!placeholder).then(|| text::truncate(value, MAX_FACT_BYTES))
}

/// The domain a stated website names, lowercase and without `www.`, a
/// scheme, a path or an editor's note (`<UPDATED>`); `None` when it is
/// masked (`lo***********.com`) or not a domain at all: a site that hides
/// part of a name must not be matched as if it had said it.
pub fn website_domain(website: &str) -> Option<String> {
    let mut s = website.trim();
    if let Some(at) = s.find('<') {
        s = s[..at].trim_end();
    }
    if let Some((_, rest)) = s.split_once("://") {
        s = rest;
    }
    s = s.split(['/', '?', '#']).next().unwrap_or("");
    s = s.rsplit_once('@').map_or(s, |(_, host)| host);
    s = s.split(':').next().unwrap_or("");
    let host = s.trim_end_matches('.').to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let labels: Vec<&str> = host.split('.').collect();
    let valid = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()));
    valid.then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websites_as_aggregators_write_them() {
        assert_eq!(
            website_domain("www.clevo.com.tw<UPDATED>").as_deref(),
            Some("clevo.com.tw")
        );
        assert_eq!(website_domain(" nhs.uk").as_deref(), Some("nhs.uk"));
        assert_eq!(
            website_domain("https://www.Accela.com/about").as_deref(),
            Some("accela.com")
        );
        assert_eq!(website_domain("lo***********.com"), None);
        assert_eq!(website_domain("st***co"), None);
        assert_eq!(website_domain("Dynamo Electric"), None);
        assert_eq!(website_domain("10.0.0.1"), None);
        assert_eq!(website_domain(""), None);
    }

    #[test]
    fn placeholders_are_nothing() {
        let f = PostingFacts {
            group: Some(" lockbit3 ".into()),
            website: Some("NaN".into()),
            vendor: Some("".into()),
            product: Some("null".into()),
            id: Some("CVE-2021-27101".into()),
        }
        .cleaned();
        assert_eq!(f.group.as_deref(), Some("lockbit3"));
        assert_eq!((f.website, f.vendor, f.product), (None, None, None));
        assert_eq!(f.id.as_deref(), Some("CVE-2021-27101"));
    }
}
