//! The member portal, phone first: sign in with a one-time code sent by text message, then the
//! club card as a QR code, balance, tier and progress, history, the invite code, consent to
//! messages, and a download of everything the club holds about the member.
//!
//! And, with the development text-message provider only, `/dev/messages`: the outbox as a page,
//! so `make run` works without an SMS account.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Form};
use actix_web::{HttpRequest, HttpResponse, get, post};
use askama::Template;
use base64::Engine as _;
use domain::ledger::{Transfer, TransferCode, TransferState};
use domain::members::SignInCodeError;
use domain::points::Points;
use operations::error::OperationError;
use serde::Deserialize;

use crate::Pages;
use crate::error::{Failure, PageError, html, page, page_setting};
use crate::format;
use crate::session::{AnySession, SignedInMember};
use crate::words::{self, Lang, Words};

#[derive(Template)]
#[template(path = "member_sign_in.html")]
struct SignInPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    phone: &'a str,
    refusal: &'a str,
    /// The code's step (the phone is known) rather than the phone's.
    code_step: bool,
    phone_hint: String,
}

fn refusal_of(lang: Lang, err: &SignInCodeError) -> String {
    words::refusal(lang, err.code(), &err.to_string())
}

/// The phone number form.
#[get("/member/sign-in")]
pub(crate) async fn sign_in(req: HttpRequest, any: AnySession) -> Result<HttpResponse, PageError> {
    let AnySession { mut session, pages } = any;
    let cookie = session.save(&pages).await?;
    let body = SignInPage {
        w: words::of(&req),
        csrf: &session.state.csrf,
        phone: "",
        refusal: "",
        code_step: false,
        phone_hint: String::new(),
    }
    .render()?;
    Ok(page_setting(StatusCode::OK, body, cookie))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PhoneForm {
    csrf: String,
    phone: String,
}

fn address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

/// Sends a code to the phone (if it is a member's: the page says the same either way).
#[post("/member/sign-in")]
pub(crate) async fn send_code(
    req: HttpRequest,
    any: AnySession,
    form: Form<PhoneForm>,
) -> Result<HttpResponse, PageError> {
    let AnySession { mut session, pages } = any;
    session.check_csrf(&form.csrf)?;
    let lang = words::lang_of(&req);
    let phone = format::typed_phone(&form.phone);
    let sent = operations::portal::request_code(
        &pages.club,
        pages.settings.codes,
        &phone,
        &address(&req),
        domain::time::now(),
    )
    .await;
    match sent {
        Ok(()) => {
            let key = operations::portal::phone_key(&pages.club, &phone).map_err(|e| match e {
                OperationError::Storage(err) => err.into(),
                OperationError::Refused(err) => PageError::internal(err),
            })?;
            session.state.code_phone = Some((key, phone_hint(&phone)));
            session.save(&pages).await?;
            Ok(HttpResponse::SeeOther()
                .insert_header(("location", "/member/code"))
                .finish())
        }
        Err(OperationError::Refused(err)) => {
            let body = SignInPage {
                w: words::words(lang),
                csrf: &session.state.csrf,
                phone: &form.phone,
                refusal: &refusal_of(lang, &err),
                code_step: false,
                phone_hint: String::new(),
            }
            .render()?;
            Ok(page_setting(StatusCode::UNPROCESSABLE_ENTITY, body, None))
        }
        Err(OperationError::Storage(err)) => Err(err.into()),
    }
}

/// The last digits of a phone, to say where the code went.
fn phone_hint(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("•••• {tail}")
}

/// The code form.
#[get("/member/code")]
pub(crate) async fn code_form(
    req: HttpRequest,
    any: AnySession,
) -> Result<HttpResponse, PageError> {
    let AnySession { session, .. } = any;
    let Some((_, hint)) = session.state.code_phone.as_ref() else {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("location", "/member/sign-in"))
            .finish());
    };
    let body = SignInPage {
        w: words::of(&req),
        csrf: &session.state.csrf,
        phone: "",
        refusal: "",
        code_step: true,
        phone_hint: hint.clone(),
    }
    .render()?;
    Ok(page_setting(StatusCode::OK, body, None))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CodeForm {
    csrf: String,
    code: String,
}

/// Signs the member in with the code: a new session, the code used up.
#[post("/member/code")]
pub(crate) async fn verify_code(
    req: HttpRequest,
    any: AnySession,
    form: Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    let AnySession { mut session, pages } = any;
    session.check_csrf(&form.csrf)?;
    let lang = words::lang_of(&req);
    let Some((key, hint)) = session.state.code_phone.clone() else {
        return Err(PageError::new(Failure::SessionEnded));
    };
    let code = format::typed_phone(&form.code);
    match operations::portal::verify_code(&pages.club, pages.settings.codes, &key, &code).await {
        Ok(member) => {
            session.renew(&pages).await?;
            session.state.member = Some(member);
            let cookie = session.save(&pages).await?;
            let mut response = HttpResponse::SeeOther();
            response.insert_header(("location", "/member"));
            if let Some(cookie) = cookie {
                response.cookie(cookie);
            }
            tracing::info!(member.id = %member, "member signed in");
            Ok(response.finish())
        }
        Err(OperationError::Refused(err)) => {
            let body = SignInPage {
                w: words::words(lang),
                csrf: &session.state.csrf,
                phone: "",
                refusal: &refusal_of(lang, &err),
                code_step: true,
                phone_hint: hint,
            }
            .render()?;
            Ok(page_setting(StatusCode::UNAUTHORIZED, body, None))
        }
        Err(OperationError::Storage(err)) => Err(err.into()),
    }
}

/// A line of the member's history.
struct HistoryLine {
    time: String,
    what: &'static str,
    place: String,
    /// Signed, from the member's side: `+120`, `−40`.
    points: String,
    amount: String,
    state: &'static str,
}

/// How a transfer moves the member's points: `+` when they come in.
fn signed_points(transfer: &Transfer) -> Points {
    match transfer.code {
        TransferCode::Earn | TransferCode::Bonus | TransferCode::RedeemReversal => transfer.amount,
        _ => -transfer.amount,
    }
}

#[derive(Template)]
#[template(path = "member.html")]
struct MemberPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    first_name: String,
    card: String,
    card_qr: String,
    tier: String,
    progress: String,
    available: String,
    held: String,
    pending: String,
    invite_code: String,
    consents: bool,
    history: Vec<HistoryLine>,
}

/// The most transactions the portal lists.
const HISTORY_LIMIT: i64 = 50;

/// The card as a QR code (an SVG image, as a `data:` URL the Content-Security-Policy allows).
fn qr_of(card: &str) -> Result<String, PageError> {
    let code = qrcode::QrCode::new(card.as_bytes()).map_err(PageError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// The member's page.
#[get("/member")]
pub(crate) async fn show(
    req: HttpRequest,
    member: SignedInMember,
) -> Result<HttpResponse, PageError> {
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    let club = &member.pages.club;
    let Some(overview) = operations::portal::overview(club, member.id, domain::time::now()).await?
    else {
        // Closed, or no usable card: nothing to show but the way out.
        return Err(PageError::new(Failure::Forbidden));
    };
    let zone = club.program.time_zone;
    let partners: std::collections::HashMap<_, _> = operations::partners::list(&club.storage)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let history = operations::portal::history(club, member.id, None, HISTORY_LIMIT)
        .await?
        .into_iter()
        .map(|(t, state)| HistoryLine {
            time: format::date_time(lang, t.created_at, zone),
            what: match t.code {
                TransferCode::Earn => w.kind_earn,
                TransferCode::Redeem => w.kind_redeem,
                TransferCode::EarnReversal | TransferCode::RedeemReversal => w.kind_reversal,
                TransferCode::Bonus => w.kind_bonus,
                TransferCode::Expiry => w.kind_expiry,
                _ => w.kind_other,
            },
            place: t
                .partner_id
                .and_then(|p| partners.get(&p).cloned())
                .unwrap_or_default(),
            points: {
                let points = signed_points(&t);
                let sign = if points.get() > 0 { "+" } else { "" };
                format!("{sign}{}", format::number(lang, points.get()))
            },
            amount: t
                .money()
                .map_or_else(String::new, |m| format::money(lang, m)),
            state: match state {
                TransferState::Posted => w.state_posted,
                TransferState::Pending => w.state_pending,
                TransferState::Voided => w.state_voided,
            },
        })
        .collect();
    let check = &overview.check;
    let panel = crate::pos::MemberPanel::of(check, lang);
    html(
        MemberPage {
            w,
            csrf: &member.session.state.csrf,
            first_name: check.first_name.clone(),
            card: check.card.as_str().to_owned(),
            card_qr: qr_of(check.card.as_str())?,
            tier: panel.tier,
            progress: panel.progress,
            available: panel.available,
            held: panel.held,
            pending: panel.pending,
            invite_code: overview.invite_code,
            consents: overview.messages_consent_at.is_some(),
            history,
        }
        .render(),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConsentForm {
    csrf: String,
    consent: Option<String>,
}

/// Gives or withdraws consent to messages.
#[post("/member/consent")]
pub(crate) async fn consent(
    member: SignedInMember,
    form: Form<ConsentForm>,
) -> Result<HttpResponse, PageError> {
    member.session.check_csrf(&form.csrf)?;
    let consents = form.consent.is_some();
    operations::portal::set_messages_consent(
        &member.pages.club,
        member.id,
        consents,
        domain::time::now(),
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/member"))
        .finish())
}

/// Everything the club holds about the member, as a JSON file to keep.
#[get("/member/data")]
pub(crate) async fn my_data(member: SignedInMember) -> Result<HttpResponse, PageError> {
    let data = operations::portal::my_data(&member.pages.club, member.id).await?;
    let body = serde_json::to_vec_pretty(&data).map_err(PageError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "content-disposition",
            "attachment; filename=\"club-my-data.json\"",
        ))
        .body(body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignOutForm {
    csrf: String,
}

/// Signs the member out.
#[post("/member/sign-out")]
pub(crate) async fn sign_out(
    member: SignedInMember,
    form: Form<SignOutForm>,
) -> Result<HttpResponse, PageError> {
    member.session.check_csrf(&form.csrf)?;
    let removal = member.session.end(&member.pages).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/member/sign-in"))
        .cookie(removal)
        .finish())
}

#[derive(Template)]
#[template(path = "dev_messages.html")]
struct MessagesPage {
    w: &'static Words,
    /// (written, sent, to, text)
    messages: Vec<(String, String, String, String)>,
}

/// The outbox, for development only: what a real provider would have sent.
#[get("/dev/messages")]
pub(crate) async fn dev_messages(
    req: HttpRequest,
    pages: Data<Pages>,
) -> Result<HttpResponse, PageError> {
    if !pages.development_messages {
        return Err(PageError::new(Failure::NotFound));
    }
    let lang = words::lang_of(&req);
    let zone = pages.club.program.time_zone;
    let messages = operations::messages::latest(&pages.club, 20)
        .await?
        .into_iter()
        .map(|m| {
            (
                format::date_time(lang, m.created_at, zone),
                m.sent_at
                    .map_or_else(String::new, |at| format::date_time(lang, at, zone)),
                m.message.to.as_str().to_owned(),
                m.message.text,
            )
        })
        .collect();
    html(
        MessagesPage {
            w: words::words(lang),
            messages,
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "member_profile.html")]
struct ProfilePage<'a> {
    w: &'static Words,
    csrf: &'a str,
    name: String,
    phone: String,
    email: String,
    birth_date: String,
    city: String,
    has_photo: bool,
    close_requested: String,
    notice: String,
    refusal: String,
}

async fn render_profile(
    req: &HttpRequest,
    member: &SignedInMember,
    (notice, refusal): (String, String),
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let lang = words::lang_of(req);
    let club = &member.pages.club;
    let Some(overview) = operations::portal::overview(club, member.id, domain::time::now()).await?
    else {
        return Err(PageError::new(Failure::Forbidden));
    };
    let personal = overview.personal;
    let zone = club.program.time_zone;
    let close_requested = operations::portal::close_requested(club, member.id)
        .await?
        .map_or_else(String::new, |at| format::date_time(lang, at, zone));
    let body = ProfilePage {
        w: words::words(lang),
        csrf: &member.session.state.csrf,
        name: personal.name,
        phone: personal.phone.as_str().to_owned(),
        email: personal.email.unwrap_or_default(),
        birth_date: personal
            .birth_date
            .map_or_else(String::new, |d| d.to_string()),
        city: personal.city.unwrap_or_default(),
        has_photo: operations::members::has_photo(club, member.id).await?,
        close_requested,
        notice,
        refusal,
    }
    .render()?;
    Ok(page(status, body))
}

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// The member's profile: what they told the club, their photo, closing their account.
#[get("/member/profile")]
pub(crate) async fn profile(
    req: HttpRequest,
    member: SignedInMember,
) -> Result<HttpResponse, PageError> {
    render_profile(
        &req,
        &member,
        (String::new(), String::new()),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProfileForm {
    csrf: String,
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    city: String,
}

/// Keeps the changed profile (the phone stays); a profile this completes earns its bonus once.
#[post("/member/profile")]
pub(crate) async fn save_profile(
    req: HttpRequest,
    member: SignedInMember,
    form: Form<ProfileForm>,
) -> Result<HttpResponse, PageError> {
    member.session.check_csrf(&form.csrf)?;
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    let optional = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let Ok(birth_date) = format::typed_date(&form.birth_date) else {
        let refusal = words::birth_date_invalid(lang);
        return render_profile(&req, &member, (String::new(), refusal), UNPROCESSABLE).await;
    };
    let edit = operations::portal::ProfileEdit {
        name: form.name.clone(),
        email: optional(&form.email),
        birth_date,
        city: optional(&form.city),
    };
    match operations::portal::update_profile(
        &member.pages.club,
        member.id,
        edit,
        domain::time::now(),
    )
    .await
    {
        Ok(bonus) => {
            let notice = if bonus > 0 {
                format!(
                    "{} {}: {}",
                    w.profile_saved,
                    w.bonus,
                    format::number(lang, bonus)
                )
            } else {
                w.profile_saved.to_owned()
            };
            render_profile(&req, &member, (notice, String::new()), StatusCode::OK).await
        }
        Err(OperationError::Refused(err)) => {
            let refusal = words::refusal(lang, err.code(), &err.to_string());
            render_profile(&req, &member, (String::new(), refusal), UNPROCESSABLE).await
        }
        Err(OperationError::Storage(err)) => Err(err.into()),
    }
}

#[derive(Debug, actix_multipart::form::MultipartForm)]
pub(crate) struct PhotoForm {
    csrf: actix_multipart::form::text::Text<String>,
    #[multipart(limit = "6MB")]
    photo: actix_multipart::form::bytes::Bytes,
}

/// Replaces the member's photo (the one a cashier sees at a card check).
#[post("/member/photo")]
pub(crate) async fn save_photo(
    req: HttpRequest,
    member: SignedInMember,
    actix_multipart::form::MultipartForm(form): actix_multipart::form::MultipartForm<PhotoForm>,
) -> Result<HttpResponse, PageError> {
    member.session.check_csrf(&form.csrf)?;
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    let saved = operations::members::set_photo(
        &member.pages.club,
        member.id,
        &form.photo.data,
        domain::time::now(),
    )
    .await;
    match saved {
        Ok(()) => {
            render_profile(
                &req,
                &member,
                (w.photo_saved.to_owned(), String::new()),
                StatusCode::OK,
            )
            .await
        }
        Err(OperationError::Refused(err)) => {
            let refusal = words::refusal(lang, err.code(), &err.to_string());
            render_profile(&req, &member, (String::new(), refusal), UNPROCESSABLE).await
        }
        Err(OperationError::Storage(err)) => Err(err.into()),
    }
}

/// The member's own photo.
#[get("/member/photo")]
pub(crate) async fn show_photo(member: SignedInMember) -> Result<HttpResponse, PageError> {
    photo_of(&member.pages.club, member.id).await
}

/// A member's photo as an answer (to the member, or to the till their card is on); not found if
/// they have none.
pub(crate) async fn photo_of(
    club: &operations::Club,
    member_id: domain::ids::MemberId,
) -> Result<HttpResponse, PageError> {
    let (media_type, bytes) = operations::members::photo(club, member_id)
        .await?
        .ok_or_else(|| PageError::new(Failure::NotFound))?;
    Ok(HttpResponse::Ok().content_type(media_type).body(bytes))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CloseForm {
    csrf: String,
    /// The box saying they mean it.
    confirm: Option<String>,
}

/// Records that the member asks to close their account (the operator closes it).
#[post("/member/close")]
pub(crate) async fn request_close(
    req: HttpRequest,
    member: SignedInMember,
    form: Form<CloseForm>,
) -> Result<HttpResponse, PageError> {
    member.session.check_csrf(&form.csrf)?;
    let w = words::of(&req);
    if form.confirm.is_none() {
        let refusal = w.close_confirm_needed.to_owned();
        return render_profile(&req, &member, (String::new(), refusal), UNPROCESSABLE).await;
    }
    operations::portal::request_close(&member.pages.club, member.id, domain::time::now()).await?;
    render_profile(
        &req,
        &member,
        (w.close_requested_notice.to_owned(), String::new()),
        StatusCode::OK,
    )
    .await
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    w: &'static Words,
    code: String,
    partners: Vec<String>,
}

/// An invitation: the link a member shares. It shows the invite code to give at any partner's
/// till when joining (the code is random, not personal data).
#[get("/join/{code}")]
pub(crate) async fn join(
    req: HttpRequest,
    pages: Data<Pages>,
    code: actix_web::web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let code =
        domain::members::InviteCode::parse(&code).map_err(|_| PageError::new(Failure::NotFound))?;
    let partners = operations::partners::list(&pages.club.storage)
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    html(
        JoinPage {
            w: words::of(&req),
            code: code.as_str().to_owned(),
            partners,
        }
        .render(),
    )
}
