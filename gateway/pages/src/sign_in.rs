//! Staff sign-in and sign-out. A sign-in starts a new session (so a session secret planted
//! before cannot ride along) and is throttled per login and per address by the operation.

use actix_web::web::Form;
use actix_web::{HttpRequest, HttpResponse, get, post};
use askama::Template;
use domain::staff::{StaffError, StaffRole};
use operations::error::OperationError;
use serde::Deserialize;

use crate::error::{PageError, page_setting};
use crate::session::{AnySession, Staff};
use crate::words::{self, Words};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    login: &'a str,
    refusal: &'a str,
}

/// Where a member of staff starts once signed in.
pub(crate) fn start_page(role: StaffRole) -> &'static str {
    match role {
        StaffRole::Cashier | StaffRole::BranchManager | StaffRole::PartnerAdmin => "/pos",
        StaffRole::PartnerFinance | StaffRole::OperatorFinance => "/finance",
        StaffRole::OperatorAdmin | StaffRole::OperatorMarketing => "/operator",
        StaffRole::OperatorSupport => "/operator/members",
    }
}

fn page(
    w: &'static Words,
    csrf: &str,
    login: &str,
    refusal: &str,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, PageError> {
    let body = SignInPage {
        w,
        csrf,
        login,
        refusal,
    }
    .render()?;
    Ok(page_setting(status, body, cookie))
}

/// The sign-in form (its session, not yet signed in, carries the form's CSRF token).
#[get("/staff/sign-in")]
pub(crate) async fn show(req: HttpRequest, any: AnySession) -> Result<HttpResponse, PageError> {
    let AnySession { mut session, pages } = any;
    let cookie = session.save(&pages).await?;
    let ok = actix_web::http::StatusCode::OK;
    page(words::of(&req), &session.state.csrf, "", "", cookie, ok)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    csrf: String,
    login: String,
    password: String,
    /// The authenticator app's code, for an account that has one.
    #[serde(default)]
    code: String,
}

/// Signs in: a new session for the account, or the form again with why not.
#[post("/staff/sign-in")]
pub(crate) async fn submit(
    req: HttpRequest,
    any: AnySession,
    form: Form<SignInForm>,
) -> Result<HttpResponse, PageError> {
    let AnySession { mut session, pages } = any;
    session.check_csrf(&form.csrf)?;
    let w = words::of(&req);
    let from = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let now = domain::time::now();
    let code = (!form.code.trim().is_empty()).then_some(form.code.as_str());
    let signed_in = operations::staff::sign_in(
        &pages.club.storage,
        &pages.club.member_data_keys,
        pages.settings.sign_in,
        (&form.login, &form.password, code),
        &from,
        now,
    )
    .await;
    let refusal = match signed_in {
        Ok(member) => {
            session.renew(&pages).await?;
            session.state.staff = Some(member.id);
            let cookie = session.save(&pages).await?;
            let mut response = HttpResponse::SeeOther();
            response.insert_header(("location", start_page(member.role)));
            if let Some(cookie) = cookie {
                response.cookie(cookie);
            }
            return Ok(response.finish());
        }
        Err(OperationError::Refused(StaffError::SignInLocked { .. })) => w.sign_in_locked,
        Err(OperationError::Refused(StaffError::TotpInvalid)) => w.totp_invalid,
        Err(OperationError::Refused(_)) => w.sign_in_invalid,
        Err(OperationError::Storage(err)) => return Err(err.into()),
    };
    let status = actix_web::http::StatusCode::UNAUTHORIZED;
    page(w, &session.state.csrf, &form.login, refusal, None, status)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignOutForm {
    csrf: String,
}

/// Signs out: the session is deleted, its cookie cleared.
#[post("/staff/sign-out")]
pub(crate) async fn sign_out(
    staff: Staff,
    form: Form<SignOutForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let removal = staff.session.end(&staff.pages).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/staff/sign-in"))
        .cookie(removal)
        .finish())
}
