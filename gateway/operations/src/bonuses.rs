//! Bonuses as ledger operations: the bonus rules an occasion meets, each split between its
//! funders (`domain::program::bonuses`), keyed so each is awarded once per member and occasion.

use chrono::{DateTime, Utc};
use domain::ids::MemberId;
use domain::ledger::books::{LedgerOp, PricedBonus};
use domain::program::bonuses::{self, Bonus};
use domain::program::rules::{Occasion, RuleVersion};
use storage::StorageError;

use crate::program::Places;

/// What `occasion` (its key `occasion_key`) earns `member_id` under the rules in force at `at`:
/// one operation per bonus rule.
pub(crate) fn for_occasion(
    places: &Places,
    rules: &[RuleVersion],
    occasion: Occasion,
    member_id: MemberId,
    occasion_key: &str,
    at: DateTime<Utc>,
) -> Result<Vec<LedgerOp>, StorageError> {
    let found = bonuses::in_force(rules, at, occasion);
    priced(places, &found, member_id, occasion_key)
}

/// The operations of `found` bonus rules for `member_id`, each keyed `occasion_key`.
pub(crate) fn priced(
    places: &Places,
    found: &[Bonus<'_>],
    member_id: MemberId,
    occasion_key: &str,
) -> Result<Vec<LedgerOp>, StorageError> {
    found
        .iter()
        .map(|bonus| {
            let shares = places
                .shares(bonus.rule.points, &bonus.rule.funding)
                .ok_or_else(|| {
                    StorageError::Corrupt(format!(
                        "bonus {} is funded by a partner that does not exist",
                        bonus.code
                    ))
                })?;
            Ok(LedgerOp::Bonus(PricedBonus {
                member_id,
                bonus: bonus.code.to_owned(),
                occasion: occasion_key.to_owned(),
                shares,
            }))
        })
        .collect()
}
