//! Setting and listing a partner's settlement terms.

use diesel_async::AsyncConnection as _;
use domain::ids::PartnerId;
use domain::settlement::terms::{NewTerms, Terms, TermsError, next_version};
use storage::Storage;

use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<TermsError>>;

async fn partner_id_of(storage: &Storage, code: &str) -> Result<PartnerId> {
    storage::partners::find_by_code(&mut *storage.db().await?, code)
        .await?
        .map(|p| p.id)
        .ok_or_else(|| TermsError::PartnerNotFound(code.to_owned()).into())
}

/// Sets a partner's next terms version as of `now` (the first one, or one from the period
/// after `now`).
#[tracing::instrument(skip_all, fields(partner.code = %code))]
pub async fn set(
    storage: &Storage,
    code: &str,
    new: NewTerms,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Terms> {
    let partner_id = partner_id_of(storage, code).await?;
    let now = domain::time::stored(now);
    let mut conn = storage.db().await?;
    conn.transaction::<_, OperationError<TermsError>, _>(async |conn| {
        // The same lock as the period close: a version is never added under a close.
        storage::settlement::lock_partner_settlement(conn, partner_id).await?;
        let versions = storage::settlement::terms_of(conn, partner_id).await?;
        let terms = next_version(partner_id, versions.last(), new, now)?;
        if !storage::settlement::insert_terms(conn, &terms, now).await? {
            return Err(TermsError::Invalid(format!(
                "a terms version starting {} already exists",
                terms.effective_from
            ))
            .into());
        }
        tracing::info!(version = terms.version, from = %terms.effective_from, "terms set");
        Ok(terms)
    })
    .await
}

/// Every terms version of a partner, oldest first.
pub async fn list(storage: &Storage, code: &str) -> Result<Vec<Terms>> {
    let partner_id = partner_id_of(storage, code).await?;
    Ok(storage::settlement::terms_of(&mut *storage.db().await?, partner_id).await?)
}
