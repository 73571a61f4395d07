//! `/v1/redemptions`: spending points, in one step or as a hold then capture or void.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, post};
use domain::cards::CardNumber;
use domain::ids::TransferId;
use domain::ledger::{LedgerError, Redemption, positive};
use domain::points::Points;
use operations::ledger;
use partners::protocol::{self, CaptureRequest, Problem, RedeemRequest};
use uuid::Uuid;

use super::answers::respond;
use super::error::ApiError;
use super::render;
use super::verified::VerifiedPartner;
use crate::state::AppState;

/// Redeems points for a discount, or holds them (`hold: true`) until captured or voided.
#[utoipa::path(tag = "ledger", operation_id = "redeemPoints", request_body = RedeemRequest, responses(
    (status = 201, description = "The redemption (or hold) and the member's balance", body = protocol::Movement),
    (status = 400, description = "The card number is not 16 digits or fails its check digit, or the body is not the JSON this route expects", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The card is blocked or lost, the member closed, or the branch another partner's", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such card", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not enough points, reference already used, no point rule, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Points not above zero or too many, invalid reference, branch or hold timeout, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/redemptions")]
pub(crate) async fn create(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: RedeemRequest = request.json()?;
    let card = CardNumber::parse(&body.card_number).map_err(LedgerError::from)?;
    let redemption = Redemption::new(
        body.branch,
        card,
        Points(body.points),
        body.reference,
        body.hold
            .then_some(body.hold_timeout_secs.map(Duration::from_secs)),
    )?;
    let answered = ledger::redeem(&state.club, request.scope()?, redemption).await?;
    Ok(respond(answered, StatusCode::CREATED, render::movement))
}

/// Captures a hold, in whole or in part; the rest goes back to the member.
#[utoipa::path(tag = "ledger", operation_id = "captureHold", params(("id" = Uuid, Path, description = "The hold")), request_body = CaptureRequest, responses(
    (status = 200, description = "Captured", body = protocol::Movement),
    (status = 400, description = "The body is not the JSON this route expects", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such transaction of this partner", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not a hold, expired, already captured or voided, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Points not above zero or more than the hold, the id is not a UUID, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/redemptions/{id}/capture")]
pub(crate) async fn capture(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let body: CaptureRequest = request.json()?;
    let points = body
        .points
        .map(|p| positive("points", Points(p)))
        .transpose()?;
    let id = TransferId(id.into_inner());
    let answered = ledger::capture(&state.club, request.scope()?, id, points).await?;
    Ok(respond(answered, StatusCode::OK, render::movement))
}

/// Voids a hold: all its points go back to the member.
#[utoipa::path(tag = "ledger", operation_id = "voidHold", params(("id" = Uuid, Path, description = "The hold")), responses(
    (status = 200, description = "Voided", body = protocol::Movement),
    (status = 404, description = "No such transaction of this partner", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not a hold, expired, already captured or voided, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The id is not a UUID, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/redemptions/{id}/void")]
pub(crate) async fn void(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = TransferId(id.into_inner());
    let answered = ledger::void(&state.club, request.scope()?, id).await?;
    Ok(respond(answered, StatusCode::OK, render::movement))
}
