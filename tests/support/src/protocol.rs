//! What a partner's till sends and what it is told, as tests write them: request bodies with
//! fresh references, fresh idempotency keys, and the problem a refusal carries.

use partners::client::ClientError;
use partners::protocol::{EarnRequest, Money, Problem, RedeemRequest};

use crate::app::unique_code;

/// A fresh `Idempotency-Key`.
pub fn key() -> String {
    unique_code("idem")
}

/// An amount in IRR minor units.
pub fn irr(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "IRR".into(),
    }
}

/// An earn at the `main` branch for a purchase of `amount_minor` IRR, with a fresh reference.
pub fn earn_request(card: &str, amount_minor: i64) -> EarnRequest {
    EarnRequest {
        branch: "main".into(),
        card_number: card.into(),
        amount: irr(amount_minor),
        reference: unique_code("order"),
        release_at: None,
        lines: Vec::new(),
        occurred_at: None,
    }
}

/// A redemption of `points` at the `main` branch (a hold when `hold`), with a fresh reference.
pub fn redeem_request(card: &str, points: i64, hold: bool) -> RedeemRequest {
    RedeemRequest {
        branch: "main".into(),
        card_number: card.into(),
        points,
        reference: unique_code("bill"),
        hold,
        hold_timeout_secs: None,
    }
}

/// The problem document a refusal carries; panics on any other error.
pub fn problem(err: ClientError) -> Problem {
    match err {
        ClientError::Problem { problem } => problem,
        other => panic!("expected a problem document, got {other}"),
    }
}

/// The stable code of a refusal; panics on any other error.
pub fn code(err: ClientError) -> String {
    problem(err).code
}
