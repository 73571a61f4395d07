//! `/v1/events`: a partner reports something a member did (a review, a survey) that the
//! programme's bonus rules reward.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpResponse, post};
use domain::cards::CardNumber;
use domain::ledger::{Event, LedgerError};
use operations::events;
use partners::protocol::{self, EventRequest, Problem};

use super::answers::respond;
use super::error::ApiError;
use super::render;
use super::verified::VerifiedPartner;
use crate::state::AppState;

/// Reports an event; the bonuses its type earns are awarded once per partner, type and reference.
#[utoipa::path(tag = "ledger", operation_id = "reportEvent", request_body = EventRequest, responses(
    (status = 201, description = "The bonuses awarded and the member's balance", body = protocol::EventAnswer),
    (status = 400, description = "The body is not the JSON this route expects, or the card number does not parse", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The card is blocked or lost, or the member closed", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such card", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "This event was rewarded already, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "No bonus rewards this type, an invalid type, reference or time, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/events")]
pub(crate) async fn create(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: EventRequest = request.json()?;
    let card = CardNumber::parse(&body.card).map_err(LedgerError::from)?;
    let event = Event::new(card, &body.event_type, body.reference, body.occurred_at)?;
    let answered = events::record(&state.club, &request.scope()?, event).await?;
    Ok(respond(answered, StatusCode::CREATED, |outcome| {
        protocol::EventAnswer {
            awarded: outcome
                .awarded
                .into_iter()
                .map(|a| protocol::AwardedBonus {
                    bonus: a.bonus,
                    points: a.points,
                })
                .collect(),
            balance: render::balance(outcome.balance),
        }
    }))
}
