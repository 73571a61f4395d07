//! `/v1/reversals`: reversing (part of) an earn or a redemption.

use actix_web::web::Data;
use actix_web::{HttpResponse, post};
use chrono::Utc;
use partners::protocol::{self, Problem, ReverseRequest};

use super::error::ApiError;
use super::ledger_answers::{positive, reference, teller, write_movement};
use super::verified::VerifiedPartner;
use crate::app::AppState;
use crate::domain::ledger;

/// Reverses an earn or a redemption, whole or partial; never more than the original in total.
#[utoipa::path(tag = "ledger", request_body = ReverseRequest, responses(
    (status = 201, description = "The reversal and the member's balance", body = protocol::Movement),
    (status = 404, description = "No such transaction of this partner", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not reversible, or the earned points were already spent", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "More than is left to reverse", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/reversals")]
pub async fn create(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: ReverseRequest = request.json()?;
    let input = ledger::ReverseRequest {
        transfer_id: body.transaction_id,
        points: body.points.map(|p| positive("points", p)).transpose()?,
        reference: body.reference.map(reference).transpose()?,
    };
    let teller = teller(&request);
    write_movement(&state, &request, 201, move |conn| {
        Box::pin(async move { ledger::reverse(conn, &teller, input, Utc::now()).await })
    })
    .await
}
