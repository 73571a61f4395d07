//! Staff accounts: roles bound to their partner and branches, passwords hashed with argon2id,
//! disabled rather than deleted, each refusal with its code.

use chrono::Utc;
use domain::staff::{StaffError, StaffRole, StaffScope, StaffStatus, password_matches};
use operations::error::OperationError;
use operations::staff::{self, Actor, NewStaff};
use test_support::TestApp;

fn refusal<T: std::fmt::Debug>(result: Result<T, OperationError<StaffError>>) -> &'static str {
    match result {
        Err(OperationError::Refused(err)) => err.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn new<'a>(
    login: &'a str,
    role: StaffRole,
    partner: Option<&'a str>,
    branches: &'a [String],
) -> NewStaff<'a> {
    NewStaff {
        login,
        name: "Sara Ahmadi",
        role,
        partner,
        branches,
    }
}

#[tokio::test]
async fn staff_accounts_are_scoped_hashed_and_disabled_never_deleted() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().await;
    let code = hotel.partner.code.to_string();
    let code = code.as_str();
    let main = vec!["main".to_owned()];
    let password = "a long enough password";
    let now = Utc::now();
    let by = Actor {
        name: "cli:test",
        from: "host test",
    };

    let cashier = staff::add(
        &app.storage,
        new("Sara@Azadi", StaffRole::Cashier, Some(code), &main),
        password,
        by,
        now,
    )
    .await
    .unwrap();
    assert_eq!(cashier.login, "sara@azadi");
    assert!(
        matches!(&cashier.scope, StaffScope::Branches(p, b) if *p == hotel.partner.id && b.len() == 1)
    );
    assert!(cashier.password_hash.starts_with("$argon2id$"));
    staff::add(
        &app.storage,
        new("ops", StaffRole::OperatorAdmin, None, &[]),
        password,
        by,
        now,
    )
    .await
    .unwrap();

    let roof = vec!["roof".to_owned()];
    for (new, password, expected) in [
        (
            new("sara@azadi", StaffRole::Cashier, Some(code), &main),
            password,
            "staff_login_taken",
        ),
        (
            new("reza", StaffRole::Cashier, Some(code), &[]),
            password,
            "staff_scope_invalid",
        ),
        (
            new("reza", StaffRole::Cashier, Some(code), &roof),
            password,
            "staff_scope_invalid",
        ),
        (
            new("reza", StaffRole::OperatorFinance, Some(code), &[]),
            password,
            "staff_scope_invalid",
        ),
        (
            new("a b", StaffRole::OperatorFinance, None, &[]),
            password,
            "staff_login_invalid",
        ),
        (
            new("reza", StaffRole::OperatorFinance, None, &[]),
            "short",
            "staff_password_too_weak",
        ),
    ] {
        let refused = staff::add(&app.storage, new, password, by, now).await;
        assert_eq!(refusal(refused), expected);
    }

    staff::reset_password(&app.storage, "sara@azadi", "another long password", by, now)
        .await
        .unwrap();
    staff::disable(&app.storage, "SARA@azadi", by, now)
        .await
        .unwrap();
    let all = staff::list(&app.storage).await.unwrap();
    let logins: Vec<(&str, StaffStatus)> =
        all.iter().map(|s| (s.login.as_str(), s.status)).collect();
    assert_eq!(
        logins,
        [
            ("ops", StaffStatus::Active),
            ("sara@azadi", StaffStatus::Disabled)
        ]
    );
    assert!(password_matches(
        "another long password",
        &all[1].password_hash
    ));
    assert!(!password_matches(password, &all[1].password_hash));
    assert_eq!(
        refusal(staff::disable(&app.storage, "nobody", by, now).await),
        "staff_not_found"
    );
    // Every change, and no refusal, is in the audit log with who and from where; never a password.
    let log = staff::audit_log(&app.storage, 10).await.unwrap();
    let entries: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.subject.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            ("staff.disable", "sara@azadi", "cli:test"),
            ("staff.reset_password", "sara@azadi", "cli:test"),
            ("staff.add", "ops", "cli:test"),
            ("staff.add", "sara@azadi", "cli:test"),
        ]
    );
    assert_eq!(log[3].detail["branches"], serde_json::json!(["main"]));
    assert!(
        log.iter()
            .all(|e| !e.detail.to_string().contains("password"))
    );
}

#[tokio::test]
async fn sign_in_tells_nothing_of_which_part_was_wrong_and_locks_a_login_out_after_five_failures() {
    use operations::staff::{SignInLimits, sign_in};
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::OperatorAdmin, None, &[]).await;
    let other = app.staff(StaffRole::OperatorFinance, None, &[]).await;
    let (limits, from, now) = (SignInLimits::default(), "192.0.2.7", Utc::now());
    let attempt = |login: &str, password: &str| {
        let (login, password) = (login.to_owned(), password.to_owned());
        let storage = app.storage.clone();
        let keys = app.club.member_data_keys.clone();
        async move {
            sign_in(
                &storage,
                &keys,
                limits,
                (&login, &password, None),
                from,
                now,
            )
            .await
        }
    };

    // An unknown login and a wrong password get the same answer.
    assert_eq!(
        refusal(attempt("nobody", "any password at all").await),
        "staff_sign_in_invalid"
    );
    for _ in 0..4 {
        let wrong = attempt(&admin.login, "not the password").await;
        assert_eq!(refusal(wrong), "staff_sign_in_invalid");
    }
    // The fifth failure locks the login out: the right password is then refused too.
    assert_eq!(
        refusal(attempt(&admin.login, "not the password").await),
        "staff_sign_in_locked"
    );
    assert_eq!(
        refusal(attempt(&admin.login, &admin.password).await),
        "staff_sign_in_locked"
    );
    // Another login from the same address still signs in; once disabled, it cannot.
    let signed_in = attempt(&other.login, &other.password).await.unwrap();
    assert_eq!(signed_in.login, other.login);
    let by = Actor {
        name: "cli:test",
        from: "host test",
    };
    staff::disable(&app.storage, &other.login, by, now)
        .await
        .unwrap();
    assert_eq!(
        refusal(attempt(&other.login, &other.password).await),
        "staff_sign_in_invalid"
    );

    let log = staff::audit_log(&app.storage, 10).await.unwrap();
    let sign_ins: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| e.action == "staff.sign_in")
        .map(|e| (e.subject.as_str(), e.from_where.as_str()))
        .collect();
    assert_eq!(sign_ins, [(other.login.as_str(), from)]);
}

#[tokio::test]
async fn an_account_with_totp_signs_in_only_with_its_current_code() {
    use operations::staff::{SignInLimits, enable_totp, sign_in};
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::OperatorAdmin, None, &[]).await;
    let keys = &app.club.member_data_keys;
    let by = Actor {
        name: "cli:test",
        from: "host test",
    };
    let now = Utc::now();
    let address = enable_totp(&app.storage, keys, &admin.login, by, now)
        .await
        .unwrap();
    let secret = address
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let raw = totp_rs::Secret::Encoded(secret).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, raw.clone());
    let at = u64::try_from(now.timestamp()).unwrap();
    let (limits, from) = (SignInLimits::default(), "192.0.2.8");
    let attempt = |code: Option<String>| {
        let (storage, keys, login, password) = (
            app.storage.clone(),
            keys.clone(),
            admin.login.clone(),
            admin.password.clone(),
        );
        async move {
            sign_in(
                &storage,
                &keys,
                limits,
                (&login, &password, code.as_deref()),
                from,
                now,
            )
            .await
        }
    };
    assert_eq!(refusal(attempt(None).await), "staff_totp_invalid");
    let stale = totp.generate(at - 300);
    assert_eq!(refusal(attempt(Some(stale)).await), "staff_totp_invalid");
    let signed_in = attempt(Some(totp.generate(at))).await.unwrap();
    assert_eq!(signed_in.login, admin.login);
    // The secret is sealed at rest, and enabling it is in the audit log.
    let sealed = signed_in.totp_secret.unwrap();
    assert!(!sealed.windows(raw.len()).any(|w| w == raw.as_slice()));
    let log = staff::audit_log(&app.storage, 5).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "staff.enable_totp" && e.subject == admin.login)
    );
}
