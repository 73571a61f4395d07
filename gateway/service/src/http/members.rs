//! `/v1/members` and `/v1/cards`: enrolment at the till and the card check.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, get, post};
use domain::cards::CardNumber;
use domain::ledger::LedgerError;
use domain::member_data::PersonalData;
use domain::members::{EnrolmentError, NewMember};
use operations::members;
use partners::protocol::{self, EnrollRequest, Problem};
use serde::Deserialize;
use utoipa::IntoParams;

use super::answers::respond;
use super::error::ApiError;
use super::render;
use super::verified::VerifiedPartner;
use crate::state::AppState;

/// Enrols a member at the calling partner's branch and issues a club card.
#[utoipa::path(tag = "members", operation_id = "enrollMember", request_body = EnrollRequest, responses(
    (status = 201, description = "Enrolled; the card number is ready to use", body = protocol::Enrollment),
    (status = 400, description = "The body is not the JSON this route expects", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The branch belongs to another partner", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The phone number is already enrolled, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid member data or branch, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/members")]
pub(crate) async fn enroll(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: EnrollRequest = request.json()?;
    let personal = PersonalData::parse(
        &body.name,
        &body.phone,
        body.email.as_deref(),
        body.birth_date,
        body.city.as_deref(),
        chrono::Utc::now().date_naive(),
    )
    .map_err(EnrolmentError::from)?;
    let new = NewMember {
        branch: body.branch,
        personal,
        card: None,
        invite_code: body.invite_code,
        consents_to_messages: body.consents_to_messages,
    };
    let answered = members::enroll(&state.club, &request.scope()?, new).await?;
    Ok(respond(answered, StatusCode::CREATED, |enrollment| {
        protocol::Enrollment {
            member_id: enrollment.member_id.0,
            card_number: enrollment.card.to_string(),
            invite_code: enrollment.invite_code,
            bonus_points: enrollment.bonus_points,
        }
    }))
}

/// Which branch the card is checked at.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct CardCheckQuery {
    /// Branch code (or id): values the redeemable points at this branch's rule.
    #[param(min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    pub branch: Option<String>,
}

/// Checks a card: status, first name, tier, balance and what it can redeem now.
#[utoipa::path(tag = "members", operation_id = "checkCard", params(
    ("number" = String, Path, description = "The 16-digit card number (spaces and dashes between digits are ignored; Persian and Arabic-Indic digits are read as digits)", min_length = 16, max_length = 64),
    CardCheckQuery,
), responses(
    (status = 200, description = "The card and its balance", body = protocol::CardCheck),
    (status = 400, description = "The number is not 16 digits or fails its check digit", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The card is blocked or lost, the member closed, or the branch another partner's", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such card", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The branch has no point rule", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Unknown branch, or an unknown query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/cards/{number}")]
pub(crate) async fn check(
    state: Data<AppState>,
    request: VerifiedPartner,
    number: Path<String>,
    query: Query<CardCheckQuery>,
) -> Result<HttpResponse, ApiError> {
    let card = CardNumber::parse(&number).map_err(LedgerError::from)?;
    let check = members::check_card(
        &state.club,
        request.caller().partner_id,
        query.branch.as_deref(),
        &card,
        domain::time::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(protocol::CardCheck {
        card_number: check.card.to_string(),
        status: "active".into(),
        first_name: check.first_name,
        tier: check.tier.map(render::tier),
        balance: render::balance(check.balance),
        redeemable_value: check.redeemable_value.map(render::money),
        campaigns: check.campaigns.iter().map(render::campaign).collect(),
        repeat_visits: check
            .repeat_visits
            .into_iter()
            .map(|p| protocol::RepeatVisitProgress {
                code: p.code,
                points: p.points,
                visits: p.visits,
                within_days: p.within_days,
                have: p.have,
            })
            .collect(),
    }))
}
