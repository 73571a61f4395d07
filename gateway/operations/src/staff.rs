//! Staff accounts: adding, listing, disabling them and resetting their passwords (the CLI's
//! `clubgate staff`; the pages will call the same operations).

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::ids::StaffId;
use domain::member_data::MemberDataKeys;
use domain::staff::{self, StaffError, StaffMember, StaffRole, StaffScope, StaffStatus};
use storage::audit::AuditEntry;
use storage::{Connection, Storage};

use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<StaffError>>;

/// Who makes a change, and from where: written to the audit log with it.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// A staff login, or `cli:` and the machine user.
    pub name: &'a str,
    /// An address, or `host ` and the machine's name.
    pub from: &'a str,
}

impl Actor<'_> {
    /// Records `action` on `subject` in the caller's transaction, at `now`.
    pub(crate) async fn record(
        self,
        conn: &mut Connection,
        (action, subject): (&str, &str),
        detail: serde_json::Value,
        now: DateTime<Utc>,
    ) -> std::result::Result<(), storage::StorageError> {
        let entry = AuditEntry {
            at: domain::time::stored(now),
            actor: self.name.to_owned(),
            from_where: self.from.to_owned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            detail,
        };
        storage::audit::record(conn, &entry).await
    }
}

/// An account to add: where `partner` and `branches` are codes.
#[derive(Debug, Clone)]
pub struct NewStaff<'a> {
    /// What they sign in with.
    pub login: &'a str,
    /// Their name.
    pub name: &'a str,
    /// What they may do.
    pub role: StaffRole,
    /// Their partner's code (a partner's staff).
    pub partner: Option<&'a str>,
    /// Their branches' codes, at `partner` (a cashier, a branch manager).
    pub branches: &'a [String],
}

/// Adds an account with `password` (12 to 128 characters; hashed with argon2id).
pub async fn add(
    storage: &Storage,
    new: NewStaff<'_>,
    password: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<StaffMember> {
    let refused = OperationError::Refused;
    let login = staff::login(new.login).map_err(refused)?;
    let name =
        domain::text::name("name", new.name, 100).map_err(|_| refused(StaffError::NameInvalid))?;
    let mut conn = storage.db().await?;
    let scope = match new.partner {
        None if new.branches.is_empty() => StaffScope::Operator,
        None => {
            return Err(refused(StaffError::ScopeInvalid(
                "branches need their partner".into(),
            )));
        }
        Some(code) => {
            let partner = storage::partners::find_by_code(&mut conn, code)
                .await?
                .ok_or_else(|| refused(StaffError::ScopeInvalid(format!("no partner {code:?}"))))?;
            let mut branches = Vec::with_capacity(new.branches.len());
            for branch in new.branches {
                let found = storage::branches::find_by_code(&mut conn, partner.id, branch)
                    .await?
                    .ok_or_else(|| {
                        refused(StaffError::ScopeInvalid(format!(
                            "partner {code:?} has no branch {branch:?}"
                        )))
                    })?;
                branches.push(found.id);
            }
            if branches.is_empty() {
                StaffScope::Partner(partner.id)
            } else {
                StaffScope::Branches(partner.id, branches)
            }
        }
    };
    staff::check_scope(new.role, &scope).map_err(refused)?;
    let member = StaffMember {
        id: domain::ids::StaffId(uuid::Uuid::now_v7()),
        login,
        name,
        role: new.role,
        scope,
        status: StaffStatus::Active,
        password_hash: hashed(password).await?,
        totp_secret: None,
        created_at: domain::time::stored(now),
    };
    let detail = serde_json::json!({
        "role": member.role.as_str(),
        "partner": new.partner,
        "branches": new.branches,
    });
    conn.transaction::<_, OperationError<StaffError>, _>(async |conn| {
        if !storage::staff::insert(conn, &member).await? {
            return Err(OperationError::Refused(StaffError::LoginTaken));
        }
        actor
            .record(conn, ("staff.add", &member.login), detail, now)
            .await?;
        Ok(())
    })
    .await?;
    tracing::info!(staff.login = %member.login, staff.role = %member.role, "staff account added");
    Ok(member)
}

/// The latest `limit` entries of the audit log, newest first.
pub async fn audit_log(storage: &Storage, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(storage::audit::latest(&mut *storage.db().await?, limit).await?)
}

/// Every account, by login.
pub async fn list(storage: &Storage) -> Result<Vec<StaffMember>> {
    Ok(storage::staff::list(&mut *storage.db().await?).await?)
}

/// Disables the account with `login`: it can no longer sign in.
pub async fn disable(
    storage: &Storage,
    login: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let login = staff::login(login).map_err(OperationError::Refused)?;
    let mut conn = storage.db().await?;
    conn.transaction::<_, OperationError<StaffError>, _>(async |conn| {
        if !storage::staff::set_status(conn, &login, StaffStatus::Disabled).await? {
            return Err(OperationError::Refused(StaffError::NotFound(login.clone())));
        }
        let detail = serde_json::json!({});
        actor
            .record(conn, ("staff.disable", &login), detail, now)
            .await?;
        Ok(())
    })
    .await?;
    tracing::info!(staff.login = %login, "staff account disabled");
    Ok(())
}

/// Gives the account with `login` a new password (the audit log records that, never the
/// password).
pub async fn reset_password(
    storage: &Storage,
    login: &str,
    password: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let login = staff::login(login).map_err(OperationError::Refused)?;
    let hash = hashed(password).await?;
    let mut conn = storage.db().await?;
    conn.transaction::<_, OperationError<StaffError>, _>(async |conn| {
        if !storage::staff::set_password(conn, &login, &hash).await? {
            return Err(OperationError::Refused(StaffError::NotFound(login.clone())));
        }
        let detail = serde_json::json!({});
        actor
            .record(conn, ("staff.reset_password", &login), detail, now)
            .await?;
        Ok(())
    })
    .await?;
    tracing::info!(staff.login = %login, "staff password reset");
    Ok(())
}

/// How failed sign-ins are throttled: after `per_login` failures within `window` the login is
/// locked out until the window ends, and an address after `per_address` (one machine trying
/// many logins).
#[derive(Debug, Clone, Copy)]
pub struct SignInLimits {
    /// Failures a login may have within the window.
    pub per_login: u64,
    /// Failures an address may have within the window.
    pub per_address: u64,
    /// How long failures are counted; a lock-out lasts at most this long.
    pub window: std::time::Duration,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            per_login: 5,
            per_address: 50,
            window: std::time::Duration::from_secs(15 * 60),
        }
    }
}

/// Signs `login` in with `password` from the address `from`: the account, when it is active,
/// the password matches, and neither the login nor the address is locked out. The lock-out is
/// checked before the password, so a locked login cannot be guessed at; an unknown login costs
/// the same hashing time as a wrong password.
pub async fn sign_in(
    storage: &Storage,
    keys: &MemberDataKeys,
    limits: SignInLimits,
    (login, password, code): (&str, &str, Option<&str>),
    from: &str,
    now: DateTime<Utc>,
) -> Result<StaffMember> {
    let refused = OperationError::Refused;
    let login = staff::login(login).map_err(|_| refused(StaffError::SignInInvalid))?;
    let (by_login, by_address) = (format!("login:{login}"), format!("address:{from}"));
    let locked = StaffError::SignInLocked {
        minutes: limits.window.as_secs().div_ceil(60),
    };
    // Every try counts before the password is checked, so tries sent at once cannot all pass
    // the limit; a successful sign-in clears the login's count.
    let tries = storage::sessions::count_failure(storage, &by_login, limits.window).await?;
    let from_address =
        storage::sessions::count_failure(storage, &by_address, limits.window).await?;
    if tries > limits.per_login || from_address > limits.per_address {
        return Err(refused(locked));
    }
    let found = storage::staff::find(&mut *storage.db().await?, &login).await?;
    let hash = found
        .as_ref()
        .map_or(UNKNOWN_LOGIN_HASH, |m| m.password_hash.as_str())
        .to_owned();
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || staff::password_matches(&password, &hash))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    match found {
        Some(member) if matches && member.status == StaffStatus::Active => {
            if let Some(sealed) = &member.totp_secret
                && !totp_matches(keys, &member, sealed, code, now)?
            {
                tracing::warn!(staff.login = %login, tries, "a sign-in without the right authenticator code");
                return Err(refused(if tries >= limits.per_login {
                    locked
                } else {
                    StaffError::TotpInvalid
                }));
            }
            storage::sessions::clear_failures(storage, &by_login).await?;
            let actor = Actor {
                name: &member.login,
                from,
            };
            let mut conn = storage.db().await?;
            let subject = ("staff.sign_in", member.login.as_str());
            actor
                .record(&mut conn, subject, serde_json::json!({}), now)
                .await?;
            tracing::info!(staff.login = %member.login, "staff signed in");
            Ok(member)
        }
        _ => {
            tracing::warn!(staff.login = %login, tries, "failed sign-in");
            Err(refused(if tries >= limits.per_login {
                locked
            } else {
                StaffError::SignInInvalid
            }))
        }
    }
}

/// The TOTP of a secret: RFC 6238's defaults (SHA-1, 6 digits, 30 s), a step either side
/// allowed for clocks that differ.
fn totp(secret: Vec<u8>) -> totp_rs::TOTP {
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret)
}

/// Whether `code` is the account's current TOTP code.
fn totp_matches(
    keys: &MemberDataKeys,
    member: &StaffMember,
    sealed: &[u8],
    code: Option<&str>,
    now: DateTime<Utc>,
) -> std::result::Result<bool, storage::StorageError> {
    let secret = keys.open_staff_secret(member.id.0, sealed).map_err(|e| {
        storage::StorageError::Corrupt(format!("staff {}'s TOTP secret: {e}", member.login))
    })?;
    let code: String = code
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let at = u64::try_from(now.timestamp()).unwrap_or(0);
    Ok(code.len() == 6 && totp(secret).check(&code, at))
}

/// Gives the account with `login` a new TOTP secret (it must then sign in with a code from an
/// authenticator app as well); the `otpauth://` address to give the app, shown once.
pub async fn enable_totp(
    storage: &Storage,
    keys: &MemberDataKeys,
    login: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<String> {
    let login = staff::login(login).map_err(OperationError::Refused)?;
    let mut conn = storage.db().await?;
    let member = storage::staff::find(&mut conn, &login)
        .await?
        .ok_or_else(|| OperationError::Refused(StaffError::NotFound(login.clone())))?;
    let mut secret = vec![0_u8; 20];
    getrandom::fill(&mut secret)
        .unwrap_or_else(|e| panic!("the system's random source failed: {e}"));
    let sealed = keys.seal_staff_secret(member.id.0, &secret).map_err(|e| {
        storage::StorageError::Corrupt(format!("a TOTP secret cannot be sealed: {e}"))
    })?;
    conn.transaction::<_, OperationError<StaffError>, _>(async |conn| {
        storage::staff::set_totp(conn, &login, &sealed).await?;
        actor
            .record(
                conn,
                ("staff.enable_totp", &login),
                serde_json::json!({}),
                now,
            )
            .await?;
        Ok(())
    })
    .await?;
    let base32 = totp(secret).get_secret_base32();
    tracing::info!(staff.login = %login, "staff TOTP enabled");
    Ok(format!(
        "otpauth://totp/clubgate:{login}?secret={base32}&issuer=clubgate&algorithm=SHA1&digits=6&period=30"
    ))
}

/// A hash checked for an unknown login, so that it takes as long as a known one's.
const UNKNOWN_LOGIN_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$fDCeAW5kxO0D6qttAj4ibhiGxMkN5QjNn3AdWv0rDxM";

/// The account with `id` as it is now (a session checks it on every page, so a disabled
/// account's sessions end at once).
pub async fn by_id(storage: &Storage, id: StaffId) -> Result<Option<StaffMember>> {
    Ok(storage::staff::find_by_id(&mut *storage.db().await?, id).await?)
}

/// The password's argon2id hash, computed off the async workers (it takes a deliberate while).
async fn hashed(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || staff::hash_password(&password))
        .await
        // Hashing panicked: a bug, raised where it would have been without the thread.
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        .map_err(OperationError::Refused)
}
