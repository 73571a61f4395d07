//! The finance pages: a partner's finance staff see their statements, acknowledge one or
//! dispute its lines; the operator's finance staff see every partner's, the position across
//! partners, and reconcile a partner's own file against the ledger. Lists and reports export as
//! CSV. Each desk sees only what its role and partner allow, checked here on every request.

use std::io::Cursor;

use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as MultipartBytes;
use actix_multipart::form::text::Text;
use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use domain::ids::{PartnerId, StatementId, TransferId};
use domain::points::{Currency, Money};
use domain::settlement::SettlementError;
use domain::staff::{StaffRole, StaffScope};
use operations::error::OperationError;
use operations::idempotency::{Answer, IdempotencyKey, Scope};
use operations::settlement::answers::PartnerAnswer;
use operations::settlement::statements::{self, StatementRecord};
use serde::Deserialize;
use storage::settlement::StatementFilter;

use crate::charts;
use crate::error::{Failure, PageError, html, page};
use crate::format;
use crate::session::Staff;
use crate::words::{self, Lang, Words};

/// Whose books a member of staff keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Desk {
    /// A partner's finance (or its admin): its own statements.
    Partner(PartnerId),
    /// The operator's finance (or its admin): every partner's, the position, reconciliations.
    Operator,
}

fn desk_of(staff: &Staff) -> Result<Desk, PageError> {
    match (staff.member.role, &staff.member.scope) {
        (StaffRole::PartnerFinance | StaffRole::PartnerAdmin, StaffScope::Partner(p)) => {
            Ok(Desk::Partner(*p))
        }
        (StaffRole::OperatorFinance | StaffRole::OperatorAdmin, StaffScope::Operator) => {
            Ok(Desk::Operator)
        }
        _ => Err(PageError::new(Failure::Forbidden)),
    }
}

fn operator_only(staff: &Staff) -> Result<(), PageError> {
    match desk_of(staff)? {
        Desk::Operator => Ok(()),
        Desk::Partner(_) => Err(PageError::new(Failure::Forbidden)),
    }
}

fn settlement_refused(err: OperationError<SettlementError>) -> PageError {
    match err {
        OperationError::Refused(SettlementError::StatementNotFound(_)) => {
            PageError::new(Failure::NotFound)
        }
        other => other.into(),
    }
}

/// Money in a statement's currency, as people read it.
fn money(lang: Lang, minor: i128, currency: &str) -> String {
    match (i64::try_from(minor), Currency::parse(currency)) {
        (Ok(minor), Ok(currency)) => format::money(lang, Money::new(minor, currency)),
        _ => format!("{minor} {currency}"),
    }
}

fn status_word(w: &Words, status: &str) -> &'static str {
    match status {
        "issued" => w.status_issued,
        "acknowledged" => w.status_acknowledged,
        "disputed" => w.status_disputed,
        "resolved" => w.status_resolved,
        _ => w.kind_other,
    }
}

fn direction_word(w: &Words, direction: &str) -> &'static str {
    match direction {
        "partner_pays" => w.partner_pays,
        "operator_pays" => w.operator_pays,
        _ => w.settled,
    }
}

/// A statement as a row of the list.
struct Row {
    id: String,
    partner: String,
    sequence: i32,
    period: String,
    net: String,
    direction: &'static str,
    status: &'static str,
    status_code: &'static str,
}

fn period(lang: Lang, zone: chrono_tz::Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "{} – {}",
        format::date_time(lang, start, zone),
        format::date_time(lang, end, zone)
    )
}

fn row_of(lang: Lang, zone: chrono_tz::Tz, record: &StatementRecord) -> Result<Row, PageError> {
    let w = words::words(lang);
    let statement = record.statement().map_err(PageError::internal)?;
    let status = record.status().as_str();
    Ok(Row {
        id: record.issued.id.to_string(),
        partner: record.partner_code.clone(),
        sequence: record.issued.sequence,
        period: period(
            lang,
            zone,
            record.issued.period_start,
            record.issued.period_end,
        ),
        net: money(
            lang,
            i128::from(statement.net_minor.abs()),
            &statement.currency,
        ),
        direction: direction_word(w, &statement.net_direction),
        status: status_word(w, status),
        status_code: status,
    })
}

async fn records(staff: &Staff, desk: Desk) -> Result<Vec<StatementRecord>, PageError> {
    let filter = StatementFilter {
        partner_id: match desk {
            Desk::Partner(p) => Some(p),
            Desk::Operator => None,
        },
        limit: 1000,
        ..StatementFilter::default()
    };
    statements::list(&staff.pages.club.storage, &filter)
        .await
        .map_err(settlement_refused)
}

#[derive(Template)]
#[template(path = "finance.html")]
struct ListPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    is_operator: bool,
    rows: Vec<Row>,
    /// A partner's points issued and redeemed per period (its last 12 statements).
    chart: String,
}

/// The most periods the partner's chart shows.
const CHART_PERIODS: usize = 12;

/// Points issued (earned and bonuses funded) and redeemed per statement, as bars.
fn periods_chart(lang: Lang, w: &Words, records: &[StatementRecord]) -> Result<String, PageError> {
    let mut groups = Vec::new();
    for record in records.iter().rev().take(CHART_PERIODS).rev() {
        let statement = record.statement().map_err(PageError::internal)?;
        // Lines' points are signed as the partner's books read them: reversals count against.
        let points = |types: &[&str]| -> i128 {
            statement
                .totals
                .iter()
                .filter(|t| types.contains(&t.line_type.as_str()))
                .map(|t| i128::from(t.points).abs())
                .sum()
        };
        let issued = points(&["earn", "bonus"]) - points(&["earn_reversal"]);
        let redeemed = points(&["redemption"]) - points(&["redemption_reversal"]);
        let day = record.issued.period_start.date_naive();
        groups.push((format::date(lang, day), vec![issued, redeemed]));
    }
    Ok(charts::bars(lang, w.points_per_period, &groups))
}

/// The statements the desk may see, newest first.
#[get("/finance")]
pub(crate) async fn list(req: HttpRequest, staff: Staff) -> Result<HttpResponse, PageError> {
    let desk = desk_of(&staff)?;
    let lang = words::lang_of(&req);
    let zone = staff.pages.club.program.time_zone;
    let mut records = records(&staff, desk).await?;
    records.sort_by_key(|r| (r.issued.period_end, r.issued.sequence));
    let mut rows = records
        .iter()
        .map(|r| row_of(lang, zone, r))
        .collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    let chart = match desk {
        Desk::Partner(_) if !records.is_empty() => {
            periods_chart(lang, words::words(lang), &records)?
        }
        _ => String::new(),
    };
    html(
        ListPage {
            w: words::words(lang),
            csrf: &staff.session.state.csrf,
            staff_name: &staff.member.name,
            is_operator: desk == Desk::Operator,
            rows,
            chart,
        }
        .render(),
    )
}

/// A CSV file to download as `name`.csv.
fn csv_attachment(name: &str, file: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(file)
}

/// The same list as CSV, as the operator API exports it (exact minor units, machine dates).
#[get("/finance/statements.csv")]
pub(crate) async fn list_csv(staff: Staff) -> Result<HttpResponse, PageError> {
    let desk = desk_of(&staff)?;
    let file =
        statements::statements_csv(&records(&staff, desk).await?).map_err(PageError::internal)?;
    Ok(csv_attachment("statements", file))
}

/// One line of a statement, as the page shows it.
struct LineRow {
    id: String,
    time: String,
    kind: String,
    card: String,
    branch: String,
    reference: String,
    points: String,
    money: String,
}

#[derive(Template)]
#[template(path = "statement.html")]
struct StatementPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    row: Row,
    sha256: String,
    opening: String,
    /// (type, count, points, money)
    totals: Vec<(String, String, String, String)>,
    issuance: String,
    redemption: String,
    adjustments: String,
    closing: String,
    /// (kind, by, when, reason, lines disputed)
    answers: Vec<(String, String, String, String, usize)>,
    lines: Vec<LineRow>,
    lines_shown_of: String,
    can_answer: bool,
    key: String,
    refusal: String,
}

/// The most lines a statement's page lists (the CSV has them all).
const LINES_SHOWN: usize = 500;

async fn statement_of(
    staff: &Staff,
    id: StatementId,
) -> Result<(Desk, StatementRecord), PageError> {
    let desk = desk_of(staff)?;
    let partner = match desk {
        Desk::Partner(p) => Some(p),
        Desk::Operator => None,
    };
    let record = statements::get(&staff.pages.club.storage, partner, id)
        .await
        .map_err(settlement_refused)?;
    Ok((desk, record))
}

async fn render_statement(
    req: &HttpRequest,
    staff: &Staff,
    id: StatementId,
    refusal: String,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let (desk, record) = statement_of(staff, id).await?;
    let lang = words::lang_of(req);
    let w = words::words(lang);
    let zone = staff.pages.club.program.time_zone;
    let statement = record.statement().map_err(PageError::internal)?;
    let currency = statement.currency.clone();
    let file = statements::lines_file(&staff.pages.club.storage, &record)
        .await
        .map_err(settlement_refused)?;
    let mut reader = csv::Reader::from_reader(file.as_slice());
    let mut lines = Vec::new();
    let mut total_lines = 0_usize;
    for line in reader.records() {
        let line = line.map_err(PageError::internal)?;
        total_lines += 1;
        if lines.len() >= LINES_SHOWN {
            continue;
        }
        let field = |i: usize| line.get(i).unwrap_or_default().to_owned();
        let at = DateTime::parse_from_rfc3339(&field(1))
            .map(|t| format::date_time(lang, t.with_timezone(&Utc), zone))
            .unwrap_or_else(|_| field(1));
        lines.push(LineRow {
            id: field(0),
            time: at,
            kind: field(2),
            card: field(3),
            branch: field(4),
            reference: field(5),
            points: field(6)
                .parse()
                .map_or_else(|_| field(6), |p| format::number(lang, p)),
            money: field(7)
                .parse::<i128>()
                .map_or_else(|_| field(7), |m| money(lang, m, &currency)),
        });
    }
    let answers = record
        .answers
        .iter()
        .map(|a| {
            (
                status_word(
                    w,
                    match a.kind.as_str() {
                        "acknowledgement" => "acknowledged",
                        "dispute" => "disputed",
                        _ => "resolved",
                    },
                )
                .to_owned(),
                a.key_id.clone(),
                format::date_time(lang, a.created_at, zone),
                a.reason.clone().unwrap_or_default(),
                a.disputed_lines.len(),
            )
        })
        .collect();
    let totals = statement
        .totals
        .iter()
        .map(|t| {
            (
                t.line_type.clone(),
                format::number(lang, t.count),
                format::number(lang, t.points),
                money(lang, i128::from(t.money_minor), &currency),
            )
        })
        .collect();
    let body = StatementPage {
        w,
        csrf: &staff.session.state.csrf,
        staff_name: &staff.member.name,
        row: row_of(lang, zone, &record)?,
        sha256: partners::settlement::hex(&record.issued.payload_sha256),
        opening: money(lang, statement.opening_position_minor.into(), &currency),
        totals,
        issuance: money(lang, statement.issuance_charge_minor.into(), &currency),
        redemption: money(lang, statement.redemption_credit_minor.into(), &currency),
        adjustments: money(lang, statement.adjustments_minor.into(), &currency),
        closing: money(lang, statement.closing_position_minor.into(), &currency),
        answers,
        lines,
        lines_shown_of: format!(
            "{} / {}",
            format::number(
                lang,
                i64::try_from(LINES_SHOWN.min(total_lines)).unwrap_or(0)
            ),
            format::number(lang, i64::try_from(total_lines).unwrap_or(0))
        ),
        can_answer: matches!(desk, Desk::Partner(_)) && record.answers.is_empty(),
        key: format!("page-{}", uuid::Uuid::new_v4().simple()),
        refusal,
    }
    .render()?;
    Ok(page(status, body))
}

/// A statement: its sums, its lines, its answers; the partner answers it here.
#[get("/finance/statements/{id}")]
pub(crate) async fn show(
    req: HttpRequest,
    staff: Staff,
    id: Path<StatementId>,
) -> Result<HttpResponse, PageError> {
    render_statement(&req, &staff, id.into_inner(), String::new(), StatusCode::OK).await
}

/// A statement's lines file.
#[get("/finance/statements/{id}/lines.csv")]
pub(crate) async fn lines_csv(
    staff: Staff,
    id: Path<StatementId>,
) -> Result<HttpResponse, PageError> {
    let (_, record) = statement_of(&staff, id.into_inner()).await?;
    let file = statements::lines_file(&staff.pages.club.storage, &record)
        .await
        .map_err(settlement_refused)?;
    let name = format!(
        "{}-statement-{}-lines",
        record.partner_code, record.issued.sequence
    );
    Ok(csv_attachment(&name, file))
}

/// Acknowledges a statement (no lines) or disputes the lines ticked, with a reason: the
/// partner's finance only, under a key of the form, naming the member of staff who answered.
#[post("/finance/statements/{id}/answer")]
pub(crate) async fn answer(
    req: HttpRequest,
    staff: Staff,
    id: Path<StatementId>,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let mut csrf = String::new();
    let (mut key, mut sha256, mut reason, mut action) =
        (String::new(), String::new(), String::new(), String::new());
    let mut lines = Vec::new();
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "key" => key = value.into_owned(),
            "sha256" => sha256 = value.into_owned(),
            "reason" => reason = value.into_owned(),
            "action" => action = value.into_owned(),
            "line" => lines.push(
                value
                    .parse::<uuid::Uuid>()
                    .map(TransferId)
                    .map_err(|e| PageError::new(Failure::BadForm(format!("line: {e}"))))?,
            ),
            _ => {}
        }
    }
    staff.session.check_csrf(&csrf)?;
    let Desk::Partner(partner_id) = desk_of(&staff)? else {
        return Err(PageError::new(Failure::Forbidden));
    };
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    let dispute = match action.as_str() {
        "dispute" => true,
        "acknowledge" => false,
        other => {
            return Err(PageError::new(Failure::BadForm(format!(
                "action {other:?}: acknowledge or dispute"
            ))));
        }
    };
    if dispute && lines.is_empty() {
        let refusal = w.dispute_needs_lines.to_owned();
        return render_statement(&req, &staff, id, refusal, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let key = IdempotencyKey::parse(&key)
        .map_err(|e| PageError::new(Failure::BadForm(format!("key: {e}"))))?;
    let mut fingerprinted: Vec<String> = lines.iter().map(ToString::to_string).collect();
    fingerprinted.extend([
        id.to_string(),
        sha256.clone(),
        reason.clone(),
        action.clone(),
    ]);
    let mut scope = Scope::of_request(
        partner_id,
        key,
        "POST",
        "/finance/statements/answer",
        None,
        fingerprinted.join("\n").as_bytes(),
    );
    scope.staff_id = Some(staff.member.id);
    let from = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let answer = PartnerAnswer {
        statement_id: id,
        statement_sha256: sha256,
        disputed_lines: if dispute { lines } else { Vec::new() },
        reason: dispute.then_some(reason),
        key_id: format!("staff:{}", staff.member.login),
        signed_request: serde_json::json!({
            "via": "page",
            "staff": staff.member.login,
            "from": from,
        }),
    };
    let answered =
        operations::settlement::answers::answer(&staff.pages.club, &scope, answer).await?;
    match answered.answer {
        Answer::Done(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("location", format!("/finance/statements/{id}")))
            .finish()),
        Answer::Refused(err) => {
            let refusal = words::refusal(lang, err.code(), &err.to_string());
            render_statement(&req, &staff, id, refusal, StatusCode::CONFLICT).await
        }
        Answer::Recorded { .. } => Err(PageError::new(Failure::BadForm(
            "this form's key was used by the partner's own system".into(),
        ))),
    }
}

#[derive(Template)]
#[template(path = "position.html")]
struct PositionPage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    from: String,
    to: String,
    /// (partner, statements, issuance, redemption, adjustments, net, direction)
    partners: Vec<(String, u64, String, String, String, String, &'static str)>,
    margins: Vec<String>,
    outstanding: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Window {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    #[serde(default)]
    format: Option<String>,
}

/// A window of local days as instants: `[from, to)`, the last 30 days by default.
fn window_of(
    window: &Window,
    zone: chrono_tz::Tz,
) -> (NaiveDate, NaiveDate, DateTime<Utc>, DateTime<Utc>) {
    let today = domain::program::tiers::local_day(domain::time::now(), zone);
    let to = window.to.unwrap_or(today + chrono::Days::new(1));
    let from = window.from.unwrap_or(to - chrono::Days::new(30));
    let at = |day: NaiveDate| {
        day.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(zone).earliest())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
    };
    (from, to, at(from), at(to))
}

/// The operator's position across partners for a window of days; CSV with `format=csv`.
#[get("/finance/position")]
pub(crate) async fn position(
    req: HttpRequest,
    staff: Staff,
    window: Query<Window>,
) -> Result<HttpResponse, PageError> {
    operator_only(&staff)?;
    let zone = staff.pages.club.program.time_zone;
    let (from_day, to_day, from, to) = window_of(&window, zone);
    let position = statements::position(&staff.pages.club.storage, from, to)
        .await
        .map_err(settlement_refused)?;
    if window.format.as_deref() == Some("csv") {
        return Ok(csv_attachment("position", position.csv()));
    }
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    html(
        PositionPage {
            w,
            csrf: &staff.session.state.csrf,
            staff_name: &staff.member.name,
            from: from_day.to_string(),
            to: to_day.to_string(),
            partners: position
                .partners
                .iter()
                .map(|p| {
                    (
                        p.partner.clone(),
                        p.statements,
                        money(lang, p.issuance_charge_minor, &p.currency),
                        money(lang, p.redemption_credit_minor, &p.currency),
                        money(lang, p.adjustments_minor, &p.currency),
                        money(lang, p.net_minor.abs(), &p.currency),
                        direction_word(w, p.net_direction),
                    )
                })
                .collect(),
            margins: position
                .margin_minor
                .iter()
                .map(|(currency, minor)| money(lang, *minor, currency))
                .collect(),
            outstanding: format::number(
                lang,
                i64::try_from(position.outstanding_points).unwrap_or(i64::MAX),
            ),
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "reconcile.html")]
struct ReconcilePage<'a> {
    w: &'static Words,
    csrf: &'a str,
    staff_name: &'a str,
    partners: Vec<String>,
    refusal: String,
    report: Option<ReportView>,
}

/// A reconciliation's report, as the page shows it.
struct ReportView {
    partner: String,
    rows: String,
    ledger_transfers: String,
    /// (status code, status, count, partner points, ledger points)
    totals: Vec<(String, &'static str, String, String, String)>,
    /// (status, line, reference, partner points, ledger points, transfer)
    exceptions: Vec<(&'static str, String, String, String, String, String)>,
}

fn reconcile_status(w: &Words, status: &str) -> &'static str {
    match status {
        "matched" => w.rec_matched,
        "mismatched" => w.rec_mismatched,
        "missing_at_gateway" => w.rec_missing_at_gateway,
        "missing_at_partner" => w.rec_missing_at_partner,
        "duplicate" => w.rec_duplicate,
        "malformed" => w.rec_malformed,
        _ => w.kind_other,
    }
}

async fn render_reconcile(
    req: &HttpRequest,
    staff: &Staff,
    refusal: String,
    report: Option<ReportView>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let partners = operations::partners::list(&staff.pages.club.storage)
        .await?
        .into_iter()
        .map(|p| p.code.to_string())
        .collect();
    let body = ReconcilePage {
        w: words::of(req),
        csrf: &staff.session.state.csrf,
        staff_name: &staff.member.name,
        partners,
        refusal,
        report,
    }
    .render()?;
    Ok(page(status, body))
}

/// The reconciliation form.
#[get("/finance/reconciliation")]
pub(crate) async fn reconcile_form(
    req: HttpRequest,
    staff: Staff,
) -> Result<HttpResponse, PageError> {
    operator_only(&staff)?;
    render_reconcile(&req, &staff, String::new(), None, StatusCode::OK).await
}

#[derive(Debug, MultipartForm)]
pub(crate) struct ReconcileForm {
    csrf: Text<String>,
    partner: Text<String>,
    from: Text<String>,
    to: Text<String>,
    format: Option<Text<String>>,
    #[multipart(limit = "64MB")]
    file: MultipartBytes,
}

/// The largest partner file the page takes (the signed API streams larger ones).
pub(crate) const RECONCILE_FORM_LIMIT: usize = 64 * 1024 * 1024 + 64 * 1024;

/// Reconciles the partner's file against the ledger over the window of local days: the report,
/// or its exceptions as CSV. Read-only.
#[post("/finance/reconciliation")]
pub(crate) async fn reconcile(
    req: HttpRequest,
    staff: Staff,
    MultipartForm(form): MultipartForm<ReconcileForm>,
) -> Result<HttpResponse, PageError> {
    staff.session.check_csrf(&form.csrf)?;
    operator_only(&staff)?;
    let lang = words::lang_of(&req);
    let w = words::words(lang);
    let zone = staff.pages.club.program.time_zone;
    let day = |text: &str| NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
    let window = Window {
        from: day(&form.from),
        to: day(&form.to),
        format: None,
    };
    if window.from.is_none() || window.to.is_none() {
        let refusal = w.window_invalid.to_owned();
        return render_reconcile(
            &req,
            &staff,
            refusal,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let (_, _, from, to) = window_of(&window, zone);
    let file = Cursor::new(form.file.data.to_vec());
    let report = match operations::settlement::reconcile::reconcile_partner(
        &staff.pages.club.storage,
        form.partner.trim(),
        from,
        to,
        file,
    )
    .await
    {
        Ok(report) => report,
        Err(OperationError::Refused(err)) => {
            let refusal = words::refusal(lang, err.code(), &err.to_string());
            return render_reconcile(
                &req,
                &staff,
                refusal,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(OperationError::Storage(err)) => return Err(err.into()),
    };
    if form.format.as_deref().map(|f| f.as_str()) == Some("csv") {
        let name = format!("{}-reconciliation", report.partner);
        let file = domain::settlement::reconcile::exceptions_csv(&report);
        return Ok(csv_attachment(&name, file));
    }
    let number = |n: i128| format::number(lang, i64::try_from(n).unwrap_or(i64::MAX));
    let optional = |n: Option<i64>| n.map_or_else(String::new, |n| format::number(lang, n));
    let view = ReportView {
        partner: report.partner.clone(),
        rows: number(report.rows.into()),
        ledger_transfers: number(report.ledger_transfers.into()),
        totals: report
            .totals
            .iter()
            .map(|t| {
                (
                    t.status.to_owned(),
                    reconcile_status(w, t.status),
                    number(t.count.into()),
                    number(t.partner_points),
                    number(t.gateway_points),
                )
            })
            .collect(),
        exceptions: report
            .exceptions
            .iter()
            .take(LINES_SHOWN)
            .map(|e| {
                (
                    reconcile_status(w, e.status),
                    e.line.map_or_else(String::new, |l| l.to_string()),
                    e.reference.clone().unwrap_or_default(),
                    optional(e.partner_points),
                    optional(e.gateway_points),
                    e.transfer_id.map_or_else(String::new, |t| t.to_string()),
                )
            })
            .collect(),
    };
    render_reconcile(&req, &staff, String::new(), Some(view), StatusCode::OK).await
}
