//! The programme's rules through the admin API: versions that follow each other, each recorded
//! with the operator key that made it, checked against the partners, branches and categories in
//! force, idempotent like every POST, and append-only in the database too.

use chrono::{Duration, SecondsFormat, Utc};
use diesel_async::RunQueryDsl as _;
use domain::keys::OperatorRole;
use partners::client::{Client, ClientError, Receipt};
use serde_json::{Value, json};
use test_support::TestApp;
use test_support::app::unique_code;
use test_support::protocol::code;

type Answer = Result<Receipt<Value>, ClientError>;

/// Posts a change to rule `kind`/`code` under a fresh idempotency key.
async fn change(client: &Client, kind: &str, code: &str, body: Value) -> Answer {
    change_as(client, kind, code, &unique_code("rule"), body).await
}

async fn change_as(client: &Client, kind: &str, code: &str, key: &str, body: Value) -> Answer {
    client
        .post(
            &format!("/v1/operator/program/rules/{kind}/{code}"),
            key,
            &body,
        )
        .await
}

fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn rules_are_versioned_checked_against_what_exists_and_never_altered() {
    let app = TestApp::spawn().await;
    let restaurant = app.partner().await;
    let admin_key = app
        .operator_key("Programme admin", OperatorRole::Admin)
        .await;
    let admin = app.client(&admin_key).await;
    let (food, weekend) = (unique_code("food"), unique_code("weekend"));
    let restaurant_code = restaurant.partner.code.to_string();

    // An earn rule on a category that does not exist yet is refused; once it does, accepted.
    let double = |category: &str| {
        json!({"change": "create", "definition": {
            "where": {"partner": restaurant_code, "category": category},
            "award": {"multiplier": {"factor": "2", "stacking": "best"}}}})
    };
    let refused = change(&admin, "earn_rule", &weekend, double(&food)).await;
    assert_eq!(code(refused.unwrap_err()), "rule_category_unknown");
    let category = json!({"name": {"en": "Food", "fa": "غذا"}});
    let create_food = json!({"change": "create", "definition": category});
    let key = unique_code("food");
    let first = change_as(&admin, "category", &food, &key, create_food.clone())
        .await
        .unwrap();
    assert_eq!(first.status, 201);
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["status"], "in_force");
    assert_eq!(first.body["created_by"], admin_key.kid.as_str());
    assert_eq!(first.body["definition"], category);
    // A retry answers the first version; the same key for another change is refused.
    let again = change_as(&admin, "category", &food, &key, create_food)
        .await
        .unwrap();
    assert!(again.is_replay);
    assert_eq!(again.raw_body, first.raw_body);
    let reused = change_as(&admin, "category", &food, &key, json!({"change": "retire"})).await;
    assert_eq!(code(reused.unwrap_err()), "idempotency_key_reused");
    change(&admin, "earn_rule", &weekend, double(&food))
        .await
        .unwrap();
    let taken = change(
        &admin,
        "category",
        &food,
        json!({"change": "create", "definition": category}),
    )
    .await;
    assert_eq!(code(taken.unwrap_err()), "rule_exists");

    // A partner or branch that does not exist is refused, as is a bad definition or code.
    let elsewhere = json!({"change": "amend", "effective_from": at(Duration::hours(1)), "definition": {
        "where": {"partner": restaurant_code, "branch": "no-such-branch"},
        "award": {"rate": {"points": 1, "per_amount_minor": 1000}}}});
    let refused = change(&admin, "earn_rule", &weekend, elsewhere).await;
    assert_eq!(code(refused.unwrap_err()), "rule_place_unknown");
    for (body, expected) in [
        (json!({"change": "amend"}), "rule_definition_invalid"),
        (
            json!({"change": "retire", "definition": category}),
            "rule_definition_invalid",
        ),
        (
            json!({"change": "amend", "definition": {"award": {"rate": {"points": -1, "per_amount_minor": 10}}}}),
            "rule_amount_invalid",
        ),
        (
            json!({"change": "amend", "definition": {"colour": "red"}}),
            "rule_definition_invalid",
        ),
    ] {
        let refused = change(&admin, "earn_rule", &weekend, body.clone()).await;
        assert_eq!(code(refused.unwrap_err()), expected, "{body}");
    }
    let refused = change(&admin, "earn_rule", "Not-A-Code", double(&food)).await;
    assert_eq!(code(refused.unwrap_err()), "rule_code_invalid");
    let refused = change(&admin, "prize", &weekend, double(&food)).await;
    assert_eq!(code(refused.unwrap_err()), "invalid_request");

    // Versions follow each other: not from the past, not before the last one.
    let triple = |from: Duration| {
        json!({"change": "amend", "effective_from": at(from), "definition": {
            "where": {"partner": restaurant_code},
            "award": {"multiplier": {"factor": "3", "stacking": "best"}}}})
    };
    let refused = change(&admin, "earn_rule", &weekend, triple(-Duration::hours(1))).await;
    assert_eq!(code(refused.unwrap_err()), "rule_version_overlaps");
    let second = change(&admin, "earn_rule", &weekend, triple(Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(
        (&second.body["version"], &second.body["status"]),
        (&json!(2), &json!("scheduled"))
    );
    let retire = json!({"change": "retire", "effective_from": at(Duration::days(1))});
    let retired = change(&admin, "earn_rule", &weekend, retire.clone())
        .await
        .unwrap();
    assert_eq!(
        (&retired.body["version"], &retired.body["definition"]),
        (&json!(3), &Value::Null)
    );
    let refused = change(&admin, "earn_rule", &weekend, retire).await;
    assert_eq!(code(refused.unwrap_err()), "rule_retired");

    // Shown as stored, oldest first, with where each stands now; listed with every other rule.
    let shown: Receipt<Vec<Value>> = admin
        .get(&format!("/v1/operator/program/rules/earn_rule/{weekend}"))
        .await
        .unwrap();
    let summary: Vec<(i64, &str)> = shown
        .body
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [(1, "in_force"), (2, "scheduled"), (3, "scheduled")]
    );
    let listed: Receipt<Vec<Value>> = admin
        .get("/v1/operator/program/rules?kind=category")
        .await
        .unwrap();
    assert!(listed.body.iter().any(|v| v["code"] == food.as_str()));
    assert!(listed.body.iter().all(|v| v["kind"] == "category"));
    let missing = admin
        .get::<Value>(&format!("/v1/operator/program/rules/bonus/{food}"))
        .await;
    assert_eq!(code(missing.unwrap_err()), "rule_not_found");

    // Only the admin role changes or reads the programme.
    let finance = app
        .client(&app.operator_key("Finance", OperatorRole::Finance).await)
        .await;
    let refused = change(
        &finance,
        "category",
        &unique_code("rooms"),
        json!({"change": "create", "definition": category}),
    )
    .await;
    assert_eq!(code(refused.unwrap_err()), "role_not_granted");
    let refused = restaurant
        .client
        .get::<Value>("/v1/operator/program/rules")
        .await;
    assert_eq!(code(refused.unwrap_err()), "operator_key_required");

    // The database refuses to alter a version, whatever the code does.
    let mut conn = app.storage.db().await.unwrap();
    let altered =
        diesel::sql_query("UPDATE program_rules SET created_by = 'mallory' WHERE code = $1")
            .bind::<diesel::sql_types::Text, _>(&food)
            .execute(&mut conn)
            .await;
    assert!(altered.is_err(), "program_rules must be append-only");
}
