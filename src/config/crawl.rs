//! `[crawl]`: how politely and how long the fetcher works.
//!
//! The defaults live here as named constants (the example config documents
//! them); `build_crawl` turns the raw section into [`Crawl`], and [`Rate`]
//! is the `"N/s"` form used both here and by a source's own `rate`.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::problems::Checker;

pub const DEFAULT_USER_AGENT: &str = concat!("leakwatch/", env!("CARGO_PKG_VERSION"));
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_PER_HOST_RATE: &str = "1/s";
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 20;
/// Longest silence while reading a body: a server trickling bytes is cut off.
pub const DEFAULT_READ_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_MAX_BODY_BYTES: u64 = 5_000_000;
pub const DEFAULT_RETRIES: u32 = 3;

#[derive(Debug, Clone)]
pub struct Crawl {
    pub user_agent: String,
    pub concurrency: usize,
    pub per_host_rate: Rate,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Longest silence between two reads of one reply.
    pub read_timeout: Duration,
    pub max_body_bytes: u64,
    pub retries: u32,
    pub tor_proxy: Option<Url>,
    pub allow_private_addresses: bool,
}

/// A request rate: `count` requests per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Rate {
    /// Parses `"N/s"`, `"N/min"` or `"N/h"`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || format!("`{text}` is not a rate: write it as \"N/s\", \"N/min\" or \"N/h\", e.g. \"1/s\"");
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let count = NonZeroU32::new(count).ok_or_else(|| format!("`{text}`: the rate must be at least 1"))?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(Rate { count, per })
    }

    /// The gap between two requests that keeps to this rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count.get()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCrawl {
    user_agent: Option<String>,
    concurrency: Option<Spanned<usize>>,
    per_host_rate: Option<Spanned<String>>,
    timeout_secs: Option<Spanned<u64>>,
    connect_timeout_secs: Option<Spanned<u64>>,
    read_timeout_secs: Option<Spanned<u64>>,
    max_body_bytes: Option<Spanned<u64>>,
    retries: Option<u32>,
    tor_proxy: Option<Spanned<String>>,
    #[serde(default)]
    allow_private_addresses: bool,
}

pub(super) fn build_crawl(ck: &mut Checker, raw: RawCrawl) -> Crawl {
    let per_host_rate = match &raw.per_host_rate {
        Some(r) => Rate::parse(r.get_ref()).unwrap_or_else(|m| {
            ck.add(Some(r.span()), "crawl.per_host_rate", m);
            Rate::parse(DEFAULT_PER_HOST_RATE).expect("default rate")
        }),
        None => Rate::parse(DEFAULT_PER_HOST_RATE).expect("default rate"),
    };
    let positive = |ck: &mut Checker, v: &Option<Spanned<u64>>, key: &str, default: u64| match v {
        Some(v) if *v.get_ref() == 0 => {
            ck.add(Some(v.span()), key, "must be greater than 0");
            default
        }
        Some(v) => *v.get_ref(),
        None => default,
    };
    let timeout = positive(ck, &raw.timeout_secs, "crawl.timeout_secs", DEFAULT_TIMEOUT_SECS);
    let connect_timeout = positive(
        ck,
        &raw.connect_timeout_secs,
        "crawl.connect_timeout_secs",
        DEFAULT_CONNECT_TIMEOUT_SECS,
    );
    let read_timeout = positive(
        ck,
        &raw.read_timeout_secs,
        "crawl.read_timeout_secs",
        DEFAULT_READ_TIMEOUT_SECS,
    );
    let max_body_bytes = positive(ck, &raw.max_body_bytes, "crawl.max_body_bytes", DEFAULT_MAX_BODY_BYTES);
    let concurrency = match raw.concurrency {
        Some(c) if *c.get_ref() == 0 => {
            ck.add(Some(c.span()), "crawl.concurrency", "must be at least 1");
            DEFAULT_CONCURRENCY
        }
        Some(c) => c.into_inner(),
        None => DEFAULT_CONCURRENCY,
    };
    let tor_proxy = raw.tor_proxy.and_then(|p| match Url::parse(p.get_ref()) {
        Ok(u) if u.scheme() == "socks5h" => Some(u),
        Ok(u) if u.scheme() == "socks5" => {
            ck.add(
                Some(p.span()),
                "crawl.tor_proxy",
                format!(
                    "`{u}` would resolve .onion names locally (a DNS leak, and they fail): write socks5h://{}",
                    &u[url::Position::BeforeHost..]
                ),
            );
            None
        }
        Ok(u) => {
            ck.add(
                Some(p.span()),
                "crawl.tor_proxy",
                format!("`{u}`: Tor is reached as socks5h://HOST:PORT, e.g. socks5h://127.0.0.1:9050"),
            );
            None
        }
        Err(e) => {
            ck.add(
                Some(p.span()),
                "crawl.tor_proxy",
                format!("`{}` is not a URL: {e}", p.get_ref()),
            );
            None
        }
    });
    Crawl {
        user_agent: raw.user_agent.unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned()),
        concurrency,
        per_host_rate,
        timeout: Duration::from_secs(timeout),
        connect_timeout: Duration::from_secs(connect_timeout),
        read_timeout: Duration::from_secs(read_timeout),
        max_body_bytes,
        retries: raw.retries.unwrap_or(DEFAULT_RETRIES),
        tor_proxy,
        allow_private_addresses: raw.allow_private_addresses,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::config::tests::{GOOD, problems};

    #[test]
    fn socks5_without_h_is_refused_for_tor() {
        let text = GOOD.replace("[crawl]", "[crawl]\ntor_proxy = \"socks5://127.0.0.1:9050\"");
        let p = problems(&text);
        assert!(p[0].message.contains("socks5h://127.0.0.1:9050"), "{p:?}");
    }

    #[test]
    fn read_timeout_is_configurable_and_positive() {
        let c = Config::parse(Path::new("/etc/lw/leakwatch.toml"), GOOD).unwrap();
        assert_eq!(c.crawl.read_timeout, Duration::from_secs(DEFAULT_READ_TIMEOUT_SECS));
        let text = GOOD.replace("[crawl]", "[crawl]\nread_timeout_secs = 0");
        assert_eq!(problems(&text)[0].key, "crawl.read_timeout_secs");
    }

    #[test]
    fn rates_parse() {
        assert_eq!(Rate::parse("1/s").unwrap().interval(), Duration::from_secs(1));
        assert_eq!(Rate::parse("4/h").unwrap().interval(), Duration::from_secs(900));
        assert!(Rate::parse("0/s").is_err());
        assert!(Rate::parse("1/day").is_err());
        assert_eq!(Rate::parse("6/min").unwrap().to_string(), "6/min");
    }
}
