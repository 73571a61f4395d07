//! The coalition's partners and their branches: registering, listing, profiles.

use domain::ids::{BranchId, PartnerId};
use domain::partners::{
    Branch, BranchStatus, NewBranch, NewPartner, Partner, PartnerError, PartnerProfile,
    PartnerStatus,
};
use domain::program::LimitOverrides;
use storage::Storage;
use uuid::Uuid;

use crate::Club;
use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<PartnerError>>;

/// Registers a new partner.
#[tracing::instrument(skip_all, fields(partner.code = %new.code))]
pub async fn add(storage: &Storage, new: NewPartner) -> Result<Partner> {
    let mut conn = storage.db().await?;
    let partner = Partner {
        id: PartnerId(Uuid::now_v7()),
        code: new.code.clone(),
        name: new.name,
        kind: new.kind,
        status: PartnerStatus::Active,
        created_at: domain::time::now(),
        limits: LimitOverrides::default(),
    };
    match storage::partners::insert(&mut conn, &partner).await? {
        Some(partner) => {
            tracing::info!(partner.id = %partner.id, "added partner {}", partner.code);
            Ok(partner)
        }
        None => Err(PartnerError::CodeTaken(new.code.to_string()).into()),
    }
}

/// Every partner, by code.
pub async fn list(storage: &Storage) -> Result<Vec<Partner>> {
    Ok(storage::partners::list(&mut *storage.db().await?).await?)
}

/// A partner and its branches, by code.
pub async fn show(storage: &Storage, code: &str) -> Result<PartnerProfile> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find_by_code(&mut conn, code)
        .await?
        .ok_or_else(|| PartnerError::NotFound(code.to_owned()))?;
    let branches = storage::branches::list_for_partner(&mut conn, partner.id).await?;
    Ok(PartnerProfile { partner, branches })
}

/// A partner and its branches, by id (the authenticated caller's own profile).
///
/// Cached for the signing keys' cache lifetime: a partner asks for its profile far more often
/// than an operator changes it, and a request already trusts the key cache that long.
pub async fn profile(club: &Club, id: PartnerId) -> Result<PartnerProfile> {
    if let Some(profile) = club.profiles.get(&id).await {
        storage::count_cache_lookup("partner_profiles", "hit");
        return Ok(profile);
    }
    storage::count_cache_lookup("partner_profiles", "miss");
    let mut conn = club.storage.db().await?;
    let partner = storage::partners::find(&mut conn, id)
        .await?
        .ok_or_else(|| PartnerError::NotFound(id.to_string()))?;
    let branches = storage::branches::list_for_partner(&mut conn, partner.id).await?;
    let profile = PartnerProfile { partner, branches };
    club.profiles.insert(id, profile.clone()).await;
    Ok(profile)
}

/// Sets a partner's own bounds on one operation (`None`: the programme's). Requests see them
/// within the rule cache's lifetime (10 s).
#[tracing::instrument(skip_all, fields(partner.code = %code))]
pub async fn set_limits(storage: &Storage, code: &str, limits: LimitOverrides) -> Result<Partner> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::set_limits(&mut conn, code, limits)
        .await?
        .ok_or_else(|| PartnerError::NotFound(code.to_owned()))?;
    tracing::info!(partner.id = %partner.id, ?limits, "set partner limits");
    Ok(partner)
}

/// The id of the partner with this code.
pub async fn id_of(storage: &Storage, code: &str) -> Result<PartnerId> {
    Ok(show(storage, code).await?.partner.id)
}

/// Opens a branch for the partner with `partner_code`.
#[tracing::instrument(skip_all, fields(partner.code = %partner_code, branch.code = %new.code))]
pub async fn add_branch(storage: &Storage, partner_code: &str, new: NewBranch) -> Result<Branch> {
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
        status: BranchStatus::Active,
        created_at: domain::time::now(),
    };
    match storage::branches::insert(&mut conn, &branch).await? {
        Some(branch) => {
            tracing::info!(branch.id = %branch.id, "opened branch {}", branch.code);
            Ok(branch)
        }
        None => Err(
            PartnerError::BranchCodeTaken(partner.code.to_string(), new.code.to_string()).into(),
        ),
    }
}
