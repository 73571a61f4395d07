//! The partner's till (POS), touch first, for a 10-inch tablet: a cashier checks a card (and
//! sees whose it is), records a purchase, redeems points, reverses, and sees the branch's day.
//!
//! Every write goes through the same ledger operations as the partner API, under the partner's
//! idempotency keys: each form rendered carries a fresh key, so a double tap or a resent form
//! posts once and shows the first receipt again. The cashier is written on every transfer.
//! The card on the till lives in the session, never in a URL.

use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as MultipartBytes;
use actix_multipart::form::text::Text;
use actix_web::http::StatusCode;
use actix_web::web::{Form, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use askama::Template;
use domain::cards::CardNumber;
use domain::ids::{BranchId, PartnerId, StaffId, TransferId};
use domain::ledger::{
    Balance, LedgerError, Movement, Purchase, Redemption, Reversal, Transfer, TransferCode,
    TransferState,
};
use domain::member_data::PersonalData;
use domain::members::{CardCheck, EnrolmentError, NewMember};
use domain::partners::{Branch, PartnerProfile};
use domain::points::{Money, Points};
use domain::pricing::PricingError;
use domain::staff::{StaffMember, StaffRole, StaffScope};
use operations::error::OperationError;
use operations::idempotency::{Answer, IdempotencyError, IdempotencyKey, Scope};
use operations::ledger::history::HistoryQuery;
use serde::{Deserialize, Serialize};

use crate::error::{Failure, PageError, html, page};
use crate::format;
use crate::session::{Enrolled, Staff};
use crate::words::{self, Lang, Words};

/// A till: the partner, the branches the member of staff may work at, the one chosen.
struct Till {
    partner: PartnerProfile,
    branches: Vec<Branch>,
    branch: Branch,
}

/// Where `member` may work a till: a cashier's or branch manager's branches, or every branch
/// of a partner admin's partner. Anyone else may not.
async fn till_of(staff: &Staff) -> Result<Till, PageError> {
    let member = &staff.member;
    let (partner_id, only) = match (&member.role, &member.scope) {
        (StaffRole::Cashier | StaffRole::BranchManager, StaffScope::Branches(p, b)) => {
            (*p, Some(b.clone()))
        }
        (StaffRole::PartnerAdmin, StaffScope::Partner(p)) => (*p, None),
        _ => return Err(PageError::new(Failure::Forbidden)),
    };
    let partner = operations::partners::profile(&staff.pages.club, partner_id).await?;
    let branches: Vec<Branch> = partner
        .branches
        .iter()
        .filter(|b| only.as_ref().is_none_or(|ids| ids.contains(&b.id)))
        .cloned()
        .collect();
    let chosen = staff.session.state.branch;
    let branch = branches
        .iter()
        .find(|b| Some(b.id) == chosen)
        .or_else(|| branches.first())
        .cloned()
        .ok_or_else(|| PageError::new(Failure::Forbidden))?;
    Ok(Till {
        partner,
        branches,
        branch,
    })
}

/// A fresh idempotency key for one form.
fn form_key() -> String {
    format!("pos-{}", uuid::Uuid::new_v4().simple())
}

/// The member at the till, as the cashier sees them (and the portal, as the member does).
pub(crate) struct MemberPanel {
    pub card: String,
    pub first_name: String,
    pub tier: String,
    pub progress: String,
    pub available: String,
    pub held: String,
    pub pending: String,
    pub redeemable: String,
    pub offers: Vec<String>,
}

impl MemberPanel {
    pub(crate) fn of(check: &CardCheck, lang: Lang) -> Self {
        let w = words::words(lang);
        let name = |n: &domain::program::rules::Names| match lang {
            Lang::Fa => n.fa.clone(),
            Lang::En => n.en.clone(),
        };
        let (tier, progress) = match &check.tier {
            Some(standing) => (
                name(&standing.rule.name),
                standing.progress.as_ref().map_or_else(String::new, |p| {
                    format!(
                        "{} {}: {} / {}",
                        w.progress_to,
                        p.tier,
                        format::number(lang, p.have),
                        format::number(lang, p.need)
                    )
                }),
            ),
            None => (w.no_tier.to_owned(), String::new()),
        };
        let Balance {
            available,
            held,
            pending_earned,
            ..
        } = check.balance;
        Self {
            card: format::masked_card(check.card.as_str()),
            first_name: check.first_name.clone(),
            tier,
            progress,
            available: format::points(lang, available),
            held: format::points(lang, held),
            pending: format::points(lang, pending_earned),
            redeemable: check
                .redeemable_value
                .map_or_else(String::new, |m| format::money(lang, m)),
            offers: check.campaigns.iter().map(|c| name(&c.name)).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "pos.html")]
struct TillPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    partner_name: &'a str,
    branch_name: &'a str,
    /// (id, name, chosen)
    branches: Vec<(String, String, bool)>,
    member: Option<MemberPanel>,
    refusal: &'a str,
    earn_key: String,
    redeem_key: String,
    /// The member just enrolled here (shown once).
    enrolled: Option<Enrolled>,
    has_photo: bool,
    /// What a quote asked for would come to.
    quote: String,
}

/// Renders the till, with the member of the card in the session (if any) and `refusal` (if the
/// last action was refused).
async fn render_till(
    req: &HttpRequest,
    staff: Staff,
    refusal: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    render_till_quoting(req, staff, refusal, String::new(), status).await
}

/// The till, with `quote` (what a quote came to) shown.
async fn render_till_quoting(
    req: &HttpRequest,
    mut staff: Staff,
    refusal: Option<String>,
    quote: String,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let lang = words::lang_of(req);
    let w = words::words(lang);
    let till = till_of(&staff).await?;
    let mut refusal = refusal.unwrap_or_default();
    let mut member = None;
    let mut has_photo = false;
    let enrolled = staff.session.state.enrolled.take();
    if enrolled.is_some() {
        staff.session.save(&staff.pages).await?;
    }
    if let Some(number) = staff.session.state.card.clone() {
        match check(&staff, &till, &number).await? {
            Ok(check) => {
                has_photo =
                    operations::members::has_photo(&staff.pages.club, check.member_id).await?;
                member = Some(MemberPanel::of(&check, lang));
            }
            Err(err) => {
                refusal = words::refusal(lang, err.code(), &err.to_string());
                staff.session.state.card = None;
                staff.session.save(&staff.pages).await?;
            }
        }
    }
    let branches = till
        .branches
        .iter()
        .map(|b| (b.id.to_string(), b.name.clone(), b.id == till.branch.id))
        .collect();
    let body = TillPage {
        w,
        csrf: &staff.session.state.csrf,
        staff_name: &staff.member.name,
        partner_name: &till.partner.partner.name,
        branch_name: &till.branch.name,
        branches,
        member,
        refusal: &refusal,
        earn_key: form_key(),
        redeem_key: form_key(),
        enrolled,
        has_photo,
        quote,
    }
    .render()?;
    Ok(page(status, body))
}

/// Checks the card at the till's branch: the member, or why the card cannot be used.
async fn check(
    staff: &Staff,
    till: &Till,
    number: &str,
) -> Result<Result<CardCheck, LedgerError>, PageError> {
    let card = match CardNumber::parse(number) {
        Ok(card) => card,
        Err(err) => return Ok(Err(err.into())),
    };
    let checked = operations::members::check_card(
        &staff.pages.club,
        till.partner.partner.id,
        Some(&till.branch.id.to_string()),
        &card,
        domain::time::now(),
    )
    .await;
    match checked {
        Ok(check) => Ok(Ok(check)),
        Err(OperationError::Refused(err)) => Ok(Err(err)),
        Err(OperationError::Storage(err)) => Err(err.into()),
    }
}

/// The till.
#[get("/pos")]
pub(crate) async fn show(req: HttpRequest, staff: Staff) -> Result<HttpResponse, PageError> {
    render_till(&req, staff, None, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CardForm {
    csrf: String,
    card_number: String,
}

/// Puts a card on the till (typed or scanned), once it checks out.
#[post("/pos/card")]
pub(crate) async fn check_card(
    req: HttpRequest,
    mut staff: Staff,
    form: Form<CardForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let till = till_of(&staff).await?;
    let number = format::typed_card(&form.card_number);
    if let Err(err) = check(&staff, &till, &number).await? {
        let lang = words::lang_of(&req);
        let refusal = words::refusal(lang, err.code(), &err.to_string());
        return render_till(&req, staff, Some(refusal), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    staff.session.state.card = Some(number);
    staff.session.save(&staff.pages).await?;
    Ok(back_to_till())
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// Takes the card off the till (the next customer).
#[post("/pos/card/clear")]
pub(crate) async fn clear_card(
    mut staff: Staff,
    form: Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    staff.session.state.card = None;
    staff.session.save(&staff.pages).await?;
    Ok(back_to_till())
}

#[derive(Debug, Deserialize)]
pub(crate) struct BranchForm {
    csrf: String,
    branch: BranchId,
}

/// Works the till at another of the cashier's branches.
#[post("/pos/branch")]
pub(crate) async fn choose_branch(
    mut staff: Staff,
    form: Form<BranchForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let till = till_of(&staff).await?;
    if !till.branches.iter().any(|b| b.id == form.branch) {
        return Err(PageError::new(Failure::Forbidden));
    }
    staff.session.state.branch = Some(form.branch);
    staff.session.state.card = None;
    staff.session.save(&staff.pages).await?;
    Ok(back_to_till())
}

fn back_to_till() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", "/pos"))
        .finish()
}

/// What a till's write is, for its idempotency fingerprint: everything that decides it,
/// the card and branch from the session included.
#[derive(Serialize)]
struct Fingerprinted<'a> {
    action: &'a str,
    partner: PartnerId,
    branch: BranchId,
    card: Option<&'a str>,
    fields: &'a [&'a str],
}

/// The idempotency scope of a till's form, written by `staff`.
fn scope_of(
    till: &Till,
    staff: &StaffMember,
    key: &str,
    what: &Fingerprinted<'_>,
) -> Result<Scope, PageError> {
    let key = IdempotencyKey::parse(key)
        .map_err(|e| PageError::new(Failure::BadForm(format!("key: {e}"))))?;
    let body = serde_json::to_vec(what).map_err(PageError::internal)?;
    let mut scope = Scope::of_request(
        till.partner.partner.id,
        key,
        "POST",
        what.action,
        None,
        &body,
    );
    scope.staff_id = Some(staff.id);
    Ok(scope)
}

/// How long a resent form waits for the first one's answer.
const FIRST_ANSWER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Submits a till's write; a form sent again while the first is still being recorded (a double
/// tap) waits for the first one's answer and shows it, rather than an error.
async fn submit<T, F, Fut>(write: F) -> Result<T, IdempotencyError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, IdempotencyError>>,
{
    let deadline = std::time::Instant::now() + FIRST_ANSWER_PATIENCE;
    loop {
        match write().await {
            Err(IdempotencyError::InFlight) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            reply => return reply,
        }
    }
}

/// The answer to a till's write: its receipt, or the till again with why not.
async fn answered(
    req: &HttpRequest,
    staff: Staff,
    reply: operations::ledger::committer::Reply,
) -> Result<HttpResponse, PageError> {
    let answered = reply?;
    match answered.answer {
        Answer::Done(movement) => Ok(to_receipt(&movement, answered.is_replay)),
        Answer::Refused(err) => {
            let lang = words::lang_of(req);
            let refusal = words::refusal(lang, err.code(), &err.to_string());
            render_till(req, staff, Some(refusal), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Answer::Recorded { .. } => Err(PageError::new(Failure::BadForm(
            "this form's key was used by the partner's own system".into(),
        ))),
    }
}

fn to_receipt(movement: &Movement, is_replay: bool) -> HttpResponse {
    let mut location = format!("/pos/receipts/{}", movement.transfer.id);
    if is_replay {
        location.push_str("?replayed=1");
    }
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .finish()
}

/// The card on the till, or the till again asking for one.
fn card_on_till(staff: &Staff) -> Result<CardNumber, PageError> {
    let number = staff
        .session
        .state
        .card
        .as_deref()
        .ok_or_else(|| PageError::new(Failure::BadForm("no card on the till".into())))?;
    CardNumber::parse(number).map_err(|e| PageError::new(Failure::BadForm(e.to_string())))
}

/// A bill reference: the one typed, or one made from the form's key (the same on a resend).
fn reference(typed: &str, key: &str) -> String {
    match typed.trim() {
        "" => key.to_owned(),
        typed => typed.to_owned(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct EarnForm {
    csrf: String,
    key: String,
    amount: String,
    #[serde(default)]
    reference: String,
}

/// Records a purchase of the member at the till.
#[post("/pos/earn")]
pub(crate) async fn earn(
    req: HttpRequest,
    staff: Staff,
    form: Form<EarnForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let till = till_of(&staff).await?;
    let card = card_on_till(&staff)?;
    let w = words::of(&req);
    let club = &staff.pages.club;
    let branch = till.branch.id.to_string();
    let rule = operations::pricing::branch_rule(club, till.partner.partner.id, &branch).await;
    let currency = match rule {
        Ok(Some(rule)) => rule.currency,
        Ok(None) | Err(OperationError::Refused(_)) => {
            let refusal = words::refusal(
                w.lang,
                "point_rule_missing",
                "this branch has no point rule",
            );
            return render_till(&req, staff, Some(refusal), StatusCode::CONFLICT).await;
        }
        Err(OperationError::Storage(err)) => return Err(err.into()),
    };
    let Some(amount_minor) = format::typed_amount(&form.amount, currency) else {
        let refusal = w.amount_invalid.to_owned();
        return render_till(&req, staff, Some(refusal), StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let reference = reference(&form.reference, &form.key);
    let what = Fingerprinted {
        action: "/pos/earn",
        partner: till.partner.partner.id,
        branch: till.branch.id,
        card: Some(card.as_str()),
        fields: &[&form.amount, &reference],
    };
    let scope = scope_of(&till, &staff.member, &form.key, &what)?;
    let money = Money::new(amount_minor, currency);
    let purchase = match Purchase::new(branch, card, money, reference, None, Vec::new()) {
        Ok(purchase) => purchase,
        Err(err) => {
            let refusal = words::refusal(w.lang, err.code(), &err.to_string());
            return render_till(&req, staff, Some(refusal), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let reply = submit(|| operations::ledger::earn(club, scope.clone(), purchase.clone())).await;
    answered(&req, staff, reply).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RedeemForm {
    csrf: String,
    key: String,
    points: String,
    #[serde(default)]
    reference: String,
    /// Only hold the points (capture or void them later), for the programme's default time.
    hold: Option<String>,
}

/// Redeems the member's points at the till, in one step.
#[post("/pos/redeem")]
pub(crate) async fn redeem(
    req: HttpRequest,
    staff: Staff,
    form: Form<RedeemForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let till = till_of(&staff).await?;
    let card = card_on_till(&staff)?;
    let w = words::of(&req);
    let Some(points) = format::typed_points(&form.points) else {
        let refusal = w.points_invalid.to_owned();
        return render_till(&req, staff, Some(refusal), StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let reference = reference(&form.reference, &form.key);
    let what = Fingerprinted {
        action: "/pos/redeem",
        partner: till.partner.partner.id,
        branch: till.branch.id,
        card: Some(card.as_str()),
        fields: &[
            &form.points,
            &reference,
            if form.hold.is_some() { "hold" } else { "" },
        ],
    };
    let scope = scope_of(&till, &staff.member, &form.key, &what)?;
    let branch = till.branch.id.to_string();
    let hold = form.hold.is_some().then_some(None);
    let redemption = match Redemption::new(branch, card, points, reference, hold) {
        Ok(redemption) => redemption,
        Err(err) => {
            let refusal = words::refusal(w.lang, err.code(), &err.to_string());
            return render_till(&req, staff, Some(refusal), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let club = &staff.pages.club;
    let reply =
        submit(|| operations::ledger::redeem(club, scope.clone(), redemption.clone())).await;
    answered(&req, staff, reply).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReverseForm {
    csrf: String,
    key: String,
    transfer: TransferId,
}

/// Reverses an earn or a redemption made at one of the cashier's branches.
#[post("/pos/reverse")]
pub(crate) async fn reverse(
    req: HttpRequest,
    staff: Staff,
    form: Form<ReverseForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let till = till_of(&staff).await?;
    let partner_id = till.partner.partner.id;
    // Only what was made at one of this member of staff's branches.
    transaction_here(&staff, &till, form.transfer, Failure::Forbidden).await?;
    let transfer = form.transfer.to_string();
    let what = Fingerprinted {
        action: "/pos/reverse",
        partner: partner_id,
        branch: till.branch.id,
        card: None,
        fields: &[&transfer],
    };
    let scope = scope_of(&till, &staff.member, &form.key, &what)?;
    let reversal = Reversal::new(form.transfer, None, None)
        .map_err(|e| PageError::new(Failure::BadForm(e.to_string())))?;
    let club = &staff.pages.club;
    let reply = submit(|| operations::ledger::reverse(club, scope.clone(), reversal.clone())).await;
    answered(&req, staff, reply).await
}

fn at_branches(till: &Till, transfer: &Transfer) -> bool {
    till.branches
        .iter()
        .any(|b| Some(b.id) == transfer.branch_id)
}

/// The partner's transaction `id` and where it stands, when it was made at one of the till's
/// branches: not found when it is no transaction of the partner's, `elsewhere` when it is one
/// of another branch's.
async fn transaction_here(
    staff: &Staff,
    till: &Till,
    id: TransferId,
    elsewhere: Failure,
) -> Result<(Transfer, TransferState), PageError> {
    let partner_id = till.partner.partner.id;
    let found =
        operations::ledger::history::transaction(&staff.pages.club.storage, partner_id, id).await?;
    let Some((transfer, state)) = found else {
        return Err(PageError::new(Failure::NotFound));
    };
    if !at_branches(till, &transfer) {
        return Err(PageError::new(elsewhere));
    }
    Ok((transfer, state))
}

/// How a transaction reads on a receipt or the day's list.
struct Line {
    id: String,
    time: String,
    kind: &'static str,
    points: String,
    amount: String,
    card: String,
    cashier: String,
    state: &'static str,
    reversible: bool,
    /// A hold still open: it may be captured or voided.
    open_hold: bool,
}

fn kind_of(w: &Words, code: TransferCode) -> &'static str {
    match code {
        TransferCode::Earn => w.kind_earn,
        TransferCode::Redeem => w.kind_redeem,
        TransferCode::EarnReversal | TransferCode::RedeemReversal => w.kind_reversal,
        TransferCode::Bonus => w.kind_bonus,
        _ => w.kind_other,
    }
}

fn state_of(w: &Words, state: TransferState) -> &'static str {
    match state {
        TransferState::Posted => w.state_posted,
        TransferState::Pending => w.state_pending,
        TransferState::Voided => w.state_voided,
    }
}

/// Names of the members of staff who made these transfers.
async fn cashiers(
    staff: &Staff,
    transfers: &[&Transfer],
) -> Result<std::collections::HashMap<StaffId, String>, PageError> {
    let mut names = std::collections::HashMap::new();
    for id in transfers.iter().filter_map(|t| t.staff_id) {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
            let member = operations::staff::by_id(&staff.pages.club.storage, id).await?;
            slot.insert(member.map_or_else(String::new, |m| m.name));
        }
    }
    Ok(names)
}

fn line(
    lang: Lang,
    zone: chrono_tz::Tz,
    (transfer, state): (&Transfer, TransferState),
    names: &std::collections::HashMap<StaffId, String>,
) -> Line {
    let w = words::words(lang);
    Line {
        id: transfer.id.to_string(),
        time: format::date_time(lang, transfer.created_at, zone),
        kind: kind_of(w, transfer.code),
        points: format::points(lang, transfer.amount),
        amount: transfer
            .money()
            .map_or_else(String::new, |m| format::money(lang, m)),
        card: transfer
            .card_number
            .as_ref()
            .map_or_else(String::new, |c| format::masked_card(c.as_str())),
        cashier: transfer
            .staff_id
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_default(),
        state: state_of(w, state),
        reversible: matches!(transfer.code, TransferCode::Earn | TransferCode::Redeem)
            && transfer.phase == domain::ledger::Phase::Single
            && state == TransferState::Posted,
        open_hold: transfer.code == TransferCode::Redeem && state == TransferState::Pending,
    }
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    line: Line,
    replayed: bool,
    reverse_key: String,
    hold_key: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReceiptQuery {
    replayed: Option<u8>,
}

/// A transaction's receipt (one of the cashier's branches').
#[get("/pos/receipts/{id}")]
pub(crate) async fn receipt(
    req: HttpRequest,
    staff: Staff,
    id: Path<TransferId>,
    query: Query<ReceiptQuery>,
) -> Result<HttpResponse, PageError> {
    let till = till_of(&staff).await?;
    let (transfer, state) =
        transaction_here(&staff, &till, id.into_inner(), Failure::NotFound).await?;
    let lang = words::lang_of(&req);
    let names = cashiers(&staff, &[&transfer]).await?;
    let zone = staff.pages.club.program.time_zone;
    html(
        ReceiptPage {
            w: words::words(lang),
            csrf: &staff.session.state.csrf,
            staff_name: &staff.member.name,
            line: line(lang, zone, (&transfer, state), &names),
            replayed: query.replayed.is_some(),
            reverse_key: form_key(),
            hold_key: form_key(),
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "today.html")]
struct TodayPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    branch_name: &'a str,
    lines: Vec<Line>,
    earned: String,
    redeemed: String,
    purchases: String,
    discounts: String,
}

/// The most transactions the day's list shows.
const TODAY_LIMIT: i64 = 500;

/// Today's transactions at the till's branch (local day), newest first, with totals.
#[get("/pos/today")]
pub(crate) async fn today(req: HttpRequest, staff: Staff) -> Result<HttpResponse, PageError> {
    let till = till_of(&staff).await?;
    let program = &staff.pages.club.program;
    let zone = program.time_zone;
    let now = domain::time::now();
    let midnight = domain::program::tiers::local_day(now, zone)
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(zone).earliest())
        .map_or(now, |t| t.with_timezone(&chrono::Utc));
    let query = HistoryQuery {
        from: Some(midnight),
        to: None,
        codes: Vec::new(),
        before: None,
        limit: TODAY_LIMIT,
    };
    let page = operations::ledger::history::transactions(
        &staff.pages.club.storage,
        till.partner.partner.id,
        &query,
    )
    .await?;
    let at_branch: Vec<(&Transfer, TransferState)> = page
        .transactions
        .iter()
        .filter(|(t, _)| t.branch_id == Some(till.branch.id))
        .map(|(t, s)| (t, *s))
        .collect();
    // Listed: what was made, a hold or pending earn once (its state says how it ended); counted:
    // what moved points, a capture or release by what it posted (resolutions carry that).
    let here: Vec<(&Transfer, TransferState)> = at_branch
        .iter()
        .filter(|(t, _)| t.pending_id.is_none())
        .copied()
        .collect();
    let moved = at_branch.iter().filter(|(t, _)| {
        matches!(
            t.phase,
            domain::ledger::Phase::Single | domain::ledger::Phase::Post
        )
    });
    let lang = words::lang_of(&req);
    let transfers: Vec<&Transfer> = here.iter().map(|(t, _)| *t).collect();
    let names = cashiers(&staff, &transfers).await?;
    let (mut earned, mut redeemed) = (Points(0), Points(0));
    let (mut purchases, mut discounts) = (0_i64, 0_i64);
    let mut currency = None;
    for (t, _) in moved {
        let money = t.money_minor.unwrap_or(0);
        currency = currency.or(t.currency);
        match t.code {
            TransferCode::Earn => {
                earned += t.amount;
                purchases = purchases.saturating_add(money);
            }
            TransferCode::Redeem => {
                redeemed += t.amount;
                discounts = discounts.saturating_add(money);
            }
            TransferCode::EarnReversal => {
                earned -= t.amount;
                purchases = purchases.saturating_sub(money);
            }
            TransferCode::RedeemReversal => {
                redeemed -= t.amount;
                discounts = discounts.saturating_sub(money);
            }
            _ => {}
        }
    }
    let money =
        |minor| currency.map_or_else(String::new, |c| format::money(lang, Money::new(minor, c)));
    html(
        TodayPage {
            w: words::words(lang),
            csrf: &staff.session.state.csrf,
            staff_name: &staff.member.name,
            branch_name: &till.branch.name,
            lines: here
                .into_iter()
                .map(|t| line(lang, zone, t, &names))
                .collect(),
            earned: format::points(lang, earned),
            redeemed: format::points(lang, redeemed),
            purchases: money(purchases),
            discounts: money(discounts),
        }
        .render(),
    )
}

/// What an enrolment form says, as typed (kept to show the form again after a refusal).
#[derive(Debug, Default)]
struct Typed {
    name: String,
    phone: String,
    email: String,
    birth_date: String,
    city: String,
    invite_code: String,
    consent: bool,
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    branch_name: &'a str,
    key: String,
    typed: Typed,
    refusal: String,
}

async fn render_enrol(
    req: &HttpRequest,
    staff: &Staff,
    typed: Typed,
    refusal: String,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let till = till_of(staff).await?;
    let body = EnrolPage {
        w: words::of(req),
        csrf: &staff.session.state.csrf,
        staff_name: &staff.member.name,
        branch_name: &till.branch.name,
        key: form_key(),
        typed,
        refusal,
    }
    .render()?;
    Ok(page(status, body))
}

/// The enrolment form.
#[get("/pos/enrol")]
pub(crate) async fn enrol_form(req: HttpRequest, staff: Staff) -> Result<HttpResponse, PageError> {
    render_enrol(
        &req,
        &staff,
        Typed::default(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, MultipartForm)]
pub(crate) struct EnrolForm {
    csrf: Text<String>,
    key: Text<String>,
    name: Text<String>,
    phone: Text<String>,
    email: Option<Text<String>>,
    birth_date: Option<Text<String>>,
    city: Option<Text<String>>,
    invite_code: Option<Text<String>>,
    consent: Option<Text<String>>,
    #[multipart(limit = "6MB")]
    photo: Option<MultipartBytes>,
}

/// Enrols a new member at the till's branch (with their photo and their answer about messages),
/// and puts their new card on the till.
#[post("/pos/enrol")]
pub(crate) async fn enrol(
    req: HttpRequest,
    mut staff: Staff,
    MultipartForm(form): MultipartForm<EnrolForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let till = till_of(&staff).await?;
    let lang = words::lang_of(&req);
    let text = |field: &Option<Text<String>>| {
        field
            .as_ref()
            .map(|t| t.trim().to_owned())
            .unwrap_or_default()
    };
    let typed = Typed {
        name: form.name.trim().to_owned(),
        phone: form.phone.trim().to_owned(),
        email: text(&form.email),
        birth_date: text(&form.birth_date),
        city: text(&form.city),
        invite_code: text(&form.invite_code),
        consent: form.consent.is_some(),
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let photo = form
        .photo
        .as_ref()
        .map(|p| p.data.clone())
        .filter(|p| !p.is_empty());
    // The photo is checked before anything is written, so a refused photo enrols no one.
    if let Some(photo) = &photo
        && let Err(err) = domain::member_data::check_photo(photo)
    {
        let refusal = words::refusal(lang, err.code(), &err.to_string());
        return render_enrol(&req, &staff, typed, refusal, unprocessable).await;
    }
    let Ok(birth_date) = format::typed_date(&typed.birth_date) else {
        let refusal = words::birth_date_invalid(lang);
        return render_enrol(&req, &staff, typed, refusal, unprocessable).await;
    };
    let optional = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let personal = match PersonalData::parse(
        &typed.name,
        &typed.phone,
        optional(&typed.email).as_deref(),
        birth_date,
        optional(&typed.city).as_deref(),
        chrono::Utc::now().date_naive(),
    ) {
        Ok(personal) => personal,
        Err(err) => {
            let err = EnrolmentError::from(err);
            let refusal = words::refusal(lang, err.code(), &err.to_string());
            return render_enrol(&req, &staff, typed, refusal, unprocessable).await;
        }
    };
    let photo_hash = photo.as_ref().map(|p| {
        use sha2::Digest as _;
        format!("{:x}", sha2::Sha256::digest(p))
    });
    let consent = if typed.consent { "yes" } else { "no" };
    let what = Fingerprinted {
        action: "/pos/enrol",
        partner: till.partner.partner.id,
        branch: till.branch.id,
        card: None,
        fields: &[
            &typed.name,
            &typed.phone,
            &typed.email,
            &typed.birth_date,
            &typed.city,
            &typed.invite_code,
            consent,
            photo_hash.as_deref().unwrap_or_default(),
        ],
    };
    let scope = scope_of(&till, &staff.member, &form.key, &what)?;
    let new = NewMember {
        branch: till.branch.id.to_string(),
        personal,
        card: None,
        invite_code: optional(&typed.invite_code),
        consents_to_messages: typed.consent,
    };
    let club = &staff.pages.club;
    let answered = submit(|| operations::members::enroll(club, &scope, new.clone())).await?;
    let enrollment = match answered.answer {
        Answer::Done(enrollment) => enrollment,
        Answer::Refused(err) => {
            let refusal = words::refusal(lang, err.code(), &err.to_string());
            return render_enrol(&req, &staff, typed, refusal, unprocessable).await;
        }
        Answer::Recorded { .. } => {
            return Err(PageError::new(Failure::BadForm(
                "this form's key was used by the partner's own system".into(),
            )));
        }
    };
    // Written after the enrolment; a resent form (the same key) replays the enrolment and keeps
    // the photo again, so a failure here is mended by sending the form again.
    if let Some(photo) = &photo {
        operations::members::set_photo(club, enrollment.member_id, photo, domain::time::now())
            .await?;
    }
    staff.session.state.card = Some(enrollment.card.to_string());
    staff.session.state.enrolled = Some(Enrolled {
        card: enrollment.card.to_string(),
        invite_code: enrollment.invite_code.clone(),
        bonus_points: enrollment.bonus_points,
    });
    staff.session.save(&staff.pages).await?;
    Ok(back_to_till())
}

/// The photo of the member whose card is on the till (never addressed by a member's id or card
/// in the URL).
#[get("/pos/photo")]
pub(crate) async fn show_photo(staff: Staff) -> Result<HttpResponse, PageError> {
    let till = till_of(&staff).await?;
    let number = staff
        .session
        .state
        .card
        .clone()
        .ok_or_else(|| PageError::new(Failure::NotFound))?;
    let check = check(&staff, &till, &number)
        .await?
        .map_err(|_| PageError::new(Failure::NotFound))?;
    crate::member::photo_of(&staff.pages.club, check.member_id).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct QuoteForm {
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    points: String,
}

/// What a purchase would earn the member on the till (their tier and today's campaigns
/// included), or what points would take off the bill; posts nothing.
#[post("/pos/quote")]
pub(crate) async fn quote_purchase(
    req: HttpRequest,
    staff: Staff,
    form: Form<QuoteForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let till = till_of(&staff).await?;
    let card = card_on_till(&staff)?;
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    let club = &staff.pages.club;
    let (partner_id, branch) = (till.partner.partner.id, till.branch.id.to_string());
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let refused = |err: LedgerError| words::refusal(lang, err.code(), &err.to_string());
    let now = domain::time::now();
    let quoted = if !form.amount.trim().is_empty() {
        let currency = match operations::pricing::branch_rule(club, partner_id, &branch).await {
            Ok(Some(rule)) => rule.currency,
            Ok(None) | Err(OperationError::Refused(_)) => {
                let refusal = refused(PricingError::RuleMissing.into());
                return render_till(&req, staff, Some(refusal), StatusCode::CONFLICT).await;
            }
            Err(OperationError::Storage(err)) => return Err(err.into()),
        };
        let Some(amount_minor) = format::typed_amount(&form.amount, currency) else {
            return render_till(
                &req,
                staff,
                Some(w.amount_invalid.to_owned()),
                unprocessable,
            )
            .await;
        };
        operations::pricing::quote_for_member(
            club,
            partner_id,
            &branch,
            (amount_minor, &[]),
            &card,
            now,
        )
        .await
        .map(|q| {
            let bonus: i64 = q.campaigns.iter().map(|(_, p)| p).sum();
            let money = format::money(lang, Money::new(amount_minor, currency));
            format!(
                "{money} → {} (+ {} {})",
                format::points(lang, q.earn_points),
                format::number(lang, bonus),
                w.bonus
            )
        })
    } else {
        let Some(points) = format::typed_points(&form.points) else {
            return render_till(
                &req,
                staff,
                Some(w.points_invalid.to_owned()),
                unprocessable,
            )
            .await;
        };
        operations::pricing::quote(club, partner_id, &branch, (None, &[]), Some(points), now)
            .await
            .map(|q| {
                let discount = q
                    .discount
                    .map_or_else(String::new, |m| format::money(lang, m));
                format!(
                    "{} → {} {discount}",
                    format::points(lang, points),
                    w.discount
                )
            })
    };
    match quoted {
        Ok(quote) => render_till_quoting(&req, staff, None, quote, StatusCode::OK).await,
        Err(OperationError::Refused(err)) => {
            render_till(&req, staff, Some(refused(err)), unprocessable).await
        }
        Err(OperationError::Storage(err)) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct HoldForm {
    csrf: String,
    key: String,
    transfer: TransferId,
    action: String,
    /// Points to capture (all the hold's when empty).
    #[serde(default)]
    points: String,
}

/// Captures a hold (all of it, or fewer points) or voids it: a hold made at one of the
/// cashier's branches.
#[post("/pos/hold")]
pub(crate) async fn settle_hold(
    req: HttpRequest,
    staff: Staff,
    form: Form<HoldForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let till = till_of(&staff).await?;
    let partner_id = till.partner.partner.id;
    transaction_here(&staff, &till, form.transfer, Failure::Forbidden).await?;
    let points = match form.points.trim() {
        "" => None,
        typed => Some(format::typed_points(typed).ok_or_else(|| {
            PageError::new(Failure::BadForm(words::of(&req).points_invalid.to_owned()))
        })?),
    };
    let transfer = form.transfer.to_string();
    let points_field = points.map(|p| p.get().to_string()).unwrap_or_default();
    let what = Fingerprinted {
        action: "/pos/hold",
        partner: partner_id,
        branch: till.branch.id,
        card: None,
        fields: &[&transfer, &form.action, &points_field],
    };
    let scope = scope_of(&till, &staff.member, &form.key, &what)?;
    let club = &staff.pages.club;
    let reply = match form.action.as_str() {
        "capture" => {
            submit(|| operations::ledger::capture(club, scope.clone(), form.transfer, points)).await
        }
        "void" => submit(|| operations::ledger::void(club, scope.clone(), form.transfer)).await,
        other => {
            return Err(PageError::new(Failure::BadForm(format!(
                "action {other:?}: capture or void"
            ))));
        }
    };
    answered(&req, staff, reply).await
}
