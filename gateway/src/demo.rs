//! The demo network: partners, branches and their development keys, loaded by `make run`.
//!
//! Loading is idempotent: what already exists is left as it is, so `make run`
//! can load the network every time.

use std::path::{Path, PathBuf};

use ::partners::jwk::Jwk;
use anyhow::Context as _;
use serde::Deserialize;

use crate::domain::partner_keys;
use crate::domain::partners::{self, NewBranch, NewPartner, PartnerError, PartnerKind};
use crate::storage::Storage;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Network {
    partner: Vec<DemoPartner>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoPartner {
    code: String,
    name: String,
    kind: PartnerKind,
    /// The partner's public JWK, relative to the network file.
    public_key: PathBuf,
    branches: Vec<DemoBranch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoBranch {
    code: String,
    name: String,
    city: Option<String>,
}

/// Loads the network described in `file`; returns one line per thing created.
pub async fn load(storage: &Storage, file: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let network: Network = toml_from_str(&text)
        .with_context(|| format!("{} is not a demo network", file.display()))?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut created = Vec::new();
    for demo in network.partner {
        let new = NewPartner::parse(&demo.code, &demo.name, demo.kind)?;
        match partners::add(storage, new).await {
            Ok(partner) => created.push(format!("partner {}", partner.code)),
            Err(PartnerError::CodeTaken(_)) => {}
            Err(e) => return Err(e.into()),
        }
        for branch in &demo.branches {
            let new = NewBranch::parse(&branch.code, &branch.name, branch.city.as_deref())?;
            match partners::add_branch(storage, &demo.code, new).await {
                Ok(b) => created.push(format!("branch {}/{}", demo.code, b.code)),
                Err(PartnerError::BranchCodeTaken(..)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let key_path = dir.join(&demo.public_key);
        let public = Jwk::read(&key_path)?.public_key()?;
        if partner_keys::find_owner(storage, &public.kid)
            .await?
            .is_none()
        {
            partner_keys::register_for_code(storage, &demo.code, &public).await?;
            created.push(format!("key {} for {}", public.kid, demo.code));
        }
    }
    Ok(created)
}

fn toml_from_str<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    use figment::providers::{Format as _, Toml};
    Ok(figment::Figment::new()
        .merge(Toml::string(text))
        .extract()
        .map_err(Box::new)?)
}
