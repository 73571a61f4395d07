//! The pages in a real browser (Debian's headless Chromium over WebDriver): a cashier's day at
//! the till, in English and Persian, and what the pages refuse. Screenshots of each page go to
//! `docs/screenshots/` (the README links them).

use domain::staff::StaffRole;
use test_support::browser::Browser;
use test_support::{TestApp, TestPartner, TestStaff};

const SESSION_COOKIE: &str = "__Host-clubgate-session";

async fn sign_in(browser: &Browser, staff: &TestStaff) {
    browser.go("/staff/sign-in").await;
    browser.fill("#login", &staff.login).await;
    browser.fill("#password", &staff.password).await;
    browser.click("#sign-in").await;
}

/// The transfers of `code` at the partner with `reference`, and the login of who made them.
async fn written(app: &TestApp, partner: &TestPartner, code: &str) -> Vec<(i64, Option<String>)> {
    use diesel::{
        ExpressionMethods as _, JoinOnDsl as _, NullableExpressionMethods as _, QueryDsl as _,
    };
    use diesel_async::RunQueryDsl as _;
    use storage::schema::{staff, transfers};
    let mut conn = app.storage.db().await.unwrap();
    transfers::table
        .left_join(staff::table.on(transfers::staff_id.eq(staff::id.nullable())))
        .filter(transfers::partner_id.eq(partner.partner.id.0))
        .filter(transfers::code.eq(code))
        .order(transfers::id)
        .select((transfers::amount, staff::login.nullable()))
        .load(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_cashier_checks_a_card_earns_redeems_and_reverses_at_the_till() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let member = hotel.member().with_points(500).await;
    let cashier = app.staff(StaffRole::Cashier, Some(&hotel), &["main"]).await;
    let browser = Browser::open(&app.address).await;

    browser.go("/").await;
    browser.screenshot("home-en").await;
    browser.go("/staff/sign-in").await;
    browser.screenshot("sign-in-en").await;
    sign_in(&browser, &cashier).await;
    browser.screenshot("pos-till-en").await;

    // The card, typed as printed, with spaces: the member's first name, tier and balance.
    let spaced: String = member
        .card
        .chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ");
    browser.fill("#card-number", &spaced).await;
    browser.click("#check-card").await;
    assert_eq!(browser.text("#available").await, "500 points");
    assert!(!browser.text("#first-name").await.is_empty());
    browser.screenshot("pos-member-en").await;

    // A purchase of 1,000,000 rials at 1 point per 100 rials.
    browser.fill("#earn-amount", "1,000,000").await;
    browser.fill("#earn-reference", "bill-1").await;
    browser.click("#earn").await;
    assert_eq!(browser.text("#receipt-points").await, "10,000 points");
    assert_eq!(browser.text("#receipt-amount").await, "1,000,000.00 IRR");
    assert_eq!(browser.text("#receipt-cashier").await, cashier.name);
    browser.screenshot("pos-receipt-en").await;
    let earn_receipt = browser.text("#receipt-id").await;

    // A redemption, sent twice from the same form at once (a double tap): posted once, and both
    // answers lead to the same receipt.
    browser.click("#back-to-till").await;
    assert_eq!(browser.text("#available").await, "10,500 points");
    let answers = browser
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const form = document.querySelector('form[action="/pos/redeem"]');
               form.querySelector('#redeem-points').value = '200';
               const send = () => fetch('/pos/redeem', {method: 'POST', body: new URLSearchParams(new FormData(form))})
                   .then(r => r.url);
               Promise.all([send(), send()]).then(done);"#,
            vec![],
        )
        .await
        .unwrap();
    let urls: Vec<String> = serde_json::from_value(answers).unwrap();
    let receipt_of = |url: &str| {
        url.split("/pos/receipts/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(receipt_of(&urls[0]), receipt_of(&urls[1]), "{urls:?}");
    assert_eq!(
        written(&app, &hotel, "redeem").await,
        [(200, Some(cashier.login.clone()))]
    );
    browser.go("/pos").await;
    assert_eq!(browser.text("#available").await, "10,300 points");

    // More than the member has is refused, with the reason, and nothing is written.
    browser.fill("#redeem-points", "999999").await;
    browser.click("#redeem").await;
    let refusal = browser.text("#refusal").await;
    assert!(refusal.contains("10300 points available"), "{refusal}");
    assert_eq!(written(&app, &hotel, "redeem").await.len(), 1);

    // The purchase reversed from its receipt.
    browser.go(&format!("/pos/receipts/{earn_receipt}")).await;
    browser.click("#reverse").await;
    assert_eq!(browser.text("#receipt-kind").await, "Reversal");
    assert_eq!(
        written(&app, &hotel, "earn_reversal").await,
        [(10_000, Some(cashier.login.clone()))]
    );
    browser.go("/pos").await;
    assert_eq!(browser.text("#available").await, "300 points");

    // The day at the branch: four transactions (the seeded earn, the purchase, the redemption,
    // the reversal), with totals.
    browser.go("/pos/today").await;
    let rows = browser
        .client
        .find_all(fantoccini::Locator::Css("#today tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(browser.text("#total-redeemed").await, "200 points");
    browser.screenshot("pos-today-en").await;

    // The same pages in Persian, right to left.
    browser.click("a.lang").await;
    assert_eq!(browser.attribute("html", "dir").await, "rtl");
    assert_eq!(browser.text("#total-redeemed").await, "۲۰۰ امتیاز");
    browser.screenshot("pos-today-fa").await;
    browser.go("/pos").await;
    assert_eq!(browser.text("#available").await, "۳۰۰ امتیاز");
    browser.screenshot("pos-member-fa").await;
    browser.go(&format!("/pos/receipts/{earn_receipt}")).await;
    browser.screenshot("pos-receipt-fa").await;
    browser.click("#sign-out").await;
    browser.screenshot("sign-in-fa").await;

    assert!(app.ledger_report().await.is_exact());
    browser.close().await;
}

/// The one member's sealed photo and when they agreed to messages.
async fn photo_and_consent(app: &TestApp) -> (Vec<u8>, Option<chrono::DateTime<chrono::Utc>>) {
    use diesel::QueryDsl as _;
    use diesel_async::RunQueryDsl as _;
    use storage::schema::{member_photos, members};
    let mut conn = app.storage.db().await.unwrap();
    let sealed = member_photos::table
        .select(member_photos::sealed)
        .first(&mut conn)
        .await
        .unwrap();
    let consented = members::table
        .select(members::messages_consent_at)
        .first(&mut conn)
        .await
        .unwrap();
    (sealed, consented)
}

#[tokio::test]
async fn a_cashier_enrols_a_member_with_a_photo_and_their_card_goes_on_the_till() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let cashier = app.staff(StaffRole::Cashier, Some(&hotel), &["main"]).await;
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &cashier).await;
    browser.click("#new-member").await;

    // A bad phone number is refused with the form as typed, and no one is enrolled.
    browser.fill("#enrol-name", "سارا احمدی").await;
    browser.fill("#enrol-phone", "12").await;
    browser.click("#enrol").await;
    assert!(browser.shows("#refusal").await);
    assert_eq!(
        browser.attribute("#enrol-name", "value").await,
        "سارا احمدی"
    );

    // A file that is not a photo is refused too.
    let not_a_photo = app.dir.join("notes.txt");
    std::fs::write(&not_a_photo, "not a photo").unwrap();
    browser.fill("#enrol-phone", "+98 912 555 0101").await;
    browser
        .find("#enrol-photo")
        .await
        .send_keys(not_a_photo.to_str().unwrap())
        .await
        .unwrap();
    browser.click("#enrol").await;
    assert_eq!(
        browser.text("#refusal").await,
        "a photo must be a JPEG, PNG or WebP image"
    );

    let photo =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api/fixtures/member-photo.png");
    browser.fill("#enrol-phone", "+98 912 555 0101").await;
    browser.fill("#enrol-city", "Tehran").await;
    browser
        .find("#enrol-photo")
        .await
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    browser.tick("#enrol-consent").await;
    browser.screenshot("pos-enrol-en").await;
    browser.click("#enrol").await;

    // The new card is on the till, with the photo the cashier took.
    let card = browser.text("#enrolled-card").await;
    assert_eq!(card.len(), 16);
    assert_eq!(browser.text("#first-name").await, "سارا");
    let loaded = browser
        .client
        .execute(
            "const img = document.querySelector('#photo'); return img.complete && img.naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, 160);
    browser.screenshot("pos-enrolled-en").await;
    // The photo is sealed at rest, and the member agreed to messages.
    let (sealed, consented) = photo_and_consent(&app).await;
    let original = std::fs::read(&photo).unwrap();
    assert!(!sealed.windows(8).any(|w| w == &original[..8]));
    assert!(consented.is_some());

    // A purchase on the new card names the cashier; the ledger is exact.
    browser.fill("#earn-amount", "200000").await;
    browser.click("#earn").await;
    assert_eq!(browser.text("#receipt-points").await, "2,000 points");
    assert!(app.ledger_report().await.is_exact());
    browser.close().await;
}

#[tokio::test]
async fn the_till_refuses_other_branches_forged_forms_and_ended_sessions() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    operations::partners::add_branch(
        &app.storage,
        hotel.partner.code.as_str(),
        domain::partners::NewBranch::parse("roof", "Roof bar", Some("Tehran")).unwrap(),
    )
    .await
    .unwrap();
    let other = app.partner().with_default_rule().await;
    let member = hotel.member().with_points(500).await;
    let elsewhere = other.member().with_points(40).await;
    let cashier = app.staff(StaffRole::Cashier, Some(&hotel), &["main"]).await;
    let browser = Browser::open(&app.address).await;

    // A session secret planted before sign-in is worth nothing after it (session fixation).
    browser.go("/staff/sign-in").await;
    let before = browser.cookie(SESSION_COOKIE).await.unwrap();
    sign_in(&browser, &cashier).await;
    let after = browser.cookie(SESSION_COOKIE).await.unwrap();
    assert_ne!(before, after);
    let planted = app
        .http
        .get(format!("{}/pos", app.address))
        .header("cookie", format!("{SESSION_COOKIE}={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(planted.url().path(), "/staff/sign-in");

    // Another branch of the partner, and another partner's receipts, are not the cashier's.
    let roof = operations::partners::show(&app.storage, hotel.partner.code.as_str())
        .await
        .unwrap()
        .branches
        .into_iter()
        .find(|b| b.code.as_str() == "roof")
        .unwrap();
    let forged_branch = browser
        .client
        .execute_async(
            r#"const [branch, done] = arguments;
               const csrf = document.querySelector('input[name=csrf]').value;
               fetch('/pos/branch', {method: 'POST', body: new URLSearchParams({csrf, branch})})
                   .then(r => done(r.status));"#,
            vec![roof.id.to_string().into()],
        )
        .await
        .unwrap();
    assert_eq!(forged_branch, 403);
    let theirs = other.earn_points(&elsewhere.card, 5).await;
    browser
        .go(&format!("/pos/receipts/{}", theirs.transaction.id))
        .await;
    assert_eq!(
        browser.text("#error-message").await,
        "No such page or transaction."
    );

    // A form whose CSRF token is not the session's is refused, and nothing is written.
    browser.go("/pos").await;
    browser.fill("#card-number", &member.card).await;
    browser
        .client
        .execute(
            "document.querySelector('form[action=\"/pos/card\"] input[name=csrf]').value = 'forged'",
            vec![],
        )
        .await
        .unwrap();
    browser.click("#check-card").await;
    assert!(
        browser
            .text("#error-message")
            .await
            .contains("not sent from this page")
    );
    browser.screenshot("refused-csrf-en").await;

    // The card goes on the till; then the session lapses (its record leaves Redis): a form is
    // refused as an ended session, a page asks to sign in again.
    browser.go("/pos").await;
    browser.fill("#card-number", &member.card).await;
    browser.click("#check-card").await;
    browser.fill("#earn-amount", "50000").await;
    let mut redis = app.storage.redis();
    let sessions: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:session:*", app.storage.keys.prefix()))
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(&sessions)
        .query_async(&mut redis)
        .await
        .unwrap();
    browser.click("#earn").await;
    assert_eq!(
        browser.text("#error-message").await,
        "Your session has ended; sign in again."
    );
    assert!(
        written(&app, &hotel, "earn").await.len() == 1,
        "only the seeded earn"
    );
    browser.go("/pos").await;
    assert!(browser.shows("#sign-in").await);
    browser.close().await;
}

/// The sign-in code in the latest text message to `phone`, read from the development page.
async fn code_from_development_page(browser: &Browser, phone: &str) -> String {
    test_support::eventually("the sign-in code's text message", || async {
        browser.go("/dev/messages").await;
        let rows = browser
            .client
            .find_all(fantoccini::Locator::Css("#messages tbody tr"))
            .await
            .ok()?;
        for row in rows {
            let text = row.text().await.ok()?;
            if text.contains(phone) {
                let digits: String = text
                    .split_whitespace()
                    .find(|word| word.len() == 6 && word.chars().all(|c| c.is_ascii_digit()))?
                    .to_owned();
                return Some(digits);
            }
        }
        None
    })
    .await
}

#[tokio::test]
async fn a_member_signs_in_with_a_texted_code_and_sees_what_the_ledger_holds() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let member = hotel.member().with_points(500).await;
    hotel.redeem_points(&member.card, 120).await;
    let phone_size = (412, 915);
    let browser = Browser::open_sized(&app.address, phone_size).await;

    // The portal asks for a phone; typed in Persian digits, it is the member's.
    browser.go("/member").await;
    browser.screenshot("member-sign-in-en").await;
    let persian_digits: String = member
        .phone
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x06F0 + d).unwrap(),
            None => c,
        })
        .collect();
    browser.fill("#phone", &persian_digits).await;
    browser.click("#send-code").await;
    assert!(
        browser
            .text("#code-sent")
            .await
            .ends_with(&member.phone[member.phone.len() - 4..])
    );
    let code = code_from_development_page(&browser, &member.phone).await;
    browser.screenshot("dev-messages-en").await;

    // A wrong code is refused; the right one signs in, once.
    browser.go("/member/code").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    browser.fill("#code", wrong).await;
    browser.click("#verify").await;
    assert_eq!(
        browser.text("#refusal").await,
        "the code is wrong or has lapsed; ask for a new one"
    );
    browser.fill("#code", &code).await;
    browser.screenshot("member-code-en").await;
    browser.click("#verify").await;

    // Balance and history as the ledger holds them.
    assert_eq!(browser.text("#available").await, "380 points");
    assert_eq!(browser.text("#card-number").await, member.card);
    let history: Vec<String> = {
        let rows = browser
            .client
            .find_all(fantoccini::Locator::Css("#history tbody tr td.points"))
            .await
            .unwrap();
        let mut points = Vec::new();
        for row in rows {
            points.push(row.text().await.unwrap());
        }
        points
    };
    assert_eq!(history, ["-120", "+500"]);
    use test_support::CardChecks as _;
    assert_eq!(hotel.client.available_points(&member.card).await, 380);
    let qr_loaded = browser
        .client
        .execute(
            "return document.querySelector('#card-qr').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(qr_loaded.as_u64().unwrap() >= 200);
    browser.screenshot("member-en").await;
    // The invite link a member shares shows their code to a friend, signed in or not.
    let invite = browser.text("#invite-code").await;
    browser.click("#invite-link").await;
    assert_eq!(browser.text("#join-code").await, invite);
    browser.go("/member").await;

    // Their data, downloaded: what they told the club and every transaction.
    let data = browser
        .client
        .execute_async(
            "const done = arguments[0]; fetch('/member/data').then(r => r.json()).then(done);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(data["personal_data"]["phone"], member.phone.as_str());
    assert_eq!(data["transactions"].as_array().unwrap().len(), 2);
    assert_eq!(data["cards"][0]["number"], member.card.as_str());

    // Consent to messages, given from the portal.
    browser.tick("#consent").await;
    browser.click("#save-consent").await;
    assert_eq!(browser.attribute("#consent", "checked").await, "true");

    // In Persian, right to left; then signed out, the portal asks to sign in again.
    browser.click("a.lang").await;
    assert_eq!(browser.text("#available").await, "۳۸۰ امتیاز");
    browser.screenshot("member-fa").await;
    browser.click("#sign-out").await;
    browser.go("/member").await;
    assert!(browser.shows("#send-code").await);

    // The code was used: it cannot sign in again.
    browser.fill("#phone", &member.phone).await;
    browser.click("#send-code").await;
    browser.go("/member/code").await;
    browser.fill("#code", &code).await;
    browser.click("#verify").await;
    assert!(browser.shows("#refusal").await);
    browser.close().await;
}

#[tokio::test]
async fn a_phone_that_is_no_members_gets_the_same_answer_and_no_message() {
    let app = TestApp::spawn().await;
    let browser = Browser::open(&app.address).await;
    browser.go("/member/sign-in").await;
    browser.fill("#phone", "+98 912 000 0000").await;
    browser.click("#send-code").await;
    assert!(browser.shows("#code-sent").await);
    browser.go("/dev/messages").await;
    assert!(!browser.shows("#messages").await);
    // Not a phone number at all: said so.
    browser.go("/member/sign-in").await;
    browser.fill("#phone", "12").await;
    browser.click("#send-code").await;
    assert!(
        browser
            .text("#refusal")
            .await
            .contains("international form")
    );
    browser.close().await;
}

/// Daily terms in IRR from two local days ago (12.5 per point issued, 10 per point redeemed).
async fn daily_terms(app: &TestApp, partner: &TestPartner) {
    use domain::settlement::terms::{self, NewTerms, PeriodKind};
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tehran)
        .date_naive();
    let new = NewTerms {
        currency: domain::points::Currency::parse("IRR").unwrap(),
        price_per_point: terms::parse_rate("price", "12.5").unwrap(),
        reimbursement_per_point: terms::parse_rate("reimbursement", "10").unwrap(),
        period: PeriodKind::Daily,
        time_zone: chrono_tz::Asia::Tehran,
        starts_on: Some(today - chrono::Days::new(2)),
    };
    operations::settlement::terms::set(
        &app.storage,
        partner.partner.code.as_str(),
        new,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
}

/// Today's period closed (its end in Tehran and the grace passed).
fn after_today() -> chrono::DateTime<chrono::Utc> {
    domain::settlement::terms::PeriodKind::Daily
        .next_boundary(chrono::Utc::now(), chrono_tz::Asia::Tehran)
        + chrono::Duration::minutes(11)
}

/// The statement ids of `partner`, oldest first.
async fn statement_ids(app: &TestApp, partner: &TestPartner) -> Vec<String> {
    let filter = storage::settlement::StatementFilter {
        partner_id: Some(partner.partner.id),
        limit: 100,
        ..Default::default()
    };
    operations::settlement::statements::list(&app.storage, &filter)
        .await
        .unwrap()
        .iter()
        .map(|r| r.issued.id.to_string())
        .collect()
}

#[tokio::test]
async fn finance_staff_answer_statements_and_reconcile_at_their_desks() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let other = app.partner().with_default_rule().await;
    daily_terms(&app, &hotel).await;
    daily_terms(&app, &other).await;
    let card = hotel.member().await.card;
    for points in 1..=30 {
        hotel.earn_points(&card, points).await;
    }
    assert_eq!(app.settle(after_today()).await, 6);
    let (ours, theirs) = (
        statement_ids(&app, &hotel).await,
        statement_ids(&app, &other).await,
    );
    let finance = app
        .staff(StaffRole::PartnerFinance, Some(&hotel), &[])
        .await;
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &finance).await;

    // The partner's three statements, newest first; nobody else's.
    let statuses = |browser: &Browser| {
        let client = browser.client.clone();
        async move {
            let rows = client
                .find_all(fantoccini::Locator::Css("#statements tbody tr"))
                .await
                .unwrap();
            let mut statuses = Vec::new();
            for row in rows {
                statuses.push(row.attr("data-status").await.unwrap().unwrap());
            }
            statuses
        }
    };
    assert_eq!(statuses(&browser).await, ["issued", "issued", "issued"]);
    browser.screenshot("finance-statements-en").await;

    // The first (empty) statement acknowledged; the last's first line disputed with a reason;
    // a dispute without a line is refused.
    browser
        .go(&format!("/finance/statements/{}", ours[0]))
        .await;
    browser.click("#acknowledge").await;
    assert_eq!(browser.text("#statement-status").await, "acknowledged");
    browser
        .go(&format!("/finance/statements/{}", ours[1]))
        .await;
    browser.fill("#dispute-reason", "nothing to dispute").await;
    browser.click("#dispute").await;
    assert_eq!(
        browser.text("#refusal").await,
        "Tick at least one line to dispute."
    );
    browser
        .go(&format!("/finance/statements/{}", ours[2]))
        .await;
    browser.tick(".line-box").await;
    browser
        .fill("#dispute-reason", "the guest never stayed")
        .await;
    browser.screenshot("finance-statement-en").await;
    browser.click("#dispute").await;
    assert_eq!(browser.text("#statement-status").await, "disputed");
    assert!(
        browser
            .text("#answers")
            .await
            .contains(&format!("staff:{}", finance.login))
    );
    browser.go("/finance").await;
    assert_eq!(
        statuses(&browser).await,
        ["disputed", "issued", "acknowledged"]
    );
    browser.click("a.lang").await;
    browser.screenshot("finance-statements-fa").await;
    browser
        .go(&format!("/finance/statements/{}", ours[2]))
        .await;
    assert_eq!(browser.text("#statement-status").await, "مورد اعتراض");
    browser.screenshot("finance-statement-fa").await;
    browser.click("a.lang").await;

    // Another partner's statement is no statement here; the operator's pages are not theirs.
    browser
        .go(&format!("/finance/statements/{}", theirs[0]))
        .await;
    assert_eq!(
        browser.text("#error-message").await,
        "No such page or transaction."
    );
    browser.go("/finance/reconciliation").await;
    assert!(browser.text("#error-message").await.contains("may not see"));
    browser.close().await;

    // A cashier sees no finance page at all.
    let cashier = app.staff(StaffRole::Cashier, Some(&hotel), &["main"]).await;
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &cashier).await;
    browser.go("/finance").await;
    assert!(browser.text("#error-message").await.contains("may not see"));
    browser.close().await;

    // The operator's finance sees every partner's statements, the position, and reconciles the
    // hotel's own file (seeded with every status) against the ledger.
    let operator = app.staff(StaffRole::OperatorFinance, None, &[]).await;
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &operator).await;
    assert_eq!(statuses(&browser).await.len(), 6);
    browser.go("/finance/position").await;
    assert!(
        browser
            .text("#position")
            .await
            .contains(hotel.partner.code.as_str())
    );
    browser.screenshot("finance-position-en").await;

    let zone = chrono_tz::Asia::Tehran;
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let (from_day, to_day) = (today - chrono::Days::new(3), today + chrono::Days::new(1));
    let at = |day: chrono::NaiveDate| {
        day.and_hms_opt(0, 0, 0)
            .unwrap()
            .and_local_timezone(zone)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let code = hotel.partner.code.as_str();
    let ledger = operations::settlement::reconcile::ledger_entries(
        &app.storage,
        code,
        at(from_day),
        at(to_day),
    )
    .await
    .unwrap();
    let mut file = Vec::new();
    let seeded = gateway::demo::partner_file::write(&ledger, 2, &mut file).unwrap();
    let path = app.dir.join("hotel-file.csv");
    std::fs::write(&path, file).unwrap();
    browser.go("/finance/reconciliation").await;
    browser
        .client
        .execute(
            "const [partner, from, to] = arguments;
             document.querySelector('#reconcile-partner').value = partner;
             document.querySelector('#reconcile-from').value = from;
             document.querySelector('#reconcile-to').value = to;",
            vec![
                code.into(),
                from_day.to_string().into(),
                to_day.to_string().into(),
            ],
        )
        .await
        .unwrap();
    browser
        .find("#reconcile-file")
        .await
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    browser.click("#reconcile").await;
    let mut shown = Vec::new();
    for row in browser
        .client
        .find_all(fantoccini::Locator::Css("#report-totals tbody tr"))
        .await
        .unwrap()
    {
        let status = row.attr("data-status").await.unwrap().unwrap();
        let count = row
            .find(fantoccini::Locator::Css(".count"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        shown.push((status, count.replace(',', "").parse::<u64>().unwrap()));
    }
    let expected: Vec<(String, u64)> = seeded
        .expected
        .iter()
        .map(|(status, count)| ((*status).to_owned(), *count))
        .collect();
    assert_eq!(shown, expected);
    browser
        .client
        .execute("document.querySelector('#report').scrollIntoView()", vec![])
        .await
        .unwrap();
    browser.screenshot("finance-reconciliation-en").await;
    browser.close().await;
    assert!(app.ledger_report().await.is_exact());
}

#[tokio::test]
async fn the_operator_sees_the_club_in_plots_finds_a_member_and_blocks_a_card() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let member = hotel.member().with_points(500).await;
    let other = hotel.member().with_points(250).await;
    hotel.redeem_points(&member.card, 120).await;
    let admin = app.staff(StaffRole::OperatorAdmin, None, &[]).await;
    let support = app.staff(StaffRole::OperatorSupport, None, &[]).await;
    let marketing = app.staff(StaffRole::OperatorMarketing, None, &[]).await;

    // The dashboard: the last 30 days, in figures and four plots.
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &admin).await;
    assert_eq!(browser.text("#kpi-earned").await, "750");
    assert_eq!(browser.text("#kpi-redeemed").await, "120");
    assert_eq!(browser.text("#kpi-outstanding").await, "630");
    assert_eq!(browser.text("#kpi-active").await, "2");
    let charts = browser
        .client
        .find_all(fantoccini::Locator::Css("svg.chart"))
        .await
        .unwrap();
    assert_eq!(charts.len(), 4);
    browser.screenshot("operator-dashboard-en").await;
    browser.click("a.lang").await;
    assert_eq!(browser.text("#kpi-outstanding").await, "۶۳۰");
    browser.screenshot("operator-dashboard-fa").await;
    // The club's settings, read-only: partners with branches and keys, rules, staff.
    browser.go("/operator/club").await;
    assert!(
        browser
            .text("#partners")
            .await
            .contains(hotel.partner.code.as_str())
    );
    assert!(browser.text("#staff").await.contains(&support.login));
    browser.screenshot("operator-club-fa").await;
    browser.close().await;

    // Support finds the member by phone, blocks the card (a partner's card check is refused),
    // unblocks it, and replaces it as lost: the new card keeps the points.
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &support).await;
    browser.fill("#query", &member.phone).await;
    browser.click("#search").await;
    assert_eq!(browser.text("#available").await, "380 points");
    browser.click("#cards tr[data-status=active] .block").await;
    assert_eq!(browser.text("#notice").await, "Card blocked.");
    let blocked = hotel
        .client
        .check_card(&member.card, None)
        .await
        .unwrap_err();
    assert!(blocked.to_string().contains("card_blocked"), "{blocked}");
    browser
        .click("#cards tr[data-status=blocked] .unblock")
        .await;
    assert_eq!(browser.text("#notice").await, "Card unblocked.");
    browser
        .click("#cards tr[data-status=active] .replace")
        .await;
    let notice = browser.text("#notice").await;
    let replacement = notice.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(replacement.len(), 16, "{notice}");
    use test_support::CardChecks as _;
    assert_eq!(hotel.client.available_points(&replacement).await, 380);
    browser.screenshot("operator-member-en").await;
    // By card number too.
    browser.fill("#query", &other.card).await;
    browser.click("#search").await;
    assert_eq!(browser.text("#available").await, "250 points");
    browser.close().await;

    // Every change is in the audit log, with who and from where.
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &admin).await;
    browser.go("/operator/audit").await;
    let log = browser.text("#audit").await;
    for action in ["card.blocked", "card.active", "card.replaced"] {
        assert!(log.contains(action), "{action} not in {log}");
    }
    assert!(log.contains(&support.login));
    browser.screenshot("operator-audit-en").await;
    browser.close().await;

    // Marketing sees the dashboard, not the members or the audit log; a partner's staff none.
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &marketing).await;
    assert!(browser.shows("#kpi-earned").await);
    for page in ["/operator/members", "/operator/audit"] {
        browser.go(page).await;
        assert!(
            browser.text("#error-message").await.contains("may not see"),
            "{page}"
        );
    }
    browser.close().await;
    let finance = app
        .staff(StaffRole::PartnerFinance, Some(&hotel), &[])
        .await;
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &finance).await;
    browser.go("/operator").await;
    assert!(browser.text("#error-message").await.contains("may not see"));
    browser.close().await;
    assert!(app.ledger_report().await.is_exact());
}

#[tokio::test]
async fn codes_tried_all_at_once_are_checked_at_most_five_times() {
    use operations::portal::{self, CodeLimits};
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let member = hotel.member().await;
    let limits = CodeLimits::default();
    portal::request_code(
        &app.club,
        limits,
        &member.phone,
        "192.0.2.9",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let key = portal::phone_key(&app.club, &member.phone).unwrap();
    let tries = (0..20).map(|i| {
        let (club, key) = (app.club.clone(), key.clone());
        tokio::spawn(async move {
            let wrong = format!("{:06}", 999_000 + i);
            match portal::verify_code(&club, limits, &key, &wrong).await {
                Err(operations::error::OperationError::Refused(err)) => err.code(),
                other => panic!("a wrong code got {other:?}"),
            }
        })
    });
    let answers = futures_util::future::join_all(tries).await;
    let checked = answers
        .iter()
        .filter(|a| *a.as_ref().unwrap() == "sign_in_code_invalid")
        .count();
    assert!(checked <= 5, "{checked} wrong codes were checked");
    // The code is withdrawn: even the right one no longer signs in.
    let sent = operations::messages::latest(&app.club, 1).await.unwrap();
    let code: String = sent[0]
        .message
        .text
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
        .to_owned();
    assert!(
        portal::verify_code(&app.club, limits, &key, &code)
            .await
            .is_err()
    );
}

/// Signs the member in to the portal with the code texted to their phone.
async fn member_signs_in(browser: &Browser, phone: &str) {
    browser.go("/member/sign-in").await;
    browser.fill("#phone", phone).await;
    browser.click("#send-code").await;
    let code = code_from_development_page(browser, phone).await;
    browser.go("/member/code").await;
    browser.fill("#code", &code).await;
    browser.click("#verify").await;
}

#[tokio::test]
async fn a_member_completes_their_profile_for_a_bonus_once_changes_their_photo_and_asks_to_close() {
    use domain::program::rules::RuleKind;
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    app.program_rule(
        RuleKind::Bonus,
        "full-profile",
        serde_json::json!({"occasion": "profile_completed", "points": 15,
                           "profile_fields": ["email", "birth_date"]}),
    )
    .await;
    let member = hotel.member().with_points(100).await;
    let browser = Browser::open_sized(&app.address, (412, 915)).await;
    member_signs_in(&browser, &member.phone).await;
    browser.click("#profile-link").await;

    // A name with no letter is refused; then the profile completed earns its bonus, once.
    browser.fill("#profile-name", "123").await;
    browser.click("#save-profile").await;
    assert!(browser.shows("#refusal").await);
    browser.fill("#profile-name", "Sara Ahmadi").await;
    browser.fill("#profile-email", "sara@example.com").await;
    browser
        .client
        .execute(
            "document.querySelector('#profile-birth-date').value = '1990-05-17'",
            vec![],
        )
        .await
        .unwrap();
    browser.fill("#profile-city", "Isfahan").await;
    browser.click("#save-profile").await;
    assert_eq!(
        browser.text("#notice").await,
        "Profile saved. bonus points: 15"
    );
    browser.fill("#profile-city", "Tehran").await;
    browser.click("#save-profile").await;
    assert_eq!(browser.text("#notice").await, "Profile saved.");
    use test_support::CardChecks as _;
    assert_eq!(hotel.client.available_points(&member.card).await, 115);

    // A new photo, shown to the member (and to a cashier at a card check).
    let photo =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api/fixtures/member-photo.png");
    browser
        .find("#profile-photo")
        .await
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    browser.click("#save-photo").await;
    assert_eq!(browser.text("#notice").await, "Photo saved.");
    let width = browser
        .client
        .execute(
            "return document.querySelector('#photo').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(width, 160);
    browser.screenshot("member-profile-en").await;

    // Closing: refused without the box ticked, then recorded; the operator's support sees it.
    browser.click("#close-account").await;
    assert!(browser.shows("#refusal").await);
    browser.tick("#close-confirm").await;
    browser.click("#close-account").await;
    assert!(browser.shows("#close-requested").await);
    browser.close().await;
    let support = app.staff(StaffRole::OperatorSupport, None, &[]).await;
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &support).await;
    browser.fill("#query", &member.card).await;
    browser.click("#search").await;
    assert!(browser.shows("#close-requested").await);
    assert_eq!(browser.text("#first-name").await, "Sara");
    browser.close().await;
    assert!(app.ledger_report().await.is_exact());
}

#[tokio::test]
async fn a_cashier_quotes_then_holds_points_captures_part_and_voids_another_hold() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let member = hotel.member().with_points(500).await;
    let cashier = app.staff(StaffRole::Cashier, Some(&hotel), &["main"]).await;
    let browser = Browser::open(&app.address).await;
    sign_in(&browser, &cashier).await;
    browser.fill("#card-number", &member.card).await;
    browser.click("#check-card").await;

    // Quotes post nothing: a purchase's points, and what points take off a bill.
    browser.fill("#earn-amount", "1,000,000").await;
    browser.click("#quote-earn").await;
    let quote = browser.text("#quote").await;
    assert!(quote.contains("10,000 points"), "{quote}");
    browser.fill("#redeem-points", "100").await;
    browser.click("#quote-redeem").await;
    let quote = browser.text("#quote").await;
    assert!(quote.contains("1,000.00 IRR"), "{quote}");
    assert_eq!(written(&app, &hotel, "redeem").await.len(), 0);

    // A hold of 50 points, 30 of them captured.
    browser.fill("#redeem-points", "50").await;
    browser.tick("#redeem-hold").await;
    browser.click("#redeem").await;
    assert_eq!(browser.text("#receipt-state").await, "pending");
    browser.fill("#capture-points", "30").await;
    browser.click("#capture").await;
    assert_eq!(browser.text("#receipt-state").await, "posted");
    assert_eq!(browser.text("#receipt-points").await, "30 points");
    browser.go("/pos").await;
    assert_eq!(browser.text("#available").await, "470 points");

    // Another hold, voided: the points come back.
    browser.fill("#redeem-points", "40").await;
    browser.tick("#redeem-hold").await;
    browser.click("#redeem").await;
    browser.click("#void").await;
    browser.go("/pos").await;
    assert_eq!(browser.text("#available").await, "470 points");
    assert!(app.ledger_report().await.is_exact());
    browser.close().await;
}
