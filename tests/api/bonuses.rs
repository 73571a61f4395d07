//! Bonuses for signing up and for referrals (with the enrolment, and with the friend's first
//! purchase), split between their funders, once per member and occasion, with their own refusals
//! for self-referral and reused phones; events, birthdays, anniversaries and repeat visits.

use domain::program::rules::RuleKind;
use partners::protocol::{EnrollRequest, Enrollment, EventAnswer, EventRequest};
use serde_json::json;
use test_support::app::{unique_code, unique_phone};
use test_support::protocol::code;
use test_support::{CardChecks as _, TestApp};

fn enrol(phone: &str, invite_code: Option<&str>) -> EnrollRequest {
    EnrollRequest {
        branch: "main".into(),
        phone: phone.into(),
        name: "Nima Farahani".into(),
        email: None,
        birth_date: None,
        city: None,
        invite_code: invite_code.map(str::to_owned),
        consents_to_messages: false,
    }
}

#[tokio::test]
async fn a_new_member_and_their_referrer_get_their_bonuses_once() {
    let app = TestApp::spawn().await;
    let restaurant = app.partner().with_default_rule().await;
    let restaurant_code = restaurant.partner.code.to_string();
    app.program_rule(
        RuleKind::Bonus,
        "welcome",
        json!({"occasion": "sign_up", "points": 100}),
    )
    .await;
    app.program_rule(
        RuleKind::Bonus,
        "bring-a-friend",
        json!({"occasion": "referral_enrolled", "points": 201, "funding": [
            {"funder": restaurant_code, "share": "0.5"}, {"funder": "operator", "share": "0.5"}]}),
    )
    .await;
    let client = &restaurant.client;

    let first = client
        .enroll(&enrol(&unique_phone(), None), &unique_code("enrol"))
        .await
        .unwrap()
        .body;
    assert_eq!(first.bonus_points, 100);
    assert_eq!(first.invite_code.len(), 8);
    assert_eq!(client.available_points(&first.card_number).await, 100);

    // The friend gives the code as people type it: lower case, with a dash.
    let typed = format!(
        "{}-{}",
        first.invite_code[..4].to_lowercase(),
        &first.invite_code[4..]
    );
    let key = unique_code("enrol");
    let friend_phone = unique_phone();
    let friend = client
        .enroll(&enrol(&friend_phone, Some(&typed)), &key)
        .await
        .unwrap();
    assert_eq!(friend.body.bonus_points, 100);
    assert_eq!(client.available_points(&friend.body.card_number).await, 100);
    // 201 points: 101 from the restaurant (half, and what rounding leaves, to the first funder
    // named), 100 from the operator.
    assert_eq!(client.available_points(&first.card_number).await, 301);

    // A retry is answered from the record and awards nothing again.
    let again: partners::client::Receipt<Enrollment> = client
        .enroll(&enrol(&friend_phone, Some(&typed)), &key)
        .await
        .unwrap();
    assert!(again.is_replay);
    assert_eq!(again.raw_body, friend.raw_body);
    assert_eq!(client.available_points(&first.card_number).await, 301);

    // The bonus transfers: who paid what.
    let rows: Vec<(Option<uuid::Uuid>, i64)> = {
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        use storage::schema::transfers::dsl as t;
        let mut conn = app.storage.db().await.unwrap();
        t::transfers
            .filter(t::code.eq("bonus"))
            .filter(t::member_id.eq(first.member_id))
            .order(t::amount.desc())
            .select((t::partner_id, t::amount))
            .load(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(
        rows,
        [
            (Some(restaurant.partner.id.0), 101),
            (None, 100),
            (None, 100)
        ]
    );

    // Refusals, each with its own code; none writes anything.
    let refused = client
        .enroll(
            &enrol(&unique_phone(), Some("ZZZZ2222")),
            &unique_code("enrol"),
        )
        .await;
    assert_eq!(code(refused.unwrap_err()), "invite_code_unknown");
    let refused = client
        .enroll(
            &enrol(&unique_phone(), Some("not a code")),
            &unique_code("enrol"),
        )
        .await;
    assert_eq!(code(refused.unwrap_err()), "invite_code_unknown");
    let refused = client
        .enroll(
            &enrol(&friend_phone, Some(&friend.body.invite_code)),
            &unique_code("enrol"),
        )
        .await;
    assert_eq!(code(refused.unwrap_err()), "referral_self");
    let refused = client
        .enroll(
            &enrol(&friend_phone, Some(&first.invite_code)),
            &unique_code("enrol"),
        )
        .await;
    assert_eq!(code(refused.unwrap_err()), "referral_phone_reused");
    assert_eq!(client.available_points(&first.card_number).await, 301);
}

#[tokio::test]
async fn a_referred_members_first_purchase_rewards_the_referrer_once_however_many_race() {
    let app = TestApp::spawn().await;
    let shop = app.partner().with_default_rule().await;
    app.program_rule(
        RuleKind::Bonus,
        "friend-buys",
        json!({"occasion": "referral_first_purchase", "points": 150, "funding": [
            {"funder": shop.partner.code.to_string(), "share": "1"}]}),
    )
    .await;
    let client = &shop.client;
    let enrolled = |invite: Option<String>| async move {
        client
            .enroll(
                &enrol(&unique_phone(), invite.as_deref()),
                &unique_code("enrol"),
            )
            .await
            .unwrap()
            .body
    };
    let referrer = enrolled(None).await;
    let friend = enrolled(Some(referrer.invite_code.clone())).await;
    let stranger = enrolled(None).await;

    // The friend's first purchases race: the first committed is the first purchase, once.
    let purchases = (0..4).map(|_| shop.earn_points(&friend.card_number, 10));
    futures_util::future::join_all(purchases).await;
    assert_eq!(client.available_points(&referrer.card_number).await, 150);
    shop.earn_points(&friend.card_number, 10).await;
    // A member nobody referred rewards nobody.
    shop.earn_points(&stranger.card_number, 10).await;
    assert_eq!(client.available_points(&referrer.card_number).await, 150);
    assert_eq!(client.available_points(&friend.card_number).await, 50);
    let awards: i64 = {
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        use storage::schema::bonus_awards::dsl as a;
        let mut conn = app.storage.db().await.unwrap();
        a::bonus_awards
            .filter(a::bonus.eq("friend-buys"))
            .filter(a::occasion.eq(format!("first-purchase:{}", friend.member_id)))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(awards, 1);
    assert!(app.ledger_report().await.is_exact());
}

#[tokio::test]
async fn a_partners_event_earns_its_bonus_once_per_reference() {
    let app = TestApp::spawn().await;
    let restaurant = app.partner().with_default_rule().await;
    app.program_rule(
        RuleKind::Bonus,
        "review-bonus",
        json!({"occasion": "event", "event_type": "review", "points": 30, "funding": [
            {"funder": restaurant.partner.code.to_string(), "share": "1"}]}),
    )
    .await;
    let card = restaurant.member().await.card;
    let event = |event_type: &str, reference: &str, occurred_at| EventRequest {
        card: card.clone(),
        event_type: event_type.into(),
        reference: reference.into(),
        occurred_at,
    };
    let report = |request: EventRequest, key: String| {
        let client = restaurant.client.clone();
        async move {
            client
                .post::<_, EventAnswer>("/v1/events", &key, &request)
                .await
        }
    };

    let key = unique_code("event");
    let first = report(event("review", "review-81", None), key.clone())
        .await
        .unwrap();
    assert_eq!(first.status, 201);
    assert_eq!(first.body.awarded.len(), 1);
    assert_eq!(
        (
            first.body.awarded[0].bonus.as_str(),
            first.body.awarded[0].points
        ),
        ("review-bonus", 30)
    );
    assert_eq!(first.body.balance.available, 30);
    let again = report(event("review", "review-81", None), key)
        .await
        .unwrap();
    assert!(again.is_replay);
    assert_eq!(again.raw_body, first.raw_body);

    // The same review reported again (another request) earns nothing more.
    let twice = report(event("review", "review-81", None), unique_code("event")).await;
    assert_eq!(code(twice.unwrap_err()), "bonus_already_awarded");
    let unknown = report(event("survey", "s-1", None), unique_code("event")).await;
    assert_eq!(code(unknown.unwrap_err()), "event_type_unknown");
    let now = chrono::Utc::now();
    for occurred_at in [
        now - chrono::Duration::days(8),
        now + chrono::Duration::hours(1),
    ] {
        let late = report(
            event("review", "review-82", Some(occurred_at)),
            unique_code("event"),
        )
        .await;
        assert_eq!(code(late.unwrap_err()), "occurred_at_invalid");
    }
    // Within the window, the rules in force when it happened apply.
    let yesterday = report(
        event("review", "review-83", Some(now - chrono::Duration::days(1))),
        unique_code("event"),
    )
    .await;
    assert_eq!(
        code(yesterday.unwrap_err()),
        "event_type_unknown",
        "the bonus rule came into force today"
    );
    assert_eq!(restaurant.client.available_points(&card).await, 30);
}

#[tokio::test]
async fn birthdays_and_anniversaries_are_awarded_once_by_two_instances_and_a_restart() {
    use chrono::{Datelike as _, Duration, Utc};
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    app.program_rule(
        RuleKind::Bonus,
        "birthday",
        json!({"occasion": "birthday", "points": 40}),
    )
    .await;
    app.program_rule(
        RuleKind::Bonus,
        "anniversary",
        json!({"occasion": "anniversary", "points": 60}),
    )
    .await;
    let now = Utc::now();
    let today = domain::program::tiers::local_day(now, app.config.program.time_zone);
    let born = |days_ago: u64| {
        let day = today - chrono::Days::new(days_ago);
        day.with_year(1990)
            .or_else(|| day.pred_opt()?.with_year(1990))
    };
    let enrol_born = |birth_date| {
        let client = partner.client.clone();
        async move {
            let mut request = enrol(&unique_phone(), None);
            request.birth_date = birth_date;
            client
                .enroll(&request, &unique_code("enrol"))
                .await
                .unwrap()
                .body
                .card_number
        }
    };
    let birthday_today = enrol_born(born(0)).await;
    let birthday_this_week = enrol_born(born(3)).await;
    let birthday_last_week = enrol_born(born(8)).await;
    let no_birthday = enrol_born(None).await;
    let personal = domain::member_data::PersonalData::parse(
        "Anniversary Member",
        &unique_phone(),
        None,
        None,
        None,
        today,
    )
    .unwrap();
    let a_year_ago = now
        .with_year(now.year() - 1)
        .unwrap_or(now - Duration::days(365));
    let new = domain::members::NewMember {
        branch: "main".into(),
        personal,
        card: None,
        invite_code: None,
        consents_to_messages: false,
    };
    let member_for_a_year =
        operations::members::enroll_at(&app.club, partner.partner.id, new, a_year_ago)
            .await
            .unwrap()
            .card
            .to_string();

    // Two instances run the day's job at once, then one restarts and runs it again.
    let (first, second) = (
        storage::Storage::connect(&app.storage_settings())
            .await
            .unwrap(),
        storage::Storage::connect(&app.storage_settings())
            .await
            .unwrap(),
    );
    let program = &app.config.program;
    let (a, b) = tokio::join!(
        operations::occasions::run(&first, program, now),
        operations::occasions::run(&second, program, now),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.birthdays + b.birthdays, 2);
    assert_eq!(a.anniversaries + b.anniversaries, 1);
    drop((first, second));
    let restarted = storage::Storage::connect(&app.storage_settings())
        .await
        .unwrap();
    let again = operations::occasions::run(&restarted, program, now + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(again, operations::occasions::OccasionReport::default());

    let points = |card: String| {
        let client = partner.client.clone();
        async move { client.available_points(&card).await }
    };
    assert_eq!(points(birthday_today).await, 40);
    assert_eq!(points(birthday_this_week).await, 40);
    assert_eq!(points(birthday_last_week).await, 0);
    assert_eq!(points(no_birthday).await, 0);
    assert_eq!(points(member_for_a_year).await, 60);
}

#[tokio::test]
async fn the_purchase_that_makes_the_nth_visit_within_the_days_earns_the_repeat_visit_bonus() {
    use chrono::{Duration, Utc};
    use test_support::till::DirectTill;
    let app = TestApp::spawn().await;
    let (partner, till) = DirectTill::open(&app).await;
    app.program_rule(
        RuleKind::Bonus,
        "third-visit",
        json!({"occasion": "repeat_visit", "points": 25, "visits": 3, "within_days": 7}),
    )
    .await;
    let card = till.enroll("+989120000041").await;
    let now = Utc::now();
    let mut left = Vec::new();
    // Visits 8 days ago (out of the window by the third), 4 days ago, 2 days ago, today, today.
    let progress = || async {
        let check = partner
            .client
            .check_card(card.as_str(), None)
            .await
            .unwrap();
        let shown: Vec<(String, i64, u16, u16, i64)> = check
            .body
            .repeat_visits
            .into_iter()
            .map(|p| (p.code, p.points, p.visits, p.within_days, p.have))
            .collect();
        shown
    };
    for (n, days_ago) in [8, 4, 2, 0, 0].into_iter().enumerate() {
        if n == 3 {
            // The card check tells the cashier: two visits of three in 7 days, the next earns 25.
            assert_eq!(progress().await, [("third-visit".into(), 25, 3, 7, 2)]);
        }
        let earned = till
            .earn(&card, 10, now - Duration::days(days_ago))
            .await
            .unwrap();
        left.push(earned.balance.available.get());
    }
    // The third visit within 7 days is today's first: 10 + 25; the one after is the fourth.
    assert_eq!(left, [10, 20, 30, 65, 75]);
    assert_eq!(partner.client.available_points(card.as_str()).await, 75);
    assert_eq!(progress().await, [("third-visit".into(), 25, 3, 7, 4)]);
}

#[tokio::test]
async fn a_profile_complete_at_enrolment_earns_its_bonus() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    app.program_rule(
        RuleKind::Bonus,
        "full-profile",
        json!({"occasion": "profile_completed", "points": 15, "profile_fields": ["email", "birth_date"],
               "funding": [{"funder": partner.partner.code.to_string(), "share": "0.5"},
                           {"funder": "operator", "share": "0.5"}]}),
    )
    .await;
    let mut complete = enrol(&unique_phone(), None);
    complete.email = Some("nima@example.com".into());
    complete.birth_date = chrono::NaiveDate::from_ymd_opt(1992, 7, 1);
    let mut partial = enrol(&unique_phone(), None);
    partial.email = Some("no-birthday@example.com".into());
    let client = &partner.client;
    let enrolled = |request: EnrollRequest| async move {
        client
            .enroll(&request, &unique_code("enrol"))
            .await
            .unwrap()
            .body
            .bonus_points
    };
    // Both funders' parts (8 and 7) are in the answer.
    assert_eq!(enrolled(complete).await, 15);
    assert_eq!(enrolled(partial).await, 0);
}

#[tokio::test]
async fn a_repeat_visit_bonus_given_today_is_not_given_again_when_the_rule_changes() {
    use test_support::till::DirectTill;
    let app = TestApp::spawn().await;
    let (_partner, till) = DirectTill::open(&app).await;
    let rule = |visits: u16| json!({"occasion": "repeat_visit", "points": 25, "visits": visits, "within_days": 7});
    app.program_rule(RuleKind::Bonus, "regular", rule(2)).await;
    let card = till.enroll("+989120000042").await;
    let now = chrono::Utc::now();
    till.earn(&card, 10, now).await.unwrap();
    let second = till.earn(&card, 10, now).await.unwrap();
    assert_eq!(
        second.balance.available.get(),
        45,
        "the second visit earns it"
    );
    // The rule now asks for three visits: today's third makes the count exactly three again,
    // but today's key is taken, so the earn goes through without a second bonus.
    let definition =
        domain::program::rules::RuleDefinition::parse(RuleKind::Bonus, rule(3)).unwrap();
    let author = operations::program::Author {
        name: "test",
        request: None,
    };
    operations::program::change(
        &app.storage,
        RuleKind::Bonus,
        "regular",
        domain::program::rules::Change::Amend(definition),
        None,
        author,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let third = till.earn(&card, 10, chrono::Utc::now()).await.unwrap();
    assert_eq!(third.balance.available.get(), 55);
}
