//! Which address of a source to crawl: `url` and `mirrors`, best first.
//!
//! Leak sites move and go down; the trackers list several addresses for a
//! third of the groups. A source is crawled at its best address — the one
//! that worked most recently, then the ones never tried in config order,
//! then the ones that failed — and when that address fails (a fetch error
//! after retries, a blocked page, a redirect to another onion or a private
//! address) the next one is tried. Pages and links stay on the address that
//! answered. The source fails only when every address failed, with one line
//! naming each address's failure.

use std::collections::HashMap;
use std::sync::Arc;

use url::Url;

use super::stream::Outlet;
use super::{SourceOutcome, crawl_source};
use crate::config::Source;
use crate::extract::Posting;
use crate::fetch::{self, Fetcher, Validators};
use crate::store::{AddressState, Proposal, StoreError, Writer};

/// `source`'s addresses in the order to try them, given what the store
/// remembers of each.
pub(super) fn order(source: &Source, known: &[AddressState]) -> Vec<Url> {
    // Last success, newest first; then never tried; then failed; config order within each.
    let rank = |u: &Url| match known.iter().find(|a| a.url == u.as_str()) {
        Some(AddressState {
            last_success: Some(when),
            ..
        }) => (0, std::cmp::Reverse(when.clone())),
        None => (1, std::cmp::Reverse(String::new())),
        Some(_) => (2, std::cmp::Reverse(String::new())),
    };
    let mut addresses: Vec<(usize, &Url)> = source.addresses().enumerate().collect();
    addresses.sort_by(|(ia, a), (ib, b)| rank(a).cmp(&rank(b)).then(ia.cmp(ib)));
    addresses.into_iter().map(|(_, u)| u.clone()).collect()
}

/// Crawls `source` at the first of `addresses` that answers; the outcome
/// lists every address tried and how it went.
pub(super) async fn crawl(
    fetcher: &Fetcher,
    source: Arc<Source>,
    addresses: Vec<Url>,
    validators: HashMap<String, Validators>,
    outlet: &Outlet,
) -> SourceOutcome {
    let now = crate::store::now();
    let mut tried = Vec::new();
    let mut errors = Vec::new();
    let mut tries = 0;
    let mut last = None;
    for address in &addresses {
        let mut out = crawl_source(fetcher, source.clone(), address.clone(), validators.clone(), outlet).await;
        if out.error.is_none()
            && !source.mirrors.is_empty()
            && let Some(why) = strayed(address, out.answered.as_ref())
        {
            out.status = "http-error";
            out.error = Some(why);
            out.postings.clear();
            out.proposal = None;
        }
        tries += out.tries;
        tried.push(AddressState {
            url: address.to_string(),
            last_status: out.status.to_owned(),
            last_error: out.error.clone(),
            last_tried: now.clone(),
            last_success: out.error.is_none().then(|| now.clone()),
        });
        match &out.error {
            None => {
                out.answered = Some(address.clone());
                out.addresses = tried;
                out.tries = tries;
                return out;
            }
            Some(e) => errors.push(e.clone()),
        }
        // What it streamed is rolled back: a failed address's outcome comes whole.
        out.streamed = None;
        last = Some(out);
    }
    let mut out = last.expect("a source has at least one address");
    if errors.len() > 1 {
        out.error = Some(format!("all {} addresses failed: {}", errors.len(), errors.join("; ")));
    }
    out.answered = None;
    out.addresses = tried;
    out.tries = tries;
    out
}

/// Stores, in the source's transaction, how each address tried answered
/// and a pending source's proposal.
pub(super) fn record(w: &Writer, outcome: &SourceOutcome, now: &str) -> Result<(), StoreError> {
    let name = &outcome.source.name;
    for address in &outcome.addresses {
        w.record_address(name, address)?;
    }
    if let (Some(text), Some(url)) = (&outcome.proposal, &outcome.answered) {
        w.save_proposal(&Proposal {
            source: name.clone(),
            url: url.to_string(),
            text: text.clone(),
            created_at: now.to_owned(),
        })?;
    }
    Ok(())
}

/// A source with mirrors keys its postings on the link's path, not its
/// host, so a posting is the same record whichever address served it. An
/// item's own id names no address and stays; what extraction added after
/// the title and link (an aggregator's group) stays too.
pub(super) fn address_free_keys(postings: &mut [Posting]) {
    for p in postings.iter_mut().filter(|p| p.facts.id.is_none()) {
        let link = p.link.as_deref().map(|l| match Url::parse(l) {
            Ok(u) => u[url::Position::BeforePath..].to_owned(),
            Err(_) => l.to_owned(),
        });
        let with_host = crate::extract::posting_key(&p.title, p.link.as_deref());
        let added = p.key.strip_prefix(&with_host).unwrap_or_default().to_owned();
        p.key = crate::extract::posting_key(&p.title, link.as_deref()) + &added;
    }
}

/// A mirror that sent the crawl to another onion service, or to a private
/// address, is not that site: the answer is treated as its failure.
fn strayed(address: &Url, answered: Option<&Url>) -> Option<String> {
    let answered = answered?;
    if fetch::host_key(answered) == fetch::host_key(address) {
        return None;
    }
    let onion = answered.host_str().is_some_and(crate::config::onion::is_onion);
    (onion || fetch::is_private_host(answered))
        .then(|| format!("{address}: redirected to {answered}, another site: a mirror must answer for itself"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(url: &str, success: Option<&str>) -> AddressState {
        AddressState {
            url: url.into(),
            last_status: if success.is_some() { "ok" } else { "http-error" }.into(),
            last_error: None,
            last_tried: "2026-12-01T00:00:00Z".into(),
            last_success: success.map(str::to_owned),
        }
    }

    #[test]
    fn the_last_success_first_then_untried_then_failed() {
        let text = "[database]\npath = \"x.db\"\n[[source]]\nname = \"s\"\nkind = \"feed\"\nurl = \"http://a.example/\"\nmirrors = [\"http://b.example/\", \"http://c.example/\", \"http://d.example/\"]\n";
        let config = crate::config::Config::parse(std::path::Path::new("/x/lw.toml"), text).unwrap();
        let s = &config.sources[0];
        let names = |known: &[AddressState]| -> Vec<String> {
            order(s, known)
                .iter()
                .map(|u| u.host_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names(&[]), ["a.example", "b.example", "c.example", "d.example"]);
        let known = [
            state("http://a.example/", None),
            state("http://b.example/", Some("2026-11-01T00:00:00Z")),
            state("http://d.example/", Some("2026-11-02T00:00:00Z")),
        ];
        assert_eq!(names(&known), ["d.example", "b.example", "c.example", "a.example"]);
    }

    #[test]
    fn the_same_posting_on_two_mirrors_has_one_key() {
        let posting = |link: &str| Posting {
            source: "s".into(),
            key: String::new(),
            title: "Acme Corp".into(),
            link: Some(link.into()),
            posted_at: None,
            body: String::new(),
            victim: "acme corp".into(),
            masked: false,
            truncated: false,
            facts: Default::default(),
        };
        let mut ps = [
            posting("http://a.onion/post/1"),
            posting("http://b.onion/post/1"),
            posting("http://b.onion/post/2"),
        ];
        address_free_keys(&mut ps);
        assert_eq!(ps[0].key, ps[1].key);
        assert_ne!(ps[1].key, ps[2].key);
    }

    #[test]
    fn a_redirect_to_another_onion_or_a_private_address_is_a_failure() {
        let a = Url::parse("http://a.onion/").unwrap();
        assert_eq!(strayed(&a, Some(&Url::parse("http://a.onion/list").unwrap())), None);
        assert!(strayed(&a, Some(&Url::parse("http://b.onion/").unwrap())).is_some());
        assert!(strayed(&a, Some(&Url::parse("http://10.0.0.1/").unwrap())).is_some());
        assert_eq!(strayed(&a, Some(&Url::parse("https://cdn.example/").unwrap())), None);
    }
}
