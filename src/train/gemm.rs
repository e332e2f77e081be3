//! Matrix multiplication for the convolution kernels, on the `gemm` crate (the same GEMM candle
//! uses on CPU; it picks AVX2/AVX-512 kernels at run time).
//!
//! `gemm::gemm` takes raw pointers and strides, so it is `unsafe`; this module is its only
//! caller and offers a safe API instead: every view is checked to lie inside its slice, shapes
//! must agree, and the borrow checker keeps the destination apart from the inputs. Besides
//! `media/ffmpeg_log.rs`, this is the one module allowed `unsafe`.
#![allow(unsafe_code)]

/// A read-only matrix view: element (i, j) is `data[i·rs + j·cs]`.
///
/// Invariants, established by the only constructors ([`MatRef::strided`] and what is built on
/// it): every element lies inside `data`, and both strides fit in `isize` (so the casts for
/// `gemm` are exact). Overlapping elements are allowed: they are only read.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A writable matrix view.
///
/// Invariants, established by [`MatMut::strided`] (the only constructor): those of [`MatRef`],
/// and no two elements share an address — so the threads of a parallel GEMM, which each write
/// their own block of (i, j), never write the same `f32`.
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

/// Whether distinct (i, j) always have distinct offsets `i·rs + j·cs`. A dimension of length 1
/// never moves along its stride, so only the other one matters; otherwise one stride must step
/// over the whole extent of the other (rows never interleave, or columns never do). This is
/// sufficient, not necessary, and covers every layout the ops use (dense, transposed, and rows
/// of a wider buffer).
fn disjoint(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    match (rows, cols) {
        (0, _) | (_, 0) | (1, 1) => true,
        (1, _) => cs > 0,
        (_, 1) => rs > 0,
        _ => {
            (cs > 0 && cols.checked_mul(cs).is_some_and(|extent| rs >= extent))
                || (rs > 0 && rows.checked_mul(rs).is_some_and(|extent| cs >= extent))
        }
    }
}

/// Checks a view's layout; panics (a bug in the caller, never user input) when it is unsafe.
fn check_view(len: usize, rows: usize, cols: usize, rs: usize, cs: usize, exclusive: bool) {
    assert!(
        isize::try_from(rs).is_ok() && isize::try_from(cs).is_ok(),
        "matrix view strides (rs {rs}, cs {cs}) do not fit in isize"
    );
    assert!(
        fits(len, rows, cols, rs, cs),
        "matrix view {rows}x{cols} (rs {rs}, cs {cs}) exceeds {len} elements"
    );
    assert!(
        !exclusive || disjoint(rows, cols, rs, cs),
        "writable matrix view {rows}x{cols} (rs {rs}, cs {cs}) has overlapping elements"
    );
}

impl<'a> MatRef<'a> {
    /// A `rows`×`cols` view with row stride `rs` and column stride `cs` (in elements).
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        check_view(data.len(), rows, cols, rs, cs, false);
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

    /// The transpose (a view, no copy; the invariants are symmetric in the two dimensions).
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
    /// A writable `rows`×`cols` view; panics if it leaves `data` or any two elements overlap.
    pub fn strided(data: &'a mut [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        check_view(data.len(), rows, cols, rs, cs, true);
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
    // Exact: the constructors proved every stride fits in isize.
    let s = |v: usize| v as isize;
    // SAFETY: gemm reads lhs at i·rs + p·cs (i < m, p < k), rhs at p·rs + j·cs (p < k, j < n) and
    // writes dst at i·rs + j·cs (i < m, j < n), with the dimensions asserted above to be the
    // views' own. The views' constructors (their fields are private, so no other code builds
    // one) proved that each such offset lies inside its slice and that the strides convert to
    // isize exactly, so every access is in bounds. `dst`'s constructor also proved that distinct
    // (i, j) have distinct offsets, so when gemm splits dst into blocks across `threads` rayon
    // threads, no two threads write the same element. `dst` is a `&mut` borrow, so it aliases
    // neither `lhs` nor `rhs`, which are only read, and nothing else touches any of the three
    // while gemm runs (it returns only when all its threads are done). gemm computes
    // dst = alpha·dst + beta·lhs·rhs and reads dst only when `read_dst` (`accumulate`) is true;
    // when false, dst may hold anything.
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

    #[test]
    #[should_panic(expected = "overlapping")]
    fn a_row_stride_shorter_than_a_row_is_refused_for_writing() {
        // Rows 0 and 1 would share elements: two GEMM threads could write the same f32.
        let mut c = [0f32; 8];
        let _ = MatMut::strided(&mut c, 3, 4, 2, 1);
    }

    #[test]
    #[should_panic(expected = "overlapping")]
    fn a_zero_stride_is_refused_for_writing() {
        let mut c = [0f32; 8];
        let _ = MatMut::strided(&mut c, 4, 2, 0, 1);
    }

    #[test]
    #[should_panic(expected = "isize")]
    fn a_stride_that_would_wrap_is_refused_even_on_a_single_row() {
        // One row: the row stride is never multiplied by a non-zero index, so the bounds check
        // alone accepts it, but `as isize` would turn it into -1.
        let a = [0f32; 4];
        let _ = MatRef::strided(&a, 1, 4, usize::MAX, 1);
    }

    #[test]
    fn overlapping_reads_and_the_layouts_the_ops_use_are_accepted() {
        let a = [1f32; 12];
        // A broadcast row (zero row stride) is fine to read.
        let _ = MatRef::strided(&a, 3, 4, 0, 1);
        let mut c = [0f32; 12];
        // Rows of a wider buffer, column-major, one row, one column.
        let _ = MatMut::strided(&mut c, 2, 3, 6, 1);
        let _ = MatMut::strided(&mut c, 3, 4, 1, 3);
        let _ = MatMut::strided(&mut c, 1, 12, 0, 1);
        let _ = MatMut::strided(&mut c, 12, 1, 1, 0);
        assert!(disjoint(2, 2, 2, 1) && !disjoint(2, 2, 1, 1) && !disjoint(2, 3, 4, 2));
    }
}
