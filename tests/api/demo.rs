//! The demo network `make run` loads: three partners, five branches, their development keys,
//! settlement terms and two operator keys.

use gateway::domain::{partner_keys, partners};
use test_support::TestApp;

#[tokio::test]
async fn the_demo_network_loads_once_and_reloading_changes_nothing() {
    let app = TestApp::spawn().await;
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/dev/network.toml");
    let created = gateway::demo::load(&app.storage, file.as_ref())
        .await
        .unwrap();
    // Partners, branches, partner keys, settlement terms, operator keys.
    assert_eq!(created.len(), 3 + 5 + 3 + 3 + 2, "{created:?}");
    assert!(
        gateway::demo::load(&app.storage, file.as_ref())
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
    let key_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/dev/hotel.jwk");
    let key = ::partners::jwk::Jwk::read(key_file.as_ref())
        .unwrap()
        .private_key()
        .unwrap();
    let hotel = app.client(&key).await;
    assert_eq!(hotel.whoami().await.unwrap().body.code, "azadi-hotel");

    // Demo members: fixed cards with history, loaded once.
    let program = &app.config.program;
    let keys = &app.config.member_data_keys;
    assert_eq!(
        gateway::demo::load_members(&app.storage, program, keys, 25, |_| {})
            .await
            .unwrap(),
        25
    );
    assert_eq!(
        gateway::demo::load_members(&app.storage, program, keys, 25, |_| {})
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
