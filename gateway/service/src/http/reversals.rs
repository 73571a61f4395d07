//! `/v1/reversals`: reversing (part of) an earn or a redemption.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpResponse, post};
use domain::ids::TransferId;
use domain::ledger::Reversal;
use domain::points::Points;
use operations::ledger;
use partners::protocol::{self, Problem, ReverseRequest};

use super::answers::respond;
use super::error::ApiError;
use super::render;
use super::verified::VerifiedPartner;
use crate::state::AppState;

/// Reverses an earn or a redemption, whole or partial; never more than the original in total.
/// A capture's (or a release's) id stands for its pending original.
#[utoipa::path(tag = "ledger", operation_id = "reverseTransaction", request_body = ReverseRequest, responses(
    (status = 201, description = "The reversal and the member's balance", body = protocol::Movement),
    (status = 400, description = "The body is not the JSON this route expects", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such transaction of this partner", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not reversible, the earned points were already spent, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Points not above zero or more than is left to reverse, an invalid reference, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/reversals")]
pub(crate) async fn create(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: ReverseRequest = request.json()?;
    let reversal = Reversal::new(
        TransferId(body.transaction_id),
        body.points.map(Points),
        body.reference,
    )?;
    let answered = ledger::reverse(&state.club, request.scope()?, reversal).await?;
    Ok(respond(answered, StatusCode::CREATED, render::movement))
}
