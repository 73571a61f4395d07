//! `/v1/redemptions`: spending points, in one step or as a hold then capture or void.

use std::time::Duration;

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, post};
use chrono::Utc;
use partners::protocol::{self, CaptureRequest, Problem, RedeemRequest};
use uuid::Uuid;

use super::error::ApiError;
use super::ledger_answers::{
    card_number, commit_operation, positive, reference, teller, write_movement,
};
use super::verified::VerifiedPartner;
use crate::app::AppState;
use crate::domain::ledger;
use crate::domain::ledger::prepare::Lookups;

/// Redeems points for a discount, or holds them (`hold: true`) until captured or voided.
#[utoipa::path(tag = "ledger", request_body = RedeemRequest, responses(
    (status = 201, description = "The redemption (or hold) and the member's balance", body = protocol::Movement),
    (status = 403, description = "The card is blocked or lost", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not enough points, reference already used, or no point rule", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/redemptions")]
pub async fn create(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: RedeemRequest = request.json()?;
    let input = ledger::RedeemRequest {
        branch: body.branch,
        card: card_number(&body.card_number)?,
        points: positive("points", body.points)?,
        reference: reference(body.reference)?,
        hold: body
            .hold
            .then_some(body.hold_timeout_secs.map(Duration::from_secs)),
    };
    let op = ledger::prepare::redeem_op(
        &mut Lookups::Cached(&state.storage),
        &state.program,
        &teller(&request),
        input,
    )
    .await;
    commit_operation(&state, &request, op).await
}

/// Captures a hold, in whole or in part; the rest goes back to the member.
#[utoipa::path(tag = "ledger", params(("id" = Uuid, Path, description = "The hold")), request_body = CaptureRequest, responses(
    (status = 200, description = "Captured", body = protocol::Movement),
    (status = 409, description = "Not a hold, expired, or already captured or voided", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "More points than the hold", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/redemptions/{id}/capture")]
pub async fn capture(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let body: CaptureRequest = request.json()?;
    let points = body.points.map(|p| positive("points", p)).transpose()?;
    let (teller, id) = (teller(&request), id.into_inner());
    write_movement(&state, &request, 200, move |conn| {
        Box::pin(async move { ledger::capture(conn, &teller, id, points, Utc::now()).await })
    })
    .await
}

/// Voids a hold: all its points go back to the member.
#[utoipa::path(tag = "ledger", params(("id" = Uuid, Path, description = "The hold")), responses(
    (status = 200, description = "Voided", body = protocol::Movement),
    (status = 409, description = "Not a hold, expired, or already captured or voided", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/redemptions/{id}/void")]
pub async fn void(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (teller, id) = (teller(&request), id.into_inner());
    write_movement(&state, &request, 200, move |conn| {
        Box::pin(async move { ledger::void_hold(conn, &teller, id, Utc::now()).await })
    })
    .await
}
