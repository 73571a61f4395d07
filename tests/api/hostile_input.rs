//! What a careless or hostile partner sends: text with control characters, names without
//! letters. Each is refused with its own code before anything reaches storage, and nothing is
//! written.

use domain::points::Points;
use domain::program::LimitOverrides;
use partners::protocol::{EnrollRequest, ReverseRequest};
use test_support::protocol::{code, earn_request, key, problem, redeem_request};
use test_support::{CardChecks as _, TestApp, TestPartner};

#[tokio::test]
async fn a_reference_with_a_control_character_is_refused_on_every_write() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(50).await.card;
    let client = &hotel.client;

    for reference in ["a\u{0}b", "bell\u{7}", "\u{1b}[2J", "x\u{202E}y"] {
        let mut earn = earn_request(&card, 100_000);
        earn.reference = reference.into();
        let refused = client.earn(&earn, &key()).await.unwrap_err();
        assert_eq!(code(refused), "reference_invalid", "{reference:?}");
        let mut redemption = redeem_request(&card, 5, false);
        redemption.reference = reference.into();
        let refused = client.redeem(&redemption, &key()).await.unwrap_err();
        assert_eq!(code(refused), "reference_invalid", "{reference:?}");
    }
    let earned = client
        .earn(&earn_request(&card, 100_000), &key())
        .await
        .unwrap()
        .body;
    let reversal = ReverseRequest {
        transaction_id: earned.transaction.id,
        points: None,
        reference: Some("return\u{0}".into()),
    };
    let refused = client.reverse(&reversal, &key()).await.unwrap_err();
    assert_eq!(code(refused), "reference_invalid");

    // A branch that cannot be a code names no branch: looked up nowhere, refused plainly.
    let mut earn = earn_request(&card, 100_000);
    earn.branch = "teh\u{0}ran".into();
    assert_eq!(
        code(client.earn(&earn, &key()).await.unwrap_err()),
        "branch_unknown"
    );
    assert_eq!(
        hotel.client.available_points(&card).await,
        60,
        "only the one good earn was written"
    );
}

#[tokio::test]
async fn a_member_name_or_email_that_is_not_plain_text_is_refused() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let enrol = |name: &str, email: Option<&str>, branch: &str| EnrollRequest {
        branch: branch.into(),
        phone: test_support::app::unique_phone(),
        name: name.into(),
        email: email.map(str::to_owned),
        birth_date: None,
        city: None,
        invite_code: None,
        consents_to_messages: false,
    };
    for (name, email) in [
        ("Darya\u{0}Karimi", None),
        ("Darya\u{7}", None),
        ("\u{1b}[31mDarya", None),
        ("\u{200F}\u{200F}\u{200F}", None),
        ("12345", None),
        ("Darya", Some("darya\u{0}@example.com")),
        ("Darya", Some("darya@exa\u{1b}mple.com")),
    ] {
        let refused = hotel
            .client
            .enroll(&enrol(name, email, "main"), &key())
            .await
            .unwrap_err();
        assert_eq!(code(refused), "invalid_member_data", "{name:?} {email:?}");
    }
    let refused = hotel
        .client
        .enroll(&enrol("Darya", None, "ma\u{0}in"), &key())
        .await
        .unwrap_err();
    assert_eq!(code(refused), "branch_unknown");
    // Persian, with its zero-width non-joiner, is a name.
    let enrolled = hotel
        .client
        .enroll(&enrol("نیک\u{200C}نام کریمی", None, "main"), &key())
        .await
        .unwrap()
        .body;
    assert_eq!(
        hotel
            .client
            .check_card(&enrolled.card_number, None)
            .await
            .unwrap()
            .body
            .first_name,
        "نیک\u{200C}نام"
    );
}

#[tokio::test]
async fn amounts_and_points_are_bounded_by_the_programme() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(50).await.card;
    let client = &hotel.client;
    let refusal = |request| async move { code(client.earn(&request, &key()).await.unwrap_err()) };

    // Just under 2^63: once 922 billion points; now above the largest purchase (10^15).
    assert_eq!(
        refusal(earn_request(&card, i64::MAX - 1)).await,
        "purchase_above_limit"
    );
    // Within it, but the default rule (a point per 10,000) would credit 10^11 points.
    assert_eq!(
        refusal(earn_request(&card, 1_000_000_000_000_000)).await,
        "points_above_limit"
    );
    let refused = client
        .redeem(&redeem_request(&card, 1_000_000_001, false), &key())
        .await
        .unwrap_err();
    assert_eq!(code(refused), "points_above_limit");
    // A quote answers what the earn would: the same bounds.
    let huge = test_support::protocol::irr(i64::MAX - 1);
    let refused = client.quote("main", Some(&huge), None).await.unwrap_err();
    assert_eq!(code(refused), "purchase_above_limit");
    let refused = client
        .quote("main", None, Some(1_000_000_001))
        .await
        .unwrap_err();
    assert_eq!(code(refused), "points_above_limit");
    assert_eq!(
        client.available_points(&card).await,
        50,
        "nothing was written"
    );
}

#[tokio::test]
async fn a_partner_may_have_bounds_of_its_own_above_or_below_the_programmes() {
    let app = TestApp::spawn().await;
    let kiosk = app.partner().with_default_rule().await;
    let jeweller = app.partner().with_default_rule().await;
    set_limits(&app, &kiosk, Some(1_000_000), Some(50)).await;
    set_limits(
        &app,
        &jeweller,
        Some(10_000_000_000_000_000),
        Some(1_000_000_000_000),
    )
    .await;

    // The kiosk's own bounds are below the programme's: 1,000,000 IRR, 50 points.
    let card = kiosk.member().with_points(50).await.card;
    let client = &kiosk.client;
    let refused = client
        .earn(&earn_request(&card, 1_000_001), &key())
        .await
        .unwrap_err();
    let refused = problem(refused);
    assert_eq!(refused.code, "purchase_above_limit");
    assert!(refused.detail.contains("1000000"), "{}", refused.detail);
    let refused = client
        .redeem(&redeem_request(&card, 51, false), &key())
        .await
        .unwrap_err();
    assert_eq!(code(refused), "points_above_limit");
    let refused = client.quote("main", None, Some(51)).await.unwrap_err();
    assert_eq!(code(refused), "points_above_limit");
    client
        .redeem(&redeem_request(&card, 50, false), &key())
        .await
        .unwrap();

    // The jeweller's are above them: a purchase of 2 × 10^15 IRR earns 2 × 10^11 points.
    let card = jeweller.member().await.card;
    let earned = jeweller
        .client
        .earn(&earn_request(&card, 2_000_000_000_000_000), &key())
        .await
        .unwrap()
        .body;
    assert_eq!(earned.transaction.points, 200_000_000_000);

    // Taking the programme's bounds back: the same earn is refused again.
    set_limits(&app, &jeweller, None, None).await;
    // Requests see it when the branch's cached rule expires (10 s); the test does not wait.
    app.storage.card_cache().rules.invalidate_all();
    let refused = jeweller
        .client
        .earn(&earn_request(&card, 2_000_000_000_000_000), &key())
        .await
        .unwrap_err();
    assert_eq!(code(refused), "purchase_above_limit");
}

/// What `clubgate partners limits` does.
async fn set_limits(
    app: &TestApp,
    partner: &TestPartner,
    purchase: Option<i64>,
    points: Option<i64>,
) {
    let limits = LimitOverrides::new(purchase, points.map(Points)).unwrap();
    operations::partners::set_limits(&app.storage, partner.partner.code.as_str(), limits)
        .await
        .unwrap();
}
