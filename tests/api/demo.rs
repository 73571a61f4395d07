//! The demo network `make run` loads: three partners, five branches, their development keys,
//! settlement terms, two operator keys and the programme's tiers; and the settlement walkthrough
//! on it.

use operations::{keys as partner_keys, partners};
use test_support::TestApp;

const NETWORK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/dev/network.toml");

/// A client signing with the hotel's committed development key.
async fn hotel_client(app: &TestApp) -> ::partners::client::Client {
    let key_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/dev/hotel.jwk");
    let key = ::partners::jwk::Jwk::read(key_file.as_ref())
        .unwrap()
        .private_key()
        .unwrap();
    app.client(&key).await
}

#[tokio::test]
async fn the_demo_network_loads_once_and_reloading_changes_nothing() {
    let app = TestApp::spawn().await;
    let created = gateway::demo::load(&app.storage, &app.club.reserved_keys, NETWORK.as_ref())
        .await
        .unwrap();
    // Partners, branches, partner keys, settlement terms, operator keys, staff, programme rules.
    assert_eq!(created.len(), 3 + 5 + 3 + 3 + 2 + 5 + 11, "{created:?}");
    assert!(
        gateway::demo::load(&app.storage, &app.club.reserved_keys, NETWORK.as_ref())
            .await
            .unwrap()
            .is_empty()
    );

    let all = partners::list(&app.storage).await.unwrap();
    let codes: Vec<&str> = all.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(
        codes,
        ["azadi-hotel", "persepolis-tours", "saffron-kitchen"]
    );
    let hotel = partners::show(&app.storage, "azadi-hotel").await.unwrap();
    assert_eq!(hotel.branches.len(), 2);
    let keys = partner_keys::list(&app.storage, "azadi-hotel")
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, "hotel-dev-2026");

    // The committed development key signs for the hotel.
    let hotel = hotel_client(&app).await;
    assert_eq!(hotel.whoami().await.unwrap().body.code, "azadi-hotel");

    // Demo members: fixed cards with history, loaded once.
    let program = &app.config.program;
    assert_eq!(
        gateway::demo::load_members(&app.club, 25, |_| {})
            .await
            .unwrap(),
        25
    );
    assert_eq!(
        gateway::demo::load_members(&app.club, 25, |_| {})
            .await
            .unwrap(),
        0
    );
    let card = gateway::demo::demo_card(program, 0);
    let check = hotel
        .check_card(card.as_str(), Some("tehran"))
        .await
        .unwrap()
        .body;
    assert!(check.balance.posted >= 0);
    assert!(check.redeemable_value.is_some());
    let tier = check.tier.expect("the demo programme has tiers");
    assert!(["bronze", "silver", "gold"].contains(&tier.code.as_str()));
    let vanak = hotel
        .quote(
            "tehran",
            Some(&::partners::protocol::Money {
                amount_minor: 100_000_000,
                currency: "IRR".into(),
            }),
            None,
        )
        .await;
    assert_eq!(vanak.unwrap().body.earn_points, Some(10));
    assert!(app.ledger_report().await.is_exact());
}

/// The walkthrough of `docs/settlement.md`: the demo members' recent history settles into signed
/// statements for the three partners; the hotel verifies them with its development key,
/// acknowledges one and disputes a line of another; its file with seeded differences
/// reconciles to exactly what was seeded.
#[tokio::test]
async fn the_demo_settles_verifies_answers_and_reconciles() {
    use ::partners::settlement::DisputeRequest;
    use operations::settlement::{close, reconcile};

    let app = TestApp::spawn().await;
    gateway::demo::load(&app.storage, &app.club.reserved_keys, NETWORK.as_ref())
        .await
        .unwrap();
    gateway::demo::load_members(&app.club, 300, |_| {})
        .await
        .unwrap();

    let closed = close::settle(
        &app.storage,
        &app.config.keys.current,
        close::CloseSettings::default(),
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .closed;
    for code in ["azadi-hotel", "persepolis-tours", "saffron-kitchen"] {
        assert!(
            closed.iter().filter(|s| s.partner_code == code).count() >= 29,
            "{code}: a statement for each closed day of the last 30"
        );
    }

    let hotel = hotel_client(&app).await;
    let list = hotel.statements().await.unwrap().body.statements;
    let mut with_lines = Vec::new();
    for summary in &list {
        let verified = hotel.verify_statement(summary.id).await.unwrap();
        if verified.statement.lines.count > 0 {
            with_lines.push((summary.id, verified));
        }
    }
    // Half the demo history falls in the settled days: nearly every day of the hotel has lines.
    assert!(
        with_lines.len() * 10 >= list.len() * 8,
        "{} of {} hotel statements have lines",
        with_lines.len(),
        list.len()
    );
    let [(first, first_verified), (second, second_verified), ..] = &with_lines[..] else {
        panic!("the demo history has at least two hotel days with lines")
    };
    let ack = hotel
        .acknowledge_statement(*first, "demo-ack", &first_verified.sha256)
        .await
        .unwrap();
    assert_eq!(ack.body.kind, "acknowledgement");
    let lines = hotel.statement_lines(*second).await.unwrap();
    let line: uuid::Uuid = String::from_utf8(lines).unwrap().lines().nth(1).unwrap()[..36]
        .parse()
        .unwrap();
    let dispute = DisputeRequest {
        statement_sha256: second_verified.sha256.clone(),
        lines: vec![line],
        reason: "the guest checked out without a stay".into(),
    };
    hotel
        .dispute_statement(*second, "demo-dispute", &dispute)
        .await
        .unwrap();
    let statuses: Vec<String> = hotel
        .statements()
        .await
        .unwrap()
        .body
        .statements
        .into_iter()
        .filter(|s| s.id == *first || s.id == *second)
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, ["acknowledged", "disputed"]);

    let (from, to) = (chrono::DateTime::UNIX_EPOCH, chrono::Utc::now());
    let ledger = reconcile::ledger_entries(&app.storage, "azadi-hotel", from, to)
        .await
        .unwrap();
    let mut partner_file = Vec::new();
    let seeded = gateway::demo::partner_file::write(&ledger, 2, &mut partner_file).unwrap();
    let report = reconcile::reconcile_partner(
        &app.storage,
        "azadi-hotel",
        from,
        to,
        std::io::Cursor::new(partner_file),
    )
    .await
    .unwrap();
    let counts: Vec<(&str, u64)> = report.totals.iter().map(|t| (t.status, t.count)).collect();
    assert_eq!(counts, seeded.expected);
    assert!(counts.iter().all(|(_, n)| *n > 0), "{counts:?}");
}

/// Issue 14's "done when", on the demo network: a new member enrolled with a friend's invite code
/// gets the sign-up bonus and the friend the referral bonus; the member's first earn at the
/// restaurant on a weekend gets the campaign's double points and moves them toward silver; the
/// card check shows tier and progress; the restaurant's statement shows its share of the
/// campaign.
#[tokio::test]
async fn a_referred_member_earns_the_weekend_campaign_at_the_restaurant() {
    use chrono::{Datelike as _, TimeZone as _, Weekday};
    use operations::settlement::statements;

    let app = TestApp::spawn().await;
    gateway::demo::load(&app.storage, &app.club.reserved_keys, NETWORK.as_ref())
        .await
        .unwrap();
    let key_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/dev/restaurant.jwk");
    let key = ::partners::jwk::Jwk::read(key_file.as_ref())
        .unwrap()
        .private_key()
        .unwrap();
    let restaurant = app.client(&key).await;
    let enrol = |phone: &str, invite_code: Option<String>| ::partners::protocol::EnrollRequest {
        branch: "vanak".into(),
        phone: phone.into(),
        name: "Shirin Navabi".into(),
        email: None,
        birth_date: None,
        city: None,
        invite_code,
        consents_to_messages: false,
    };
    let friend = restaurant
        .enroll(&enrol("+989121110001", None), "done-when-friend")
        .await
        .unwrap()
        .body;
    let member = restaurant
        .enroll(
            &enrol("+989121110002", Some(friend.invite_code.clone())),
            "done-when-member",
        )
        .await
        .unwrap()
        .body;
    assert_eq!(member.bonus_points, 50, "the sign-up bonus");
    assert_eq!(
        restaurant
            .check_card(&friend.card_number, None)
            .await
            .unwrap()
            .body
            .balance
            .available,
        50 + 100,
        "the friend's own sign-up bonus and the referral bonus"
    );

    // The next Friday, 13:00 in Tehran: 40,000,000 rials at Vanak (2 points per 5,000,000) is
    // 16 points, and the weekend campaign doubles them.
    let tehran = chrono_tz::Asia::Tehran;
    let mut day = chrono::Utc::now().with_timezone(&tehran).date_naive();
    while day.weekday() != Weekday::Fri {
        day = day.succ_opt().unwrap();
    }
    let friday = tehran
        .from_local_datetime(&day.and_hms_opt(13, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let saffron = partners::id_of(&app.storage, "saffron-kitchen")
        .await
        .unwrap();
    let card = domain::cards::CardNumber::parse(&member.card_number).unwrap();
    let irr = domain::points::Currency::parse("IRR").unwrap();
    let purchase = domain::ledger::Purchase::new(
        "vanak".into(),
        card.clone(),
        domain::points::Money::new(40_000_000, irr),
        "bill-5521".into(),
        None,
        Vec::new(),
    )
    .unwrap();
    let earned = operations::ledger::at::earn(&app.club, saffron, purchase, friday)
        .await
        .unwrap();
    assert_eq!(earned.transfer.amount.get(), 16);
    assert_eq!(earned.balance.available.get(), 50 + 16 + 16);
    let referrer = operations::members::check_card(
        &app.club,
        saffron,
        None,
        &domain::cards::CardNumber::parse(&friend.card_number).unwrap(),
        friday,
    )
    .await
    .unwrap();
    assert_eq!(
        referrer.balance.available.get(),
        50 + 100 + 100,
        "the referral's second bonus, for the friend's first purchase"
    );

    // The card check that Friday: bronze, 16 of the 1,000 points silver needs.
    let check = operations::members::check_card(&app.club, saffron, None, &card, friday)
        .await
        .unwrap();
    let tier = check.tier.expect("the demo has tiers");
    assert_eq!(tier.tier, "bronze");
    let progress = tier.progress.unwrap();
    assert_eq!(
        (progress.tier.as_str(), progress.have, progress.need),
        ("silver", 16, 1_000)
    );

    // The restaurant's statement for that Friday: its half of the campaign's 16 points (8) and
    // its 50 of the referral bonus are bonus lines, charged at its price (560,000 a point).
    app.settle(friday + chrono::Duration::days(1)).await;
    let mine = statements::list(
        &app.storage,
        &storage::settlement::StatementFilter {
            partner_id: Some(saffron),
            limit: 1_000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bonus_lines: Vec<(i64, i64)> = mine
        .iter()
        .filter_map(|record| {
            let statement = record.statement().ok()?;
            let bonus = statement.totals.iter().find(|t| t.line_type == "bonus")?;
            Some((bonus.points, bonus.money_minor))
        })
        .collect();
    assert!(bonus_lines.contains(&(8, 8 * 560_000)), "{bonus_lines:?}");
    assert!(bonus_lines.contains(&(50, 50 * 560_000)), "{bonus_lines:?}");
}
