//! `[source.detail]`: read what a listing only links to. Each new or changed
//! posting's `link` (on the source's host) is fetched and these field specs
//! are read on that page, as a listing's are inside an item.

use toml::Spanned;

use super::extraction::{Field, RawField, field};
use super::problems::Checker;

/// Detail pages read per source per run when `max_per_run` is not given.
pub const DEFAULT_DETAIL_PER_RUN: u32 = 20;

#[derive(Debug, Clone)]
pub struct DetailRules {
    pub body: Option<Field>,
    pub website: Option<Field>,
    pub date: Option<Field>,
    /// The rest wait in the database for later runs, oldest first.
    pub max_per_run: u32,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDetail {
    body: Option<Spanned<RawField>>,
    website: Option<Spanned<RawField>>,
    date: Option<Spanned<RawField>>,
    max_per_run: Option<u32>,
}

pub(super) fn build_detail(ck: &mut Checker, source: &str, raw: Spanned<RawDetail>) -> Option<DetailRules> {
    let before = ck.problems.len();
    let span = raw.span();
    let raw = raw.into_inner();
    let body = raw.body.and_then(|f| field(ck, source, "detail.body", f));
    let website = raw.website.and_then(|f| field(ck, source, "detail.website", f));
    let date = raw.date.and_then(|f| field(ck, source, "detail.date", f));
    if body.is_none() && website.is_none() && date.is_none() && ck.problems.len() == before {
        ck.add(
            Some(span.clone()),
            format!("source \"{source}\": detail"),
            "names no field to read on the post's page: give `body`, `website` or `date` (CSS field specs)",
        );
    }
    if raw.max_per_run == Some(0) {
        ck.add(
            Some(span),
            format!("source \"{source}\": detail.max_per_run"),
            "0 would never read a detail page: give 1 or more (default 20), or remove [source.detail]",
        );
    }
    (ck.problems.len() == before).then(|| DetailRules {
        body,
        website,
        date,
        max_per_run: raw.max_per_run.unwrap_or(DEFAULT_DETAIL_PER_RUN),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;
    use crate::config::tests::{GOOD, problems};

    #[test]
    fn detail_fields_and_their_limit_are_read() {
        let text = format!(
            "{GOOD}[source.detail]\nbody = \"div.post-body\"\nwebsite = {{ selector = \"a.site\", attr = \"href\" }}\n"
        );
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), &text).unwrap();
        let d = c.sources[0].detail.as_ref().unwrap();
        assert!(d.body.is_some() && d.website.is_some() && d.date.is_none());
        assert_eq!(d.max_per_run, 20);
    }

    #[test]
    fn an_empty_detail_table_or_a_zero_limit_is_refused() {
        let p = problems(&format!("{GOOD}[source.detail]\nmax_per_run = 0\n"));
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["source \"clop\": detail", "source \"clop\": detail.max_per_run"]);
        let p = problems(&format!("{GOOD}[source.detail]\nbody = \"div..x\"\n"));
        assert_eq!(p[0].key, "source \"clop\": detail.body");
        let p = problems(&format!(
            "{}[source.detail]\nbody = \"p\"\n",
            GOOD.replace("link = {", "# link = {")
        ));
        assert_eq!(p[0].key, "source \"clop\": detail", "{p:?}");
        assert!(p[0].message.contains("no `link`"), "{p:?}");
    }
}
