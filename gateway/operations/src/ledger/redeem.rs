//! Redeeming points for a discount: in one step, or as a hold (authorize) that is
//! later captured, in whole or in part, or voided ([`super::follow_up`]). Holds
//! expire on their own: from their timeout on they hold nothing, for every read
//! and every spend.

use domain::ledger::Redemption;

use super::committer::Reply;
use super::prepare::{self, Lookups};
use crate::Club;
use crate::idempotency::Scope;

/// Redeems (or holds) points at the partner's branch, through the ledger committer.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id))]
pub async fn redeem(club: &Club, scope: Scope, redemption: Redemption) -> Reply {
    let op = prepare::price_redemption(
        &mut Lookups::Cached(&club.storage),
        &club.program,
        scope.partner_id,
        Some(scope.key.as_str()),
        redemption,
    )
    .await;
    super::submit(club, scope, op).await
}
