//! `/v1/quote`: what a purchase would earn and what points would buy; posts nothing.

use actix_web::web::{Data, Query};
use actix_web::{HttpResponse, get};
use partners::protocol::{self, Problem};
use serde::Deserialize;
use utoipa::IntoParams;

use domain::cards::CardNumber;
use domain::ledger::{LedgerError, positive};
use domain::points::Points;
use domain::pricing::PricingError;
use domain::program::earning::BasketLine;
use operations::pricing;

use super::error::{ApiError, invalid_request};
use super::render;
use super::verified::VerifiedPartner;
use crate::state::AppState;

/// What to price.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuoteQuery {
    /// Branch code (or id) of the calling partner.
    #[param(min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    pub branch: String,
    /// A purchase amount in minor units, to price in points (give it, `points`, or both).
    #[param(minimum = 1)]
    pub amount_minor: Option<i64>,
    /// The purchase's currency (checked against the branch's rule).
    #[param(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// A number of points, to price as a discount.
    #[param(minimum = 1)]
    pub points: Option<i64>,
    /// A member's card: with an amount, also what this member would earn (their tier's multiplier
    /// and the campaigns' bonuses).
    #[param(min_length = 16, max_length = 64)]
    pub card: Option<String>,
    /// The purchase's basket, as an earn would carry it: `category:amount_minor[:margin_minor]`
    /// lines separated by commas, adding up to `amount_minor` (earn rules price by them).
    #[param(
        max_length = 4000,
        pattern = "^[a-z0-9][a-z0-9-]*:[0-9]+(:[0-9]+)?(,[a-z0-9][a-z0-9-]*:[0-9]+(:[0-9]+)?)*$"
    )]
    pub lines: Option<String>,
}

/// `food:100000:40000,rooms:50000` as basket lines, checked against the purchase.
fn basket(text: Option<&str>, amount_minor: Option<i64>) -> Result<Vec<BasketLine>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let amount_minor = amount_minor.ok_or_else(|| invalid_request("lines need amount_minor"))?;
    let lines = text
        .split(',')
        .enumerate()
        .map(|(i, line)| {
            protocol::BasketLine::parse(line)
                .map(BasketLine::from)
                .map_err(|why| LedgerError::BasketLineInvalid(format!("lines[{i}]: {why}")))
        })
        .collect::<Result<Vec<_>, LedgerError>>()?;
    domain::program::earning::check_basket(&lines, amount_minor).map_err(LedgerError::from)?;
    Ok(lines)
}

/// Prices a purchase amount and/or a number of points at a branch.
#[utoipa::path(tag = "ledger", operation_id = "getQuote", params(QuoteQuery), responses(
    (status = 200, description = "The quote", body = protocol::Quote),
    (status = 400, description = "The card number does not parse", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The branch belongs to another partner, or the card is blocked or lost", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such card", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The branch has no point rule", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Unknown branch, wrong currency, an amount or points not above zero or too large, nothing to price, a basket that is invalid or does not add up or names an unknown category, or an invalid query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/quote")]
pub(crate) async fn quote(
    state: Data<AppState>,
    request: VerifiedPartner,
    query: Query<QuoteQuery>,
) -> Result<HttpResponse, ApiError> {
    if query.amount_minor.is_none() && query.points.is_none() {
        return Err(invalid_request("give amount_minor, points, or both"));
    }
    let amount = query
        .amount_minor
        .map(|a| positive("amount_minor", Points(a)).map(Points::get))
        .transpose()?;
    let points = query
        .points
        .map(|p| positive("points", Points(p)))
        .transpose()?;
    let lines = basket(query.lines.as_deref(), amount)?;
    let now = domain::time::now();
    let quote = pricing::quote(
        &state.club,
        request.caller().partner_id,
        &query.branch,
        (amount, &lines),
        points,
        now,
    )
    .await?;
    if let Some(currency) = &query.currency
        && currency != quote.rule.currency.as_str()
    {
        return Err(PricingError::CurrencyMismatch {
            expected: quote.rule.currency,
        }
        .into());
    }
    let member = match (&query.card, amount) {
        (Some(card), Some(amount)) => {
            let card = CardNumber::parse(card).map_err(LedgerError::from)?;
            let priced = pricing::quote_for_member(
                &state.club,
                request.caller().partner_id,
                &query.branch,
                (amount, &lines),
                &card,
                now,
            )
            .await?;
            let campaigns: Vec<protocol::AwardedBonus> = priced
                .campaigns
                .into_iter()
                .map(|(bonus, points)| protocol::AwardedBonus { bonus, points })
                .collect();
            let earn_points = priced.earn_points.get();
            Some(protocol::MemberQuote {
                earn_multiplier: priced.tier.as_ref().map_or("1".to_owned(), |t| {
                    t.rule.earn_multiplier.normalize().to_string()
                }),
                tier: priced.tier.map(|t| t.tier),
                earn_points,
                total_points: earn_points + campaigns.iter().map(|c| c.points).sum::<i64>(),
                campaigns,
            })
        }
        (Some(_), None) => return Err(invalid_request("a member quote needs amount_minor")),
        _ => None,
    };
    let rule = quote.rule;
    Ok(HttpResponse::Ok().json(protocol::Quote {
        earn_points: quote.earn_points.map(Points::get),
        discount: quote.discount.map(render::money),
        rule: protocol::PointRule {
            currency: rule.currency.to_string(),
            earn_points: rule.earn_points,
            per_amount_minor: rule.per_amount_minor,
            point_value_minor: rule.point_value_minor,
        },
        member,
    }))
}
