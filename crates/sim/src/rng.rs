//! Counter-based random numbers: every draw is a pure function of (seed, run, step, purpose,
//! agent), so results do not depend on how runs and agents are spread over threads, nor on the
//! order anything is computed in.

/// What a draw is for; distinct purposes give independent streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    Hardware = 1,
    Opex = 2,
    Quality = 3,
    Traffic = 4,
    /// Whether an agent reconsiders joining or leaving this step.
    Act = 5,
    /// Market noise (agent index 0 and 1: the two uniforms of one normal draw).
    MarketNoise = 6,
    MarketCrash = 7,
}

/// Step index used for draws made before the first step (agent attributes).
pub const SETUP_STEP: u64 = u64::MAX;

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finaliser: a bijective mix in which every input bit affects every output bit.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stream of draws for one (seed, run, step, purpose), indexed by agent.
#[derive(Clone, Copy, Debug)]
pub struct Stream(u64);

impl Stream {
    pub fn new(seed: u64, run: u64, step: u64, purpose: Purpose) -> Stream {
        let mut k = mix(seed ^ 0x6A09_E667_F3BC_C908);
        k = mix(k ^ run.wrapping_mul(GOLDEN_GAMMA));
        k = mix(k ^ step.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Stream(mix(k ^ (purpose as u64).wrapping_mul(0xA076_1D64_78BD_642F)))
    }

    /// 64 random bits for `agent` (splitmix64's output at position `agent + 1` of this stream).
    #[inline]
    pub fn bits(self, agent: u64) -> u64 {
        mix(self
            .0
            .wrapping_add(agent.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA)))
    }

    /// A uniform draw in [0, 1) with 53 random bits.
    #[inline]
    pub fn unit(self, agent: u64) -> f64 {
        (self.bits(agent) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box-Muller over positions 2*agent and 2*agent+1, with the `libm`
    /// functions, which give the same bits on every platform).
    pub fn normal(self, agent: u64) -> f64 {
        let u1 = 1.0 - self.unit(agent.wrapping_mul(2)); // (0, 1]: log is finite
        let u2 = self.unit(agent.wrapping_mul(2).wrapping_add(1));
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
    }
}

/// `p` as a threshold on 64 random bits: `bits < threshold` happens with probability `p`
/// (within 2^-64).
pub fn threshold(p: f64) -> u64 {
    if p >= 1.0 {
        u64::MAX
    } else if p <= 0.0 {
        0
    } else {
        (p * 18_446_744_073_709_551_616.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_every_key_part_and_are_uniform() {
        let base = Stream::new(1, 2, 3, Purpose::Act);
        for other in [
            Stream::new(2, 2, 3, Purpose::Act),
            Stream::new(1, 3, 3, Purpose::Act),
            Stream::new(1, 2, 4, Purpose::Act),
            Stream::new(1, 2, 3, Purpose::Opex),
        ] {
            assert_ne!(base.bits(0), other.bits(0));
        }
        let n = 100_000;
        let mean: f64 = (0..n).map(|i| base.unit(i)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let hits = (0..n).filter(|i| base.bits(*i) < threshold(0.25)).count();
        assert!((hits as f64 / n as f64 - 0.25).abs() < 0.01);
        let normals: Vec<f64> = (0..n).map(|i| base.normal(i)).collect();
        let m = normals.iter().sum::<f64>() / n as f64;
        let v = normals.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.02 && (v - 1.0).abs() < 0.03, "mean {m} var {v}");
    }
}
