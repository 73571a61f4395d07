//! Settlement between the operator and its partners (see `docs/settlement.md`):
//! terms, the period close that issues signed statements, the partners'
//! acknowledgements and disputes, the resolutions that adjust the next
//! statement, and reconciliation against a partner's own records.

pub mod close;
pub mod money;
pub mod reconcile;
pub mod responses;
pub mod statement;
pub mod terms;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;

use self::terms::{NewTerms, PeriodKind, Terms, TermsError};
use crate::domain::partners::PartnerId;
use crate::storage::settlement::{self as rows, TermsRow};
use crate::storage::{self, Storage, StorageError};

impl From<TermsRow> for Terms {
    fn from(row: TermsRow) -> Self {
        Self {
            id: row.id,
            partner_id: PartnerId(row.partner_id),
            version: row.version,
            effective_from: row.effective_from,
            currency: row.currency,
            price_per_point: row.price_per_point.normalize(),
            reimbursement_per_point: row.reimbursement_per_point.normalize(),
            // Rows are written only from validated terms (and the column is CHECKed).
            period: PeriodKind::parse(&row.period).unwrap_or(PeriodKind::Daily),
            time_zone: terms::parse_zone(&row.time_zone).unwrap_or(chrono_tz::UTC),
        }
    }
}

impl From<&Terms> for TermsRow {
    fn from(terms: &Terms) -> Self {
        Self {
            id: terms.id,
            partner_id: terms.partner_id.0,
            version: terms.version,
            effective_from: terms.effective_from,
            currency: terms.currency.clone(),
            price_per_point: terms.price_per_point,
            reimbursement_per_point: terms.reimbursement_per_point,
            period: terms.period.as_str().to_owned(),
            time_zone: terms.time_zone.name().to_owned(),
            created_at: Utc::now(),
        }
    }
}

/// The terms in force at `instant`, from a partner's versions (oldest first).
pub fn terms_at(versions: &[Terms], instant: DateTime<Utc>) -> Option<&Terms> {
    versions
        .iter()
        .rev()
        .find(|terms| terms.effective_from <= instant)
}

async fn partner_id_of(storage: &Storage, code: &str) -> Result<PartnerId, TermsError> {
    let mut conn = storage.db().await?;
    storage::partners::find_by_code(&mut conn, code)
        .await?
        .map(|p| p.id)
        .ok_or_else(|| TermsError::PartnerNotFound(code.to_owned()))
}

/// Sets a partner's next terms version (the first one, or one from the next period).
#[tracing::instrument(skip_all, fields(partner.code = %code))]
pub async fn set_terms(
    storage: &Storage,
    code: &str,
    new: NewTerms,
    now: DateTime<Utc>,
) -> Result<Terms, TermsError> {
    let partner_id = partner_id_of(storage, code).await?;
    let mut conn = storage.db().await?;
    conn.transaction::<_, TermsError, _>(async |conn| {
        // The same lock as the period close: a version is never added under a close.
        rows::lock_partner_settlement(conn, partner_id.0).await?;
        let versions: Vec<Terms> = rows::terms_of(conn, partner_id.0)
            .await?
            .into_iter()
            .map(Terms::from)
            .collect();
        let terms = terms::next_version(partner_id, versions.last(), new, now)?;
        if !rows::insert_terms(conn, &TermsRow::from(&terms)).await? {
            return Err(TermsError::Invalid(format!(
                "a terms version starting {} already exists",
                terms.effective_from
            )));
        }
        tracing::info!(version = terms.version, from = %terms.effective_from, "terms set");
        Ok(terms)
    })
    .await
}

/// Every terms version of a partner, oldest first.
pub async fn list_terms(storage: &Storage, code: &str) -> Result<Vec<Terms>, TermsError> {
    let partner_id = partner_id_of(storage, code).await?;
    let mut conn = storage.db().await?;
    Ok(rows::terms_of(&mut conn, partner_id.0)
        .await?
        .into_iter()
        .map(Terms::from)
        .collect())
}

/// Why a settlement operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    #[error("no statement {0}")]
    StatementNotFound(uuid::Uuid),
    #[error("{0}")]
    Money(#[from] money::MoneyOverflow),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for SettlementError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Storage(storage::StorageError::from(err))
    }
}

impl From<diesel::result::Error> for TermsError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Storage(StorageError::from(err))
    }
}
