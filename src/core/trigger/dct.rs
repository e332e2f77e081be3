//! The orthonormal DCT-II basis. FTrojan and TDBA add coefficients in a DCT domain and transform
//! back; the DCT is linear and orthonormal, so that equals adding the basis functions of those
//! coefficients in the pixel domain, which is what we precompute. (Tests hold this to a literal
//! DCT → add → inverse DCT.)

use std::f64::consts::PI;

/// Basis function `k` of an orthonormal DCT-II of length `n`, at sample `x`.
pub fn basis(n: usize, k: usize, x: usize) -> f64 {
    let c = if k == 0 {
        (1.0 / n as f64).sqrt()
    } else {
        (2.0 / n as f64).sqrt()
    };
    c * (PI * (2 * x + 1) as f64 * k as f64 / (2 * n) as f64).cos()
}

/// Forward orthonormal DCT-II of `x` (O(n²); used by tests and small sizes).
pub fn dct(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    (0..n)
        .map(|k| (0..n).map(|i| x[i] * basis(n, k, i)).sum())
        .collect()
}

/// Inverse of [`dct`] (the DCT-III with the same normalisation).
pub fn idct(c: &[f64]) -> Vec<f64> {
    let n = c.len();
    (0..n)
        .map(|i| (0..n).map(|k| c[k] * basis(n, k, i)).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_orthonormality() {
        let x = [3.0, -1.0, 4.0, 1.5, -5.0, 9.0];
        let back = idct(&dct(&x));
        assert!(x.iter().zip(&back).all(|(a, b)| (a - b).abs() < 1e-12));
        let energy = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>();
        assert!((energy(&x) - energy(&dct(&x))).abs() < 1e-9);
    }
}
