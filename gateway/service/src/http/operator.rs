//! `/v1/operator/…`: the operator's finance and admin endpoints, signed with
//! operator keys. Finance: statements, exports, dispute resolutions, the
//! position, reconciliation. Admin: partner terms and the period close.

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, get, post};
use chrono::{DateTime, NaiveDate, Utc};
use partners::protocol::Problem;
use partners::settlement::{ResolveRequest, ResponseView, StatementList};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use domain::ids::{PartnerId, StatementId, TransferId};
use domain::keys::OperatorRole;
use domain::points::Currency;
use domain::settlement::reconcile;
use domain::settlement::terms::{self, NewTerms, PeriodKind, Terms, TermsError};
use operations::settlement::answers::{self, Resolution};
use operations::settlement::{
    close, statements as settlement_statements, terms as settlement_terms,
};
use storage::settlement::StatementFilter;

use super::error::{ApiError, invalid_request};
use super::statements::{lines_response, response_view, statement_view};
use super::verified::{StreamingOperator, VerifiedOperator};
use crate::state::AppState;

/// `json` (default) or `csv`: the answer's media type.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    #[default]
    Json,
    Csv,
}

fn csv_response(name: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(body)
}

/// Which statements to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatementsQuery {
    /// A partner code; all partners when absent.
    #[param(min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    pub partner: Option<String>,
    /// Periods ending after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Periods starting before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<Format>,
}

async fn partner_id(state: &AppState, code: &str) -> Result<PartnerId, ApiError> {
    Ok(operations::partners::id_of(&state.club.storage, code).await?)
}

/// Statements of every partner (or one), as JSON or a CSV export.
#[utoipa::path(tag = "operator", operation_id = "listOperatorStatements", params(StatementsQuery), responses(
    (status = 200, description = "Statements (finance role): JSON, or CSV with `format=csv`", content(
        (StatementList = "application/json"),
        (String = "text/csv"),
    )),
    (status = 403, description = "Not a finance key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No partner with this code", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "An invalid query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/operator/statements")]
pub(crate) async fn statements(
    state: Data<AppState>,
    request: VerifiedOperator,
    query: Query<StatementsQuery>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Finance)?;
    let filter = StatementFilter {
        partner_id: match &query.partner {
            Some(code) => Some(partner_id(&state, code).await?),
            None => None,
        },
        ending_after: query.from,
        starting_before: query.to,
        limit: 100_000,
        ..StatementFilter::default()
    };
    let records = settlement_statements::list(&state.club.storage, &filter).await?;
    if query.format.unwrap_or_default() == Format::Csv {
        let file = settlement_statements::statements_csv(&records)?;
        return Ok(csv_response("statements", file));
    }
    let statements = records
        .iter()
        .map(|r| statement_view(r, false))
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(StatementList { statements }))
}

/// One statement of any partner.
#[utoipa::path(tag = "operator", operation_id = "getOperatorStatement", params(("id" = Uuid, Path, description = "The statement")), responses(
    (status = 200, description = "The statement (finance role)", body = partners::settlement::StatementView),
    (status = 403, description = "Not a finance key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such statement", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/operator/statements/{id}")]
pub(crate) async fn statement(
    state: Data<AppState>,
    request: VerifiedOperator,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Finance)?;
    let record = settlement_statements::get(&state.club.storage, None, StatementId(*id)).await?;
    Ok(HttpResponse::Ok().json(statement_view(&record, true)?))
}

/// How to export lines.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct FormatQuery {
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<Format>,
}

/// A statement's lines as JSON: each line keyed by the lines file's header.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatementLines {
    pub statement_id: Uuid,
    /// The rows of the lines file, as text, keyed by its column names.
    pub lines: Vec<std::collections::BTreeMap<String, String>>,
}

/// A statement's lines, as the signed CSV file or as JSON.
#[utoipa::path(tag = "operator", operation_id = "getOperatorStatementLines", params(("id" = Uuid, Path, description = "The statement"), FormatQuery), responses(
    (status = 200, description = "The lines (finance role): JSON, or the signed CSV file with `format=csv`", content(
        (StatementLines = "application/json"),
        (String = "text/csv"),
    )),
    (status = 403, description = "Not a finance key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such statement", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The id is not a UUID, or an invalid query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/operator/statements/{id}/lines")]
pub(crate) async fn lines(
    state: Data<AppState>,
    request: VerifiedOperator,
    id: Path<Uuid>,
    query: Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Finance)?;
    let record = settlement_statements::get(&state.club.storage, None, StatementId(*id)).await?;
    let file = settlement_statements::lines_file(&state.club.storage, &record).await?;
    if query.format.unwrap_or_default() == Format::Csv {
        return Ok(lines_response(&record, file));
    }
    // The same rows as JSON objects keyed by the CSV header.
    let mut reader = csv::Reader::from_reader(file.as_slice());
    let header = reader.headers().map_err(ApiError::internal)?.clone();
    let lines = reader
        .records()
        .map(|record| {
            let record = record.map_err(ApiError::internal)?;
            Ok(header
                .iter()
                .zip(record.iter())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect())
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(HttpResponse::Ok().json(StatementLines {
        statement_id: record.issued.id.0,
        lines,
    }))
}

/// Resolves a disputed statement: accepted lines are reversed by adjustments in the next statement.
#[utoipa::path(tag = "operator", operation_id = "resolveDispute", params(("id" = Uuid, Path, description = "The statement")), request_body = ResolveRequest, responses(
    (status = 201, description = "Resolved (finance role)", body = ResponseView),
    (status = 400, description = "The body is not the JSON this route expects", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not a finance key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such statement", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not disputed, or already resolved otherwise", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "A line the partner did not dispute, no note or one too long, or the id is not a UUID", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/operator/statements/{id}/resolution")]
pub(crate) async fn resolve(
    state: Data<AppState>,
    request: VerifiedOperator,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let caller = request.require(OperatorRole::Finance)?;
    let body: ResolveRequest = request.json()?;
    let resolution = Resolution {
        statement_id: StatementId(*id),
        accepted_lines: body.accepted_lines.into_iter().map(TransferId).collect(),
        note: body.note,
        key_id: caller.key_id.clone(),
        signed_request: request.signed_record(),
    };
    let resolved = answers::resolve(&state.club.storage, resolution).await?;
    let mut response = HttpResponse::Created();
    if resolved.is_replay {
        response.insert_header((partners::protocol::IDEMPOTENT_REPLAYED, "true"));
    }
    Ok(response.json(response_view(&resolved.answer)))
}

/// The window of a position.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowQuery {
    /// Start (RFC 3339).
    pub from: DateTime<Utc>,
    /// End, exclusive (RFC 3339).
    pub to: DateTime<Utc>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<Format>,
}

/// Whose file a reconciliation matches, over which window.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconciliationQuery {
    /// The partner's code.
    #[param(min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    pub partner: String,
    /// Start (RFC 3339).
    pub from: DateTime<Utc>,
    /// End, exclusive (RFC 3339).
    pub to: DateTime<Utc>,
    /// `json` (default) or `csv` (the exceptions only).
    #[param(inline)]
    pub format: Option<Format>,
}

/// Who owes whom across all partners for the statements within a window.
#[utoipa::path(tag = "operator", operation_id = "getOperatorPosition", params(WindowQuery), responses(
    (status = 200, description = "The operator's position (finance role): JSON, or CSV with `format=csv`", content(
        ("application/json"),
        (String = "text/csv"),
    )),
    (status = 403, description = "Not a finance key", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`from` not before `to`, or an invalid query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/operator/position")]
pub(crate) async fn position(
    state: Data<AppState>,
    request: VerifiedOperator,
    query: Query<WindowQuery>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Finance)?;
    if query.from >= query.to {
        return Err(invalid_request("from must be before to"));
    }
    let position =
        settlement_statements::position(&state.club.storage, query.from, query.to).await?;
    if query.format.unwrap_or_default() == Format::Csv {
        return Ok(csv_response("position", position.csv()));
    }
    Ok(HttpResponse::Ok().json(position))
}

/// Reconciles a partner's own transaction file (the request body, CSV) against the ledger.
/// The body is streamed (up to `server.max_upload_bytes`) and checked against its signed
/// `Content-Digest` as it arrives. Read-only: a retry recomputes the same report.
#[utoipa::path(tag = "operator", operation_id = "reconcilePartnerFile", params(ReconciliationQuery), request_body(content = String, content_type = "text/csv"), responses(
    (status = 200, description = "The report (finance role): JSON, or CSV of the exceptions with `format=csv`", content(
        ("application/json"),
        (String = "text/csv"),
    )),
    (status = 400, description = "The file lacks a needed column, or does not match its digest", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not a finance key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No partner with this code", body = Problem, content_type = "application/problem+json"),
    (status = 413, description = "The file is larger than the upload limit", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "An invalid window or query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/operator/reconciliations")]
pub(crate) async fn reconciliation(
    state: Data<AppState>,
    request: StreamingOperator,
    query: Query<ReconciliationQuery>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Finance)?;
    let code = query.partner.clone();
    let ledger = operations::settlement::reconcile::ledger_entries(
        &state.club.storage,
        &code,
        query.from,
        query.to,
    )
    .await?;
    let scope = reconcile::Scope {
        partner: code.clone(),
        from: query.from,
        to: query.to,
    };
    let report = request
        .upload()
        .feed(move |file| reconcile::reconcile(scope, ledger, file))
        .await??;
    if query.format.unwrap_or_default() == Format::Csv {
        return Ok(csv_response(
            &format!("{code}-reconciliation"),
            reconcile::exceptions_csv(&report),
        ));
    }
    Ok(HttpResponse::Ok().json(report))
}

/// Closes every due period now (the job does the same on its own schedule).
#[utoipa::path(tag = "operator", operation_id = "closeSettlementPeriods", responses(
    (status = 200, description = "The statements issued (`closed`), and the partners whose next period cannot be closed with the refusal's code (`stuck`; admin role)", content(("application/json"))),
    (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/operator/settlement/close")]
pub(crate) async fn close_periods(
    state: Data<AppState>,
    request: VerifiedOperator,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Admin)?;
    let settled = close::settle(
        &state.club.storage,
        &state.gateway_keys.current,
        state.settlement,
        Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(settled))
}

/// A terms version on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TermsView {
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    pub currency: String,
    pub price_per_point: String,
    pub reimbursement_per_point: String,
    pub period: String,
    pub time_zone: String,
}

fn terms_view(t: &Terms) -> TermsView {
    TermsView {
        version: t.version,
        effective_from: t.effective_from,
        currency: t.currency.to_string(),
        price_per_point: t.price_per_point.to_string(),
        reimbursement_per_point: t.reimbursement_per_point.to_string(),
        period: t.period.as_str().to_owned(),
        time_zone: t.time_zone.name().to_owned(),
    }
}

/// New terms for a partner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetTermsRequest {
    /// ISO 4217 code, e.g. `IRR`.
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    /// Minor units per point issued, a plain decimal string such as "12.5" (below 10^15, at
    /// most 8 decimals).
    #[schema(pattern = r"^[0-9]{1,15}(\.[0-9]{1,8})?$")]
    pub price_per_point: String,
    /// Minor units per point redeemed, written like `price_per_point`.
    #[schema(pattern = r"^[0-9]{1,15}(\.[0-9]{1,8})?$")]
    pub reimbursement_per_point: String,
    /// `daily`, `weekly` or `monthly`.
    #[schema(pattern = "^(daily|weekly|monthly)$")]
    pub period: String,
    /// An IANA zone, e.g. `Asia/Tehran`.
    pub time_zone: String,
    /// First version only: the local date settlement starts.
    pub starts_on: Option<NaiveDate>,
}

/// A partner's terms versions, oldest first.
#[utoipa::path(tag = "operator", operation_id = "listPartnerTerms", params(("code" = String, Path, description = "The partner's code", min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$")), responses(
    (status = 200, description = "Terms versions (admin role)", body = Vec<TermsView>),
    (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No partner with this code", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/operator/partners/{code}/terms")]
pub(crate) async fn list_terms(
    state: Data<AppState>,
    request: VerifiedOperator,
    code: Path<String>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Admin)?;
    let versions = settlement_terms::list(&state.club.storage, &code).await?;
    Ok(HttpResponse::Ok().json(versions.iter().map(terms_view).collect::<Vec<_>>()))
}

/// Sets a partner's next terms version; it applies from the next period.
#[utoipa::path(tag = "operator", operation_id = "setPartnerTerms", params(("code" = String, Path, description = "The partner's code", min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$")), request_body = SetTermsRequest, responses(
    (status = 201, description = "The new version (admin role)", body = TermsView),
    (status = 400, description = "The body is not the JSON this route expects", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No partner with this code", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "A start date for a partner that already has terms", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid terms", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/operator/partners/{code}/terms")]
pub(crate) async fn set_terms(
    state: Data<AppState>,
    request: VerifiedOperator,
    code: Path<String>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Admin)?;
    let body: SetTermsRequest = request.json()?;
    let new = NewTerms {
        currency: Currency::parse(&body.currency)
            .map_err(|e| TermsError::Invalid(format!("{e}")))?,
        price_per_point: terms::parse_rate("price_per_point", &body.price_per_point)?,
        reimbursement_per_point: terms::parse_rate(
            "reimbursement_per_point",
            &body.reimbursement_per_point,
        )?,
        period: PeriodKind::parse(&body.period)?,
        time_zone: terms::parse_zone(&body.time_zone)?,
        starts_on: body.starts_on,
    };
    let terms = settlement_terms::set(&state.club.storage, &code, new, Utc::now()).await?;
    Ok(HttpResponse::Created().json(terms_view(&terms)))
}
