//! The `program_rules` table: every version of every programme rule.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::partners::Code;
use domain::program::rules::{RuleDefinition, RuleKind, RuleVersion};

use super::schema::program_rules;
use super::{StorageError, stored};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = program_rules, check_for_backend(diesel::pg::Pg))]
struct RuleVersionRow {
    kind: String,
    code: String,
    version: i32,
    effective_from: DateTime<Utc>,
    definition: Option<serde_json::Value>,
    created_by: String,
    created_at: DateTime<Utc>,
    request_key: Option<String>,
    request_fingerprint: Option<Vec<u8>>,
}

impl TryFrom<RuleVersionRow> for RuleVersion {
    type Error = StorageError;

    fn try_from(row: RuleVersionRow) -> Result<Self, StorageError> {
        let kind: RuleKind = stored("program_rules.kind", &row.kind)?;
        let corrupt = |what: String| StorageError::Corrupt(format!("program_rules: {what}"));
        Ok(Self {
            kind,
            code: Code::parse(&row.code).map_err(|e| corrupt(e.to_string()))?,
            version: row.version,
            effective_from: row.effective_from,
            definition: row
                .definition
                .map(|json| RuleDefinition::parse(kind, json))
                .transpose()
                .map_err(|e| corrupt(format!("{} {}: {e}", row.kind, row.code)))?,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }
}

/// Serialises changes to the programme's rules (held to the end of the transaction): a change is
/// checked against the rules in force, which no other change may alter meanwhile.
pub async fn lock_rules(conn: &mut AsyncPgConnection) -> Result<(), StorageError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('program_rules'))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Every version of the rules (of `kind`, and with `code`, when given), by kind, code and version.
pub async fn versions(
    conn: &mut AsyncPgConnection,
    kind: Option<RuleKind>,
    code: Option<&str>,
) -> Result<Vec<RuleVersion>, StorageError> {
    let mut query = program_rules::table
        .select(RuleVersionRow::as_select())
        .order((
            program_rules::kind,
            program_rules::code,
            program_rules::version,
        ))
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(program_rules::kind.eq(kind.as_str()));
    }
    if let Some(code) = code {
        query = query.filter(program_rules::code.eq(code));
    }
    query
        .load(conn)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// The version `created_by` made with the request `key`, and that request's fingerprint.
pub async fn by_request(
    conn: &mut AsyncPgConnection,
    created_by: &str,
    key: &str,
) -> Result<Option<(RuleVersion, Vec<u8>)>, StorageError> {
    let row = program_rules::table
        .filter(program_rules::created_by.eq(created_by))
        .filter(program_rules::request_key.eq(key))
        .select(RuleVersionRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(|row| {
        let fingerprint = row.request_fingerprint.clone().unwrap_or_default();
        Ok((row.try_into()?, fingerprint))
    })
    .transpose()
}

/// Appends a version; `request` is the idempotency key and fingerprint of the request that made
/// it, when one did.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    version: &RuleVersion,
    request: Option<(&str, &[u8])>,
) -> Result<(), StorageError> {
    diesel::insert_into(program_rules::table)
        .values(RuleVersionRow {
            kind: version.kind.as_str().to_owned(),
            code: version.code.to_string(),
            version: version.version,
            effective_from: version.effective_from,
            definition: version.definition.as_ref().map(RuleDefinition::to_json),
            created_by: version.created_by.clone(),
            created_at: version.created_at,
            request_key: request.map(|(key, _)| key.to_owned()),
            request_fingerprint: request.map(|(_, fingerprint)| fingerprint.to_vec()),
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// The programme's rules as this instance knows them: every version, read again once `refresh`
/// has passed (every time, when it is zero). A change made "now" applies `refresh` later
/// (`operations::program::change`), so every instance has read it by then.
#[derive(Clone)]
pub(crate) struct RuleCache {
    pub(crate) refresh: Duration,
    /// The versions and when they were read; the lock is held through a reload, so callers
    /// meanwhile wait for it rather than each reading the table.
    held: Arc<tokio::sync::Mutex<Option<Read>>>,
}

/// Every version, and when it was read.
type Read = (Instant, Arc<Vec<RuleVersion>>);

impl RuleCache {
    pub(crate) fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            held: Arc::default(),
        }
    }

    pub(crate) async fn get(
        &self,
        storage: &super::Storage,
    ) -> Result<Arc<Vec<RuleVersion>>, StorageError> {
        let mut held = self.held.lock().await;
        if let Some((read_at, versions)) = held.as_ref()
            && read_at.elapsed() < self.refresh
        {
            return Ok(versions.clone());
        }
        let read_at = Instant::now();
        let versions = Arc::new(versions(&mut *storage.db().await?, None, None).await?);
        *held = Some((read_at, versions.clone()));
        Ok(versions)
    }
}
