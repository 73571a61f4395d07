//! The core partner operations through the signed HTTP API: enrol, card check,
//! quote, earn, redeem (one step and two phase), reversals, transactions.
//! Every test ends with the ledger check (in `TestApp`'s drop).

use partners::protocol::{CaptureRequest, EnrollRequest, Money, ReverseRequest};
use test_support::app::unique_code;
use test_support::protocol::{code, earn_request, irr, key, problem, redeem_request};
use test_support::{CardChecks as _, DEFAULT_RULE, TestApp};

#[tokio::test]
async fn enrolment_issues_a_valid_card_and_keeps_personal_data_encrypted() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let enrolled = hotel
        .client
        .enroll(
            &EnrollRequest {
                branch: "main".into(),
                phone: "+98 912 555 0101".into(),
                name: "Darya Karimi".into(),
                email: Some("darya@example.com".into()),
                birth_date: chrono::NaiveDate::from_ymd_opt(1991, 3, 21),
            },
            &key(),
        )
        .await
        .unwrap()
        .body;
    assert!(enrolled.card_number.starts_with("6037"));
    assert!(domain::cards::CardNumber::parse(&enrolled.card_number).is_ok());

    let check = hotel
        .client
        .check_card(&enrolled.card_number, Some("main"))
        .await
        .unwrap()
        .body;
    assert_eq!(check.first_name, "Darya");
    assert_eq!(check.tier, "basic");
    assert_eq!(check.balance.available, 0);
    assert_eq!(check.redeemable_value, Some(irr(0)));

    let stored = app.stored_member_data().await;
    let text = String::from_utf8_lossy(&stored);
    for secret in ["Darya", "Karimi", "9125550101", "darya@example.com", "1991"] {
        assert!(!text.contains(secret), "{secret} is stored in clear");
    }

    let again = hotel
        .client
        .enroll(
            &EnrollRequest {
                branch: "main".into(),
                phone: "0098-912-555-0101".into(),
                name: "Someone Else".into(),
                email: None,
                birth_date: None,
            },
            &key(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(again), "member_already_enrolled");
    let bad = hotel
        .client
        .enroll(
            &EnrollRequest {
                branch: "main".into(),
                phone: "0912".into(),
                name: "X".into(),
                email: None,
                birth_date: None,
            },
            &key(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(bad), "invalid_member_data");
}

#[tokio::test]
async fn card_numbers_are_checked_before_lookup_and_card_states_are_enforced() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(120).await.card;

    let mut typo: Vec<char> = card.chars().collect();
    typo[5] = if typo[5] == '1' { '2' } else { '1' };
    let typo: String = typo.into_iter().collect();
    assert_eq!(
        code(hotel.client.check_card(&typo, None).await.unwrap_err()),
        "card_number_invalid"
    );
    let unissued = domain::cards::CardNumber::from_serial("9999", 1).to_string();
    assert_eq!(
        code(hotel.client.check_card(&unissued, None).await.unwrap_err()),
        "card_unknown"
    );

    let number = domain::cards::CardNumber::parse(&card).unwrap();
    operations::members::block_card(&app.storage, &number)
        .await
        .unwrap();
    assert_eq!(
        code(hotel.client.check_card(&card, None).await.unwrap_err()),
        "card_blocked"
    );
    let err = hotel
        .client
        .redeem(&redeem_request(&card, 10, false), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "card_blocked");
    operations::members::unblock_card(&app.storage, &number)
        .await
        .unwrap();

    let replacement =
        operations::members::replace_lost_card(&app.storage, &app.config.program, &number)
            .await
            .unwrap();
    assert_eq!(
        code(hotel.client.check_card(&card, None).await.unwrap_err()),
        "card_lost"
    );
    let err = hotel
        .client
        .earn(&earn_request(&card, 10_000), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "card_lost");
    assert_eq!(
        hotel.client.available_points(replacement.as_str()).await,
        120,
        "the replacement keeps the balance"
    );
}

#[tokio::test]
async fn quote_prices_purchases_and_points_without_posting() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().await;
    let err = hotel
        .client
        .quote("main", Some(&irr(50_000)), None)
        .await
        .unwrap_err();
    assert_eq!(code(err), "point_rule_missing");
    app.set_rule(&hotel, DEFAULT_RULE).await;
    let quote = hotel
        .client
        .quote("main", Some(&irr(259_999)), Some(40))
        .await
        .unwrap()
        .body;
    assert_eq!(quote.earn_points, Some(25), "points round down");
    assert_eq!(quote.discount, Some(irr(40_000)));
    let usd = Money {
        amount_minor: 100,
        currency: "USD".into(),
    };
    assert_eq!(
        code(
            hotel
                .client
                .quote("main", Some(&usd), None)
                .await
                .unwrap_err()
        ),
        "currency_mismatch"
    );
    assert_eq!(
        code(hotel.client.quote("main", None, None).await.unwrap_err()),
        "invalid_request"
    );
    assert_eq!(
        code(
            hotel
                .client
                .quote("nowhere", None, Some(1))
                .await
                .unwrap_err()
        ),
        "branch_unknown"
    );
    let page = hotel.client.transactions("").await.unwrap().body;
    assert!(page.transactions.is_empty(), "a quote posts nothing");
}

#[tokio::test]
async fn earning_validates_the_purchase_and_the_branch() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let other = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;

    let movement = hotel
        .client
        .earn(&earn_request(&card, 259_999), &key())
        .await
        .unwrap()
        .body;
    assert_eq!(movement.transaction.points, 25);
    assert_eq!(movement.transaction.kind, "earn");
    assert_eq!(movement.transaction.state, "posted");
    assert_eq!(
        movement.transaction.card_last4.as_deref(),
        Some(&card[12..])
    );
    assert_eq!(movement.balance.available, 25);

    assert_eq!(
        code(
            hotel
                .client
                .earn(&earn_request(&card, 9_999), &key())
                .await
                .unwrap_err()
        ),
        "purchase_too_small"
    );
    let mut usd = earn_request(&card, 100_000);
    usd.amount.currency = "USD".into();
    assert_eq!(
        code(hotel.client.earn(&usd, &key()).await.unwrap_err()),
        "currency_mismatch"
    );
    let mut reused = earn_request(&card, 100_000);
    reused.reference = movement.transaction.reference.clone().unwrap();
    assert_eq!(
        code(hotel.client.earn(&reused, &key()).await.unwrap_err()),
        "reference_already_used"
    );
    let mut zero = earn_request(&card, 0);
    zero.amount.amount_minor = 0;
    assert_eq!(
        code(hotel.client.earn(&zero, &key()).await.unwrap_err()),
        "invalid_request"
    );
    let mut elsewhere = earn_request(&card, 100_000);
    elsewhere.branch = "nowhere".into();
    assert_eq!(
        code(hotel.client.earn(&elsewhere, &key()).await.unwrap_err()),
        "branch_unknown"
    );
    let others_branch = other.client.whoami().await.unwrap().body.branches[0].id;
    let mut foreign = earn_request(&card, 100_000);
    foreign.branch = others_branch.to_string();
    assert_eq!(
        code(hotel.client.earn(&foreign, &key()).await.unwrap_err()),
        "branch_of_another_partner"
    );
}

#[tokio::test]
async fn an_earn_retried_with_its_key_is_answered_once() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let request = earn_request(&card, 500_000);
    let first = hotel.client.earn(&request, "earn-once").await.unwrap();
    let retry = hotel.client.earn(&request, "earn-once").await.unwrap();
    assert!(retry.is_replay);
    assert_eq!(retry.raw_body, first.raw_body);
    assert_eq!(hotel.client.available_points(&card).await, 50);
}

#[tokio::test]
async fn earn_at_the_hotel_and_redeem_at_the_restaurant() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let restaurant = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(300).await.card;

    let check = restaurant
        .client
        .check_card(&card, Some("main"))
        .await
        .unwrap()
        .body;
    assert_eq!(check.balance.available, 300);
    assert_eq!(check.redeemable_value, Some(irr(300_000)));
    let redeemed = restaurant
        .client
        .redeem(&redeem_request(&card, 120, false), &key())
        .await
        .unwrap()
        .body;
    assert_eq!(redeemed.transaction.money, Some(irr(120_000)));
    assert_eq!(redeemed.balance.available, 180);

    let hotel_accounts = app.partner_accounts(hotel.partner.id).await;
    assert_eq!(hotel_accounts[0].kind, "partner_issuance");
    assert_eq!(
        (
            hotel_accounts[0].debits_posted,
            hotel_accounts[0].credits_posted
        ),
        (300, 0)
    );
    let restaurant_accounts = app.partner_accounts(restaurant.partner.id).await;
    let redemption = restaurant_accounts
        .iter()
        .find(|a| a.kind == "partner_redemption")
        .unwrap();
    assert_eq!(
        (redemption.debits_posted, redemption.credits_posted),
        (0, 120)
    );
    assert_eq!(
        hotel
            .client
            .transactions("")
            .await
            .unwrap()
            .body
            .transactions
            .len(),
        1
    );
    assert_eq!(
        restaurant
            .client
            .transactions("")
            .await
            .unwrap()
            .body
            .transactions
            .len(),
        1
    );
}

#[tokio::test]
async fn redeeming_more_than_available_is_refused() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(50).await.card;
    let err = hotel
        .client
        .redeem(&redeem_request(&card, 51, false), &key())
        .await
        .unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "insufficient_points");
    assert!(
        problem.detail.contains("50 points available"),
        "{}",
        problem.detail
    );
    assert_eq!(
        code(
            hotel
                .client
                .redeem(&redeem_request(&card, 0, false), &key())
                .await
                .unwrap_err()
        ),
        "invalid_request"
    );
    assert_eq!(
        hotel
            .client
            .redeem(&redeem_request(&card, 50, false), &key())
            .await
            .unwrap()
            .body
            .balance
            .available,
        0
    );
}

#[tokio::test]
async fn a_hold_is_captured_in_part_and_the_rest_released() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;

    let hold = hotel
        .client
        .redeem(&redeem_request(&card, 80, true), &key())
        .await
        .unwrap()
        .body;
    assert_eq!(hold.transaction.state, "pending");
    assert!(hold.transaction.timeout_at.is_some());
    assert_eq!(
        (
            hold.balance.available,
            hold.balance.held,
            hold.balance.posted
        ),
        (20, 80, 100)
    );
    let id = hold.transaction.id;

    let too_much = hotel
        .client
        .capture(id, &CaptureRequest { points: Some(81) }, &key())
        .await
        .unwrap_err();
    assert_eq!(code(too_much), "capture_exceeds_hold");
    let captured = hotel
        .client
        .capture(id, &CaptureRequest { points: Some(60) }, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(captured.transaction.phase, "post");
    assert_eq!(captured.transaction.pending_id, Some(id));
    assert_eq!(captured.transaction.money, Some(irr(60_000)));
    assert_eq!(
        (
            captured.balance.available,
            captured.balance.held,
            captured.balance.posted
        ),
        (40, 0, 40)
    );

    assert_eq!(
        code(
            hotel
                .client
                .capture(id, &CaptureRequest::default(), &key())
                .await
                .unwrap_err()
        ),
        "hold_already_captured"
    );
    assert_eq!(
        code(hotel.client.void_hold(id, &key()).await.unwrap_err()),
        "hold_already_captured"
    );
    let state = hotel.client.transactions("type=redeem").await.unwrap().body;
    let original = state.transactions.iter().find(|t| t.id == id).unwrap();
    assert_eq!(original.state, "posted");
}

#[tokio::test]
async fn a_voided_hold_gives_every_point_back() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let hold = hotel
        .client
        .redeem(&redeem_request(&card, 70, true), &key())
        .await
        .unwrap()
        .body;
    let voided = hotel
        .client
        .void_hold(hold.transaction.id, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(voided.transaction.state, "voided");
    assert_eq!((voided.balance.available, voided.balance.held), (100, 0));
    let err = hotel
        .client
        .capture(hold.transaction.id, &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "hold_already_voided");
    assert_eq!(
        code(
            hotel
                .client
                .void_hold(hold.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "hold_already_voided"
    );
}

#[tokio::test]
async fn holds_expire_on_their_own() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let mut request = redeem_request(&card, 40, true);
    request.hold_timeout_secs = Some(60);
    let hold = hotel.client.redeem(&request, &key()).await.unwrap().body;

    // A capture after the timeout is refused even before maintenance has run.
    let later = chrono::Utc::now() + chrono::Duration::seconds(61);
    let err = operations::ledger::at::capture(
        &app.club,
        hotel.partner.id,
        domain::ids::TransferId(hold.transaction.id),
        None,
        later,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            operations::error::OperationError::Refused(domain::ledger::LedgerError::HoldExpired(_))
        ),
        "{err}"
    );

    let report = operations::ledger::maintenance::run(&app.storage, &app.config.program, later)
        .await
        .unwrap();
    assert_eq!(report.holds_expired, 1);
    assert_eq!(hotel.client.available_points(&card).await, 100);
    let err = hotel
        .client
        .capture(hold.transaction.id, &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "hold_expired");
    let mut too_long = redeem_request(&card, 1, true);
    too_long.hold_timeout_secs = Some(30 * 24 * 3600);
    assert_eq!(
        code(hotel.client.redeem(&too_long, &key()).await.unwrap_err()),
        "hold_timeout_invalid"
    );
}

#[tokio::test]
async fn only_the_partners_own_holds_can_be_captured() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let restaurant = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let earned = hotel.earn_points(&card, 100).await;
    let hold = hotel
        .client
        .redeem(&redeem_request(&card, 10, true), &key())
        .await
        .unwrap()
        .body;
    let err = restaurant
        .client
        .capture(hold.transaction.id, &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "transaction_not_found");
    let err = hotel
        .client
        .capture(earned.transaction.id, &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "not_a_hold");
    let err = hotel
        .client
        .capture(uuid::Uuid::now_v7(), &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "transaction_not_found");
}

#[tokio::test]
async fn a_pending_earn_is_released_posted_or_voided() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let release_at = chrono::Utc::now() + chrono::Duration::days(3);
    let mut stay = earn_request(&card, 1_000_000);
    stay.release_at = Some(release_at);
    let pending = hotel.client.earn(&stay, &key()).await.unwrap().body;
    assert_eq!(pending.transaction.state, "pending");
    assert_eq!(
        (pending.balance.available, pending.balance.pending_earned),
        (0, 100)
    );
    assert_eq!(
        code(
            hotel
                .client
                .redeem(&redeem_request(&card, 1, false), &key())
                .await
                .unwrap_err()
        ),
        "insufficient_points"
    );

    let posted = hotel
        .client
        .post_earn(pending.transaction.id, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(
        (posted.balance.available, posted.balance.pending_earned),
        (100, 0)
    );
    assert_eq!(
        code(
            hotel
                .client
                .post_earn(pending.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "earn_already_posted"
    );
    assert_eq!(
        code(
            hotel
                .client
                .void_earn(pending.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "earn_already_posted"
    );

    let mut cancelled = earn_request(&card, 500_000);
    cancelled.release_at = Some(release_at);
    let cancelled = hotel.client.earn(&cancelled, &key()).await.unwrap().body;
    let voided = hotel
        .client
        .void_earn(cancelled.transaction.id, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(
        (voided.balance.available, voided.balance.pending_earned),
        (100, 0)
    );
    assert_eq!(
        code(
            hotel
                .client
                .post_earn(cancelled.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "earn_already_voided"
    );

    let mut automatic = earn_request(&card, 300_000);
    automatic.release_at = Some(release_at);
    hotel.client.earn(&automatic, &key()).await.unwrap();
    let report =
        operations::ledger::maintenance::run(&app.storage, &app.config.program, release_at)
            .await
            .unwrap();
    assert_eq!(report.earns_released, 1);
    assert_eq!(hotel.client.available_points(&card).await, 130);

    let mut past = earn_request(&card, 100_000);
    past.release_at = Some(chrono::Utc::now() - chrono::Duration::hours(1));
    assert_eq!(
        code(hotel.client.earn(&past, &key()).await.unwrap_err()),
        "release_at_invalid"
    );
    let earned = hotel.earn_points(&card, 1).await;
    assert_eq!(
        code(
            hotel
                .client
                .post_earn(earned.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "not_a_pending_earn"
    );
}

#[tokio::test]
async fn reversals_never_exceed_the_original() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let earned = hotel.earn_points(&card, 100).await;
    let reverse = |points: Option<i64>| ReverseRequest {
        transaction_id: earned.transaction.id,
        points,
        reference: Some(unique_code("return")),
    };

    let partial = hotel
        .client
        .reverse(&reverse(Some(30)), &key())
        .await
        .unwrap()
        .body;
    assert_eq!(partial.transaction.kind, "earn_reversal");
    assert_eq!(partial.transaction.reverses_id, Some(earned.transaction.id));
    assert_eq!(partial.balance.available, 70);
    let err = hotel
        .client
        .reverse(&reverse(Some(71)), &key())
        .await
        .unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "reversal_exceeds_original");
    assert!(problem.detail.contains("70"), "{}", problem.detail);
    let rest = hotel
        .client
        .reverse(&reverse(None), &key())
        .await
        .unwrap()
        .body;
    assert_eq!((rest.transaction.points, rest.balance.available), (70, 0));
    assert_eq!(
        code(
            hotel
                .client
                .reverse(&reverse(None), &key())
                .await
                .unwrap_err()
        ),
        "reversal_exceeds_original"
    );

    let reversal_of_reversal = ReverseRequest {
        transaction_id: rest.transaction.id,
        points: None,
        reference: None,
    };
    assert_eq!(
        code(
            hotel
                .client
                .reverse(&reversal_of_reversal, &key())
                .await
                .unwrap_err()
        ),
        "transaction_not_reversible"
    );
}

#[tokio::test]
async fn reversing_an_earn_whose_points_were_spent_takes_only_what_is_left() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let restaurant = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let earned = hotel.earn_points(&card, 100).await;
    restaurant
        .client
        .redeem(&redeem_request(&card, 60, false), &key())
        .await
        .unwrap();

    let whole = ReverseRequest {
        transaction_id: earned.transaction.id,
        points: None,
        reference: None,
    };
    let err = hotel.client.reverse(&whole, &key()).await.unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "insufficient_points");
    assert!(
        problem.detail.contains("40 points available"),
        "{}",
        problem.detail
    );
    let available = ReverseRequest {
        points: Some(40),
        ..whole
    };
    let reversed = hotel.client.reverse(&available, &key()).await.unwrap().body;
    assert_eq!(reversed.balance.available, 0);
}

#[tokio::test]
async fn reversing_a_redemption_gives_the_points_back() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let hold = hotel
        .client
        .redeem(&redeem_request(&card, 50, true), &key())
        .await
        .unwrap()
        .body;
    let pending = ReverseRequest {
        transaction_id: hold.transaction.id,
        points: None,
        reference: None,
    };
    assert_eq!(
        code(hotel.client.reverse(&pending, &key()).await.unwrap_err()),
        "transaction_not_reversible"
    );
    let capture = hotel
        .client
        .capture(
            hold.transaction.id,
            &CaptureRequest { points: Some(30) },
            &key(),
        )
        .await
        .unwrap()
        .body;
    let first = ReverseRequest {
        points: Some(10),
        ..pending.clone()
    };
    let reversed = hotel.client.reverse(&first, &key()).await.unwrap().body;
    assert_eq!(
        (
            reversed.transaction.kind.as_str(),
            reversed.transaction.points
        ),
        ("redeem_reversal", 10)
    );
    assert_eq!(reversed.transaction.money, Some(irr(10_000)));
    assert_eq!(reversed.transaction.reverses_id, Some(hold.transaction.id));
    // The capture's id stands for its hold: the reversals of both count together.
    let by_capture = ReverseRequest {
        transaction_id: capture.transaction.id,
        points: None,
        reference: None,
    };
    let reversed = hotel
        .client
        .reverse(&by_capture, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(reversed.transaction.points, 20);
    assert_eq!(reversed.transaction.reverses_id, Some(hold.transaction.id));
    assert_eq!(reversed.balance.available, 100);
    assert_eq!(
        code(hotel.client.reverse(&by_capture, &key()).await.unwrap_err()),
        "reversal_exceeds_original"
    );
    let other_hold = hotel
        .client
        .redeem(&redeem_request(&card, 5, true), &key())
        .await
        .unwrap()
        .body;
    let void = hotel
        .client
        .void_hold(other_hold.transaction.id, &key())
        .await
        .unwrap()
        .body;
    let by_void = ReverseRequest {
        transaction_id: void.transaction.id,
        points: None,
        reference: None,
    };
    assert_eq!(
        code(hotel.client.reverse(&by_void, &key()).await.unwrap_err()),
        "transaction_not_reversible"
    );
}

#[tokio::test]
async fn transactions_are_paginated_and_filtered() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let start = chrono::Utc::now() - chrono::Duration::seconds(1);
    for _ in 0..5 {
        hotel.earn_points(&card, 10).await;
    }
    hotel
        .client
        .redeem(&redeem_request(&card, 5, false), &key())
        .await
        .unwrap();
    let first = hotel.client.transactions("limit=4").await.unwrap().body;
    assert_eq!(first.transactions.len(), 4);
    assert_eq!(first.transactions[0].kind, "redeem", "newest first");
    let cursor = first.next_cursor.unwrap();
    let second = hotel
        .client
        .transactions(&format!("limit=4&cursor={cursor}"))
        .await
        .unwrap()
        .body;
    assert_eq!(second.transactions.len(), 2);
    assert_eq!(second.next_cursor, None);
    let earns = hotel.client.transactions("type=earn").await.unwrap().body;
    assert_eq!(earns.transactions.len(), 5);
    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let window = hotel
        .client
        .transactions(&format!("from={from}&type=earn,redeem"))
        .await
        .unwrap()
        .body;
    assert_eq!(window.transactions.len(), 6);
    let to = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(
        hotel
            .client
            .transactions(&format!("to={to}"))
            .await
            .unwrap()
            .body
            .transactions
            .is_empty()
    );
    assert_eq!(
        code(hotel.client.transactions("limit=0").await.unwrap_err()),
        "invalid_request"
    );
    assert_eq!(
        code(hotel.client.transactions("type=gift").await.unwrap_err()),
        "invalid_request"
    );
}

#[tokio::test]
async fn one_hundred_parallel_redemptions_spend_exactly_the_balance() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(500).await.card;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = hotel.client.clone();
        let request = redeem_request(&card, 10, false);
        tasks.push(tokio::spawn(async move {
            client.redeem(&request, &unique_code("race")).await
        }));
    }
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(err) => assert_eq!(code(err), "insufficient_points"),
        }
    }
    assert_eq!(succeeded, 50);
    assert_eq!(hotel.client.available_points(&card).await, 0);
    assert!(app.ledger_report().await.is_exact());
}
