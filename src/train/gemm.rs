//! Matrix multiplication for the convolution kernels, on the `gemm` crate (the same GEMM candle
//! uses on CPU; it picks AVX2/AVX-512 kernels at run time).
//!
//! `gemm::gemm` takes raw pointers and strides, so it is `unsafe`; this module is its only
//! caller and offers a safe API instead: every view is checked to lie inside its slice, shapes
//! must agree, and the borrow checker keeps the destination apart from the inputs. Besides
//! `media/ffmpeg_log.rs`, this is the one module allowed `unsafe`.
#![allow(unsafe_code)]

/// A read-only matrix view: element (i, j) is `data[i·rs + j·cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A writable matrix view.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// Whether the view addresses only elements inside a slice of `len`.
fn fits(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|a| (cols - 1).checked_mul(cs).and_then(|b| a.checked_add(b)));
    last.is_some_and(|l| l < len)
}

impl<'a> MatRef<'a> {
    /// A `rows`×`cols` view with row stride `rs` and column stride `cs` (in elements).
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols, rs, cs),
            "matrix view {rows}x{cols} (rs {rs}, cs {cs}) exceeds {} elements",
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// A dense row-major `rows`×`cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// The transpose (a view, no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl<'a> MatMut<'a> {
    pub fn strided(data: &'a mut [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols, rs, cs),
            "matrix view {rows}x{cols} (rs {rs}, cs {cs}) exceeds {} elements",
            data.len()
        );
        MatMut {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` when `accumulate`), using up to `threads` threads.
pub fn matmul(dst: MatMut<'_>, accumulate: bool, lhs: MatRef<'_>, rhs: MatRef<'_>, threads: usize) {
    assert_eq!(lhs.cols, rhs.rows, "inner dimensions differ");
    assert_eq!(
        (dst.rows, dst.cols),
        (lhs.rows, rhs.cols),
        "destination shape differs"
    );
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst.data[i * dst.rs + j * dst.cs] = 0.0;
                }
            }
        }
        return;
    }
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let s = |v: usize| v as isize;
    // SAFETY: every view was checked (in its constructor) to address only elements inside its
    // slice, the shapes agree (asserted above), the strides are non-negative, and `dst` is an
    // exclusive borrow, so it cannot alias `lhs` or `rhs`. gemm computes
    // dst = alpha·dst + beta·lhs·rhs, reading dst only when `read_dst` is true.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            s(dst.cs),
            s(dst.rs),
            accumulate,
            lhs.data.as_ptr(),
            s(lhs.cs),
            s(lhs.rs),
            rhs.data.as_ptr(),
            s(rhs.cs),
            s(rhs.rs),
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        (0..m * n)
            .map(|ij| {
                (0..k)
                    .map(|p| a[(ij / n) * k + p] * b[p * n + ij % n])
                    .sum()
            })
            .collect()
    }

    #[test]
    fn matches_a_naive_product_including_transposes_and_accumulation() {
        let (m, n, k) = (7, 5, 9);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, n, k);
        let mut c = vec![0f32; m * n];
        matmul(
            MatMut::row_major(&mut c, m, n),
            false,
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&b, k, n),
            1,
        );
        assert!(c.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-5));
        // bᵀ stored as n×k: use its transpose view.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        matmul(
            MatMut::row_major(&mut c, m, n),
            true,
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&bt, n, k).t(),
            2,
        );
        assert!(c.iter().zip(&want).all(|(x, y)| (x - 2.0 * y).abs() < 1e-4));
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn out_of_bounds_views_are_refused() {
        let a = [0f32; 5];
        let _ = MatRef::row_major(&a, 2, 3);
    }
}
