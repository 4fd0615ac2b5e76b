//! Webhooks: the same alerts as email, POSTed as JSON to a chat or an
//! incident tool (`[[notify.webhook]]`).
//!
//! A webhook is one more outbox recipient, named `webhook:<url_env>`, so it
//! gets the outbox guarantees for free: rows written with the match, one
//! digest per run with a fixed id (sent as `Idempotency-Key` and as `id` in
//! the JSON body), taken out only after a 2xx. A 429 is waited out as its
//! `Retry-After` says (up to [`MAX_RETRY_AFTER`]), a few times; 5xx and
//! connection errors keep the digest for the next run; any other 4xx is
//! final. The URL is a secret: it is read from the environment and never
//! written to logs or errors.
//!
//! Admin alerts (source health, and any other admin event) reach every
//! webhook too, queued as `admin_alert` rows for the same recipient name in
//! the transaction that caused them, with the same delivery rules. A webhook
//! with `admin = true` gets only those.

use std::time::Duration;

use serde_json::json;

use super::health::{self, AdminAlert};
use super::{Alert, Delivery, email};
use crate::config::{Webhook, WebhookFormat};
use crate::store::{self, Store, StoreError};

/// Outbox recipients that are webhooks start with this.
pub const PREFIX: &str = "webhook:";
/// The longest `Retry-After` leakwatch waits within a run.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Tries per digest and run when the endpoint answers 429.
pub const TRIES: u32 = 3;
/// How long one POST may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The outbox recipient standing for `hook`.
pub fn recipient(hook: &Webhook) -> String {
    format!("{PREFIX}{}", hook.url_env)
}

/// The outbox recipients of watch-list alerts: every webhook but the
/// `admin = true` ones.
pub fn alert_recipients(hooks: &[Webhook]) -> impl Iterator<Item = String> + '_ {
    hooks.iter().filter(|h| !h.admin).map(recipient)
}

/// The JSON body for a digest of `alerts`.
pub fn payload(format: WebhookFormat, id: &str, alerts: &[Alert]) -> serde_json::Value {
    let rendered = email::render(alerts);
    match format {
        WebhookFormat::Json => json!({
            "id": id,
            "subject": rendered.subject,
            "alerts": alerts,
        }),
        // Slack reads `&`, `<` and `>` as markup: escaped, posting text cannot
        // make links or mentions.
        WebhookFormat::Slack => json!({
            "text": slack_escape(&format!("*{}*\n{}", rendered.subject, rendered.text)),
        }),
    }
}

/// The JSON body for one admin alert: the rendered text, and for `json` the
/// event's fields, whatever the event is.
pub fn admin_payload(format: WebhookFormat, a: &AdminAlert, label: &str) -> serde_json::Value {
    let rendered = health::render(a, label);
    match format {
        WebhookFormat::Json => json!({
            "id": a.message_id,
            "subject": rendered.subject,
            "admin": {
                "source": a.source,
                "label": label,
                "event": a.event,
                "previous": a.previous,
                "detail": a.detail,
                "suggestion": a.suggestion,
            },
        }),
        WebhookFormat::Slack => json!({
            "text": slack_escape(&format!("*{}*\n{}", rendered.subject, rendered.text)),
        }),
    }
}

fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// How one POST ended.
enum Outcome {
    Sent,
    /// Try again next run.
    Retry(String),
    /// The endpoint refused for good.
    Refused(String),
}

/// What is being posted: a digest of alerts, or one admin alert.
#[derive(Clone, Copy)]
enum Item {
    Digest(i64),
    Admin(i64),
}

impl Item {
    fn sent(self, store: &mut Store) -> Result<(), StoreError> {
        match self {
            Item::Digest(id) => store.mark_digest_sent(id, &store::now()),
            Item::Admin(id) => store.mark_admin_alert_sent(id, &store::now()),
        }
    }

    fn failed(self, store: &mut Store, error: &str, permanent: bool) -> Result<(), StoreError> {
        match self {
            Item::Digest(id) => store.mark_digest_failed(id, error, permanent),
            Item::Admin(id) => store.mark_admin_alert_failed(id, error, permanent),
        }
    }
}

/// Sends every pending webhook digest, then every pending admin alert for a webhook.
pub async fn deliver(
    store: &mut Store,
    hooks: &[Webhook],
    labels: &super::Labels,
    message_domain: &str,
) -> Result<Delivery, StoreError> {
    store.assemble_digests(&store::now(), message_domain)?;
    let mut out = Delivery::default();
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(format!("webhooks: cannot build an HTTP client: {e}"));
            return Ok(out);
        }
    };
    for digest in store.pending_digests()? {
        let Some(name) = digest.recipient.strip_prefix(PREFIX) else {
            continue;
        };
        let item = Item::Digest(digest.id);
        let Some((hook, url)) = target(store, hooks, name, item, &mut out)? else {
            continue;
        };
        let mut alerts = store.digest_alerts(digest.id)?;
        super::label(labels, &mut alerts);
        let body = payload(hook.format, &digest.message_id, &alerts).to_string();
        let outcome = post(&client, &url, &digest.message_id, body).await;
        settle(store, item, name, "alert", outcome, &mut out)?;
    }
    for alert in store.pending_admin_alerts()? {
        let Some(name) = alert.recipient.strip_prefix(PREFIX) else {
            continue;
        };
        let item = Item::Admin(alert.id);
        let Some((hook, url)) = target(store, hooks, name, item, &mut out)? else {
            continue;
        };
        let label = labels
            .get(&alert.source)
            .map_or(alert.source.as_str(), |l| l.label.as_str());
        let body = admin_payload(hook.format, &alert, label).to_string();
        let outcome = post(&client, &url, &alert.message_id, body).await;
        settle(store, item, name, "admin alert", outcome, &mut out)?;
    }
    Ok(out)
}

/// The webhook named `name` and its URL; `None` (recorded and counted) when
/// it is no longer configured or its variable is not set.
fn target<'h>(
    store: &mut Store,
    hooks: &'h [Webhook],
    name: &str,
    item: Item,
    out: &mut Delivery,
) -> Result<Option<(&'h Webhook, String)>, StoreError> {
    let Some(hook) = hooks.iter().find(|h| h.url_env == name) else {
        let msg = format!("webhook {name} is no longer in [[notify.webhook]]: its alerts are dropped");
        item.failed(store, &msg, true)?;
        out.failed += 1;
        out.errors.push(msg);
        return Ok(None);
    };
    let Ok(url) = std::env::var(&hook.url_env) else {
        let msg = format!(
            "webhook: notify.webhook url_env names {name}, which is not set: export it; alerts kept for the next run"
        );
        item.failed(store, &msg, false)?;
        out.pending += 1;
        out.errors.push(msg);
        return Ok(None);
    };
    Ok(Some((hook, url)))
}

/// Records how a POST ended.
fn settle(
    store: &mut Store,
    item: Item,
    name: &str,
    what: &str,
    outcome: Outcome,
    out: &mut Delivery,
) -> Result<(), StoreError> {
    match outcome {
        Outcome::Sent => {
            item.sent(store)?;
            out.sent += 1;
        }
        Outcome::Retry(e) => {
            let msg = format!("webhook {name}: {e}");
            item.failed(store, &msg, false)?;
            out.pending += 1;
            out.errors.push(format!("{msg}; kept for the next run"));
        }
        Outcome::Refused(e) => {
            let msg = format!("webhook {name} refused the {what}: {e}");
            item.failed(store, &msg, true)?;
            out.failed += 1;
            out.errors.push(msg);
        }
    }
    Ok(())
}

/// POSTs `body`, waiting out 429s.
async fn post(client: &reqwest::Client, url: &str, id: &str, body: String) -> Outcome {
    for attempt in 1..=TRIES {
        let sent = client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", id)
            .body(body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // without_url: the URL is a secret.
            Err(e) => return Outcome::Retry(super::error_chain(&e.without_url())),
        };
        let status = response.status();
        if status.is_success() {
            return Outcome::Sent;
        }
        if status.as_u16() == 429 {
            let wait = retry_after(response.headers()).min(MAX_RETRY_AFTER);
            if attempt == TRIES {
                return Outcome::Retry(format!("HTTP 429 (rate limited) {TRIES} times"));
            }
            tracing::info!("webhook rate limited: waiting {}s as Retry-After says", wait.as_secs());
            tokio::time::sleep(wait).await;
            continue;
        }
        return match status.as_u16() {
            408 | 500..=599 => Outcome::Retry(format!("HTTP {status}")),
            _ => Outcome::Refused(format!("HTTP {status}")),
        };
    }
    Outcome::Retry("rate limited".into())
}

/// `Retry-After` in seconds or as an HTTP date; 5 s when absent or unreadable.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let Some(value) = headers.get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()) else {
        return Duration::from_secs(5);
    };
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Duration::from_secs(secs);
    }
    chrono::DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .and_then(|d| (d.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok())
        .unwrap_or(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_cannot_carry_markup() {
        let mut a = crate::notify::email::tests::alert("Acme", "<!channel> <http://evil|click> & co");
        a.snippet = "[[Acme]]".into();
        let v = payload(WebhookFormat::Slack, "<id@x>", &[a]);
        let text = v["text"].as_str().unwrap();
        assert!(
            text.contains("&lt;!channel&gt; &lt;http://evil|click&gt; &amp; co"),
            "{text}"
        );
        assert!(!text.contains("<!channel>"));
    }

    #[test]
    fn retry_after_reads_seconds_and_defaults() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), Duration::from_secs(5));
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Duration::from_secs(2));
    }
}
