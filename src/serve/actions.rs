//! The requests that change something: sign in and out, triage a match,
//! add, edit, remove and import watch entries. Each checks the CSRF token
//! before it touches anything, and each change is audited in the same
//! transaction (see `store`).

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};

use super::auth::{self, Session};
use super::pages::{watch_page, watch_page_with};
use super::views::{self, render};
use super::{App, AppError, MAX_UPLOAD_BYTES};
use crate::store::{Status, Triage};
use crate::watch;

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The login page again, with an error and a fresh pre-login token.
fn login_again(app: &App, status: StatusCode, error: &str) -> Response {
    let csrf = auth::token();
    let cookie = auth::set_cookie(auth::LOGIN_COOKIE, &csrf, Some(3600), app.secure);
    let page = render(&views::LoginPage {
        csrf,
        error: error.to_owned(),
    });
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

pub async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let expected = auth::cookie(&headers, auth::LOGIN_COOKIE).unwrap_or_default();
    if !auth::same_token(&form.csrf, &expected) {
        return Err(AppError::Forbidden(
            "the login form expired or did not come from this site: reload it",
        ));
    }
    if !app.limits.allow(&form.username, peer.ip()) {
        return Ok(login_again(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts: wait a minute and try again.",
        ));
    }
    if !auth::authenticate(&app, form.username.clone(), form.password).await? {
        tracing::warn!("workspace: failed sign-in for {:?} from {}", form.username, peer.ip());
        return Ok(login_again(
            &app,
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.",
        ));
    }
    let (id, csrf) = (auth::token(), auth::token());
    let expires = (chrono::Utc::now() + chrono::Duration::hours(auth::SESSION_HOURS))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (sid, user) = (id.clone(), form.username.clone());
    app.db(move |s| s.start_session(&sid, &user, &csrf, &expires)).await?;
    let session = auth::set_cookie(auth::SESSION_COOKIE, &id, Some(auth::SESSION_HOURS * 3600), app.secure);
    let spent = auth::set_cookie(auth::LOGIN_COOKIE, "", Some(0), app.secure);
    Ok((
        AppendHeaders([(header::SET_COOKIE, session), (header::SET_COOKIE, spent)]),
        Redirect::to("/matches?status=new"),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    session.check_csrf(&headers, Some(&form.csrf))?;
    let id = session.id.clone();
    app.db(move |s| s.end_session(&id)).await?;
    let gone = auth::set_cookie(auth::SESSION_COOKIE, "", Some(0), app.secure);
    Ok(([(header::SET_COOKIE, gone)], Redirect::to("/login")).into_response())
}

#[derive(serde::Deserialize)]
pub struct TriageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
    /// The phrase to add to the entry's exclude list (a checked box).
    #[serde(default)]
    exclude: String,
    /// The page the form was on, to return to (a path of this site).
    #[serde(default)]
    back: String,
}

/// `back` when it is one of the workspace's own match pages, else the inbox:
/// never a redirect to another site (`//evil.example`, `/\evil.example`).
fn local_back(back: &str) -> &str {
    let own = back == "/" || back.starts_with("/matches");
    if own && !back.contains(['\\', '\r', '\n']) && !back.starts_with("//") {
        back
    } else {
        "/matches?status=new"
    }
}

pub async fn triage(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<TriageForm>,
) -> Result<Response, AppError> {
    session.check_csrf(&headers, Some(&form.csrf))?;
    let status = match form.action.as_str() {
        "confirm" => Status::Confirmed,
        "dismiss" => Status::Dismissed,
        "reopen" => Status::New,
        other => {
            return Err(AppError::BadRequest(format!(
                "`{other}` is not a triage action: confirm, dismiss or reopen"
            )));
        }
    };
    let t = Triage {
        status,
        note: Some(crate::text::clean(&form.note)).filter(|n| !n.is_empty()),
        exclude: Some(crate::text::clean(&form.exclude)).filter(|x| !x.is_empty()),
    };
    let user = session.user.clone();
    if !app.db(move |s| s.triage(id, &t, &user)).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(local_back(&form.back)).into_response())
}

/// Checks the form as a one-row CSV, so the web form and `watch import`
/// accept and refuse exactly the same entries.
fn entry_from_form(form: &views::EntryForm) -> Result<watch::WatchEntry, String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let row = [
        &form.name,
        &form.aliases,
        &form.domains,
        &form.kind,
        &form.recipients,
        &form.exclude,
    ];
    w.write_record(watch::csv::HEADER)
        .and_then(|()| w.write_record(row))
        .map_err(|e| e.to_string())?;
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    let mut entries = watch::csv::read(bytes.as_slice(), None).map_err(|e| match e.column {
        Some(c) => format!("{c}: {}", e.message),
        None => e.message,
    })?;
    entries.pop().ok_or_else(|| "the name is empty".to_owned())
}

pub async fn watch_put(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Form(form): Form<views::EntryForm>,
) -> Result<Response, AppError> {
    session.check_csrf(&headers, Some(&form.csrf))?;
    let entry = match entry_from_form(&form) {
        Ok(e) => e,
        Err(error) => {
            let listed = app.db(|s| s.entries_listed()).await?;
            let page = watch_page_with(&session, listed, form, format!("Not saved: {error}"), String::new())?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let user = session.user.clone();
    let name = entry.name.clone();
    let new = app.db(move |s| s.upsert_entry(&entry, &user)).await?;
    let done = if new { "Added" } else { "Saved" };
    watch_page(
        &app,
        &session,
        String::new(),
        String::new(),
        format!("{done} {name}: it is matched against stored postings at the next run."),
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub async fn watch_remove(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Form(form): Form<RemoveForm>,
) -> Result<Response, AppError> {
    session.check_csrf(&headers, Some(&form.csrf))?;
    let user = session.user.clone();
    let name = form.name.clone();
    let removed = app.db(move |s| s.remove_entry(&name, &user)).await?;
    let (error, notice) = if removed {
        (String::new(), format!("Removed {} and its matches.", form.name))
    } else {
        (format!("No entry named {}.", form.name), String::new())
    };
    watch_page(&app, &session, String::new(), error, notice).await
}

/// The fields of an import upload, read before anything is checked.
#[derive(Default)]
struct Upload {
    csrf: String,
    replace: bool,
    file: Vec<u8>,
    too_big: bool,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, AppError> {
    let bad = |e: axum::extract::multipart::MultipartError| AppError::BadRequest(format!("the upload: {e}"));
    let mut up = Upload::default();
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf") => up.csrf = field.text().await.map_err(bad)?,
            Some("replace") => up.replace = !field.text().await.map_err(bad)?.is_empty(),
            Some("file") => {
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if up.file.len() + chunk.len() > MAX_UPLOAD_BYTES {
                        up.too_big = true;
                        break;
                    }
                    up.file.extend_from_slice(&chunk);
                }
            }
            _ => {}
        }
    }
    Ok(up)
}

pub async fn watch_import(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response, AppError> {
    let up = read_upload(form).await?;
    session.check_csrf(&headers, Some(&up.csrf))?;
    let fail = |error: String| format!("Nothing was imported: {error}");
    let entries = if up.too_big {
        Err(fail(format!(
            "the file is larger than {} KB; split it",
            MAX_UPLOAD_BYTES / 1024
        )))
    } else {
        watch::csv::read(up.file.as_slice(), Some("the uploaded file")).map_err(|e| fail(e.to_string()))
    };
    let entries = match entries {
        Ok(e) => e,
        Err(error) => {
            let page = watch_page(&app, &session, String::new(), error, String::new()).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let user = session.user.clone();
    let replace = up.replace;
    let r = app.db(move |s| s.import_entries(&entries, replace, &user)).await?;
    let notice = format!(
        "Imported: {} added, {} changed, {} unchanged, {} removed.",
        r.added, r.changed, r.unchanged, r.removed
    );
    watch_page(&app, &session, String::new(), String::new(), notice).await
}

#[cfg(test)]
mod tests {
    use super::local_back;

    #[test]
    fn triage_returns_only_to_match_pages_of_this_site() {
        assert_eq!(
            local_back("/matches?status=dismissed&entry=Acme"),
            "/matches?status=dismissed&entry=Acme"
        );
        assert_eq!(local_back("/matches/12"), "/matches/12");
        assert_eq!(local_back("/"), "/");
        for bad in [
            "",
            "//evil.example/matches",
            "https://evil.example/",
            "/watch",
            "/matches\\@evil",
            "/matches\r\nSet-Cookie: x",
        ] {
            assert_eq!(local_back(bad), "/matches?status=new", "{bad:?}");
        }
    }
}
