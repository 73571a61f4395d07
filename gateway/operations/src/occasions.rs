//! The daily bonuses: a member's birthday (in their birthday week, once a year) and membership
//! anniversary. Each award is keyed (`birthday:<year>`, `anniversary:<n>`), so however many
//! instances run the job, however often and across restarts, each is awarded once: a second
//! attempt finds the key taken under the member's lock and is skipped.

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncConnection as _;
use domain::ids::MemberId;
use domain::ledger::LedgerError;
use domain::ledger::books::LedgerOp;
use domain::program::ProgramSettings;
use domain::program::bonuses::{self, Bonus};
use domain::program::rules::Occasion;
use storage::{Storage, StorageError};

use crate::bonuses::priced;
use crate::error::OperationError;
use crate::ledger::at;
use crate::program::Places;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OccasionReport {
    /// Birthday bonuses awarded.
    pub birthdays: u64,
    /// Anniversary bonuses awarded.
    pub anniversaries: u64,
    /// Members whose tier lapsed, recorded in their tier history.
    pub lapses: u64,
}

/// Members per transaction.
const CHUNK: usize = 200;

/// Awards the birthday and anniversary bonuses due at `now` (the programme's local day).
#[tracing::instrument(skip_all)]
pub async fn run(
    storage: &Storage,
    settings: &ProgramSettings,
    now: DateTime<Utc>,
) -> Result<OccasionReport, StorageError> {
    let rules = storage.program_rules().await?;
    let today = domain::program::tiers::local_day(now, settings.time_zone);
    let month_days = bonuses::due_month_days(today);
    let mut report = OccasionReport::default();
    let places = Places::load(storage).await?;
    let birthday_rules = bonuses::in_force(&rules, now, Occasion::Birthday);
    if !birthday_rules.is_empty() {
        let members =
            storage::members::with_birthday_on(&*storage.db().await?, &month_days).await?;
        let due: Vec<(MemberId, String)> = members
            .into_iter()
            .filter_map(|(member, birthday)| {
                Some((member, bonuses::birthday_due(&birthday, today)?))
            })
            .collect();
        report.birthdays = award(
            storage,
            &places,
            settings,
            &rules,
            &birthday_rules,
            &due,
            now,
        )
        .await?;
    }
    let anniversary_rules = bonuses::in_force(&rules, now, Occasion::Anniversary);
    if !anniversary_rules.is_empty() {
        let members =
            storage::members::enrolled_on(&*storage.db().await?, &month_days, settings.time_zone)
                .await?;
        let due: Vec<(MemberId, String)> = members
            .into_iter()
            .filter_map(|(member, day): (MemberId, NaiveDate)| {
                Some((member, bonuses::anniversary_due(day, today)?))
            })
            .collect();
        report.anniversaries = award(
            storage,
            &places,
            settings,
            &rules,
            &anniversary_rules,
            &due,
            now,
        )
        .await?;
    }
    report.lapses = record_lapses(storage, settings, &rules, now).await?;
    if report != OccasionReport::default() {
        tracing::info!(
            birthdays = report.birthdays,
            anniversaries = report.anniversaries,
            lapses = report.lapses,
            "the day's bonuses and tier lapses"
        );
    }
    Ok(report)
}

/// Records in the tier history the members who left a tier above the entry one by time alone
/// (their window and grace ran out with no purchase to record it), each under their lock.
async fn record_lapses(
    storage: &Storage,
    settings: &ProgramSettings,
    rules: &[domain::program::rules::RuleVersion],
    now: DateTime<Utc>,
) -> Result<u64, StorageError> {
    use domain::program::tiers;
    let tiers = tiers::in_force(rules, now);
    let Some(since) = tiers::activity_since(&tiers, now, settings.time_zone) else {
        return Ok(0);
    };
    let above_entry: Vec<String> = tiers
        .iter()
        .filter(|t| t.rule.rank > 0)
        .map(|t| t.code.to_owned())
        .collect();
    let members = storage::activity::members_in_tiers(&*storage.db().await?, &above_entry).await?;
    let mut lapses = 0;
    for (member_id, recorded) in members {
        let mut conn = storage.db().await?;
        let lapsed = conn
            .transaction::<_, StorageError, _>(async |conn| {
                storage::ledger::lock_member_account(conn, member_id).await?;
                let now_recorded = storage::activity::tiers_recorded(conn, &[member_id]).await?;
                if now_recorded.first().map(|(_, t)| t) != Some(&recorded) {
                    return Ok(false); // a batch recorded a move meanwhile
                }
                let days = storage::activity::days(conn, &[member_id], since).await?;
                let days = days.into_iter().map(|(_, day, tally)| (day, tally));
                let zone = settings.time_zone;
                let Some(standing) = tiers::standing_on_days(&tiers, days, now, zone) else {
                    return Ok(false);
                };
                if standing.tier == recorded {
                    return Ok(false);
                }
                let change = domain::ledger::books::TierChange {
                    member_id,
                    at: now,
                    tier: standing.tier,
                    previous: Some(recorded.clone()),
                };
                storage::activity::record_tier_changes(conn, &[change]).await?;
                Ok(true)
            })
            .await?;
        lapses += u64::from(lapsed);
    }
    Ok(lapses)
}

/// Awards `rules` to each of `due` (member, occasion key), a chunk per transaction; returns how
/// many awards were made (those made before are skipped).
async fn award(
    storage: &Storage,
    places: &Places,
    settings: &ProgramSettings,
    rules: &[domain::program::rules::RuleVersion],
    found: &[Bonus<'_>],
    due: &[(MemberId, String)],
    now: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let mut awarded = 0;
    for chunk in due.chunks(CHUNK) {
        let mut conn = storage.db().await?;
        let (made, moved) = conn
            .transaction::<_, OperationError<LedgerError>, _>(async |conn| {
                let mut ops: Vec<LedgerOp> = Vec::new();
                for (member, key) in chunk {
                    ops.extend(priced(places, found, *member, key)?);
                }
                let refs: Vec<&LedgerOp> = ops.iter().collect();
                let (results, moved) = at::apply_batch(conn, settings, rules, &refs, now).await?;
                let mut made = 0;
                for result in results {
                    match result {
                        Ok(_) => made += 1,
                        // Awarded already (another instance, an earlier run): nothing to do.
                        Err(OperationError::Refused(LedgerError::BonusAlreadyAwarded {
                            ..
                        })) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok((made, moved))
            })
            .await
            .map_err(|e| e.refusal_unexpected("a day's bonus"))?;
        storage::card_cache::bump_many(storage, &moved).await;
        awarded += made;
    }
    Ok(awarded)
}
