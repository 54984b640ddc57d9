//! Exact division of a pool: by basis points into sub-pools, and pro rata to shares.

use crate::amount::Amount;

/// Basis points in a whole.
pub const BPS_DENOMINATOR: u32 = 10_000;

/// A pool paid out to shareholders: `sum(payouts) + dust == pool`, always.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payout<K> {
    /// What each shareholder receives, in the order the shares were given; zero payouts kept.
    pub payouts: Vec<(K, Amount)>,
    /// What rounding left over (fewer base units than there are shareholders), or the whole pool
    /// when no one holds a share. The caller decides where it goes (treasury, next epoch).
    pub dust: Amount,
}

/// `floor(a * b / c)` without overflow, for `b <= c` (so the result fits a u128).
///
/// # Panics
/// If `c` is zero or `b > c`.
pub fn mul_div_floor(a: u128, b: u128, c: u128) -> u128 {
    assert!(c != 0 && b <= c, "mul_div_floor needs 0 < c and b <= c");
    if let Some(p) = a.checked_mul(b) {
        return p / c;
    }
    // 256-bit product in two u128 halves, then long division by c, one bit at a time.
    let (hi, lo) = widening_mul(a, b);
    let mut rem: u128 = 0;
    let mut quotient: u128 = 0;
    for i in (0..256).rev() {
        let bit = if i >= 128 {
            (hi >> (i - 128)) & 1
        } else {
            (lo >> i) & 1
        };
        // rem < c <= u128::MAX, so doubling may overflow by one bit: track it.
        let carry = rem >> 127;
        rem = (rem << 1) | bit;
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            if i < 128 {
                quotient |= 1 << i;
            }
        }
    }
    quotient
}

fn widening_mul(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & MASK);
    let (b_hi, b_lo) = (b >> 64, b & MASK);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let mid = (lo_lo >> 64) + (hi_lo & MASK) + (lo_hi & MASK);
    let lo = (lo_lo & MASK) | (mid << 64);
    let hi = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (mid >> 64);
    (hi, lo)
}

/// A pool about to be paid in proportion to weights that sum to `total`: the divisor is prepared
/// once, so each share costs a multiply rather than a 256-bit division.
///
/// [`pro_rata`] pays through this; callers paying many shares without building a `Vec` (the
/// economic simulator) use it directly and get the same amounts to the base unit.
#[derive(Clone, Copy, Debug)]
pub struct ProRata {
    pool: u128,
    total: u128,
    /// `floor((2^64 - 1) / total)` when pool and total fit a u64 (zero otherwise).
    reciprocal: u64,
}

impl ProRata {
    /// Prepares to pay `pool` over weights summing to `total`.
    pub fn new(pool: Amount, total: u128) -> ProRata {
        let small = pool.0 <= u128::from(u64::MAX) && total <= u128::from(u64::MAX) && total > 0;
        ProRata {
            pool: pool.0,
            total,
            reciprocal: if small { u64::MAX / total as u64 } else { 0 },
        }
    }

    /// `floor(pool * weight / total)`: one holder's payout, for `weight <= total`.
    ///
    /// # Panics
    /// If `weight > total` (weights must be the ones that were summed).
    #[inline]
    pub fn share(&self, weight: u128) -> Amount {
        if self.reciprocal != 0 && weight <= self.total {
            // pool, weight <= total < 2^64, so the product fits a u128.
            let n = self.pool * weight;
            if n <= u128::from(u64::MAX) {
                return Amount(u128::from(self.small_quotient(n as u64)));
            }
            return Amount(n / self.total);
        }
        if self.total == 0 {
            return Amount::ZERO;
        }
        Amount(mul_div_floor(self.pool, weight, self.total))
    }

    /// `floor(n / total)` for `total < 2^64` by the prepared reciprocal: the estimate
    /// `n * floor((2^64-1)/total) / 2^64` is never above the quotient and at most two below it
    /// (its error is below `2n / 2^64 < 2`), and the loop corrects it exactly.
    #[inline]
    fn small_quotient(&self, n: u64) -> u64 {
        let t = self.total as u64;
        let mut q = ((u128::from(n) * u128::from(self.reciprocal)) >> 64) as u64;
        let mut rem = n - q * t;
        while rem >= t {
            q += 1;
            rem -= t;
        }
        q
    }
}

/// Pays `pool` to `shares` in proportion to their weights, rounding each payout down.
pub fn pro_rata<K: Clone>(pool: Amount, shares: &[(K, u128)]) -> Payout<K> {
    let total = shares
        .iter()
        .try_fold(0u128, |acc, (_, w)| acc.checked_add(*w))
        .expect("total shares must fit a u128");
    if total == 0 {
        return Payout {
            payouts: shares
                .iter()
                .map(|(k, _)| (k.clone(), Amount::ZERO))
                .collect(),
            dust: pool,
        };
    }
    let payer = ProRata::new(pool, total);
    let mut paid: u128 = 0;
    let payouts = shares
        .iter()
        .map(|(k, w)| {
            let amount = payer.share(*w);
            paid += amount.0;
            (k.clone(), amount)
        })
        .collect();
    debug_assert!(paid <= pool.0, "floors never exceed the pool");
    Payout {
        payouts,
        dust: Amount(pool.0 - paid),
    }
}

/// Splits `amount` into parts of `bps` basis points each (which must sum to 10,000); the
/// rounding remainder goes to the last part, so the parts always sum to `amount`.
///
/// # Panics
/// If `bps` is empty or does not sum to 10,000 (a genesis validation error, never user input).
pub fn split_bps(amount: Amount, bps: &[u32]) -> Vec<Amount> {
    assert!(
        !bps.is_empty()
            && bps.iter().map(|b| u64::from(*b)).sum::<u64>() == u64::from(BPS_DENOMINATOR),
        "pool shares must sum to {BPS_DENOMINATOR} basis points"
    );
    let mut parts: Vec<Amount> = bps
        .iter()
        .map(|b| {
            Amount(mul_div_floor(
                amount.0,
                u128::from(*b),
                u128::from(BPS_DENOMINATOR),
            ))
        })
        .collect();
    let assigned: u128 = parts.iter().map(|a| a.0).sum();
    let last = parts.last_mut().expect("bps is not empty");
    last.0 += amount.0 - assigned;
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mul_div_handles_products_beyond_u128() {
        assert_eq!(mul_div_floor(u128::MAX, 3, 4), u128::MAX / 4 * 3 + 2);
        assert_eq!(mul_div_floor(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(mul_div_floor(u128::MAX, 1, 2), u128::MAX / 2);
        assert_eq!(mul_div_floor(7, 2, 3), 4);
    }

    #[test]
    fn nobody_holding_a_share_leaves_the_pool_as_dust() {
        let p = pro_rata(Amount(100), &[("a", 0u128), ("b", 0)]);
        assert_eq!(p.dust, Amount(100));
        assert!(p.payouts.iter().all(|(_, a)| a.is_zero()));
        assert_eq!(pro_rata::<u8>(Amount(5), &[]).dust, Amount(5));
    }

    #[test]
    fn prepared_share_corrects_the_reciprocal_estimate() {
        // Divisors where floor((2^64-1)/t) * n / 2^64 falls short of the quotient.
        for t in [
            3u128,
            7,
            (1 << 63) + 1,
            u128::from(u64::MAX),
            u128::from(u64::MAX) - 1,
        ] {
            for n in [u128::from(u64::MAX), u128::from(u64::MAX) - 1, t, t - 1, 1] {
                let p = ProRata::new(Amount(n), t);
                for w in [0, 1, t / 2, t - 1, t] {
                    assert_eq!(p.share(w).0, mul_div_floor(n, w, t), "n={n} w={w} t={t}");
                }
            }
        }
        assert_eq!(ProRata::new(Amount(5), 0).share(0), Amount::ZERO);
    }

    #[test]
    fn splits_by_basis_points_exactly() {
        assert_eq!(
            split_bps(Amount(1001), &[6000, 3000, 1000]),
            vec![Amount(600), Amount(300), Amount(101)]
        );
    }

    proptest! {
        /// Equal to u128 arithmetic where that cannot overflow, and the floor by definition
        /// (`q * c <= a * b < (q + 1) * c`, compared in 256 bits) everywhere.
        #[test]
        fn mul_div_floor_is_the_floor(a in any::<u128>(), b in any::<u128>(), c in 1u128..) {
            let (b, c) = if b <= c { (b, c) } else { (c, b.max(1)) };
            let q = mul_div_floor(a, b, c);
            if let Some(p) = a.checked_mul(b) {
                prop_assert_eq!(q, p / c);
            }
            // q * c <= a * b < (q + 1) * c, checked in 256 bits.
            let ab = widening_mul(a, b);
            let qc = widening_mul(q, c);
            prop_assert!(qc <= ab);
            if q < u128::MAX {
                prop_assert!(widening_mul(q + 1, c) > ab);
            }
        }

        #[test]
        fn payouts_plus_dust_is_the_pool(
            pool in any::<u128>(),
            weights in proptest::collection::vec(0u128..u128::from(u64::MAX), 0..50),
        ) {
            let shares: Vec<(usize, u128)> = weights.iter().copied().enumerate().collect();
            let p = pro_rata(Amount(pool), &shares);
            let paid: u128 = p.payouts.iter().map(|(_, a)| a.0).sum();
            prop_assert_eq!(paid + p.dust.0, pool);
            let holders = weights.iter().filter(|w| **w > 0).count() as u128;
            if holders > 0 {
                prop_assert!(p.dust.0 < holders, "each floor loses less than one unit");
            }
            // A larger share never earns less.
            for (i, wi) in weights.iter().enumerate() {
                for (j, wj) in weights.iter().enumerate() {
                    if wi >= wj {
                        prop_assert!(p.payouts[i].1 >= p.payouts[j].1);
                    }
                }
            }
        }

        /// The prepared divisor's fast paths (reciprocal, u128 by u64) give exactly the floor
        /// that the 256-bit `mul_div_floor` gives, at every size of pool, weight and total.
        #[test]
        fn prepared_share_equals_mul_div_floor(
            pool_bits in 0u32..128,
            total_bits in 0u32..128,
            pool_seed in any::<u128>(),
            total_seed in any::<u128>(),
            weight_seed in any::<u128>(),
        ) {
            let pool = pool_seed >> pool_bits;
            let total = (total_seed >> total_bits).max(1);
            let weight = weight_seed % (total + u128::from(total < u128::MAX));
            let weight = weight.min(total);
            let fast = ProRata::new(Amount(pool), total).share(weight);
            prop_assert_eq!(fast.0, mul_div_floor(pool, weight, total));
            prop_assert_eq!(ProRata::new(Amount(pool), total).share(total).0, pool);
        }

        #[test]
        fn split_parts_sum_to_the_whole(amount in any::<u128>(), a in 0u32..=10_000, b in 0u32..=10_000) {
            let (a, b) = (a.min(10_000), b.min(10_000 - a.min(10_000)));
            let parts = split_bps(Amount(amount), &[a, b, 10_000 - a - b]);
            prop_assert_eq!(parts.iter().map(|p| p.0).sum::<u128>(), amount);
        }
    }
}
