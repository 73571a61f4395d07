//! Staff accounts: the people who sign in to the pages (docs/staff.md). Each has one role, and
//! a partner's staff belong to their partner (a cashier or branch manager to some of its
//! branches); every page and action checks the role and that scope on the server.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use chrono::{DateTime, Utc};

use crate::ids::{BranchId, PartnerId, StaffId};

/// What a staff member may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum StaffRole {
    /// Runs the club: partners, branches, keys, terms, programme rules, staff.
    OperatorAdmin,
    /// Settles with the partners: statements, reconciliations, the position.
    OperatorFinance,
    /// Runs campaigns and messages; reads the analytics.
    OperatorMarketing,
    /// Helps members: search, card blocks and replacements.
    OperatorSupport,
    /// Runs one partner's staff and branches.
    PartnerAdmin,
    /// One partner's statements and reconciliations.
    PartnerFinance,
    /// Runs some branches of one partner: their tills and today's transactions.
    BranchManager,
    /// Serves members at the tills of some branches of one partner.
    Cashier,
}

impl StaffRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The role named `text`; the refusal lists the roles.
    pub fn parse(text: &str) -> Result<Self, String> {
        crate::text::one_of(text, "a staff role")
    }

    /// Whether it is a partner's staff (else the operator's).
    pub fn is_partners(self) -> bool {
        matches!(
            self,
            Self::PartnerAdmin | Self::PartnerFinance | Self::BranchManager | Self::Cashier
        )
    }

    /// Whether it is bound to branches.
    pub fn is_at_branches(self) -> bool {
        matches!(self, Self::BranchManager | Self::Cashier)
    }
}

/// Whose staff a member of staff is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffScope {
    /// The operator's.
    Operator,
    /// A partner's, at all its branches.
    Partner(PartnerId),
    /// A partner's, at these of its branches (at least one).
    Branches(PartnerId, Vec<BranchId>),
}

/// Whether the account may sign in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::Display,
)]
#[strum(serialize_all = "snake_case")]
pub enum StaffStatus {
    /// It may.
    Active,
    /// It may not (people who left; never deleted, the audit log names them).
    Disabled,
}

/// A staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// Its id.
    pub id: StaffId,
    /// What they sign in with: lowercase letters, digits, `.`, `_`, `-` and `@`.
    pub login: String,
    /// Their name, as the pages greet them.
    pub name: String,
    /// What they may do.
    pub role: StaffRole,
    /// Where.
    pub scope: StaffScope,
    /// Whether they may sign in.
    pub status: StaffStatus,
    /// The argon2id hash of their password (PHC string).
    pub password_hash: String,
    /// Their TOTP secret, sealed, when they sign in with a code as well.
    pub totp_secret: Option<Vec<u8>>,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// Why a staff account was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumIter)]
pub enum StaffError {
    /// The login is not 3 to 64 of the allowed characters.
    #[error("login must be 3 to 64 lowercase letters, digits, '.', '_', '-' or '@'")]
    LoginInvalid,
    /// The name is empty or too long.
    #[error("name must be 1 to 100 characters of plain text")]
    NameInvalid,
    /// The role does not go with the scope given.
    #[error("{0}")]
    ScopeInvalid(String),
    /// The password is too short or too long.
    #[error("a password must be 12 to 128 characters")]
    PasswordTooWeak,
    /// Another account has the login.
    #[error("a staff account with this login exists")]
    LoginTaken,
    /// No account has the login.
    #[error("no staff account {0:?}")]
    NotFound(String),
    /// The login and password do not name an active account (which of them is wrong is not
    /// told).
    #[error("the login or the password is wrong")]
    SignInInvalid,
    /// The account signs in with a code from an authenticator app as well, and the code given is
    /// missing or wrong.
    #[error("the authenticator code is missing or wrong")]
    TotpInvalid,
    /// Too many failed sign-ins: the login (or the address) is locked out for a while.
    #[error("too many failed sign-ins; try again in {minutes} minutes")]
    SignInLocked {
        /// How long the lock-out lasts, at most.
        minutes: u64,
    },
}

impl StaffError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::LoginInvalid => "staff_login_invalid",
            Self::NameInvalid => "staff_name_invalid",
            Self::ScopeInvalid(_) => "staff_scope_invalid",
            Self::PasswordTooWeak => "staff_password_too_weak",
            Self::LoginTaken => "staff_login_taken",
            Self::NotFound(_) => "staff_not_found",
            Self::SignInInvalid => "staff_sign_in_invalid",
            Self::TotpInvalid => "staff_totp_invalid",
            Self::SignInLocked { .. } => "staff_sign_in_locked",
        }
    }
}

/// A login as typed: trimmed and lowercased, then checked.
pub fn login(text: &str) -> Result<String, StaffError> {
    let login = text.trim().to_lowercase();
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_@".contains(c);
    if (3..=64).contains(&login.len()) && login.chars().all(allowed) {
        Ok(login)
    } else {
        Err(StaffError::LoginInvalid)
    }
}

/// Checks that `role` goes with `scope`: the operator's roles with no partner, a partner's with
/// its partner, a cashier's and a branch manager's with at least one of its branches.
pub fn check_scope(role: StaffRole, scope: &StaffScope) -> Result<(), StaffError> {
    let why = match (role.is_partners(), role.is_at_branches(), scope) {
        (false, _, StaffScope::Operator) => return Ok(()),
        (false, _, _) => "an operator role takes no partner or branch",
        (true, _, StaffScope::Operator) => "a partner's role needs its partner",
        (true, true, StaffScope::Branches(_, branches)) if !branches.is_empty() => return Ok(()),
        (true, true, _) => "a cashier or branch manager needs at least one branch",
        (true, false, StaffScope::Partner(_)) => return Ok(()),
        (true, false, _) => "a partner admin or finance role is for the whole partner",
    };
    Err(StaffError::ScopeInvalid(why.to_owned()))
}

/// The argon2id hash (PHC string, fresh salt) of a password of 12 to 128 characters.
pub fn hash_password(password: &str) -> Result<String, StaffError> {
    if !(12..=128).contains(&password.chars().count()) {
        return Err(StaffError::PasswordTooWeak);
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| StaffError::PasswordTooWeak)
}

/// Whether `password` is the one `hash` was made from.
pub fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A new random password: 20 characters from an alphabet without look-alikes (about 118 bits).
pub fn random_password() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn passwords_are_hashed_with_argon2id_and_checked() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse battery!", &hash));
        assert_ne!(
            hash,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
        assert_eq!(hash_password("short"), Err(StaffError::PasswordTooWeak));
        assert_eq!(random_password().len(), 20);
    }

    #[test]
    fn roles_go_with_their_scopes() {
        let partner = PartnerId(Uuid::from_u128(1));
        let branch = BranchId(Uuid::from_u128(2));
        let at = |branches: Vec<BranchId>| StaffScope::Branches(partner, branches);
        assert_eq!(
            check_scope(StaffRole::OperatorFinance, &StaffScope::Operator),
            Ok(())
        );
        assert_eq!(
            check_scope(StaffRole::PartnerFinance, &StaffScope::Partner(partner)),
            Ok(())
        );
        assert_eq!(check_scope(StaffRole::Cashier, &at(vec![branch])), Ok(()));
        for (role, scope) in [
            (StaffRole::OperatorAdmin, StaffScope::Partner(partner)),
            (StaffRole::PartnerAdmin, StaffScope::Operator),
            (StaffRole::Cashier, StaffScope::Partner(partner)),
            (StaffRole::Cashier, at(Vec::new())),
            (StaffRole::PartnerFinance, at(vec![branch])),
        ] {
            assert!(
                matches!(check_scope(role, &scope), Err(StaffError::ScopeInvalid(_))),
                "{role} {scope:?}"
            );
        }
        assert_eq!(
            login("  Sara.Ahmadi@Azadi "),
            Ok("sara.ahmadi@azadi".into())
        );
        assert_eq!(login("a b"), Err(StaffError::LoginInvalid));
        assert_eq!(StaffRole::parse("cashier"), Ok(StaffRole::Cashier));
        assert!(StaffRole::parse("boss").is_err());
    }
}
