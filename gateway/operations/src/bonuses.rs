//! Bonuses as ledger operations: the bonus rules an occasion meets, each split between its
//! funders (`domain::program::bonuses`), keyed so each is awarded once per member and occasion.

use chrono::{DateTime, Utc};
use domain::ids::{MemberId, PartnerId};
use domain::ledger::books::{LedgerOp, PricedBonus};
use domain::points::Points;
use domain::program::bonuses::{self, Bonus, Funder};
use domain::program::rules::{Occasion, RuleVersion};
use storage::{Connection, StorageError};

/// What `occasion` (its key `occasion_key`) earns `member_id` under the rules in force at `at`:
/// one operation per bonus rule.
pub(crate) async fn for_occasion(
    conn: &mut Connection,
    rules: &[RuleVersion],
    occasion: Occasion,
    member_id: MemberId,
    occasion_key: &str,
    at: DateTime<Utc>,
) -> Result<Vec<LedgerOp>, StorageError> {
    let found = bonuses::in_force(rules, at, occasion);
    priced(conn, &found, member_id, occasion_key).await
}

/// The operations of `found` bonus rules for `member_id`, each keyed `occasion_key`.
pub(crate) async fn priced(
    conn: &mut Connection,
    found: &[Bonus<'_>],
    member_id: MemberId,
    occasion_key: &str,
) -> Result<Vec<LedgerOp>, StorageError> {
    let mut ops = Vec::new();
    for bonus in found {
        let mut shares: Vec<(Option<PartnerId>, Points)> = Vec::new();
        for (funder, points) in bonuses::split(bonus.rule.points, &bonus.rule.funding) {
            let funder = match funder {
                Funder::Operator => None,
                Funder::Partner(code) => Some(
                    storage::partners::find_by_code(conn, &code)
                        .await?
                        .ok_or_else(|| {
                            StorageError::Corrupt(format!(
                                "bonus {} is funded by partner {code:?}, which does not exist",
                                bonus.code
                            ))
                        })?
                        .id,
                ),
            };
            shares.push((funder, Points(points)));
        }
        if !shares.is_empty() {
            ops.push(LedgerOp::Bonus(PricedBonus {
                member_id,
                bonus: bonus.code.to_owned(),
                occasion: occasion_key.to_owned(),
                shares,
            }));
        }
    }
    Ok(ops)
}
