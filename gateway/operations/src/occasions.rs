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

/// What a run awarded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OccasionReport {
    /// Birthday bonuses awarded.
    pub birthdays: u64,
    /// Anniversary bonuses awarded.
    pub anniversaries: u64,
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
        report.birthdays = award(storage, settings, &rules, &birthday_rules, &due, now).await?;
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
        report.anniversaries =
            award(storage, settings, &rules, &anniversary_rules, &due, now).await?;
    }
    if report != OccasionReport::default() {
        tracing::info!(
            birthdays = report.birthdays,
            anniversaries = report.anniversaries,
            "awarded the day's bonuses"
        );
    }
    Ok(report)
}

/// Awards `rules` to each of `due` (member, occasion key), a chunk per transaction; returns how
/// many awards were made (those made before are skipped).
async fn award(
    storage: &Storage,
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
                    ops.extend(priced(conn, found, *member, key).await?);
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
            .map_err(|e| match e {
                OperationError::Storage(e) => e,
                OperationError::Refused(e) => {
                    StorageError::Corrupt(format!("a day's bonus was refused: {e}"))
                }
            })?;
        storage::card_cache::bump_many(storage, &moved).await;
        awarded += made;
    }
    Ok(awarded)
}
