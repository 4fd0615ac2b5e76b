//! Dates as leak sites and feeds write them.

use chrono::format::{Parsed, StrftimeItems, parse};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// Formats tried, in order, when a field gives no `format` (or it fails).
/// Day-first before month-first: most leak sites that use dots or dashes are
/// European; sites writing MM/DD/YYYY use slashes.
const DATE_TIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
];
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%m/%d/%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%a, %B %d, %Y",
];

/// Parses a date: with `format` (a chrono format string) when given, else
/// RFC 3339, RFC 2822, common date shapes, Unix timestamps, and relative
/// dates like "3 days ago". Dates without a time are taken as midnight UTC.
pub fn parse_date(raw: &str, format: Option<&str>) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(fmt) = format
        && let Some(d) = with_format(s, fmt)
    {
        return Some(d);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Some(d) = DATE_TIME_FORMATS
        .iter()
        .chain(DATE_FORMATS)
        .find_map(|f| with_format(s, f))
    {
        return Some(d);
    }
    if let Some(d) = unix(s) {
        return Some(d);
    }
    relative(s, Utc::now())
}

/// `s` read with `fmt`: with its offset when it gives one, else as UTC, else
/// as a date at midnight UTC. One parse serves all three (it is what
/// `DateTime`, `NaiveDateTime` and `NaiveDate::parse_from_str` each do).
fn with_format(s: &str, fmt: &str) -> Option<DateTime<Utc>> {
    let mut parsed = Parsed::new();
    parse(&mut parsed, s, StrftimeItems::new(fmt)).ok()?;
    if let Ok(d) = parsed.to_datetime() {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = parsed.to_naive_datetime_with_offset(0) {
        return Some(Utc.from_utc_datetime(&d));
    }
    parsed
        .to_naive_date()
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Utc.from_utc_datetime(&d))
}

/// Seconds (10 digits) or milliseconds (13 digits) since the epoch.
fn unix(s: &str) -> Option<DateTime<Utc>> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = s.parse().ok()?;
    match s.len() {
        9 | 10 => DateTime::from_timestamp(n, 0),
        13 => DateTime::from_timestamp_millis(n),
        _ => None,
    }
}

/// "3 days ago", "an hour ago", "yesterday", "today".
fn relative(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let s = s.to_ascii_lowercase();
    match s.as_str() {
        "today" | "just now" | "now" => return Some(now),
        "yesterday" => return Some(now - Duration::days(1)),
        _ => {}
    }
    let rest = s.strip_suffix(" ago")?;
    let (n, unit) = rest.split_once(' ')?;
    let n: i64 = match n {
        "a" | "an" | "one" => 1,
        n => n.parse().ok()?,
    };
    let unit = unit.trim_end_matches('s');
    let d = match unit {
        "second" | "sec" => Duration::seconds(n),
        "minute" | "min" => Duration::minutes(n),
        "hour" | "hr" => Duration::hours(n),
        "day" => Duration::days(n),
        "week" => Duration::weeks(n),
        "month" => Duration::days(30 * n),
        "year" => Duration::days(365 * n),
        _ => return None,
    };
    Some(now - d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(d: Option<DateTime<Utc>>) -> String {
        d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
    }

    #[test]
    fn shapes_seen_on_leak_sites() {
        assert_eq!(ymd(parse_date("2021-03-01", None)), "2021-03-01");
        assert_eq!(ymd(parse_date("26.06.2023", None)), "2023-06-26");
        assert_eq!(ymd(parse_date("4.06.2023", None)), "2023-06-04");
        assert_eq!(ymd(parse_date("12/24/2023", None)), "2023-12-24");
        assert_eq!(ymd(parse_date("Fri, December 20, 2024", None)), "2024-12-20");
        assert_eq!(ymd(parse_date("2021-09-09T10:00:00+02:00", None)), "2021-09-09");
        assert_eq!(ymd(parse_date("Thu, 09 Sep 2021 10:00:00 GMT", None)), "2021-09-09");
        assert_eq!(ymd(parse_date("1631181600", None)), "2021-09-09");
        assert_eq!(ymd(parse_date("09 Sep, 21", Some("%d %b, %y"))), "2021-09-09");
        assert_eq!(parse_date("soon", None), None);
    }

    #[test]
    fn relative_dates() {
        let now = Utc.with_ymd_and_hms(2024, 1, 10, 12, 0, 0).unwrap();
        assert_eq!(ymd(relative("3 days ago", now)), "2024-01-07");
        assert_eq!(ymd(relative("an hour ago", now)), "2024-01-10");
        assert_eq!(ymd(relative("yesterday", now)), "2024-01-09");
        assert_eq!(relative("3 parsecs ago", now), None);
    }
}
