//! The pages that read: overview, matches, one match, watch list, sources,
//! postings search, audit trail, the login form. Nothing here writes but
//! the login form's pre-login cookie.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::auth::{self, Session};
use super::views::{self, Nav, render};
use super::{App, AppError};
use crate::store::{InboxFilter, Status};
use crate::watch;

/// The newest matches a page lists at most.
const PAGE_LIMIT: i64 = 200;

fn nav(session: &Session, active: &'static str) -> Nav {
    Nav {
        user: session.user.clone(),
        role: session.role.clone(),
        csrf: session.csrf.clone(),
        active,
    }
}

pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../templates/style.css"),
    )
}

pub async fn login(State(app): State<App>) -> Response {
    let csrf = auth::token();
    let cookie = auth::set_cookie(auth::LOGIN_COOKIE, &csrf, Some(3600), app.secure);
    let page = render(&views::LoginPage {
        csrf,
        error: String::new(),
    });
    ([(header::SET_COOKIE, cookie)], page).into_response()
}

pub async fn overview(State(app): State<App>, Extension(session): Extension<Session>) -> Result<Response, AppError> {
    let since = (chrono::Utc::now() - chrono::Duration::weeks(views::CHART_WEEKS)).to_rfc3339();
    let config = app.config.clone();
    let (counts, weeks, sources, rows) = app
        .db(move |s| {
            Ok((
                s.status_counts()?,
                s.matches_per_week(&since)?,
                crate::report::source_health(&config, s)?,
                s.inbox(
                    &InboxFilter {
                        status: Some(Status::New),
                        ..InboxFilter::default()
                    },
                    10,
                )?,
            ))
        })
        .await?;
    Ok(render(&views::OverviewPage {
        nav: nav(&session, "/"),
        back: "/".into(),
        counts,
        bars: views::chart(&weeks, chrono::Utc::now().date_naive()),
        sources: sources.into_iter().map(Into::into).collect(),
        rows: rows.into_iter().map(Into::into).collect(),
    }))
}

/// A form date (`YYYY-MM-DD`) as a stored timestamp; `days` after it for an end.
fn date_bound(text: &str, days: i64) -> Result<Option<String>, AppError> {
    if text.is_empty() {
        return Ok(None);
    }
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| AppError::BadRequest(format!("`{text}`: write dates as YYYY-MM-DD")))?;
    Ok(Some(format!("{}T00:00:00Z", d + chrono::Duration::days(days))))
}

fn some(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

pub async fn matches(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Query(q): Query<views::MatchQuery>,
) -> Result<Response, AppError> {
    let filter = InboxFilter {
        status: some(&q.status)
            .map(|s| s.parse::<Status>())
            .transpose()
            .map_err(AppError::BadRequest)?,
        entry: some(&q.entry),
        kind: some(&q.kind),
        source: some(&q.source),
        since: date_bound(&q.since, 0)?,
        until: date_bound(&q.until, 1)?,
    };
    let rows = app.db(move |s| s.inbox(&filter, PAGE_LIMIT)).await?;
    Ok(render(&views::MatchesPage {
        nav: nav(&session, "/matches"),
        back: q.path(),
        q,
        rows: rows.into_iter().map(Into::into).collect(),
        limit: PAGE_LIMIT,
    }))
}

pub async fn match_detail(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let found = app
        .db(move |s| {
            let Some(m) = s.match_by_id(id)? else {
                return Ok(None);
            };
            let related = s.same_victim(&m)?;
            let history = s.audit_of(&format!("match:{id}"))?;
            Ok(Some((m, related, history)))
        })
        .await?;
    let (m, related, history) = found.ok_or(AppError::NotFound)?;
    Ok(render(&views::MatchPage {
        nav: nav(&session, "/matches"),
        m: m.into(),
        related: related.into_iter().map(Into::into).collect(),
        history,
    }))
}

#[derive(serde::Deserialize)]
pub struct WatchQuery {
    #[serde(default)]
    edit: String,
}

pub async fn watch(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Query(q): Query<WatchQuery>,
) -> Result<Response, AppError> {
    watch_page(&app, &session, q.edit, String::new(), String::new()).await
}

/// The watch page, its form filled with entry `edit` (if any), with an
/// error or a notice on top.
pub async fn watch_page(
    app: &App,
    session: &Session,
    edit: String,
    error: String,
    notice: String,
) -> Result<Response, AppError> {
    let listed = app.db(|s| s.entries_listed()).await?;
    let form = listed
        .iter()
        .find(|l| l.entry.name == edit)
        .map(|l| views::EntryForm {
            name: l.entry.name.clone(),
            aliases: l.entry.aliases.join(";"),
            domains: l.entry.domains.join(";"),
            kind: l.entry.kind.to_string(),
            recipients: l.entry.recipients.join(";"),
            exclude: l.entry.exclude.join(";"),
            ..views::EntryForm::default()
        })
        .unwrap_or_default();
    watch_page_with(session, listed, form, error, notice)
}

pub fn watch_page_with(
    session: &Session,
    listed: Vec<crate::store::ListedEntry>,
    form: views::EntryForm,
    error: String,
    notice: String,
) -> Result<Response, AppError> {
    let entries = listed
        .into_iter()
        .map(|l| views::EntryView {
            note: watch::noise_flag(&l.entry).unwrap_or_default(),
            name: l.entry.name,
            kind: l.entry.kind.to_string(),
            aliases: l.entry.aliases.join("; "),
            domains: l.entry.domains.join("; "),
            recipients: l.entry.recipients.join("; "),
            exclude: l.entry.exclude.join("; "),
            updated_at: views::day(&l.updated_at),
        })
        .collect();
    Ok(render(&views::WatchPage {
        nav: nav(session, "/watch"),
        entries,
        form,
        error,
        notice,
    }))
}

pub async fn watch_export(State(app): State<App>) -> Result<Response, AppError> {
    let entries = app.db(|s| s.entries()).await?;
    let mut out = Vec::new();
    // Analysts open a download in a spreadsheet: the Excel flavour (BOM, CRLF).
    watch::csv::write(&mut out, &entries, true).map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"watchlist.csv\""),
        ],
        out,
    )
        .into_response())
}

pub async fn sources(State(app): State<App>, Extension(session): Extension<Session>) -> Result<Response, AppError> {
    let config = app.config.clone();
    let sources = app.db(move |s| crate::report::source_health(&config, s)).await?;
    Ok(render(&views::SourcesPage {
        nav: nav(&session, "/sources"),
        sources: sources.into_iter().map(Into::into).collect(),
    }))
}

#[derive(serde::Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn postings(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Query(SearchQuery { q }): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let query = q.clone();
    let found = app.db(move |s| s.search_postings(&query, PAGE_LIMIT)).await?;
    Ok(render(&views::PostingsPage {
        nav: nav(&session, "/postings"),
        searched: !q.trim().is_empty(),
        q,
        found: found.into_iter().map(Into::into).collect(),
    }))
}

pub async fn audit(State(app): State<App>, Extension(session): Extension<Session>) -> Result<Response, AppError> {
    let rows = app.db(|s| s.audit_log(500)).await?;
    Ok(render(&views::AuditPage {
        nav: nav(&session, "/audit"),
        rows,
    }))
}
