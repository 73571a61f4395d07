//! `/v1/members` and `/v1/cards`: enrolment at the till and the card check.

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, get, post};
use chrono::Utc;
use partners::protocol::{self, EnrollRequest, Problem};
use serde::Deserialize;
use utoipa::IntoParams;

use super::answers::{answer_response, json_answer};
use super::error::ApiError;
use super::ledger_answers::{balance_body, card_number, teller};
use super::verified::VerifiedPartner;
use crate::app::AppState;
use crate::domain::idempotency;
use crate::domain::member_data::PersonalData;
use crate::domain::members;

/// Enrols a member at the calling partner's branch and issues a club card.
#[utoipa::path(tag = "members", request_body = EnrollRequest, responses(
    (status = 201, description = "Enrolled; the card number is ready to use", body = protocol::Enrollment),
    (status = 409, description = "The phone number is already enrolled", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid member data or branch", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/members")]
pub async fn enroll(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: EnrollRequest = request.json()?;
    let now = Utc::now();
    let personal = PersonalData::parse(
        &body.name,
        &body.phone,
        body.email.as_deref(),
        body.birth_date,
        now.date_naive(),
    )?;
    let teller = teller(&request);
    let settings = state.program.clone();
    let keys = state.member_data_keys.clone();
    let answer = idempotency::execute(
        &state.storage,
        state.idempotency,
        &request.idempotent_request()?,
        move |conn| {
            Box::pin(async move {
                let new = members::NewMember {
                    branch: body.branch,
                    personal,
                    card: None,
                };
                members::enroll(conn, &settings, &keys, &teller, new, now).await
            })
        },
        |enrollment| {
            json_answer(
                201,
                &protocol::Enrollment {
                    member_id: enrollment.member_id,
                    card_number: enrollment.card.to_string(),
                },
            )
        },
        |err| ApiError::from(err).recorded(),
    )
    .await?;
    Ok(answer_response(answer))
}

/// Which branch the card is checked at.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CardCheckQuery {
    /// Branch code (or id): values the redeemable points at this branch's rule.
    pub branch: Option<String>,
}

/// Checks a card: status, first name, tier, balance and what it can redeem now.
#[utoipa::path(tag = "members", params(("number" = String, Path, description = "The 16-digit card number"), CardCheckQuery), responses(
    (status = 200, description = "The card and its balance", body = protocol::CardCheck),
    (status = 400, description = "The number fails its check digit", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The card is blocked or lost", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such card", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/cards/{number}")]
pub async fn check(
    state: Data<AppState>,
    request: VerifiedPartner,
    number: Path<String>,
    query: Query<CardCheckQuery>,
) -> Result<HttpResponse, ApiError> {
    let card = card_number(&number)?;
    let check = members::check_card(
        &state.storage,
        &state.program,
        &state.member_data_keys,
        request.caller().partner_id,
        query.branch.as_deref(),
        &card,
        Utc::now(),
    )
    .await?;
    let redeemable_value = check.rule.as_ref().and_then(|rule| {
        rule.value_of(check.balance.available)
            .map(|amount_minor| protocol::Money {
                amount_minor,
                currency: rule.currency.clone(),
            })
    });
    Ok(HttpResponse::Ok().json(protocol::CardCheck {
        card_number: check.card.to_string(),
        status: "active".into(),
        first_name: check.first_name,
        tier: check.tier.to_owned(),
        balance: balance_body(check.balance),
        redeemable_value,
    }))
}
