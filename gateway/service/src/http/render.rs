//! The wire forms of the ledger's outcomes: balances, transactions, movements.

use domain::ledger::{Balance, Movement, Transfer, TransferState};
use domain::program::campaigns::CampaignOffer;
use domain::program::rules::{CampaignAward, Names};
use domain::program::tiers::Standing;
use partners::protocol;

fn names(names: &Names) -> protocol::Names {
    protocol::Names {
        en: names.en.clone(),
        fa: names.fa.clone(),
    }
}

/// The wire form of a campaign a member can earn from.
pub(crate) fn campaign(offer: &CampaignOffer) -> protocol::CardCampaign {
    let (points, multiplier) = match &offer.award {
        CampaignAward::Points(points) => (Some(*points), None),
        CampaignAward::Multiplier(factor) => (None, Some(factor.normalize().to_string())),
    };
    protocol::CardCampaign {
        code: offer.code.clone(),
        name: names(&offer.name),
        points,
        multiplier,
    }
}

/// The wire form of a member's tier.
pub(crate) fn tier(standing: Standing) -> protocol::CardTier {
    protocol::CardTier {
        code: standing.tier,
        name: names(&standing.rule.name),
        earn_multiplier: standing.rule.earn_multiplier.normalize().to_string(),
        benefits: standing.rule.benefits.iter().map(names).collect(),
        held_until: standing.held_until,
        progress: standing.progress.map(|p| protocol::TierProgress {
            tier: p.tier,
            measure: p.measure.to_string(),
            have: p.have,
            need: p.need,
        }),
    }
}

/// The wire form of a balance.
pub(crate) fn balance(balance: Balance) -> protocol::Balance {
    protocol::Balance {
        posted: balance.posted.get(),
        available: balance.available.get(),
        held: balance.held.get(),
        pending_earned: balance.pending_earned.get(),
    }
}

/// The wire form of a transfer and where it stands.
pub(crate) fn transaction(transfer: Transfer, state: TransferState) -> protocol::Transaction {
    let money = transfer.money().map(|money| protocol::Money {
        amount_minor: money.amount_minor,
        currency: money.currency.to_string(),
    });
    protocol::Transaction {
        id: transfer.id.0,
        kind: transfer.code.as_str().to_owned(),
        phase: transfer.phase.as_str().to_owned(),
        state: state.as_str().to_owned(),
        points: transfer.amount.get(),
        card_last4: transfer.card_number.as_ref().map(|n| n.last4().to_owned()),
        branch_id: transfer.branch_id.map(|b| b.0),
        reference: transfer.partner_reference,
        money,
        pending_id: transfer.pending_id.map(|p| p.0),
        reverses_id: transfer.reverses_id.map(|r| r.0),
        timeout_at: transfer.timeout_at,
        created_at: transfer.created_at,
    }
}

/// The wire form of a movement.
pub(crate) fn movement(movement: Movement) -> protocol::Movement {
    protocol::Movement {
        transaction: transaction(movement.transfer, movement.state),
        balance: balance(movement.balance),
    }
}

/// The wire form of money.
pub(crate) fn money(money: domain::points::Money) -> protocol::Money {
    protocol::Money {
        amount_minor: money.amount_minor,
        currency: money.currency.to_string(),
    }
}
