//! Earn rules: basket lines priced by category and margin, rates in place of the partner's,
//! multipliers that stack or compete, caps per member and day, and the quote pricing a purchase
//! as the earn then does.

use domain::program::rules::RuleKind;
use partners::client::Receipt;
use partners::protocol::{BasketLine, Quote};
use serde_json::{Value, json};
use test_support::TestApp;
use test_support::app::unique_code;
use test_support::fixtures::TestPartner;
use test_support::protocol::{code, earn_request};

fn category(name: &str) -> Value {
    json!({"name": {"en": name, "fa": name}})
}

fn line(category: &str, amount_minor: i64, margin_minor: Option<i64>) -> BasketLine {
    BasketLine {
        category: category.into(),
        amount_minor,
        margin_minor,
    }
}

/// Earns for `lines` (adding up to the amount) and answers the points, or the refusal's code.
async fn earn(partner: &TestPartner, card: &str, lines: Vec<BasketLine>) -> Result<i64, String> {
    let amount = lines.iter().map(|l| l.amount_minor).sum();
    let mut request = earn_request(card, amount);
    request.lines = lines;
    partner
        .client
        .earn(&request, &unique_code("earn"))
        .await
        .map(|r| r.body.transaction.points)
        .map_err(code)
}

#[tokio::test]
async fn rules_price_each_line_and_combine_as_written_and_caps_hold_per_day() {
    let app = TestApp::spawn().await;
    // One point per 10,000 minor units.
    let partner = app.partner().with_default_rule().await;
    let at = json!({"partner": partner.partner.code.to_string()});
    let scoped = |extra: Value| {
        let mut rule = json!({"where": at.clone()});
        rule.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        rule
    };
    app.program_rule(RuleKind::Category, "food", category("Food"))
        .await;
    app.program_rule(RuleKind::Category, "rooms", category("Rooms"))
        .await;
    let rules = [
        (
            "rooms-rate",
            json!({"where": {"partner": partner.partner.code.to_string(), "category": "rooms"},
            "award": {"rate": {"points": 3, "per_amount_minor": 10_000}}}),
        ),
        (
            "food-margin",
            json!({"where": {"partner": partner.partner.code.to_string(), "category": "food"},
            "basis": "margin", "award": {"rate": {"points": 5, "per_amount_minor": 10_000}}}),
        ),
        (
            "double",
            scoped(
                json!({"award": {"multiplier": {"factor": "2", "stacking": "stack"}}, "cap_per_day": 25}),
            ),
        ),
        (
            "half-more",
            scoped(json!({"award": {"multiplier": {"factor": "1.5", "stacking": "best"}}})),
        ),
        (
            "fifth-more",
            scoped(json!({"award": {"multiplier": {"factor": "1.2", "stacking": "best"}}})),
        ),
    ];
    for (code, definition) in rules {
        app.program_rule(RuleKind::EarnRule, code, definition).await;
    }
    let card = partner.member().await.card;

    // food 100,000 with a 40,000 margin: the margin rate, 20; + 20 (double) + 10 (the best
    // multiplier, 1.5) = 50. rooms 100,000: the rooms rate, 30; + 30 + 15 = 75. The double's 50
    // are held to its 25 a day: 125 − 25.
    let basket = vec![
        line("food", 100_000, Some(40_000)),
        line("rooms", 100_000, None),
    ];
    // The quote prices the same basket first: 125 by the rules, 100 for this member's caps.
    let priced = |card: Option<&str>, lines: &str| {
        let path = format!(
            "/v1/quote?branch=main&amount_minor=200000&lines={lines}{}",
            card.map(|c| format!("&card={c}")).unwrap_or_default()
        );
        let client = &partner.client;
        async move { client.get::<Quote>(&path).await.map(|r| r.body) }
    };
    let lines = "food:100000:40000,rooms:100000";
    assert_eq!(priced(None, lines).await.unwrap().earn_points, Some(125));
    let member = priced(Some(&card), lines).await.unwrap().member.unwrap();
    assert_eq!(member.earn_points, 100);
    assert_eq!(earn(&partner, &card, basket).await, Ok(100));
    let member = priced(Some(&card), lines).await.unwrap().member.unwrap();
    assert_eq!(
        member.earn_points,
        125 - 50,
        "the double is spent for today"
    );
    for (lines, refusal) in [
        ("food:100000", "basket_total_mismatch"),
        ("toys:200000", "category_unknown"),
        ("food:x", "basket_line_invalid"),
    ] {
        let refused = priced(None, lines).await.unwrap_err();
        assert_eq!(code(refused), refusal, "{lines}");
    }

    // Without a member, the quote prices by the rules alone: 10 + 10 + 5.
    let quote = |card: Option<&str>| {
        let path = format!(
            "/v1/quote?branch=main&amount_minor=100000{}",
            card.map(|c| format!("&card={c}")).unwrap_or_default()
        );
        let client = &partner.client;
        async move {
            let receipt: Receipt<Quote> = client.get(&path).await.unwrap();
            receipt.body
        }
    };
    assert_eq!(quote(None).await.earn_points, Some(25));
    // For this member the double is spent for today: the quote says so, and the earn agrees.
    let member = quote(Some(&card)).await.member.expect("a member quote");
    assert_eq!(member.earn_points, 15);
    let plain = earn(&partner, &card, vec![line("food", 100_000, None)]).await;
    assert_eq!(
        plain,
        Ok(member.earn_points),
        "a food line without a margin keeps the partner's rate"
    );

    // Baskets are checked: categories in force, lines adding up, margins within their lines.
    let refused = |lines| earn(&partner, &card, lines);
    assert_eq!(
        refused(vec![line("toys", 10_000, None)]).await,
        Err("category_unknown".into())
    );
    assert_eq!(
        refused(vec![line("food", 10_000, Some(20_000))]).await,
        Err("basket_line_invalid".into())
    );
    let mut request = earn_request(&card, 30_000);
    request.lines = vec![line("food", 10_000, None)];
    let mismatch = partner.client.earn(&request, &unique_code("earn")).await;
    assert_eq!(code(mismatch.unwrap_err()), "basket_total_mismatch");
    // A late earn names when it happened, within the late window (docs/program.md).
    let mut late = earn_request(&card, 10_000);
    late.occurred_at = Some(chrono::Utc::now() - chrono::Duration::days(8));
    let refused = partner.client.earn(&late, &unique_code("earn")).await;
    assert_eq!(code(refused.unwrap_err()), "occurred_at_invalid");
    late.occurred_at = Some(chrono::Utc::now() - chrono::Duration::days(2));
    let accepted = partner.client.earn(&late, &unique_code("earn")).await;
    // Two days ago none of this test's earn rules was in force yet: the partner's rate alone.
    assert_eq!(accepted.unwrap().body.transaction.points, 1);
    assert!(app.ledger_report().await.is_exact());
}

#[tokio::test]
async fn a_purchase_that_earns_only_by_a_capped_rule_is_refused_once_the_cap_is_spent() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    app.program_rule(RuleKind::Category, "suites", category("Suites"))
        .await;
    app.program_rule(
        RuleKind::EarnRule,
        "suites-triple",
        json!({"where": {"partner": partner.partner.code.to_string(), "category": "suites"},
               "award": {"rate": {"points": 3, "per_amount_minor": 10_000}}, "cap_per_day": 2}),
    )
    .await;
    let card = partner.member().await.card;
    // 5,000 earns half a point at the partner's rate, 1.5 at the rule's: 1, all of it the rule's.
    let small = || vec![line("suites", 5_000, None)];
    assert_eq!(earn(&partner, &card, small()).await, Ok(1));
    assert_eq!(earn(&partner, &card, small()).await, Ok(1));
    assert_eq!(
        earn(&partner, &card, small()).await,
        Err("earn_cap_reached".into())
    );
    // A larger purchase still earns at the partner's rate: 3 + 9 − 6 held back.
    assert_eq!(
        earn(&partner, &card, vec![line("suites", 30_000, None)]).await,
        Ok(3)
    );
}
