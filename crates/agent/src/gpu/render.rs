//! The provider's real, deterministic work: a scene spec (what the requester posts by hash) and
//! a frame renderer whose output bytes are the same on every machine, so any provider can
//! re-render a frame and the ledger can compare result hashes.
//!
//! The scene is an animated Julia set rendered in integer fixed point (no floating point, no
//! platform maths library), written as a binary PPM image any viewer opens.

use anyhow::{Context, Result, bail};
use depin_core::Hash;
use serde_json::{Value, json};

/// Largest frame side, pixels.
pub const MAX_SIDE_PX: u32 = 2_048;
/// Most iterations per pixel.
pub const MAX_ITER: u32 = 10_000;

/// Fixed-point one: 16 fractional bits.
const ONE: i64 = 1 << 16;

/// What a job renders: the spec its hash names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SceneSpec {
    /// The scene kind; `julia` is the one this renderer knows.
    pub scene: String,
    pub width: u32,
    pub height: u32,
    /// Iterations per pixel (the work per frame grows with it).
    pub max_iter: u32,
    /// Picks the curve the animation follows and the palette.
    pub seed: u64,
}

impl SceneSpec {
    /// Checks the spec is one this renderer can draw within its limits.
    pub fn check(&self) -> Result<()> {
        if self.scene != "julia" {
            bail!(
                "unknown scene '{}': this renderer draws 'julia'",
                self.scene
            );
        }
        if self.width == 0
            || self.height == 0
            || self.width > MAX_SIDE_PX
            || self.height > MAX_SIDE_PX
        {
            bail!("width and height must be 1 to {MAX_SIDE_PX} pixels");
        }
        if self.max_iter == 0 || self.max_iter > MAX_ITER {
            bail!("max_iter must be 1 to {MAX_ITER}");
        }
        Ok(())
    }

    /// The spec as JSON (keys in sorted order: its canonical form).
    pub fn to_json(&self) -> Value {
        json!({
            "scene": self.scene,
            "width": self.width,
            "height": self.height,
            "max_iter": self.max_iter,
            "seed": self.seed,
        })
    }

    /// Reads a spec from JSON; every field is required and no other is allowed.
    pub fn from_json(v: &Value) -> Result<SceneSpec> {
        let obj = v.as_object().context("a scene spec is a JSON object")?;
        for key in obj.keys() {
            if !["scene", "width", "height", "max_iter", "seed"].contains(&key.as_str()) {
                bail!("unknown field '{key}' in the scene spec");
            }
        }
        let num = |k: &str| -> Result<u64> {
            obj.get(k)
                .and_then(Value::as_u64)
                .with_context(|| format!("the scene spec needs a whole number '{k}'"))
        };
        let small = |k: &str| -> Result<u32> {
            u32::try_from(num(k)?).with_context(|| format!("'{k}' is too large"))
        };
        let spec = SceneSpec {
            scene: obj
                .get("scene")
                .and_then(Value::as_str)
                .context("the scene spec needs a 'scene' name")?
                .to_string(),
            width: small("width")?,
            height: small("height")?,
            max_iter: small("max_iter")?,
            seed: num("seed")?,
        };
        spec.check()?;
        Ok(spec)
    }

    /// The content hash a job names this spec by (its canonical JSON).
    pub fn hash(&self) -> Hash {
        let bytes = serde_json::to_vec(&self.to_json()).expect("a spec serialises");
        Hash::tagged("depin/compute/spec/v1", &[&bytes])
    }
}

/// The result hash of a frame's bytes: what a provider commits to and the requester checks.
pub fn frame_hash(ppm: &[u8]) -> Hash {
    Hash::tagged("depin/compute/frame/v1", &[ppm])
}

/// Renders frame `frame` of `spec` as a binary PPM image.
pub fn render(spec: &SceneSpec, frame: u32) -> Vec<u8> {
    let (w, h) = (i64::from(spec.width), i64::from(spec.height));
    let header = format!("P6\n{} {}\n255\n", spec.width, spec.height);
    let mut out = Vec::with_capacity(header.len() + (w * h * 3) as usize);
    out.extend_from_slice(header.as_bytes());
    // The constant c walks a line through the interesting part of the Julia family, one step a
    // frame; the seed shifts the line and the palette.
    let shift = (spec.seed % 97) as i64;
    let c_re = -52_429 + shift * 64 + i64::from(frame) * 37;
    let c_im = 10_224 + shift * 16 + i64::from(frame) * 23;
    let palette = (spec.seed % 251) as u32;
    for py in 0..h {
        for px in 0..w {
            // The view spans [-1.6, 1.6] x [-1.0, 1.0].
            let mut zr = px * 16 * ONE / (5 * w) - 8 * ONE / 5;
            let mut zi = py * 2 * ONE / h - ONE;
            let mut n = 0;
            while n < spec.max_iter {
                let (zr2, zi2) = ((zr * zr) >> 16, (zi * zi) >> 16);
                if zr2 + zi2 > 4 * ONE {
                    break;
                }
                zi = ((2 * zr * zi) >> 16) + c_im;
                zr = zr2 - zi2 + c_re;
                n += 1;
            }
            if n == spec.max_iter {
                out.extend_from_slice(&[0, 0, 0]);
            } else {
                out.push(((n * 9 + palette) % 256) as u8);
                out.push(((n * 5) % 256) as u8);
                out.push(((n * 13 + 2 * palette) % 256) as u8);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SceneSpec {
        SceneSpec {
            scene: "julia".into(),
            width: 32,
            height: 24,
            max_iter: 64,
            seed: 7,
        }
    }

    #[test]
    fn a_frame_renders_to_the_same_bytes_every_time_and_frames_differ() {
        let s = spec();
        let a = render(&s, 3);
        assert_eq!(a, render(&s, 3));
        assert_eq!(frame_hash(&a), frame_hash(&render(&s, 3)));
        assert_ne!(frame_hash(&a), frame_hash(&render(&s, 4)));
        assert!(a.starts_with(b"P6\n32 24\n255\n"));
        assert_eq!(a.len(), "P6\n32 24\n255\n".len() + 32 * 24 * 3);
        // Not a blank image: the set has an inside and an outside.
        let pixels = &a["P6\n32 24\n255\n".len()..];
        assert!(pixels.chunks(3).any(|p| p == [0, 0, 0]));
        assert!(pixels.chunks(3).any(|p| p != [0, 0, 0]));
    }

    #[test]
    fn specs_are_checked_and_hashed_by_content() {
        let s = spec();
        s.check().unwrap();
        assert_eq!(SceneSpec::from_json(&s.to_json()).unwrap(), s);
        let mut extra = s.to_json();
        extra["camera"] = json!(1);
        assert!(SceneSpec::from_json(&extra).is_err());
        let mut t = spec();
        t.seed = 8;
        assert_ne!(s.hash(), t.hash());
        t.scene = "mandelbulb".into();
        assert!(t.check().is_err());
        let mut big = spec();
        big.width = MAX_SIDE_PX + 1;
        assert!(big.check().is_err());
    }
}
