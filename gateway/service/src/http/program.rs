//! `/v1/operator/program/rules…`: the programme's rules (categories, tiers, earn rules, bonuses,
//! campaigns) for operator keys with the admin role; every change is a new version, recorded with
//! the key that made it (`docs/program.md`).

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, get, post};
use chrono::{DateTime, Utc};
use domain::keys::OperatorRole;
use domain::program::rules::{
    Change, RuleDefinition, RuleError, RuleKind, RuleVersion, VersionStatus, statuses,
};
use operations::program::{self, Author};
use partners::protocol::{IDEMPOTENT_REPLAYED, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, invalid_request};
use super::verified::VerifiedOperator;
use crate::state::AppState;

/// A version of a rule on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleVersionView {
    /// `category`, `tier`, `earn_rule`, `bonus` or `campaign`.
    pub kind: &'static str,
    pub code: String,
    /// 1, 2, …
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    /// `scheduled`, `in_force`, `superseded` or `retired`, now.
    pub status: &'static str,
    /// The operator key id that made it, or `cli:` and the machine user.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The definition (docs/program.md); `null` for the version that retires the rule.
    #[schema(value_type = Option<Object>)]
    pub definition: Option<serde_json::Value>,
}

fn view(version: &RuleVersion, status: VersionStatus) -> RuleVersionView {
    RuleVersionView {
        kind: version.kind.as_str(),
        code: version.code.to_string(),
        version: version.version,
        effective_from: version.effective_from,
        status: status.as_str(),
        created_by: version.created_by.clone(),
        created_at: version.created_at,
        definition: version.definition.as_ref().map(RuleDefinition::to_json),
    }
}

fn views(versions: &[RuleVersion]) -> Vec<RuleVersionView> {
    versions
        .iter()
        .zip(statuses(versions, Utc::now()))
        .map(|(v, status)| view(v, status))
        .collect()
}

/// Which rules to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesQuery {
    /// Only rules of this kind: `category`, `tier`, `earn_rule`, `bonus` or `campaign`.
    #[param(value_type = Option<String>, pattern = "^(category|tier|earn_rule|bonus|campaign)$")]
    pub kind: Option<RuleKind>,
}

/// Every version of every rule (of one kind), by kind, code and version.
#[utoipa::path(tag = "program", operation_id = "listProgramRules", params(RulesQuery), responses(
    (status = 200, description = "The versions (admin role)", body = Vec<RuleVersionView>),
    (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "An invalid query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/operator/program/rules")]
pub(crate) async fn list(
    state: Data<AppState>,
    request: VerifiedOperator,
    query: Query<RulesQuery>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Admin)?;
    let versions = program::list(&state.club.storage, query.kind).await?;
    Ok(HttpResponse::Ok().json(views(&versions)))
}

/// One rule's versions, oldest first.
#[utoipa::path(tag = "program", operation_id = "getProgramRule", params(
    ("kind" = String, Path, description = "`category`, `tier`, `earn_rule`, `bonus` or `campaign`", pattern = "^(category|tier|earn_rule|bonus|campaign)$"),
    ("code" = String, Path, description = "The rule's code", min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
), responses(
    (status = 200, description = "The versions (admin role)", body = Vec<RuleVersionView>),
    (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No rule of this kind has this code", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "An unknown kind or an invalid code", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/operator/program/rules/{kind}/{code}")]
pub(crate) async fn show(
    state: Data<AppState>,
    request: VerifiedOperator,
    path: Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Admin)?;
    let (kind, code) = path.into_inner();
    // Parsed after the signature is verified: an extractor's refusal would answer first.
    let kind = RuleKind::parse(&kind).map_err(invalid_request)?;
    let versions = program::show(&state.club.storage, kind, &code).await?;
    Ok(HttpResponse::Ok().json(views(&versions)))
}

/// What a new version does.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChangeKind {
    /// A new rule (refused if the code is taken).
    Create,
    /// A new definition of an existing rule.
    Amend,
    /// The rule stops applying.
    Retire,
}

/// A change to a rule: its next version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeRuleRequest {
    pub change: ChangeKind,
    /// When the version comes into force: now when absent; never in the past, and after the
    /// rule's last version.
    pub effective_from: Option<DateTime<Utc>>,
    /// The definition, for `create` and `amend` (docs/program.md shows one of each kind).
    #[schema(value_type = Option<Object>)]
    pub definition: Option<serde_json::Value>,
}

/// Adds a version to a rule: creates, amends or retires it. A retry with the same
/// `Idempotency-Key` answers the version the first attempt made.
#[utoipa::path(tag = "program", operation_id = "changeProgramRule", params(
    ("kind" = String, Path, description = "`category`, `tier`, `earn_rule`, `bonus` or `campaign`", pattern = "^(category|tier|earn_rule|bonus|campaign)$"),
    ("code" = String, Path, description = "The rule's code", min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
), request_body = ChangeRuleRequest, responses(
    (status = 201, description = "The new version (admin role)", body = RuleVersionView),
    (status = 400, description = "The body is not the JSON this route expects", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "Amending or retiring a rule that does not exist", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The code is taken, the rule is retired, or the version would not follow the last one", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "An invalid definition, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/operator/program/rules/{kind}/{code}")]
pub(crate) async fn change(
    state: Data<AppState>,
    request: VerifiedOperator,
    path: Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let caller = request.require(OperatorRole::Admin)?;
    let (kind, code) = path.into_inner();
    // Parsed after the signature is verified: an extractor's refusal would answer first.
    let kind = RuleKind::parse(&kind).map_err(invalid_request)?;
    let body: ChangeRuleRequest = request.json()?;
    let definition = |json: Option<serde_json::Value>| {
        let json = json
            .ok_or_else(|| RuleError::DefinitionInvalid(format!("a {kind} needs a definition")))?;
        RuleDefinition::parse(kind, json)
    };
    let change = match body.change {
        ChangeKind::Create => Change::Create(definition(body.definition)?),
        ChangeKind::Amend => Change::Amend(definition(body.definition)?),
        ChangeKind::Retire if body.definition.is_some() => {
            return Err(RuleError::DefinitionInvalid(
                "a retirement takes no definition".to_owned(),
            )
            .into());
        }
        ChangeKind::Retire => Change::Retire,
    };
    let author = Author {
        name: &caller.key_id,
        request: Some(request.idempotent_request()?),
    };
    let changed = program::change(
        &state.club.storage,
        kind,
        &code,
        change,
        body.effective_from,
        author,
        Utc::now(),
    )
    .await?;
    let status = statuses(std::slice::from_ref(&changed.version), Utc::now());
    let mut response = HttpResponse::Created();
    if changed.is_replay {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    Ok(response.json(view(&changed.version, status[0])))
}

/// How far back a dry run replays.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct DryRunQuery {
    /// The last this many days of purchases (1 to 366; 30 when absent).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<u16>,
}

/// What a campaign would have given over the purchases of the last days.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DryRunView {
    pub campaign: String,
    /// The purchases replayed happened from …
    pub from: DateTime<Utc>,
    /// … to (exclusive).
    pub to: DateTime<Utc>,
    /// Purchases replayed (posted at once; pending earns get no campaign bonus).
    pub replayed: u64,
    /// Purchases it would have given a bonus.
    pub rewarded: u64,
    /// Members it would have reached.
    pub members_reached: usize,
    /// Points it would have given, within its budget.
    pub points: i64,
    /// Who would have paid what: `operator` or a partner's code.
    pub funders: Vec<FunderPoints>,
    /// When its budget would have run out, if it would have.
    pub budget_spent_at: Option<DateTime<Utc>>,
}

/// A funder's part.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FunderPoints {
    pub funder: String,
    pub points: i64,
}

/// Replays the last days' purchases against the campaign as its last version defines it
/// (scheduled or in force), whatever its window: what it would have cost and whom it would have
/// reached. Writes nothing.
#[utoipa::path(tag = "program", operation_id = "dryRunCampaign", params(
    ("code" = String, Path, description = "The campaign's code", min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
    DryRunQuery,
), responses(
    (status = 200, description = "The dry run (admin role)", body = DryRunView),
    (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No campaign has this code", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The campaign is retired", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Days out of range, or an invalid query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/operator/program/campaigns/{code}/dry-run")]
pub(crate) async fn dry_run(
    state: Data<AppState>,
    request: VerifiedOperator,
    code: Path<String>,
    query: Query<DryRunQuery>,
) -> Result<HttpResponse, ApiError> {
    request.require(OperatorRole::Admin)?;
    let code = code.into_inner();
    let report = operations::dry_runs::dry_run_of(
        &state.club.storage,
        (state.club.program.time_zone, &state.club.member_data_keys),
        &code,
        query.days.unwrap_or(30),
        Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(DryRunView {
        campaign: code,
        from: report.from,
        to: report.to,
        replayed: report.found.earns,
        rewarded: report.found.rewarded,
        members_reached: report.found.members.len(),
        points: report.found.points,
        funders: report
            .funders
            .into_iter()
            .map(|(funder, points)| FunderPoints { funder, points })
            .collect(),
        budget_spent_at: report.found.budget_spent_at,
    }))
}
