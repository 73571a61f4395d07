//! Branches and their point rules, as requests meet them: which branch a request
//! names, the rule in force there (cached for a few seconds), quotes, and the
//! operator setting a rule.

use domain::ids::{BranchId, PartnerId};
use domain::partners::{Branch, BranchError};
use domain::points::Points;
use domain::pricing::{PointRule, PricingError, Quote};
use domain::program::ProgramSettings;
use storage::{Connection, Storage, StorageError};

use crate::error::OperationError;

/// The calling partner's branch named by code or id.
pub(crate) async fn branch_of<E: From<BranchError>>(
    conn: &mut Connection,
    partner_id: PartnerId,
    named: &str,
) -> Result<Branch, OperationError<E>> {
    // The refusal is recorded and echoed: a control character in the name goes in escaped.
    let unknown = || {
        OperationError::Refused(E::from(BranchError::Unknown(
            named
                .chars()
                .take(63)
                .collect::<String>()
                .escape_debug()
                .to_string(),
        )))
    };
    if let Ok(id) = named.parse::<BranchId>() {
        return match storage::branches::find(conn, id).await? {
            Some(branch) => branch
                .of_partner(partner_id)
                .map_err(|e| OperationError::Refused(e.into())),
            None => Err(unknown()),
        };
    }
    storage::branches::find_by_code(conn, partner_id, named)
        .await?
        .ok_or_else(unknown)
}

/// The partner's branch (by code or id) and the rule in force there, cached for a few seconds
/// (a rule change takes effect within that time).
pub(crate) async fn branch_rule_cached(
    storage: &Storage,
    partner_id: PartnerId,
    named: &str,
) -> Result<(BranchId, Option<PointRule>), OperationError<PricingError>> {
    let key = (partner_id, named.to_owned());
    if let Some(found) = storage.card_cache().rules.get(&key).await {
        return Ok(found);
    }
    let mut conn = storage.db().await?;
    let branch = branch_of::<PricingError>(&mut conn, partner_id, named).await?;
    let rule = storage::rules::for_branch(&mut conn, partner_id, branch.id).await?;
    storage
        .card_cache()
        .rules
        .insert(key, (branch.id, rule.clone()))
        .await;
    Ok((branch.id, rule))
}

/// What a purchase of `amount_minor` would earn and what `points` would take off the bill at
/// the partner's branch; posts nothing.
pub async fn quote(
    storage: &Storage,
    settings: &ProgramSettings,
    partner_id: PartnerId,
    branch: &str,
    amount_minor: Option<i64>,
    points: Option<Points>,
) -> Result<Quote, OperationError<PricingError>> {
    // The same bounds as the earn or redemption it quotes for.
    if let Some(amount_minor) = amount_minor {
        settings.check_purchase(amount_minor)?;
    }
    if let Some(points) = points {
        settings.check_points(points)?;
    }
    let mut conn = storage.db().await?;
    let branch = branch_of::<PricingError>(&mut conn, partner_id, branch).await?;
    let rule = storage::rules::for_branch(&mut conn, partner_id, branch.id)
        .await?
        .ok_or(PricingError::RuleMissing)?;
    let quote = Quote::new(rule, amount_minor, points)?;
    if let Some(points) = quote.earn_points {
        settings.check_points(points)?;
    }
    Ok(quote)
}

/// Sets the rule of a partner, or of one of its branches when `branch_id` is given.
pub async fn set_rule(
    storage: &Storage,
    partner_id: PartnerId,
    branch_id: Option<BranchId>,
    rule: &PointRule,
) -> Result<(), StorageError> {
    storage::rules::upsert(&mut *storage.db().await?, partner_id, branch_id, rule).await
}
