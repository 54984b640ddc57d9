//! The validators' share of an epoch's emission, paid in proportion to the leader turns each
//! validator produced out of every turn of the epoch, so turns skipped for downtime earn nothing.
//!
//! With `pool` the share, `T` every turn of the epoch (produced and skipped) and `P` the
//! produced ones: `earned = floor(pool * P / T)` is owed, `pool - earned` is forfeited (never
//! minted: what downtime cost), each validator gets `floor(pool * produced / T)`, and what those
//! floors leave of `earned` (fewer base units than validators) is dust for the treasury. So
//! `paid + dust + forfeited == pool`, always.

use serde::{Deserialize, Serialize};

use super::payout::ProRata;
use crate::amount::Amount;
use crate::crypto::Address;

/// One validator's turns in an epoch and what they earned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorPay {
    pub validator: Address,
    /// Blocks it proposed.
    pub produced: u64,
    /// Views it led that the chain skipped.
    pub skipped: u64,
    /// `floor(pool * produced / T)`.
    pub amount: Amount,
}

crate::codec::struct_codec!(ValidatorPay {
    validator: Address,
    produced: u64,
    skipped: u64,
    amount: Amount,
});

/// How an epoch's validator pool was paid.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorPayout {
    /// The validators' share of the emission.
    pub pool: Amount,
    /// Per validator, in the order given.
    pub paid: Vec<ValidatorPay>,
    /// Sum of the payments.
    pub total_paid: Amount,
    /// Rounding of the payments: minted to the treasury.
    pub dust: Amount,
    /// The part of skipped turns (or the whole pool when no turn was counted): not minted.
    pub forfeited: Amount,
}

/// Pays `pool` over `turns` ((validator, produced, skipped) each).
pub fn pay_validators(pool: Amount, turns: &[(Address, u64, u64)]) -> ValidatorPayout {
    let sum = |f: fn(&(Address, u64, u64)) -> u64| -> u128 {
        turns.iter().map(|t| u128::from(f(t))).sum()
    };
    let produced = sum(|t| t.1);
    let all = produced + sum(|t| t.2);
    let payer = ProRata::new(pool, all);
    let earned = payer.share(produced);
    let paid: Vec<ValidatorPay> = turns
        .iter()
        .map(|&(validator, produced, skipped)| ValidatorPay {
            validator,
            produced,
            skipped,
            amount: payer.share(u128::from(produced)),
        })
        .collect();
    let total_paid = paid.iter().fold(Amount::ZERO, |a, p| {
        a.checked_add(p.amount).expect("at most the pool")
    });
    ValidatorPayout {
        pool,
        dust: earned
            .checked_sub(total_paid)
            .expect("the floors of the parts are at most the floor of the sum"),
        forfeited: pool
            .checked_sub(earned)
            .expect("earned is a share of the pool"),
        paid,
        total_paid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(i: u8) -> Address {
        Address([i; 32])
    }

    #[test]
    fn a_validator_down_half_its_turns_earns_half() {
        // Two validators, 10 turns each; A produced 5 of its turns, B all 10: T = 20, so A gets
        // 1000 * 5 / 20 = 250 (half B's 500) and the 250 of A's skipped turns are not minted.
        let p = pay_validators(Amount(1_000), &[(key(1), 5, 5), (key(2), 10, 0)]);
        assert_eq!(p.paid[0].amount, Amount(250));
        assert_eq!(p.paid[1].amount, Amount(500));
        assert_eq!(p.forfeited, Amount(250));
        assert_eq!(p.dust, Amount::ZERO);
    }

    #[test]
    fn no_turns_mint_nothing() {
        let p = pay_validators(Amount(1_000), &[]);
        assert_eq!(p.forfeited, Amount(1_000));
        assert!(p.paid.is_empty() && p.dust.is_zero());
    }

    proptest! {
        /// `paid + dust + forfeited == pool`, dust below the number of validators, forfeited
        /// exactly the pool's part of the skipped turns (to within the floor), and each payment
        /// the floor of its turns' part.
        #[test]
        fn the_validator_pool_balances_to_the_base_unit(
            pool in prop_oneof![0u128..1_000, 0u128..u128::MAX / 4],
            turns in proptest::collection::vec((0u64..10_000, 0u64..10_000), 0..12),
        ) {
            let rows: Vec<(Address, u64, u64)> = turns
                .iter()
                .enumerate()
                .map(|(i, (p, s))| (key(i as u8), *p, *s))
                .collect();
            let out = pay_validators(Amount(pool), &rows);
            prop_assert_eq!(
                out.total_paid.0 + out.dust.0 + out.forfeited.0,
                pool
            );
            prop_assert!(out.dust.0 < rows.len().max(1) as u128);
            let all: u128 = turns.iter().map(|(p, s)| u128::from(*p) + u128::from(*s)).sum();
            let produced: u128 = turns.iter().map(|(p, _)| u128::from(*p)).sum();
            for (pay, (p, _)) in out.paid.iter().zip(&turns) {
                let want = if all == 0 { 0 } else {
                    super::super::payout::mul_div_floor(pool, u128::from(*p), all)
                };
                prop_assert_eq!(pay.amount.0, want);
            }
            if all > 0 {
                let skipped = all - produced;
                let exact = super::super::payout::mul_div_floor(pool, skipped, all);
                // forfeited = pool - floor(pool * P / T) = ceil(pool * S / T).
                prop_assert!(out.forfeited.0 == exact || out.forfeited.0 == exact + 1);
            }
        }
    }
}
