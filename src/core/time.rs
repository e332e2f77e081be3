//! Rational time: frame rates and timestamps are exact fractions, never bare float seconds.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An exact fraction `num/den` with `den > 0`, kept in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RationalRepr", into = "RationalRepr")]
pub struct Rational {
    num: i64,
    den: i64,
}

#[derive(Serialize, Deserialize)]
struct RationalRepr {
    num: i64,
    den: i64,
}

impl TryFrom<RationalRepr> for Rational {
    type Error = String;
    fn try_from(r: RationalRepr) -> Result<Self, Self::Error> {
        Rational::new(r.num, r.den).ok_or_else(|| format!("invalid rational {}/{}", r.num, r.den))
    }
}

impl From<Rational> for RationalRepr {
    fn from(r: Rational) -> Self {
        RationalRepr {
            num: r.num,
            den: r.den,
        }
    }
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Rational {
    pub const ZERO: Rational = Rational { num: 0, den: 1 };

    /// `None` when `den == 0`; the sign is carried by the numerator.
    pub fn new(num: i64, den: i64) -> Option<Self> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Some(Rational {
            num: sign * num / g,
            den: sign * den / g,
        })
    }

    pub fn from_int(n: i64) -> Self {
        Rational { num: n, den: 1 }
    }

    pub fn num(self) -> i64 {
        self.num
    }

    pub fn den(self) -> i64 {
        self.den
    }

    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    pub fn is_positive(self) -> bool {
        self.num > 0
    }

    /// The reciprocal; `None` for zero.
    pub fn recip(self) -> Option<Self> {
        Rational::new(self.den, self.num)
    }

    /// Exact product, `None` on overflow.
    pub fn checked_mul(self, other: Rational) -> Option<Self> {
        let num = self.num.checked_mul(other.num)?;
        let den = self.den.checked_mul(other.den)?;
        Rational::new(num, den)
    }

    /// Start time in seconds of frame `index` at this frame rate (`self` = frames per second).
    pub fn frame_start(self, index: u64) -> Option<Rational> {
        let index = i64::try_from(index).ok()?;
        self.recip()?.checked_mul(Rational::from_int(index))
    }

    /// Index of the frame shown at `secs` seconds at this frame rate, `None` if the rate is not
    /// positive or `secs` is negative or not finite.
    pub fn frame_at_secs(self, secs: f64) -> Option<u64> {
        if !self.is_positive() || !secs.is_finite() || secs < 0.0 {
            return None;
        }
        // Exact for realistic rates; the epsilon keeps 1/fps * n from flooring to n-1.
        Some((secs * self.to_f64() + 1e-9).floor() as u64)
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_and_normalises_sign() {
        let r = Rational::new(60000, -2002).expect("nonzero den");
        assert_eq!((r.num(), r.den()), (-30000, 1001));
        assert_eq!(Rational::new(1, 0), None);
        assert_eq!(Rational::new(0, 5), Some(Rational::ZERO));
    }

    #[test]
    fn ntsc_frame_times_are_exact() {
        let fps = Rational::new(30000, 1001).expect("valid");
        assert_eq!(fps.to_string(), "30000/1001");
        let t = fps.frame_start(30000).expect("fits");
        assert_eq!(t, Rational::from_int(1001));
        assert_eq!(fps.frame_at_secs(t.to_f64()), Some(30000));
        assert_eq!(fps.frame_at_secs(1001.0 / 30000.0 * 7.0), Some(7));
        assert_eq!(fps.frame_at_secs(-1.0), None);
        assert_eq!(fps.frame_at_secs(f64::NAN), None);
    }

    #[test]
    fn serde_rejects_zero_denominator() {
        let ok: Rational = serde_json::from_str(r#"{"num":25,"den":1}"#).expect("valid");
        assert_eq!(ok, Rational::from_int(25));
        assert!(serde_json::from_str::<Rational>(r#"{"num":25,"den":0}"#).is_err());
    }
}
