//! Steps on a transfer made before: a hold captured (in whole or in part) or
//! voided, a pending earn released or cancelled, an earn or a redemption reversed.
//! Like earns and redemptions, each is checked on the request's own connection
//! and decided in a ledger committer's batch (`domain::ledger::books`).

use domain::ids::TransferId;
use domain::ledger::Reversal;
use domain::ledger::books::Step;
use domain::points::Points;

use super::committer::Reply;
use super::prepare::{self, Lookups};
use crate::Club;
use crate::idempotency::Scope;

/// Captures `points` of a hold (all of it when `None`); the rest goes back to the member.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %hold))]
pub async fn capture(club: &Club, scope: Scope, hold: TransferId, points: Option<Points>) -> Reply {
    follow(club, scope, hold, Step::Capture(points)).await
}

/// Voids a hold: all its points go back to the member.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %hold))]
pub async fn void(club: &Club, scope: Scope, hold: TransferId) -> Reply {
    follow(club, scope, hold, Step::Void).await
}

/// Releases a pending earn's points to the member now.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %id))]
pub async fn post_pending(club: &Club, scope: Scope, id: TransferId) -> Reply {
    follow(club, scope, id, Step::Release).await
}

/// Cancels a pending earn (the stay was cancelled, the goods returned).
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %id))]
pub async fn void_pending(club: &Club, scope: Scope, id: TransferId) -> Reply {
    follow(club, scope, id, Step::Cancel).await
}

/// Reverses (part of) an earn or a redemption.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %reversal.transfer_id))]
pub async fn reverse(club: &Club, scope: Scope, reversal: Reversal) -> Reply {
    let (id, step) = Step::reverse(reversal);
    follow(club, scope, id, step).await
}

async fn follow(club: &Club, scope: Scope, id: TransferId, step: Step) -> Reply {
    let op = prepare::follow_up(
        &mut Lookups::Cached(&club.storage),
        scope.partner_id,
        Some(scope.key.as_str()),
        id,
        step,
    )
    .await;
    super::submit(club, scope, op).await
}
