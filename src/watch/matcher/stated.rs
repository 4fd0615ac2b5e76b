//! Matching what a source states in its own fields rather than in prose:
//! the victim's `website`, matched as a domain, and the `vendor` and
//! `product` of a disclosure (CISA KEV), matched exactly against entries'
//! names and aliases. Both are the source's own structured claim, so a hit
//! is as sure as a name in a title.

use super::snippet::snippet;
use super::{Field, Hit, Matcher, Reason};
use crate::extract::{Posting, website_domain};
use crate::text;
use crate::watch::domain;

impl Matcher {
    pub(super) fn find_stated(&self, posting: &Posting, seen: &mut Vec<u32>, hits: &mut Vec<Hit>) {
        let facts = &posting.facts;
        if let Some(host) = facts.website.as_deref().and_then(website_domain) {
            let mut found = Vec::new();
            domain::scan(&host, &mut found);
            self.find_domains(Field::Website, &host, &found, seen, hits);
        }
        let stated = [
            (Field::Vendor, facts.vendor.as_deref()),
            (Field::Product, facts.product.as_deref()),
        ];
        // "Accellion" + "FTA" also reads as "Accellion FTA", an alias an entry may list.
        let both = facts
            .vendor
            .as_deref()
            .zip(facts.product.as_deref())
            .map(|(v, p)| format!("{v} {p}"));
        for (field, value) in stated.into_iter().chain([(Field::Product, both.as_deref())]) {
            let Some(value) = value else { continue };
            let Some(t) = self.index.get(&text::normalize(value)) else {
                continue;
            };
            for owner in self.owners(t) {
                if !matches!(owner.reason, Reason::Name | Reason::Alias) || seen.contains(&owner.entry) {
                    continue;
                }
                seen.push(owner.entry);
                hits.push(Hit {
                    entry_id: self.entries[owner.entry as usize].id,
                    term: String::from(&*self.written[owner.written as usize]),
                    reason: owner.reason,
                    field,
                    snippet: snippet(value, 0, value.len()),
                    confidence: 100,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::extract::{Posting, PostingFacts};
    use crate::watch::{EntryKind, Matcher, WatchEntry};

    fn posting(facts: PostingFacts) -> Posting {
        Posting {
            source: "kev".into(),
            key: String::new(),
            title: "SQL Injection Vulnerability".into(),
            link: None,
            posted_at: None,
            body: String::new(),
            victim: String::new(),
            masked: false,
            truncated: false,
            facts,
        }
    }

    fn entries() -> Vec<WatchEntry> {
        let mut kiteworks = WatchEntry::new("Kiteworks", EntryKind::Supplier);
        kiteworks.id = 1;
        kiteworks.aliases = vec!["Accellion".into()];
        let mut accela = WatchEntry::new("Accela", EntryKind::Supplier);
        accela.id = 2;
        accela.domains = vec!["accela.com".into()];
        let mut progress = WatchEntry::new("Progress Software", EntryKind::Supplier);
        progress.id = 3;
        progress.aliases = vec!["MOVEit Transfer".into()];
        vec![kiteworks, accela, progress]
    }

    #[test]
    fn vendor_and_product_match_names_and_aliases_exactly() {
        let m = Matcher::new(&entries());
        let hits = m.find(&posting(PostingFacts {
            vendor: Some("Accellion".into()),
            product: Some("FTA".into()),
            ..PostingFacts::default()
        }));
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].entry_id, hits[0].confidence), (1, 100));
        assert_eq!(hits[0].field.as_str(), "vendor");
        let hits = m.find(&posting(PostingFacts {
            vendor: Some("Progress".into()),
            product: Some("MOVEit Transfer".into()),
            ..PostingFacts::default()
        }));
        assert_eq!(hits.iter().map(|h| h.entry_id).collect::<Vec<_>>(), [3]);
        // "Accela" is not "Accellion", and a vendor is never matched by a part of its name.
        let hits = m.find(&posting(PostingFacts {
            vendor: Some("Accellion Kiteworks Inc".into()),
            ..PostingFacts::default()
        }));
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn a_stated_website_is_a_domain_and_a_masked_one_is_not() {
        let m = Matcher::new(&entries());
        let hits = m.find(&posting(PostingFacts {
            website: Some("www.accela.com<UPDATED>".into()),
            ..PostingFacts::default()
        }));
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(
            (hits[0].entry_id, hits[0].field.as_str(), hits[0].confidence),
            (2, "website", 100)
        );
        let hits = m.find(&posting(PostingFacts {
            website: Some("ac***a.com".into()),
            ..PostingFacts::default()
        }));
        assert!(hits.is_empty(), "{hits:?}");
    }
}
