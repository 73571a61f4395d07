//! The operator's pages: the dashboard with the plots that show whether the club works, member
//! search (by card or phone, through the keyed lookup) with card block, unblock and replacement,
//! and the audit log. Which operator role sees what is checked here on every request.

use actix_web::http::StatusCode;
use actix_web::web::Form;
use actix_web::{HttpRequest, HttpResponse, get, post};
use askama::Template;
use domain::cards::{CardError, CardNumber};
use domain::staff::{StaffRole, StaffScope};
use operations::error::OperationError;
use operations::staff::Actor;
use serde::Deserialize;

use crate::charts;
use crate::error::{Failure, PageError, html, page};
use crate::format;
use crate::session::Staff;
use crate::words::{self, Lang, Words};

/// An operator role among `allowed`, or a refusal.
fn operator_role(staff: &Staff, allowed: &[StaffRole]) -> Result<StaffRole, PageError> {
    match (&staff.member.scope, staff.member.role) {
        (StaffScope::Operator, role) if allowed.contains(&role) => Ok(role),
        _ => Err(PageError::new(Failure::Forbidden)),
    }
}

const EVERY_OPERATOR_ROLE: &[StaffRole] = &[
    StaffRole::OperatorAdmin,
    StaffRole::OperatorFinance,
    StaffRole::OperatorMarketing,
    StaffRole::OperatorSupport,
];
const SUPPORT: &[StaffRole] = &[StaffRole::OperatorAdmin, StaffRole::OperatorSupport];
const ADMIN: &[StaffRole] = &[StaffRole::OperatorAdmin];

/// The days the dashboard plots.
const DASHBOARD_DAYS: u32 = 30;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    can_support: bool,
    is_admin: bool,
    active_today: String,
    outstanding: String,
    earned: String,
    redeemed: String,
    breakage: String,
    active_chart: String,
    flows_chart: String,
    liability_chart: String,
    partners_chart: String,
}

fn sum(values: impl Iterator<Item = i64>) -> i64 {
    values.fold(0_i64, i64::saturating_add)
}

/// The dashboard: the last 30 days in plots.
#[get("/operator")]
pub(crate) async fn dashboard(req: HttpRequest, staff: Staff) -> Result<HttpResponse, PageError> {
    let role = operator_role(&staff, EVERY_OPERATOR_ROLE)?;
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    let club = &staff.pages.club;
    let figures =
        operations::analytics::dashboard(club, DASHBOARD_DAYS, domain::time::now()).await?;
    let days: Vec<String> = figures
        .days
        .iter()
        .map(|d| format::date(lang, d.day))
        .collect();
    let series =
        |f: fn(&operations::analytics::Day) -> i128| figures.days.iter().map(f).collect::<Vec<_>>();
    let number = |n: i128| format::number(lang, i64::try_from(n).unwrap_or(i64::MAX));
    html(
        DashboardPage {
            w,
            csrf: &staff.session.state.csrf,
            staff_name: &staff.member.name,
            can_support: SUPPORT.contains(&role),
            is_admin: ADMIN.contains(&role),
            active_today: number(figures.days.last().map_or(0, |d| d.active_members.into())),
            outstanding: number(figures.outstanding_now),
            earned: number(sum(figures.days.iter().map(|d| d.earned)).into()),
            redeemed: number(sum(figures.days.iter().map(|d| d.redeemed)).into()),
            breakage: number(sum(figures.days.iter().map(|d| d.expired)).into()),
            active_chart: charts::lines(
                lang,
                w.active_members,
                &days,
                &[(w.active_members, series(|d| d.active_members.into()))],
            ),
            flows_chart: charts::lines(
                lang,
                w.points_per_day,
                &days,
                &[
                    (w.kind_earn, series(|d| d.earned.into())),
                    (w.kind_redeem, series(|d| d.redeemed.into())),
                    (w.kind_bonus, series(|d| d.bonus.into())),
                    (w.kind_expiry, series(|d| d.expired.into())),
                ],
            ),
            liability_chart: charts::lines(
                lang,
                w.outstanding_points,
                &days,
                &[(w.outstanding_points, series(|d| d.outstanding))],
            ),
            partners_chart: charts::bars(
                lang,
                w.per_partner,
                &figures
                    .partners
                    .iter()
                    .map(|p| (p.partner.clone(), vec![p.issued.into(), p.redeemed.into()]))
                    .collect::<Vec<_>>(),
            ),
        }
        .render(),
    )
}

/// A member found, as support staff see them.
struct Found {
    first_name: String,
    status: String,
    /// When they asked to close their account, if they did.
    close_requested: String,
    enrolled: String,
    balance: String,
    /// (number, masked, status, can block, can unblock, can replace)
    cards: Vec<(String, String, String, bool, bool, bool)>,
}

#[derive(Template)]
#[template(path = "members_search.html")]
struct SearchPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    can_support: bool,
    is_admin: bool,
    searched: bool,
    found: Option<Found>,
    notice: String,
    refusal: String,
}

async fn render_search(
    req: &HttpRequest,
    staff: &Staff,
    query: Option<&str>,
    (notice, refusal): (String, String),
) -> Result<HttpResponse, PageError> {
    let role = operator_role(staff, SUPPORT)?;
    let lang = words::lang_of(req);
    let w = words::words(lang);
    let club = &staff.pages.club;
    let zone = club.program.time_zone;
    let view = match query {
        Some(query) => {
            operations::members::find_for_support(club, query, domain::time::now()).await?
        }
        None => None,
    };
    let close_requested = match &view {
        Some(view) => operations::portal::close_requested(club, view.member_id)
            .await?
            .map_or_else(String::new, |at| format::date_time(lang, at, zone)),
        None => String::new(),
    };
    let found = view.map(|view| Found {
        close_requested,
        first_name: view.first_name,
        status: view.status.as_str().to_owned(),
        enrolled: format::date_time(lang, view.enrolled_at, zone),
        balance: view
            .balance
            .map_or_else(String::new, |b| format::points(lang, b.available)),
        cards: view
            .cards
            .iter()
            .map(|c| {
                let status = c.status.as_str();
                (
                    c.number.as_str().to_owned(),
                    format::masked_card(c.number.as_str()),
                    status.to_owned(),
                    status == "active",
                    status == "blocked",
                    status == "active" || status == "blocked",
                )
            })
            .collect(),
    });
    let body = SearchPage {
        w,
        csrf: &staff.session.state.csrf,
        staff_name: &staff.member.name,
        can_support: true,
        is_admin: ADMIN.contains(&role),
        searched: query.is_some(),
        found,
        notice,
        refusal,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

/// The member search form.
#[get("/operator/members")]
pub(crate) async fn members(req: HttpRequest, staff: Staff) -> Result<HttpResponse, PageError> {
    render_search(&req, &staff, None, (String::new(), String::new())).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchForm {
    csrf: String,
    query: String,
}

/// Finds a member by card or phone (a POST: neither goes into a URL).
#[post("/operator/members")]
pub(crate) async fn search(
    req: HttpRequest,
    staff: Staff,
    form: Form<SearchForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    let query = format::typed_phone(&form.query);
    render_search(&req, &staff, Some(&query), (String::new(), String::new())).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CardForm {
    csrf: String,
    card: String,
    action: String,
}

fn refusal(lang: Lang, err: &CardError) -> String {
    words::refusal(lang, err.code(), &err.to_string())
}

/// Blocks, unblocks or replaces (as lost) a card; written to the audit log with who and from
/// where.
#[post("/operator/cards")]
pub(crate) async fn card_action(
    req: HttpRequest,
    staff: Staff,
    form: Form<CardForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    operator_role(&staff, SUPPORT)?;
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    let card = CardNumber::parse(&form.card)
        .map_err(|e| PageError::new(Failure::BadForm(e.to_string())))?;
    let from = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let actor = Some(Actor {
        name: &staff.member.login,
        from: &from,
    });
    let club = &staff.pages.club;
    let done = match form.action.as_str() {
        "block" => operations::members::block_card(&club.storage, &card, actor)
            .await
            .map(|()| w.card_blocked.to_owned()),
        "unblock" => operations::members::unblock_card(&club.storage, &card, actor)
            .await
            .map(|()| w.card_unblocked.to_owned()),
        "replace" => {
            operations::members::replace_lost_card(&club.storage, &club.program, &card, actor)
                .await
                .map(|replacement| format!("{} {replacement}", w.card_replaced))
        }
        other => {
            return Err(PageError::new(Failure::BadForm(format!(
                "action {other:?}: block, unblock or replace"
            ))));
        }
    };
    let (notice, refused) = match done {
        Ok(notice) => (notice, String::new()),
        Err(OperationError::Refused(err)) => (String::new(), refusal(lang, &err)),
        Err(OperationError::Storage(err)) => return Err(err.into()),
    };
    render_search(&req, &staff, Some(card.as_str()), (notice, refused)).await
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    can_support: bool,
    is_admin: bool,
    /// (when, who, from where, what, subject, detail)
    entries: Vec<(String, String, String, String, String, String)>,
}

/// The latest entries of the audit log (the operator's admins).
#[get("/operator/audit")]
pub(crate) async fn audit(req: HttpRequest, staff: Staff) -> Result<HttpResponse, PageError> {
    operator_role(&staff, ADMIN)?;
    let lang = words::lang_of(&req);
    let zone = staff.pages.club.program.time_zone;
    let entries = operations::staff::audit_log(&staff.pages.club.storage, 200)
        .await?
        .into_iter()
        .map(|e| {
            (
                format::date_time(lang, e.at, zone),
                e.actor,
                e.from_where,
                e.action,
                e.subject,
                e.detail.to_string(),
            )
        })
        .collect();
    html(
        AuditPage {
            w: words::words(lang),
            csrf: &staff.session.state.csrf,
            staff_name: &staff.member.name,
            can_support: true,
            is_admin: true,
            entries,
        }
        .render(),
    )
}

/// A partner as the operator's admin sees it.
struct PartnerView {
    code: String,
    name: String,
    kind: String,
    status: String,
    branches: Vec<String>,
    /// (kid, status)
    keys: Vec<(String, String)>,
    terms: String,
}

#[derive(Template)]
#[template(path = "club.html")]
struct ClubPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    can_support: bool,
    is_admin: bool,
    partners: Vec<PartnerView>,
    /// (kind, code, version, in force from, definition)
    rules: Vec<(String, String, i32, String, String)>,
    /// (login, name, role, scope, status)
    staff: Vec<(String, String, String, String, String)>,
}

/// The club as it is configured: partners with their branches, keys and settlement terms, the
/// programme's rules, the staff (read-only: changes go through the signed operator API or
/// `clubgate`, which write the audit log).
#[get("/operator/club")]
pub(crate) async fn settings(req: HttpRequest, staff: Staff) -> Result<HttpResponse, PageError> {
    operator_role(&staff, ADMIN)?;
    let lang = words::lang_of(&req);
    let storage = &staff.pages.club.storage;
    let zone = staff.pages.club.program.time_zone;
    let mut partners = Vec::new();
    let mut codes = std::collections::HashMap::new();
    for partner in operations::partners::list(storage).await? {
        let code = partner.code.to_string();
        codes.insert(partner.id, code.clone());
        let profile = operations::partners::show(storage, &code).await?;
        let keys = operations::keys::list(storage, &code)
            .await?
            .into_iter()
            .map(|k| (k.kid, k.status.as_str().to_owned()))
            .collect();
        let terms = operations::settlement::terms::list(storage, &code)
            .await
            .map_err(|e| match e {
                OperationError::Storage(err) => PageError::from(err),
                OperationError::Refused(err) => PageError::internal(err),
            })?
            .last()
            .map_or_else(String::new, |t| {
                format!(
                    "v{} · {} · {} / {} · {}",
                    t.version,
                    t.currency,
                    t.price_per_point,
                    t.reimbursement_per_point,
                    t.period.as_str()
                )
            });
        partners.push(PartnerView {
            name: partner.name.clone(),
            kind: partner.kind.as_str().to_owned(),
            status: partner.status.as_str().to_owned(),
            branches: profile
                .branches
                .iter()
                .map(|b| format!("{} ({})", b.name, b.code.as_str()))
                .collect(),
            keys,
            terms,
            code,
        });
    }
    let rules = operations::program::list(storage, None)
        .await
        .map_err(|e| match e {
            OperationError::Storage(err) => PageError::from(err),
            OperationError::Refused(err) => PageError::internal(err),
        })?
        .into_iter()
        .map(|r| {
            (
                r.kind.as_str().to_owned(),
                r.code.to_string(),
                r.version,
                format::date_time(lang, r.effective_from, zone),
                r.definition
                    .map_or_else(|| "retired".to_owned(), |d| d.to_json().to_string()),
            )
        })
        .collect();
    let staff_list = operations::staff::list(storage)
        .await?
        .into_iter()
        .map(|m| {
            let scope = match &m.scope {
                StaffScope::Operator => "operator".to_owned(),
                StaffScope::Partner(p) => codes.get(p).cloned().unwrap_or_default(),
                StaffScope::Branches(p, branches) => format!(
                    "{} ({} branches)",
                    codes.get(p).cloned().unwrap_or_default(),
                    branches.len()
                ),
            };
            (
                m.login,
                m.name,
                m.role.as_str().to_owned(),
                scope,
                m.status.to_string(),
            )
        })
        .collect();
    html(
        ClubPage {
            w: words::words(lang),
            csrf: &staff.session.state.csrf,
            staff_name: &staff.member.name,
            can_support: true,
            is_admin: true,
            partners,
            rules,
            staff: staff_list,
        }
        .render(),
    )
}
