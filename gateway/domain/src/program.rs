//! The programme's settings that the ledger and the club obey.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::points::Points;

/// Programme settings.
#[derive(Debug, Clone)]
pub struct ProgramSettings {
    /// Digits every card number starts with.
    pub card_prefix: String,
    /// How long earned points stay valid.
    pub points_validity: chrono::Duration,
    /// A hold's lifetime when the partner does not say.
    pub default_hold: Duration,
    /// The longest hold a partner may ask for.
    pub max_hold: Duration,
    /// The latest a pending earn may be released.
    pub max_release: chrono::Duration,
    /// Lifetime points for the silver tier.
    pub silver_points: Points,
    /// Lifetime points for the gold tier.
    pub gold_points: Points,
    /// The largest purchase one earn may report, in minor units.
    pub max_purchase_minor: i64,
    /// The most points one operation (earn, redemption) may move.
    pub max_points: Points,
}

impl ProgramSettings {
    /// Refuses a purchase above the programme's largest, before it is priced.
    pub fn check_purchase(&self, amount_minor: i64) -> Result<(), crate::pricing::PricingError> {
        if amount_minor > self.max_purchase_minor {
            return Err(crate::pricing::PricingError::PurchaseAboveLimit {
                max_minor: self.max_purchase_minor,
            });
        }
        Ok(())
    }

    /// Refuses points above the most one operation may move.
    pub fn check_points(&self, points: Points) -> Result<(), crate::pricing::PricingError> {
        if points > self.max_points {
            return Err(crate::pricing::PricingError::PointsAboveLimit {
                max: self.max_points,
            });
        }
        Ok(())
    }
}

/// A member's tier, from the points they have earned for good.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Tier {
    /// Every member.
    Basic,
    /// From `silver_points` lifetime points.
    Silver,
    /// From `gold_points` lifetime points.
    Gold,
}

impl Tier {
    /// The tier for `lifetime_earned` points.
    pub fn of(settings: &ProgramSettings, lifetime_earned: Points) -> Self {
        if lifetime_earned >= settings.gold_points {
            Self::Gold
        } else if lifetime_earned >= settings.silver_points {
            Self::Silver
        } else {
            Self::Basic
        }
    }

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}
