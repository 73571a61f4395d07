//! clubgate's pages: server-rendered HTML for the people the club is for, in Persian (right to
//! left) and English. Each page calls the same operations as the partner API and the CLI, never
//! SQL; templates are type-checked at compile time (askama); no script is inline, so the
//! Content-Security-Policy allows scripts from the gateway alone.
//!
//! - [`session`]: page sessions in Redis, the cookie, CSRF tokens, the signed-in staff member.
//! - [`words`], [`format`]: what the pages say in each language, numbers and dates as people
//!   read them.
//! - [`sign_in`]: staff sign-in and sign-out, with throttling and lock-out.
//! - [`pos`]: the partner's till (card check, enrolment, earn, redeem, reverse, receipts, the
//!   day's list).
//! - [`member`]: the member portal (sign-in by a code sent by text message, card, balance,
//!   history, consent, their data), and the development outbox page.
//! - [`finance`]: statements (a partner's, or every partner's), answering them, the position,
//!   reconciliation, CSV exports.
//! - [`operator`]: the operator's dashboard with its plots ([`charts`]), member search, card
//!   block and replacement, the audit log.
//! - [`assets`], [`security`]: the stylesheet, script and font, and the headers every page
//!   carries.

mod assets;
mod charts;
mod error;
mod finance;
mod format;
mod member;
mod operator;
mod pos;
mod security;
mod session;
mod sign_in;
mod words;

use std::time::Duration;

use actix_web::web::{self, Data};
use actix_web::{HttpResponse, get};
use askama::Template as _;
use operations::Club;
use operations::portal::CodeLimits;
use operations::staff::SignInLimits;

pub use security::PageRequest;

/// How the pages behave.
#[derive(Debug, Clone, Copy)]
pub struct PagesSettings {
    /// Whether the gateway is served over HTTPS (the session cookie is then `Secure` and
    /// `__Host-` prefixed).
    pub secure_cookies: bool,
    /// How long a session (staff or member) lives without use.
    pub session_idle: Duration,
    /// How failed sign-ins are throttled.
    pub sign_in: SignInLimits,
    /// How members' sign-in codes are given out.
    pub codes: CodeLimits,
}

impl Default for PagesSettings {
    fn default() -> Self {
        Self {
            secure_cookies: true,
            session_idle: Duration::from_secs(30 * 60),
            sign_in: SignInLimits::default(),
            codes: CodeLimits::default(),
        }
    }
}

/// What every page handler reaches.
pub struct Pages {
    /// The club's operations.
    pub club: Club,
    /// How the pages behave.
    pub settings: PagesSettings,
    /// Whether the development text-message provider is in use: then `/dev/messages` shows the
    /// outbox (sign-in codes included). Never in production.
    pub development_messages: bool,
}

/// Mounts every page and asset, under the pages' security headers. Mount it after the partner
/// API: its scope matches every path, and what it does not serve falls to the app's default.
pub fn configure(pages: Data<Pages>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config.service(
            web::scope("")
                .app_data(pages)
                .app_data(web::FormConfig::default().error_handler(|err, req| {
                    error::PageError::bad_form(err.to_string(), req).into()
                }))
                .app_data(
                    actix_multipart::form::MultipartFormConfig::default()
                        .total_limit(finance::RECONCILE_FORM_LIMIT)
                        .memory_limit(finance::RECONCILE_FORM_LIMIT)
                        .error_handler(|err, req| {
                            error::PageError::bad_form(err.to_string(), req).into()
                        }),
                )
                .wrap(actix_web::middleware::from_fn(security::headers))
                .service(home)
                .service(assets::serve)
                .service(words::choose)
                .service(sign_in::show)
                .service(sign_in::submit)
                .service(sign_in::sign_out)
                .service(pos::show)
                .service(pos::check_card)
                .service(pos::clear_card)
                .service(pos::choose_branch)
                .service(pos::earn)
                .service(pos::redeem)
                .service(pos::reverse)
                .service(pos::receipt)
                .service(pos::today)
                .service(pos::quote_purchase)
                .service(pos::settle_hold)
                .service(pos::enrol_form)
                .service(pos::enrol)
                .service(pos::show_photo)
                .service(member::sign_in)
                .service(member::send_code)
                .service(member::code_form)
                .service(member::verify_code)
                .service(member::show)
                .service(member::consent)
                .service(member::my_data)
                .service(member::sign_out)
                .service(member::dev_messages)
                .service(member::profile)
                .service(member::save_profile)
                .service(member::save_photo)
                .service(member::show_photo)
                .service(member::request_close)
                .service(member::join)
                .service(finance::list)
                .service(finance::list_csv)
                .service(finance::show)
                .service(finance::lines_csv)
                .service(finance::answer)
                .service(finance::position)
                .service(finance::reconcile_form)
                .service(finance::reconcile)
                .service(operator::dashboard)
                .service(operator::members)
                .service(operator::search)
                .service(operator::card_action)
                .service(operator::audit)
                .service(operator::settings),
        );
    }
}

#[derive(askama::Template)]
#[template(path = "home.html")]
struct Home {
    w: &'static words::Words,
}

/// The front door: where each page is.
#[get("/")]
async fn home(req: actix_web::HttpRequest) -> Result<HttpResponse, error::PageError> {
    let w = words::of(&req);
    error::html(Home { w }.render())
}
