//! Partners and their branches: the businesses of the coalition and the places they serve.
//!
//! Types here are valid by construction: codes and names are checked once, when
//! they come in.

use chrono::{DateTime, Utc};
pub use partners::protocol::PartnerKind;
use serde::{Deserialize, Serialize};

pub use crate::ids::{BranchId, PartnerId};

/// A short handle such as `azadi-hotel` or `tehran-downtown`: lowercase letters, digits, '-'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code(String);

/// Why a value given for a new partner or branch is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    /// Not a code.
    #[error(
        "code {0:?} must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit"
    )]
    Code(String),
    /// An empty or too long name, or one that is not plain text with a letter; the text says why.
    #[error("{0}")]
    Text(String),
}

impl Code {
    /// Checks and wraps a code.
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        let bytes = value.as_bytes();
        let is_valid = (1..=63).contains(&bytes.len())
            && bytes[0].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if is_valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::Code(value.to_owned()))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn checked_text(field: &'static str, value: &str, max: usize) -> Result<String, InvalidInput> {
    crate::text::name(field, value, max).map_err(|e| InvalidInput::Text(e.to_string()))
}

/// Whether a partner may transact.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::Display,
)]
#[strum(serialize_all = "snake_case")]
pub enum PartnerStatus {
    /// The partner's keys may sign requests.
    Active,
    /// Every request of the partner is refused.
    Suspended,
}

impl PartnerStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Whether a branch serves members.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::Display,
)]
#[strum(serialize_all = "snake_case")]
pub enum BranchStatus {
    /// Open.
    Active,
    /// Closed for good.
    Closed,
}

impl BranchStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A partner business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// Its id.
    pub id: PartnerId,
    /// The operator's handle for it.
    pub code: Code,
    /// Its name.
    pub name: String,
    /// What kind of business it is.
    pub kind: PartnerKind,
    /// Whether it may transact.
    pub status: PartnerStatus,
    /// When it joined.
    pub created_at: DateTime<Utc>,
    /// Its own bounds on one operation, where the operator set them.
    pub limits: crate::program::LimitOverrides,
}

/// A place where a partner serves members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// Its id.
    pub id: BranchId,
    /// The partner it belongs to.
    pub partner_id: PartnerId,
    /// Its code, unique within the partner.
    pub code: Code,
    /// Its name.
    pub name: String,
    /// Its city.
    pub city: Option<String>,
    /// Whether it is open.
    pub status: BranchStatus,
    /// When it opened.
    pub created_at: DateTime<Utc>,
}

/// A partner to register.
#[derive(Debug, Clone)]
pub struct NewPartner {
    /// Its code.
    pub code: Code,
    /// Its name.
    pub name: String,
    /// Its kind of business.
    pub kind: PartnerKind,
}

impl NewPartner {
    /// Validates the fields of a new partner.
    pub fn parse(code: &str, name: &str, kind: PartnerKind) -> Result<Self, InvalidInput> {
        Ok(Self {
            code: Code::parse(code)?,
            name: checked_text("name", name, 200)?,
            kind,
        })
    }
}

/// A branch to open.
#[derive(Debug, Clone)]
pub struct NewBranch {
    /// Its code.
    pub code: Code,
    /// Its name.
    pub name: String,
    /// Its city.
    pub city: Option<String>,
}

impl NewBranch {
    /// Validates the fields of a new branch.
    pub fn parse(code: &str, name: &str, city: Option<&str>) -> Result<Self, InvalidInput> {
        Ok(Self {
            code: Code::parse(code)?,
            name: checked_text("name", name, 200)?,
            city: city.map(|c| checked_text("city", c, 100)).transpose()?,
        })
    }
}

/// A partner with its branches.
#[derive(Debug, Clone)]
pub struct PartnerProfile {
    /// The partner.
    pub partner: Partner,
    /// Its branches, by code.
    pub branches: Vec<Branch>,
}

/// Why a partner or branch could not be found, added or used.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, strum::EnumIter,
)]
pub enum PartnerError {
    /// No partner with this code or id.
    #[error("no partner {0:?}")]
    NotFound(String),
    /// The code is taken.
    #[error("a partner with code {0} already exists")]
    CodeTaken(String),
    /// The partner already has a branch with this code.
    #[error("partner {0} already has a branch {1}")]
    BranchCodeTaken(String, String),
}

impl PartnerError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "partner_not_found",
            Self::CodeTaken(_) => "partner_code_taken",
            Self::BranchCodeTaken(..) => "branch_code_taken",
        }
    }
}

/// Why the branch a request names cannot be used by the calling partner.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, strum::EnumIter,
)]
pub enum BranchError {
    /// No branch of this partner has this code or id (as named, control characters escaped).
    #[error("no branch \"{0}\" at this partner")]
    Unknown(String),
    /// The id names another partner's branch.
    #[error("branch {0} belongs to another partner")]
    OfAnotherPartner(BranchId),
}

impl BranchError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unknown(_) => "branch_unknown",
            Self::OfAnotherPartner(_) => "branch_of_another_partner",
        }
    }
}

impl Branch {
    /// This branch, if the calling partner may use it.
    pub fn of_partner(self, partner_id: PartnerId) -> Result<Self, BranchError> {
        if self.partner_id == partner_id {
            Ok(self)
        } else {
            Err(BranchError::OfAnotherPartner(self.id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_lowercase_handles() {
        assert!(Code::parse("azadi-hotel").is_ok());
        assert!(Code::parse("7eleven").is_ok());
        assert!(Code::parse("-lead").is_err());
        assert!(Code::parse("Upper").is_err());
        assert!(Code::parse("").is_err());
        assert!(Code::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        let branch = NewBranch::parse("main", "  Main desk ", Some(" Tehran ")).unwrap();
        assert_eq!(branch.name, "Main desk");
        assert_eq!(branch.city.as_deref(), Some("Tehran"));
        assert_eq!(
            NewPartner::parse("x", "   ", PartnerKind::Hotel).unwrap_err(),
            InvalidInput::Text("name must be 1 to 200 characters".into())
        );
        assert!(NewBranch::parse("main", "Main\u{0}desk", None).is_err());
        assert!(NewBranch::parse("main", "Main", Some("Teh\u{1b}ran")).is_err());
    }
}
