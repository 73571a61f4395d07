//! Enrolment and cards through the signed API: a valid card, personal data kept
//! encrypted, card numbers checked before lookup, blocked and lost cards refused.
//! Every test ends with the ledger check (in `TestApp`'s drop).

use partners::protocol::EnrollRequest;
use test_support::protocol::{code, earn_request, irr, key, redeem_request};
use test_support::{CardChecks as _, TestApp};

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
                city: None,
                invite_code: None,
                consents_to_messages: false,
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
    assert_eq!(check.tier, None, "the programme has no tiers");
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
                city: None,
                invite_code: None,
                consents_to_messages: false,
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
                city: None,
                invite_code: None,
                consents_to_messages: false,
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
    operations::members::block_card(&app.storage, &number, None)
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
    operations::members::unblock_card(&app.storage, &number, None)
        .await
        .unwrap();

    let replacement =
        operations::members::replace_lost_card(&app.storage, &app.config.program, &number, None)
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
