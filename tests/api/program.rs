//! The programme's rules as data against the test's PostgreSQL: versions that follow each
//! other, each recorded with who made it, checked against the partners, branches and
//! categories in force; append-only in the database too.

use chrono::{Duration, Utc};
use diesel_async::RunQueryDsl as _;
use domain::program::rules::{Change, RuleDefinition, RuleKind};
use operations::error::OperationError;
use operations::program;
use serde_json::json;
use test_support::TestApp;
use test_support::app::unique_code;

fn definition(kind: RuleKind, json: serde_json::Value) -> RuleDefinition {
    RuleDefinition::parse(kind, json).unwrap()
}

/// The refusal's code, or "storage" (the test then fails on the comparison).
fn code<T: std::fmt::Debug>(
    result: Result<T, OperationError<domain::program::rules::RuleError>>,
) -> &'static str {
    match result.unwrap_err() {
        OperationError::Refused(refused) => refused.code(),
        OperationError::Storage(_) => "storage",
    }
}

#[tokio::test]
async fn rules_are_versioned_checked_against_what_exists_and_never_altered() {
    let app = TestApp::spawn().await;
    let restaurant = app.partner().await;
    let storage = &app.storage;
    let now = Utc::now();
    let (food, weekend) = (unique_code("food"), unique_code("weekend"));
    let restaurant_code = restaurant.partner.code.to_string();

    // An earn rule on a category that does not exist yet is refused; once it does, accepted.
    let double = |category: &str| {
        definition(
            RuleKind::EarnRule,
            json!({"where": {"partner": restaurant_code, "category": category},
                   "award": {"multiplier": {"factor": "2", "stacking": "best"}}}),
        )
    };
    let refused = program::change(
        storage,
        RuleKind::EarnRule,
        &weekend,
        Change::Create(double(&food)),
        None,
        "test:alice",
        now,
    )
    .await;
    assert_eq!(code(refused), "rule_category_unknown");
    let category = definition(
        RuleKind::Category,
        json!({"name": {"en": "Food", "fa": "غذا"}}),
    );
    let first = program::change(
        storage,
        RuleKind::Category,
        &food,
        Change::Create(category.clone()),
        None,
        "test:alice",
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        (first.version, first.created_by.as_str()),
        (1, "test:alice")
    );
    program::change(
        storage,
        RuleKind::EarnRule,
        &weekend,
        Change::Create(double(&food)),
        None,
        "test:alice",
        now,
    )
    .await
    .unwrap();

    // A partner or branch that does not exist is refused.
    let elsewhere = definition(
        RuleKind::EarnRule,
        json!({"where": {"partner": restaurant_code, "branch": "no-such-branch"},
               "award": {"rate": {"points": 1, "per_amount_minor": 1000}}}),
    );
    let refused = program::change(
        storage,
        RuleKind::EarnRule,
        &weekend,
        Change::Amend(elsewhere),
        Some(now + Duration::hours(1)),
        "test:bob",
        now,
    )
    .await;
    assert_eq!(code(refused), "rule_place_unknown");

    // Versions follow each other: not from the past, not before the last one.
    let triple = definition(
        RuleKind::EarnRule,
        json!({"where": {"partner": restaurant_code}, "award": {"multiplier": {"factor": "3", "stacking": "best"}}}),
    );
    let refused = program::change(
        storage,
        RuleKind::EarnRule,
        &weekend,
        Change::Amend(triple.clone()),
        Some(now - Duration::hours(1)),
        "test:bob",
        now,
    )
    .await;
    assert_eq!(code(refused), "rule_version_overlaps");
    let second = program::change(
        storage,
        RuleKind::EarnRule,
        &weekend,
        Change::Amend(triple),
        Some(now + Duration::hours(1)),
        "test:bob",
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        (second.version, second.created_by.as_str()),
        (2, "test:bob")
    );
    let retired = program::change(
        storage,
        RuleKind::EarnRule,
        &weekend,
        Change::Retire,
        Some(now + Duration::days(1)),
        "test:bob",
        now,
    )
    .await
    .unwrap();
    assert_eq!((retired.version, retired.definition.is_none()), (3, true));
    let refused = program::change(
        storage,
        RuleKind::EarnRule,
        &weekend,
        Change::Amend(double(&food)),
        Some(now + Duration::days(2)),
        "test:bob",
        now,
    )
    .await;
    assert_eq!(code(refused), "rule_retired");

    // Shown as stored, oldest first; listed with every other rule.
    let shown = program::show(storage, RuleKind::EarnRule, &weekend)
        .await
        .unwrap();
    assert_eq!(
        shown.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(shown[0].definition, Some(double(&food)));
    let listed = program::list(storage, Some(RuleKind::Category))
        .await
        .unwrap();
    assert!(
        listed
            .iter()
            .any(|v| v.code.as_str() == food && v.definition == Some(category.clone()))
    );
    assert_eq!(
        code(program::show(storage, RuleKind::Bonus, &food).await),
        "rule_not_found"
    );
    assert_eq!(
        code(program::show(storage, RuleKind::Bonus, "Not A Code").await),
        "rule_code_invalid"
    );

    // The database refuses to alter a version, whatever the code does.
    let mut conn = storage.db().await.unwrap();
    let altered =
        diesel::sql_query("UPDATE program_rules SET created_by = 'mallory' WHERE code = $1")
            .bind::<diesel::sql_types::Text, _>(&food)
            .execute(&mut conn)
            .await;
    assert!(altered.is_err(), "program_rules must be append-only");
}
