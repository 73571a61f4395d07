//! Tiers from the programme's rules: a member moves up with the purchase that qualifies them,
//! earns at the tier's multiplier from then on, keeps the tier through the window's end and the
//! grace, and each move is kept in the member's tier history; the card check shows the tier and
//! the progress toward the next.

use chrono::{Duration, TimeZone as _, Utc};
use domain::program::rules::RuleKind;
use serde_json::json;
use test_support::till::DirectTill;
use test_support::{CardChecks as _, TestApp};

/// Bronze for everyone, silver from 1,000 points within 365 days (×1.5, 30 days of grace), gold
/// from 5,000 (×2).
async fn three_tiers(app: &TestApp) {
    for (code, rank, threshold, multiplier) in [
        ("bronze", 0, 0, "1"),
        ("silver", 1, 1_000, "1.5"),
        ("gold", 2, 5_000, "2"),
    ] {
        let tier = json!({
            "name": {"en": code, "fa": code},
            "rank": rank,
            "measure": "points",
            "threshold": threshold,
            "window_days": 365,
            "grace_days": 30,
            "earn_multiplier": multiplier,
            "benefits": [{"en": "Late checkout", "fa": "تحویل دیرهنگام"}],
        });
        app.program_rule(RuleKind::Tier, code, tier).await;
    }
}

#[tokio::test]
async fn a_member_moves_up_at_once_and_earns_at_the_tiers_multiplier() {
    let app = TestApp::spawn().await;
    let (partner, till) = DirectTill::open(&app).await;
    let card = till.enroll("+989120000031").await;
    three_tiers(&app).await;

    let check = partner
        .client
        .check_card(card.as_str(), None)
        .await
        .unwrap()
        .body;
    let tier = check.tier.expect("tiers are in force");
    assert_eq!((tier.code.as_str(), tier.held_until), ("bronze", None));
    let progress = tier.progress.unwrap();
    assert_eq!(
        (
            progress.tier.as_str(),
            progress.measure.as_str(),
            progress.have,
            progress.need
        ),
        ("silver", "points", 0, 1_000)
    );

    let now = Utc::now();
    till.earn(&card, 999, now).await.unwrap();
    assert_eq!(
        partner.client.tier(card.as_str()).await.as_deref(),
        Some("bronze")
    );
    // The purchase that reaches the threshold is earned at the tier it was made in; the member
    // is silver from then on, and the next purchase earns half as much again (rounded down).
    let reaching = till.earn(&card, 1, now).await.unwrap();
    assert_eq!(reaching.transfer.amount.get(), 1);
    let check = partner
        .client
        .check_card(card.as_str(), None)
        .await
        .unwrap()
        .body;
    let tier = check.tier.unwrap();
    assert_eq!(tier.code, "silver");
    assert_eq!(tier.earn_multiplier, "1.5");
    assert_eq!(tier.benefits[0].en, "Late checkout");
    assert_eq!(tier.progress.unwrap().have, 1_000);
    let multiplied = till.earn(&card, 101, now).await.unwrap();
    assert_eq!(multiplied.transfer.amount.get(), 151);

    // Spending points does not take the tier away; a reversal takes its points back from the
    // window, here below the threshold.
    till.redeem(&card, 500, false, now).await.unwrap();
    assert_eq!(
        partner.client.tier(card.as_str()).await.as_deref(),
        Some("silver")
    );
    till.reverse(multiplied.transfer.id, None, now)
        .await
        .unwrap();
    till.reverse(reaching.transfer.id, None, now).await.unwrap();
    let check = partner
        .client
        .check_card(card.as_str(), None)
        .await
        .unwrap()
        .body;
    let tier = check.tier.unwrap();
    assert_eq!(tier.code, "bronze");
    assert_eq!(tier.progress.unwrap().have, 999);

    // The history keeps each move, in order.
    assert_eq!(
        moves(&app, &card).await,
        [
            (None, "bronze".to_owned()),
            (Some("bronze".to_owned()), "silver".to_owned()),
            (Some("silver".to_owned()), "bronze".to_owned())
        ]
    );
    assert!(app.ledger_report().await.is_exact());
}

/// The card's member's tier history: (the tier before, the tier), oldest first.
async fn moves(app: &TestApp, card: &domain::cards::CardNumber) -> Vec<(Option<String>, String)> {
    let member = check_member(app, card).await;
    let conn = app.storage.db().await.unwrap();
    storage::activity::tier_history(&conn, member)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.previous, c.tier))
        .collect()
}

async fn check_member(app: &TestApp, card: &domain::cards::CardNumber) -> domain::ids::MemberId {
    let conn = app.storage.db().await.unwrap();
    storage::members::find_card(&conn, card)
        .await
        .unwrap()
        .unwrap()
        .1
        .id
}

#[tokio::test]
async fn a_tier_is_kept_through_the_window_and_the_grace_and_lost_at_a_tehran_midnight() {
    let app = TestApp::spawn().await;
    let (partner, till) = DirectTill::open(&app).await;
    three_tiers(&app).await;
    let now = Utc::now();

    // 1,000 points 370 days ago: out of the window 5 days ago, still in the grace.
    let kept = till.enroll("+989120000032").await;
    till.earn(&kept, 1_000, now - Duration::days(370))
        .await
        .unwrap();
    let tier = partner
        .client
        .check_card(kept.as_str(), None)
        .await
        .unwrap()
        .body
        .tier
        .unwrap();
    assert_eq!(tier.code, "silver");
    let until = tier.held_until.expect("kept on grace");
    let local = until.with_timezone(&chrono_tz::Asia::Tehran);
    assert_eq!(
        local.time(),
        chrono::NaiveTime::MIN,
        "lost at a Tehran midnight"
    );
    assert!(until > now && until <= now + Duration::days(27));
    assert_eq!(
        tier.progress.unwrap().have,
        0,
        "the window no longer counts them"
    );

    // A member who buys nothing more: the day's job records the lapse in their history, once.
    let lapsing = till.enroll("+989120000035").await;
    till.earn(&lapsing, 1_000, now).await.unwrap();
    let later = now + Duration::days(400);
    let program = &app.config.program;
    let report = operations::occasions::run(&app.storage, program, later)
        .await
        .unwrap();
    assert_eq!(report.lapses, 1);
    let again = operations::occasions::run(&app.storage, program, later)
        .await
        .unwrap();
    assert_eq!(again.lapses, 0);
    assert_eq!(
        moves(&app, &lapsing).await,
        [
            (None, "silver".to_owned()),
            (Some("silver".to_owned()), "bronze".to_owned())
        ]
    );

    // 400 days ago: the grace is over too.
    let lapsed = till.enroll("+989120000033").await;
    till.earn(&lapsed, 1_000, now - Duration::days(400))
        .await
        .unwrap();
    assert_eq!(
        partner.client.tier(lapsed.as_str()).await.as_deref(),
        Some("bronze")
    );

    // A purchase on the Tehran day that starts at 20:30 UTC counts on that day.
    let day_start = chrono_tz::Asia::Tehran
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let edge = till.enroll("+989120000034").await;
    till.earn(&edge, 7, day_start).await.unwrap();
    till.earn(&edge, 5, day_start - Duration::microseconds(1))
        .await
        .unwrap();
    let member = check_member(&app, &edge).await;
    let conn = app.storage.db().await.unwrap();
    let days = storage::activity::days(
        &conn,
        &[member],
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
    )
    .await
    .unwrap();
    let days: Vec<(String, i64)> = days
        .iter()
        .map(|(_, day, tally)| (day.to_string(), tally.points))
        .collect();
    assert_eq!(
        days,
        [("2026-02-28".to_owned(), 5), ("2026-03-01".to_owned(), 7)]
    );
}

#[tokio::test]
async fn a_late_earn_is_priced_as_of_when_it_happened() {
    let app = TestApp::spawn().await;
    let (_partner, till) = DirectTill::open(&app).await;
    let card = till.enroll("+989120000033").await;
    three_tiers(&app).await;
    // Reported on `now`; it happened three days before, on a weekday with a campaign.
    let now = Utc::now() + Duration::days(10);
    let happened = now - Duration::days(3);
    let weekday = happened
        .with_timezone(&chrono_tz::Asia::Tehran)
        .format("%A")
        .to_string()
        .to_lowercase();
    app.program_rule(
        RuleKind::Campaign,
        "that-day",
        json!({"name": {"en": "That day", "fa": "آن روز"},
               "starts_at": Utc::now().to_rfc3339(),
               "ends_at": (Utc::now() + Duration::days(30)).to_rfc3339(),
               "award": {"points": 7}, "days": [weekday]}),
    )
    .await;

    // Silver today, with the purchase that reached it.
    till.earn(&card, 1_000, now).await.unwrap();
    // Three days ago the member was bronze: ×1, not ×1.5; and that day's campaign gives its 7.
    let late = till.earn_late(&card, 100, happened, now).await.unwrap();
    assert_eq!(late.transfer.amount.get(), 100);
    assert_eq!(late.balance.available.get(), 1_000 + 100 + 7);
    // Today's purchase is at silver, with no campaign.
    assert_eq!(
        till.earn(&card, 100, now)
            .await
            .unwrap()
            .transfer
            .amount
            .get(),
        150
    );
    // The late purchase counts on the day it happened.
    let member = check_member(&app, &card).await;
    let days: Vec<(chrono::NaiveDate, i64)> = {
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        use storage::schema::member_activity::dsl as a;
        let mut conn = app.storage.db().await.unwrap();
        a::member_activity
            .filter(a::member_id.eq(member.0))
            .order(a::day)
            .select((a::day, a::points))
            .load(&mut conn)
            .await
            .unwrap()
    };
    let day = |at: chrono::DateTime<Utc>| at.with_timezone(&chrono_tz::Asia::Tehran).date_naive();
    assert_eq!(days, [(day(happened), 100), (day(now), 1_150)]);
    assert!(app.ledger_report().await.is_exact());

    // Too late, or in the future: refused with their code.
    for at in [now - Duration::days(8), now + Duration::minutes(1)] {
        let refused = till.earn_late(&card, 10, at, now).await.unwrap_err();
        assert!(
            matches!(
                refused,
                operations::error::OperationError::Refused(
                    domain::ledger::LedgerError::OccurredAtInvalid { max_days: 7 }
                )
            ),
            "{refused}"
        );
    }
}
