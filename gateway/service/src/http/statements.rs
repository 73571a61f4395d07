//! `/v1/statements`: the calling partner's settlement statements, their lines,
//! and its answers to them (acknowledge or dispute, signed and idempotent).

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, post};
use domain::ids::{StatementId, TransferId};
use domain::settlement::StatementAnswer;
use operations::settlement::answers::{self, PartnerAnswer};
use operations::settlement::statements::{self, StatementRecord};
use partners::protocol::Problem;
use partners::settlement::{
    AcknowledgeRequest, DisputeRequest, ResponseView, StatementList, StatementView,
};
use storage::settlement::StatementFilter;
use uuid::Uuid;

use super::answers::respond;
use super::error::ApiError;
use super::verified::VerifiedPartner;
use crate::state::AppState;

/// The wire view of an answer to a statement.
pub(crate) fn response_view(answer: &StatementAnswer) -> ResponseView {
    ResponseView {
        id: answer.id.0,
        kind: answer.kind.as_str().to_owned(),
        statement_sha256: partners::settlement::hex(&answer.statement_sha256),
        disputed_lines: answer.disputed_lines.iter().map(|l| l.0).collect(),
        accepted_lines: answer.accepted_lines.iter().map(|l| l.0).collect(),
        reason: answer.reason.clone(),
        key_id: answer.key_id.clone(),
        created_at: answer.created_at,
    }
}

/// The wire view of a statement; `detail` adds the statement, its JWS and the answers.
pub(crate) fn statement_view(
    record: &StatementRecord,
    detail: bool,
) -> Result<StatementView, ApiError> {
    let statement = record.statement()?;
    Ok(StatementView {
        id: record.issued.id.0,
        partner_code: record.partner_code.clone(),
        sequence: record.issued.sequence,
        period_start: record.issued.period_start,
        period_end: record.issued.period_end,
        status: record.status().as_str().to_owned(),
        net_minor: record.issued.net_minor,
        currency: statement.currency.clone(),
        sha256: partners::settlement::hex(&record.issued.payload_sha256),
        jws: detail.then(|| record.issued.jws.clone()),
        statement: detail.then_some(statement),
        responses: if detail {
            record.answers.iter().map(response_view).collect()
        } else {
            Vec::new()
        },
    })
}

/// A lines file as a download.
pub(crate) fn lines_response(record: &StatementRecord, file: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!(
                "attachment; filename=\"{}-statement-{}-lines.csv\"",
                record.partner_code, record.issued.sequence
            ),
        ))
        .body(file)
}

/// The caller's statements, oldest first.
#[utoipa::path(tag = "settlement", operation_id = "listPartnerStatements", responses(
    (status = 200, description = "The partner's statements", body = StatementList),
))]
#[get("/v1/statements")]
pub(crate) async fn list(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let filter = StatementFilter {
        partner_id: Some(request.caller().partner_id),
        limit: 1000,
        ..StatementFilter::default()
    };
    let statements = statements::list(&state.club.storage, &filter)
        .await?
        .iter()
        .map(|r| statement_view(r, false))
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(StatementList { statements }))
}

/// One statement: the JWS, its payload parsed, and the answers so far.
#[utoipa::path(tag = "settlement", operation_id = "getPartnerStatement", params(("id" = Uuid, Path, description = "The statement")), responses(
    (status = 200, description = "The statement", body = StatementView),
    (status = 404, description = "Not one of the caller's statements", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/statements/{id}")]
pub(crate) async fn show(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let partner = Some(request.caller().partner_id);
    let record = statements::get(&state.club.storage, partner, StatementId(*id)).await?;
    Ok(HttpResponse::Ok().json(statement_view(&record, true)?))
}

/// The statement's lines file (CSV), bound to it by its SHA-256.
#[utoipa::path(tag = "settlement", operation_id = "getPartnerStatementLines", params(("id" = Uuid, Path, description = "The statement")), responses(
    (status = 200, description = "The lines file", body = String, content_type = "text/csv"),
    (status = 404, description = "Not one of the caller's statements", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/statements/{id}/lines")]
pub(crate) async fn lines(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let partner = Some(request.caller().partner_id);
    let record = statements::get(&state.club.storage, partner, StatementId(*id)).await?;
    let file = statements::lines_file(&state.club.storage, &record).await?;
    Ok(lines_response(&record, file))
}

async fn record_answer(
    state: Data<AppState>,
    request: VerifiedPartner,
    statement_id: Uuid,
    sha256: String,
    disputed_lines: Vec<Uuid>,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let answer = PartnerAnswer {
        statement_id: StatementId(statement_id),
        statement_sha256: sha256,
        disputed_lines: disputed_lines.into_iter().map(TransferId).collect(),
        reason,
        key_id: request.caller().key_id.clone(),
        signed_request: request.signed_record(),
    };
    let answered = answers::answer(&state.club, &request.scope()?, answer).await?;
    Ok(respond(answered, StatusCode::CREATED, |answer| {
        response_view(&answer)
    }))
}

/// Acknowledges the statement with the SHA-256 the partner verified.
#[utoipa::path(tag = "settlement", operation_id = "acknowledgeStatement", params(("id" = Uuid, Path, description = "The statement")), request_body = AcknowledgeRequest, responses(
    (status = 201, description = "Acknowledged; kept with the partner's signature", body = ResponseView),
    (status = 404, description = "Not one of the caller's statements", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Wrong hash, already answered, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The id is not a UUID, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/statements/{id}/acknowledgement")]
pub(crate) async fn acknowledge(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let body: AcknowledgeRequest = request.json()?;
    record_answer(state, request, *id, body.statement_sha256, Vec::new(), None).await
}

/// Disputes named lines of the statement, with a reason.
#[utoipa::path(tag = "settlement", operation_id = "disputeStatement", params(("id" = Uuid, Path, description = "The statement")), request_body = DisputeRequest, responses(
    (status = 201, description = "Disputed; kept with the partner's signature", body = ResponseView),
    (status = 404, description = "Not one of the caller's statements", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Wrong hash, already answered, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "No line, a line not in the statement, no reason or one too long, the id is not a UUID, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/statements/{id}/dispute")]
pub(crate) async fn dispute(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let body: DisputeRequest = request.json()?;
    if body.lines.is_empty() {
        return Err(super::error::invalid_request(
            "a dispute names at least one line (a transfer_id of the lines file)",
        ));
    }
    record_answer(
        state,
        request,
        *id,
        body.statement_sha256,
        body.lines,
        Some(body.reason),
    )
    .await
}
