//! Campaigns: an earn at the campaign's place, on its days, by a member of its audience gets the
//! campaign's bonus in the same batch, split between its funders, until its budget is spent,
//! exactly, however many earns run at once.

use chrono::Utc;
use chrono_tz::Asia::Tehran;
use domain::program::rules::RuleKind;
use partners::client::Receipt;
use serde_json::{Value, json};
use test_support::app::unique_code;
use test_support::{CardChecks as _, TestApp};

/// Today's weekday in Tehran, as rules name it.
fn today() -> String {
    Utc::now()
        .with_timezone(&Tehran)
        .format("%A")
        .to_string()
        .to_lowercase()
}

fn campaign(partner: &str, award: Value, extra: Value) -> Value {
    let mut definition = json!({
        "name": {"en": "Weekend", "fa": "آخر هفته"},
        "starts_at": (Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
        "ends_at": (Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "award": award,
        "where": {"partner": partner},
        "days": [today()],
    });
    if let (Some(d), Some(e)) = (definition.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    definition
}

#[tokio::test]
async fn an_earn_in_a_campaign_gets_its_bonus_paid_by_its_funders() {
    let app = TestApp::spawn().await;
    let restaurant = app.partner().with_default_rule().await;
    let hotel = app.partner().with_default_rule().await;
    let code = restaurant.partner.code.to_string();
    let funding = json!({"funding": [{"funder": code, "share": "0.5"}, {"funder": "operator", "share": "0.5"}]});
    app.program_rule(
        RuleKind::Campaign,
        "double-weekend",
        campaign(&code, json!({"multiplier": "2"}), funding),
    )
    .await;
    // For the hotel's members only: the restaurant's do not qualify.
    let hotel_members = json!({"segment": {"home_partner": hotel.partner.code.to_string()}});
    app.program_rule(
        RuleKind::Campaign,
        "hotel-guests",
        campaign(&code, json!({"points": 1000}), hotel_members),
    )
    .await;

    let card = restaurant.member().await.card;
    // The quote tells the truth before the purchase: 11 points at the rule, 11 from the campaign.
    let amount = 11 * test_support::fixtures::DEFAULT_RULE.per_amount_minor;
    let quote: partners::client::Receipt<partners::protocol::Quote> = restaurant
        .client
        .get(&format!(
            "/v1/quote?branch=main&amount_minor={amount}&card={card}"
        ))
        .await
        .unwrap();
    let member = quote.body.member.expect("a member quote");
    assert_eq!((member.earn_points, member.total_points), (11, 22));
    assert_eq!(member.campaigns.len(), 1);
    assert_eq!(member.campaigns[0].bonus, "double-weekend");
    // The card check at the till shows it too (not the hotel guests' campaign).
    let check = restaurant
        .client
        .check_card(&card, Some("main"))
        .await
        .unwrap()
        .body;
    let shown: Vec<(&str, Option<&str>)> = check
        .campaigns
        .iter()
        .map(|c| (c.code.as_str(), c.multiplier.as_deref()))
        .collect();
    assert_eq!(shown, [("double-weekend", Some("2"))]);
    assert_eq!(check.campaigns[0].name.fa, "آخر هفته");
    let earn = restaurant.earn_points(&card, 11).await;
    // The earn's own 11 points, and the campaign's 11 more, in one commit.
    assert_eq!(earn.balance.available, 11 + 11);
    let hotel_card = hotel.member().await.card;
    hotel.earn_points(&hotel_card, 11).await;
    assert_eq!(
        hotel.client.available_points(&hotel_card).await,
        11,
        "another partner's earn"
    );

    let funded: Vec<(Option<uuid::Uuid>, i64)> = {
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        use storage::schema::bonus_awards::dsl as a;
        use storage::schema::transfers::dsl as t;
        let mut conn = app.storage.db().await.unwrap();
        let ids: Vec<uuid::Uuid> = a::bonus_awards
            .filter(a::bonus.eq("double-weekend"))
            .select(a::transfer_id)
            .load(&mut conn)
            .await
            .unwrap();
        assert_eq!(ids.len(), 1);
        t::transfers
            .filter(t::code.eq("bonus"))
            .filter(t::amount.lt(100))
            .order(t::amount.desc())
            .select((t::partner_id, t::amount))
            .load(&mut conn)
            .await
            .unwrap()
    };
    // 11 shared half and half: 6 (with what rounding leaves) from the restaurant, 5 from the operator.
    assert_eq!(funded, [(Some(restaurant.partner.id.0), 6), (None, 5)]);
}

#[tokio::test]
async fn a_campaign_stops_exactly_at_its_budget_under_concurrent_earns() {
    let app = TestApp::spawn().await;
    let restaurant = app.partner().with_default_rule().await;
    let code = restaurant.partner.code.to_string();
    app.program_rule(
        RuleKind::Campaign,
        "first-25",
        campaign(&code, json!({"points": 10}), json!({"budget_points": 25})),
    )
    .await;
    let mut cards = Vec::new();
    for _ in 0..8 {
        cards.push(restaurant.member().await.card);
    }
    let earns = cards.iter().map(|card| {
        let client = restaurant.client.clone();
        let card = card.clone();
        async move {
            let request = test_support::protocol::earn_request(&card, 10_000);
            client
                .earn(&request, &unique_code("earn"))
                .await
                .unwrap()
                .body
        }
    });
    let movements = futures_util::future::join_all(earns).await;
    let bonus: i64 = movements
        .iter()
        .map(|m| m.balance.available - m.transaction.points)
        .sum();
    assert_eq!(bonus, 25, "10 + 10 + 5, then nothing");
    let spent: i64 = {
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        use storage::schema::campaign_spend::dsl as c;
        let mut conn = app.storage.db().await.unwrap();
        c::campaign_spend
            .filter(c::code.eq("first-25"))
            .select(c::points)
            .first(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(spent, 25);
}

#[tokio::test]
async fn a_dry_run_over_the_days_traffic_finds_what_the_campaign_gave_it() {
    let app = TestApp::spawn().await;
    let restaurant = app.partner().with_default_rule().await;
    let hotel = app.partner().with_default_rule().await;
    let code = restaurant.partner.code.to_string();
    for (tier, rank, threshold, multiplier) in [("bronze", 0, 0, "1"), ("silver", 1, 20, "1.5")] {
        let definition = json!({"name": {"en": tier, "fa": tier}, "rank": rank, "measure": "points",
            "threshold": threshold, "window_days": 30, "earn_multiplier": multiplier});
        app.program_rule(RuleKind::Tier, tier, definition).await;
    }
    // Double points for the restaurant's own silver members, up to 70 points, half each.
    let extra = json!({"segment": {"tiers": ["silver"], "home_partner": code},
        "budget_points": 70,
        "funding": [{"funder": code, "share": "0.5"}, {"funder": "operator", "share": "0.5"}]});
    app.program_rule(
        RuleKind::Campaign,
        "silver-double",
        campaign(&code, json!({"multiplier": "2"}), extra),
    )
    .await;
    let earn = |partner: &'static str, card: String, points: i64| {
        let client = if partner == "restaurant" {
            &restaurant.client
        } else {
            &hotel.client
        };
        async move {
            let request = test_support::protocol::earn_request(&card, points * 10_000);
            client.earn(&request, &unique_code("earn")).await.unwrap();
        }
    };
    let (a, b) = (
        restaurant.member().await.card,
        restaurant.member().await.card,
    );
    let guest = hotel.member().await.card;
    // a: silver with the first purchase, then two at silver (base 10 each: 10 + 10 more).
    for points in [25, 10, 10] {
        earn("restaurant", a.clone(), points).await;
    }
    // b: silver, then base 40 (60 at silver) gives 40, and base 10 the budget's last 10. (Were
    // the dry run to double what was earned at silver rather than the base, a's two would take
    // 30 and b's first the last 40.)
    for points in [30, 40, 10] {
        earn("restaurant", b.clone(), points).await;
    }
    // The hotel's member is not in the audience; a's purchase at the hotel is not in the place.
    for points in [30, 10] {
        earn("restaurant", guest.clone(), points).await;
    }
    earn("hotel", a.clone(), 10).await;

    let (given, rewarded, members): (i64, i64, i64) = {
        use diesel::{AggregateExpressionMethods as _, ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        use storage::schema::bonus_awards::dsl as w;
        use storage::schema::campaign_spend::dsl as c;
        let mut conn = app.storage.db().await.unwrap();
        let given = c::campaign_spend
            .filter(c::code.eq("silver-double"))
            .select(c::points)
            .first(&mut conn)
            .await
            .unwrap();
        let awards = w::bonus_awards.filter(w::bonus.eq("silver-double"));
        let rewarded = awards.count().get_result(&mut conn).await.unwrap();
        let members = awards
            .select(diesel::dsl::count(w::member_id).aggregate_distinct())
            .get_result(&mut conn)
            .await
            .unwrap();
        (given, rewarded, members)
    };
    assert_eq!((given, rewarded, members), (70, 4, 2));

    let admin = app
        .client(
            &app.operator_key("Programme admin", domain::keys::OperatorRole::Admin)
                .await,
        )
        .await;
    let dry: Receipt<Value> = admin
        .get("/v1/operator/program/campaigns/silver-double/dry-run?days=1")
        .await
        .unwrap();
    let dry = dry.body;
    assert_eq!(dry["replayed"], 9);
    assert_eq!(
        (
            dry["points"].as_i64(),
            dry["rewarded"].as_i64(),
            dry["members_reached"].as_i64()
        ),
        (Some(given), Some(rewarded), Some(members)),
        "{dry}"
    );
    assert_eq!(
        dry["funders"],
        json!([{"funder": "operator", "points": 35}, {"funder": code, "points": 35}])
    );
    assert!(dry["budget_spent_at"].is_string());
    let refused = admin
        .get::<Value>("/v1/operator/program/campaigns/silver-double/dry-run?days=400")
        .await;
    assert_eq!(
        test_support::protocol::code(refused.unwrap_err()),
        "rule_amount_invalid"
    );
}

#[tokio::test]
async fn a_come_back_campaign_rewards_a_member_away_for_its_days_once() {
    use chrono::Duration;
    use test_support::till::DirectTill;
    let app = TestApp::spawn().await;
    let (partner, till) = DirectTill::open(&app).await;
    let code = partner.partner.code.to_string();
    let definition = json!({
        "name": {"en": "We missed you", "fa": "دلمان تنگ شده بود"},
        "starts_at": Utc::now().to_rfc3339(),
        "ends_at": (Utc::now() + Duration::days(60)).to_rfc3339(),
        "award": {"points": 50},
        "where": {"partner": code},
        "segment": {"inactive_days": 10},
    });
    app.program_rule(RuleKind::Campaign, "come-back", definition)
        .await;
    let card = till.enroll("+989120000051").await;
    let now = Utc::now();
    let mut got = Vec::new();
    // A new member is not away; 5 days later neither; 15 days after that they are, once: the
    // second purchase that day finds the first.
    for days in [1, 6, 21, 21] {
        let earned = till
            .earn(&card, 10, now + Duration::days(days))
            .await
            .unwrap();
        got.push(earned.balance.available.get() - earned.transfer.amount.get());
    }
    // The balance beside each purchase's own 10: the come-back 50 comes with the third only.
    assert_eq!(got, [0, 10, 20 + 50, 30 + 50]);
}

#[tokio::test]
async fn a_city_campaign_reaches_the_members_of_that_city_however_they_wrote_it() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    let code = partner.partner.code.to_string();
    for (campaign_code, city) in [("tehran-week", "Tehran"), ("karaj-week", "کرج")] {
        let segment = json!({"segment": {"city": city}});
        app.program_rule(
            RuleKind::Campaign,
            campaign_code,
            campaign(&code, json!({"points": 30}), segment),
        )
        .await;
    }
    let enrol = |city: Option<&'static str>| {
        let client = &partner.client;
        async move {
            let request = partners::protocol::EnrollRequest {
                branch: "main".into(),
                phone: test_support::app::unique_phone(),
                name: "Ali Rezaei".into(),
                email: None,
                birth_date: None,
                city: city.map(str::to_owned),
                invite_code: None,
                consents_to_messages: false,
            };
            client
                .enroll(&request, &unique_code("enrol"))
                .await
                .unwrap()
                .body
                .card_number
        }
    };
    // Case and spacing, and the Arabic kaf for the Persian one, do not matter.
    let cases = [
        (Some("  TEHRAN "), 30),
        (Some("كرج"), 30),
        (Some("Isfahan"), 0),
        (None, 0),
    ];
    for (city, bonus) in cases {
        let card = enrol(city).await;
        let earned = partner.earn_points(&card, 10).await;
        assert_eq!(earned.balance.available, 10 + bonus, "{city:?}");
    }
}
