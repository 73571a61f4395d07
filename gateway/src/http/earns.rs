//! `/v1/earns`: purchases that earn points, and releasing or cancelling pending ones.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, post};
use chrono::Utc;
use partners::protocol::{self, EarnRequest, Problem};
use uuid::Uuid;

use super::error::ApiError;
use super::ledger_answers::{
    card_number, commit_operation, positive, reference, teller, write_movement,
};
use super::verified::VerifiedPartner;
use crate::app::AppState;
use crate::domain::ledger;
use crate::domain::ledger::prepare::Lookups;

/// Records a purchase that earns points (optionally pending until `release_at`).
#[utoipa::path(tag = "ledger", request_body = EarnRequest, responses(
    (status = 201, description = "The earn and the member's balance", body = protocol::Movement),
    (status = 403, description = "The card is blocked or lost", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Reference already used, or no point rule", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid amount, currency, branch or release time", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/earns")]
pub async fn create(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: EarnRequest = request.json()?;
    let input = ledger::EarnRequest {
        branch: body.branch,
        card: card_number(&body.card_number)?,
        amount_minor: positive("amount.amount_minor", body.amount.amount_minor)?,
        currency: body.amount.currency,
        reference: reference(body.reference)?,
        release_at: body.release_at,
    };
    let op = ledger::prepare::earn_op(
        &mut Lookups::Cached(&state.storage),
        &state.program,
        &teller(&request),
        input,
        Utc::now(),
    )
    .await;
    commit_operation(&state, &request, op).await
}

/// Releases a pending earn's points now.
#[utoipa::path(tag = "ledger", params(("id" = Uuid, Path, description = "The pending earn")), responses(
    (status = 200, description = "Posted", body = protocol::Movement),
    (status = 409, description = "Not a pending earn, or already posted or voided", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/earns/{id}/post")]
pub async fn post_pending(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (teller, settings, id) = (teller(&request), state.program.clone(), id.into_inner());
    write_movement(&state, &request, 200, move |conn| {
        Box::pin(async move { ledger::post_earn(conn, &settings, &teller, id, Utc::now()).await })
    })
    .await
}

/// Cancels a pending earn.
#[utoipa::path(tag = "ledger", params(("id" = Uuid, Path, description = "The pending earn")), responses(
    (status = 200, description = "Voided", body = protocol::Movement),
    (status = 409, description = "Not a pending earn, or already posted or voided", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/earns/{id}/void")]
pub async fn void_pending(
    state: Data<AppState>,
    request: VerifiedPartner,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (teller, settings, id) = (teller(&request), state.program.clone(), id.into_inner());
    write_movement(&state, &request, 200, move |conn| {
        Box::pin(async move { ledger::void_earn(conn, &settings, &teller, id, Utc::now()).await })
    })
    .await
}
