//! `/v1/earns`: purchases that earn points, and releasing or cancelling pending ones.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, post};
use domain::cards::CardNumber;
use domain::ids::TransferId;
use domain::ledger::{LedgerError, Purchase};
use domain::points::{Currency, Money};
use domain::program::earning::BasketLine;
use operations::ledger;
use partners::protocol::{self, EarnRequest, Problem};
use uuid::Uuid;

use super::answers::respond;
use super::error::{ApiError, invalid_request};
use super::render;
use super::verified::VerifiedPartner;
use crate::state::AppState;

/// Records a purchase that earns points (optionally pending until `release_at`).
#[utoipa::path(tag = "ledger", operation_id = "recordEarn", request_body = EarnRequest, responses(
    (status = 201, description = "The earn and the member's balance", body = protocol::Movement),
    (status = 400, description = "The card number is not 16 digits or fails its check digit, or the body is not the JSON this route expects", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The card is blocked or lost, the member closed, or the branch another partner's", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such card", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Reference already used, no point rule, the earn rules' caps reached, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid amount, currency, reference, branch, release time, occurrence time or basket (a line out of range, lines not adding up to the amount, an unknown category), a purchase too small or too large, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/earns")]
pub(crate) async fn create(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: EarnRequest = request.json()?;
    let card = CardNumber::parse(&body.card_number).map_err(LedgerError::from)?;
    let currency = Currency::parse(&body.amount.currency)
        .map_err(|e| invalid_request(format!("amount.currency: {e}")))?;
    let lines = body.lines.into_iter().map(BasketLine::from).collect();
    let mut purchase = Purchase::new(
        body.branch,
        card,
        Money::new(body.amount.amount_minor, currency),
        body.reference,
        body.release_at,
        lines,
    )?;
    purchase.occurred_at = body.occurred_at;
    let answered = ledger::earn(&state.club, request.scope()?, purchase).await?;
    Ok(respond(answered, StatusCode::CREATED, render::movement))
}

/// Releases a pending earn's points now.
#[utoipa::path(tag = "ledger", operation_id = "postPendingEarn", params(("id" = Uuid, Path, description = "The pending earn")), responses(
    (status = 200, description = "Posted", body = protocol::Movement),
    (status = 404, description = "No such transaction of this partner", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not a pending earn, already posted or voided, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The id is not a UUID, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/earns/{id}/post")]
pub(crate) async fn post_pending(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = TransferId(id.into_inner());
    let answered = ledger::post_pending(&state.club, request.scope()?, id).await?;
    Ok(respond(answered, StatusCode::OK, render::movement))
}

/// Cancels a pending earn.
#[utoipa::path(tag = "ledger", operation_id = "voidPendingEarn", params(("id" = Uuid, Path, description = "The pending earn")), responses(
    (status = 200, description = "Voided", body = protocol::Movement),
    (status = 404, description = "No such transaction of this partner", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not a pending earn, already posted or voided, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The id is not a UUID, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/earns/{id}/void")]
pub(crate) async fn void_pending(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = TransferId(id.into_inner());
    let answered = ledger::void_pending(&state.club, request.scope()?, id).await?;
    Ok(respond(answered, StatusCode::OK, render::movement))
}
