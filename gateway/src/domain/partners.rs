//! Partners and their branches: the businesses of the coalition and the places they serve.
//!
//! Types here are valid by construction (codes and names are checked once, at
//! the edge); operations receive `&Storage` and return domain errors.

use chrono::{DateTime, Utc};
pub use partners::protocol::PartnerKind;
use uuid::Uuid;

use crate::storage::{self, Storage, StorageError};

/// A partner's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartnerId(pub Uuid);

/// A branch's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BranchId(pub Uuid);

impl std::fmt::Display for PartnerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for BranchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A short handle such as `azadi-hotel` or `tehran-downtown`: lowercase letters, digits, '-'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code(String);

/// Why a value given for a new partner or branch is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error(
        "code {0:?} must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit"
    )]
    Code(String),
    #[error("{0} must be 1 to {1} characters")]
    Length(&'static str, usize),
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
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        return Err(InvalidInput::Length(field, max));
    }
    Ok(trimmed.to_owned())
}

/// Whether a partner may transact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerStatus {
    Active,
    Suspended,
}

impl PartnerStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// A partner business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: PartnerId,
    pub code: Code,
    pub name: String,
    pub kind: PartnerKind,
    pub status: PartnerStatus,
    pub created_at: DateTime<Utc>,
}

/// A place where a partner serves members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub id: BranchId,
    pub partner_id: PartnerId,
    pub code: Code,
    pub name: String,
    pub city: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// A partner to register.
#[derive(Debug, Clone)]
pub struct NewPartner {
    pub code: Code,
    pub name: String,
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
    pub code: Code,
    pub name: String,
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
    pub partner: Partner,
    pub branches: Vec<Branch>,
}

/// Why a partner operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    #[error("no partner {0:?}")]
    NotFound(String),
    #[error("a partner with code {0} already exists")]
    CodeTaken(Code),
    #[error("partner {0} already has a branch {1}")]
    BranchCodeTaken(Code, Code),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Registers a new partner.
#[tracing::instrument(skip_all, fields(partner.code = %new.code))]
pub async fn add(storage: &Storage, new: NewPartner) -> Result<Partner, PartnerError> {
    let mut conn = storage.db().await?;
    let partner = Partner {
        id: PartnerId(Uuid::now_v7()),
        code: new.code.clone(),
        name: new.name,
        kind: new.kind,
        status: PartnerStatus::Active,
        created_at: Utc::now(),
    };
    match storage::partners::insert(&mut conn, &partner).await? {
        Some(partner) => {
            tracing::info!(partner.id = %partner.id, "added partner {}", partner.code);
            Ok(partner)
        }
        None => Err(PartnerError::CodeTaken(new.code)),
    }
}

/// Every partner, by code.
pub async fn list(storage: &Storage) -> Result<Vec<Partner>, PartnerError> {
    let mut conn = storage.db().await?;
    Ok(storage::partners::list(&mut conn).await?)
}

/// A partner and its branches, by code.
pub async fn show(storage: &Storage, code: &str) -> Result<PartnerProfile, PartnerError> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find_by_code(&mut conn, code)
        .await?
        .ok_or_else(|| PartnerError::NotFound(code.to_owned()))?;
    let branches = storage::branches::list_for_partner(&mut conn, partner.id).await?;
    Ok(PartnerProfile { partner, branches })
}

/// A partner and its branches, by id (the authenticated caller's own profile).
pub async fn profile(storage: &Storage, id: PartnerId) -> Result<PartnerProfile, PartnerError> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find(&mut conn, id)
        .await?
        .ok_or_else(|| PartnerError::NotFound(id.to_string()))?;
    let branches = storage::branches::list_for_partner(&mut conn, partner.id).await?;
    Ok(PartnerProfile { partner, branches })
}

/// Opens a branch for the partner with `partner_code`.
#[tracing::instrument(skip_all, fields(partner.code = %partner_code, branch.code = %new.code))]
pub async fn add_branch(
    storage: &Storage,
    partner_code: &str,
    new: NewBranch,
) -> Result<Branch, PartnerError> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find_by_code(&mut conn, partner_code)
        .await?
        .ok_or_else(|| PartnerError::NotFound(partner_code.to_owned()))?;
    let branch = Branch {
        id: BranchId(Uuid::now_v7()),
        partner_id: partner.id,
        code: new.code.clone(),
        name: new.name,
        city: new.city,
        status: "active".into(),
        created_at: Utc::now(),
    };
    match storage::branches::insert(&mut conn, &branch).await? {
        Some(branch) => {
            tracing::info!(branch.id = %branch.id, "opened branch {}", branch.code);
            Ok(branch)
        }
        None => Err(PartnerError::BranchCodeTaken(partner.code, new.code)),
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
            InvalidInput::Length("name", 200)
        );
    }
}
