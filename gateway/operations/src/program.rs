//! The programme's rules: adding, changing and retiring them (each a new version, recorded with
//! who made it), and reading them. The admin API and `clubgate program` call these.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::partners::Code;
use domain::program::rules::{self, Change, RuleError, RuleKind, RuleVersion};
use domain::program::validation::{self, Known};
use storage::{Connection, Storage};

use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<RuleError>>;

fn code_of(code: &str) -> Result<Code> {
    Code::parse(code).map_err(|_| OperationError::Refused(RuleError::CodeInvalid(code.to_owned())))
}

/// Makes the next version of rule `kind`/`code` (`change`), in force from `effective_from` (now
/// when `None`), checked against what is in force then; `created_by` says who.
#[tracing::instrument(skip(storage, change), fields(rule.kind = %kind, rule.code = %code))]
pub async fn change(
    storage: &Storage,
    kind: RuleKind,
    code: &str,
    change: Change,
    effective_from: Option<DateTime<Utc>>,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<RuleVersion> {
    let code = code_of(code)?;
    let now = domain::time::stored(now);
    let effective_from = effective_from.map_or(now, domain::time::stored);
    let mut conn = storage.db().await?;
    let version = conn
        .transaction::<_, OperationError<RuleError>, _>(async |conn| {
            storage::program::lock_rules(conn).await?;
            let all = storage::program::versions(conn, None, None).await?;
            let own: Vec<RuleVersion> = all
                .iter()
                .filter(|v| v.kind == kind && v.code == code)
                .cloned()
                .collect();
            let version =
                rules::next_version(kind, code, &own, change, effective_from, now, created_by)
                    .map_err(OperationError::Refused)?;
            if let Some(definition) = &version.definition {
                let known = known_at(conn, &all, &version).await?;
                validation::validate(definition, &known).map_err(OperationError::Refused)?;
            }
            storage::program::insert(conn, &version).await?;
            Ok(version)
        })
        .await?;
    tracing::info!(
        version = version.version,
        from = %version.effective_from,
        by = %version.created_by,
        retired = version.definition.is_none(),
        "programme rule {} {} version {}",
        version.kind,
        version.code,
        version.version
    );
    Ok(version)
}

/// What exists when `version` comes into force, other than its own rule (`all`: every rule's
/// versions).
async fn known_at(
    conn: &mut Connection,
    all: &[RuleVersion],
    version: &RuleVersion,
) -> Result<Known> {
    let mut known = Known::default();
    for partner in storage::partners::list(conn).await? {
        let branches = storage::branches::list_for_partner(conn, partner.id).await?;
        known.partners.insert(
            partner.code.to_string(),
            branches.into_iter().map(|b| b.code.to_string()).collect(),
        );
    }
    for other in rules::in_force(all, version.effective_from) {
        if other.kind == version.kind && other.code == version.code {
            continue;
        }
        match &other.definition {
            Some(rules::RuleDefinition::Category(_)) => {
                known.categories.insert(other.code.to_string());
            }
            Some(rules::RuleDefinition::Tier(tier)) => {
                known.tiers.insert(other.code.to_string(), tier.rank);
            }
            _ => {}
        }
    }
    Ok(known)
}

/// Every version of every rule (of `kind`, when given), by kind, code and version.
pub async fn list(storage: &Storage, kind: Option<RuleKind>) -> Result<Vec<RuleVersion>> {
    Ok(storage::program::versions(&mut *storage.db().await?, kind, None).await?)
}

/// The versions of one rule, oldest first.
pub async fn show(storage: &Storage, kind: RuleKind, code: &str) -> Result<Vec<RuleVersion>> {
    let code = code_of(code)?;
    let versions =
        storage::program::versions(&mut *storage.db().await?, Some(kind), Some(code.as_str()))
            .await?;
    if versions.is_empty() {
        return Err(OperationError::Refused(RuleError::NotFound(
            kind,
            code.to_string(),
        )));
    }
    Ok(versions)
}
