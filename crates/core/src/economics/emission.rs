//! The emission schedule: tokens minted per epoch, halving on a fixed period down to a tail.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;

/// Tokens minted per reward epoch.
///
/// Epoch `e` mints `initial_per_epoch >> (e / halving_interval_epochs)`, but never less than
/// `tail_per_epoch` (a perpetual tail keeps paying suppliers after the halvings run out; zero
/// means emission ends). A `halving_interval_epochs` of 0 means no halvings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmissionSchedule {
    /// Base units minted in each epoch before the first halving.
    pub initial_per_epoch: Amount,
    /// Epochs between halvings; 0 for none.
    pub halving_interval_epochs: u64,
    /// Floor of the per-epoch emission, in base units.
    pub tail_per_epoch: Amount,
}

impl EmissionSchedule {
    /// Base units minted in `epoch` (epochs count from 0).
    pub fn at(&self, epoch: u64) -> Amount {
        let halvings = epoch.checked_div(self.halving_interval_epochs).unwrap_or(0);
        let halved = if halvings >= 128 {
            0
        } else {
            self.initial_per_epoch.0 >> halvings
        };
        Amount(halved.max(self.tail_per_epoch.0))
    }

    /// Base units minted in epochs `0..epochs`, computed per halving era rather than per epoch;
    /// `None` if it exceeds a u128.
    pub fn cumulative(&self, epochs: u64) -> Option<Amount> {
        if self.halving_interval_epochs == 0 {
            return self.at(0).0.checked_mul(epochs as u128).map(Amount);
        }
        let mut total: u128 = 0;
        let mut start = 0u64;
        while start < epochs {
            let end = start
                .saturating_add(self.halving_interval_epochs)
                .min(epochs);
            let per = self.at(start).0;
            total = total.checked_add(per.checked_mul((end - start) as u128)?)?;
            if per == self.tail_per_epoch.0 {
                // Every later era emits the tail too.
                let rest = (epochs - end) as u128;
                return total.checked_add(per.checked_mul(rest)?).map(Amount);
            }
            start = end;
        }
        Some(Amount(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn schedule(initial: u128, interval: u64, tail: u128) -> EmissionSchedule {
        EmissionSchedule {
            initial_per_epoch: Amount(initial),
            halving_interval_epochs: interval,
            tail_per_epoch: Amount(tail),
        }
    }

    #[test]
    fn halves_on_schedule_down_to_the_tail() {
        let s = schedule(1000, 10, 100);
        assert_eq!(s.at(0), Amount(1000));
        assert_eq!(s.at(9), Amount(1000));
        assert_eq!(s.at(10), Amount(500));
        assert_eq!(s.at(20), Amount(250));
        assert_eq!(s.at(30), Amount(125));
        assert_eq!(s.at(40), Amount(100)); // 62 is below the tail
        assert_eq!(s.at(u64::MAX), Amount(100));
        assert_eq!(schedule(1000, 0, 0).at(1_000_000), Amount(1000));
        assert_eq!(schedule(1000, 1, 0).at(200), Amount(0));
    }

    proptest! {
        #[test]
        fn cumulative_is_the_sum_of_epochs(
            initial in 0u128..1_000_000_000_000,
            interval in 0u64..20,
            tail in 0u128..1000,
            epochs in 0u64..300,
        ) {
            let s = schedule(initial, interval, tail);
            let summed: u128 = (0..epochs).map(|e| s.at(e).0).sum();
            prop_assert_eq!(s.cumulative(epochs), Some(Amount(summed)));
        }

        #[test]
        fn emission_never_rises_and_never_drops_below_the_tail(
            initial in 0u128..u128::MAX / 2,
            interval in 1u64..1000,
            tail in 0u128..1_000_000,
            e in 0u64..1_000_000,
        ) {
            let s = schedule(initial, interval, tail);
            prop_assert!(s.at(e + 1) <= s.at(e));
            prop_assert!(s.at(e).0 >= tail);
        }
    }
}
