//! Pixel editing of a painted patch: the studio's patch editor calls these, so what a brush, a
//! fill or a resize does is pure, tested code and the same on every machine.
//!
//! Coordinates are patch pixels, (0, 0) top left; anything outside the patch is clipped. Colours
//! are straight (not premultiplied) RGBA.

use super::trigger::patch::Painted;

pub type Rgba = [u8; 4];

/// Fully transparent: what the eraser paints.
pub const CLEAR: Rgba = [0, 0, 0, 0];

impl Painted {
    /// A `w`×`h` patch of one colour.
    pub fn blank(w: u32, h: u32, color: Rgba) -> Painted {
        Painted {
            width: w,
            height: h,
            rgba: color.repeat(w as usize * h as usize),
        }
    }

    /// The `w`×`h` region of an RGB frame `fw` pixels wide with its top-left corner at (`x`,
    /// `y`), opaque; `None` when it does not lie inside the frame or has no area.
    pub fn from_rgb_region(
        rgb: &[u8],
        fw: usize,
        fh: usize,
        (x, y): (usize, usize),
        (w, h): (usize, usize),
    ) -> Option<Painted> {
        if w == 0 || h == 0 || x + w > fw || y + h > fh || rgb.len() < fw * fh * 3 {
            return None;
        }
        let mut rgba = Vec::with_capacity(w * h * 4);
        for row in y..y + h {
            let start = (row * fw + x) * 3;
            for p in rgb[start..start + w * 3].chunks_exact(3) {
                rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
            }
        }
        Some(Painted {
            width: w as u32,
            height: h as u32,
            rgba,
        })
    }

    fn idx(&self, x: i64, y: i64) -> Option<usize> {
        (x >= 0 && y >= 0 && x < i64::from(self.width) && y < i64::from(self.height))
            .then(|| (y as usize * self.width as usize + x as usize) * 4)
    }

    pub fn get(&self, x: i64, y: i64) -> Option<Rgba> {
        let i = self.idx(x, y)?;
        let mut c = [0; 4];
        c.copy_from_slice(&self.rgba[i..i + 4]);
        Some(c)
    }

    pub fn set(&mut self, x: i64, y: i64, c: Rgba) {
        if let Some(i) = self.idx(x, y) {
            self.rgba[i..i + 4].copy_from_slice(&c);
        }
    }

    /// A square brush of side `size` (≥ 1) centred on (`x`, `y`); an even side extends one
    /// pixel further up and left, so size 2 at (x, y) covers x-1..=x.
    pub fn stamp(&mut self, x: i64, y: i64, size: u32, c: Rgba) {
        let s = i64::from(size.max(1));
        let x0 = x - s / 2;
        let y0 = y - s / 2;
        for yy in y0..y0 + s {
            for xx in x0..x0 + s {
                self.set(xx, yy, c);
            }
        }
    }

    /// A line of brush stamps from `a` to `b`, both ends included (Bresenham).
    pub fn line(&mut self, a: (i64, i64), b: (i64, i64), size: u32, c: Rgba) {
        let (mut x, mut y) = a;
        let dx = (b.0 - x).abs();
        let dy = -(b.1 - y).abs();
        let sx = if x < b.0 { 1 } else { -1 };
        let sy = if y < b.1 { 1 } else { -1 };
        let mut err = dx + dy;
        loop {
            self.stamp(x, y, size, c);
            if (x, y) == b {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// The outline of the rectangle with corners `a` and `b` (inclusive), `size` pixels thick.
    pub fn rect_outline(&mut self, a: (i64, i64), b: (i64, i64), size: u32, c: Rgba) {
        let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
        let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
        self.line((x0, y0), (x1, y0), size, c);
        self.line((x1, y0), (x1, y1), size, c);
        self.line((x1, y1), (x0, y1), size, c);
        self.line((x0, y1), (x0, y0), size, c);
    }

    /// Flood fill from (`x`, `y`): every 4-connected pixel whose channels all lie within
    /// `tolerance` of the start pixel's becomes `c`. Returns how many pixels changed.
    pub fn flood_fill(&mut self, x: i64, y: i64, tolerance: u8, c: Rgba) -> usize {
        let Some(seed) = self.get(x, y) else { return 0 };
        let (w, h) = (self.width as usize, self.height as usize);
        let near = |p: &[u8]| p.iter().zip(seed).all(|(&a, b)| a.abs_diff(b) <= tolerance);
        // Marked when pushed, so each pixel enters the stack at most once.
        let mut seen = vec![false; w * h];
        let start = y as usize * w + x as usize;
        seen[start] = true;
        let mut stack = vec![start];
        let mut changed = 0;
        while let Some(k) = stack.pop() {
            if self.rgba[k * 4..k * 4 + 4] != c {
                changed += 1;
            }
            self.rgba[k * 4..k * 4 + 4].copy_from_slice(&c);
            let (px, py) = (k % w, k / w);
            let mut visit = |n: usize, stack: &mut Vec<usize>| {
                if !seen[n] && near(&self.rgba[n * 4..n * 4 + 4]) {
                    seen[n] = true;
                    stack.push(n);
                }
            };
            if px > 0 {
                visit(k - 1, &mut stack);
            }
            if px + 1 < w {
                visit(k + 1, &mut stack);
            }
            if py > 0 {
                visit(k - w, &mut stack);
            }
            if py + 1 < h {
                visit(k + w, &mut stack);
            }
        }
        changed
    }

    /// Mirror left to right.
    pub fn flip_h(&self) -> Painted {
        self.remap(self.width, self.height, |x, y| (self.width - 1 - x, y))
    }

    /// Mirror top to bottom.
    pub fn flip_v(&self) -> Painted {
        self.remap(self.width, self.height, |x, y| (x, self.height - 1 - y))
    }

    /// Rotate 90° clockwise (a w×h patch becomes h×w).
    pub fn rotate_cw(&self) -> Painted {
        // Output pixel (x, y) of the h×w result comes from source (y, h - 1 - x).
        self.remap(self.height, self.width, |x, y| (y, self.height - 1 - x))
    }

    /// Nearest-neighbour resize to `w`×`h` (both ≥ 1): pixel art stays crisp.
    pub fn resize_nearest(&self, w: u32, h: u32) -> Painted {
        let (w, h) = (w.max(1), h.max(1));
        let (sw, sh) = (u64::from(self.width), u64::from(self.height));
        self.remap(w, h, |x, y| {
            (
                ((u64::from(x) * sw) / u64::from(w)) as u32,
                ((u64::from(y) * sh) / u64::from(h)) as u32,
            )
        })
    }

    fn remap(&self, w: u32, h: u32, src: impl Fn(u32, u32) -> (u32, u32)) -> Painted {
        let mut rgba = Vec::with_capacity(w as usize * h as usize * 4);
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = src(x, y);
                let i = (sy as usize * self.width as usize + sx as usize) * 4;
                rgba.extend_from_slice(&self.rgba[i..i + 4]);
            }
        }
        Painted {
            width: w,
            height: h,
            rgba,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Rgba = [255, 0, 0, 255];
    const B: Rgba = [0, 0, 255, 128];

    fn coloured(p: &Painted, c: Rgba) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        for y in 0..i64::from(p.height) {
            for x in 0..i64::from(p.width) {
                if p.get(x, y) == Some(c) {
                    v.push((x, y));
                }
            }
        }
        v
    }

    #[test]
    fn stamps_lines_and_rectangles_cover_the_right_pixels() {
        let mut p = Painted::blank(8, 6, CLEAR);
        p.stamp(0, 0, 1, R);
        assert_eq!(coloured(&p, R), vec![(0, 0)]);
        p.stamp(7, 5, 3, B); // clipped at the corner: 2×2 of the 3×3 lands
        assert_eq!(coloured(&p, B), vec![(6, 4), (7, 4), (6, 5), (7, 5)]);

        let mut l = Painted::blank(8, 6, CLEAR);
        l.line((0, 0), (7, 3), 1, R);
        let px = coloured(&l, R);
        assert_eq!(px.len(), 8, "one pixel per column of a shallow line");
        assert!(px.contains(&(0, 0)) && px.contains(&(7, 3)));

        let mut r = Painted::blank(5, 5, CLEAR);
        r.rect_outline((3, 3), (1, 1), 1, R);
        assert_eq!(coloured(&r, R).len(), 8, "a 3×3 ring");
        assert_eq!(r.get(2, 2), Some(CLEAR), "hollow");
    }

    #[test]
    fn flood_fill_stops_at_edges_and_honours_tolerance() {
        let mut p = Painted::blank(5, 3, [10, 10, 10, 255]);
        p.line((2, 0), (2, 2), 1, [200, 200, 200, 255]); // a wall down the middle
        p.set(0, 0, [14, 10, 10, 255]);
        assert_eq!(p.flood_fill(1, 1, 0, R), 5, "exact: the odd pixel is left");
        assert_eq!(p.get(0, 0), Some([14, 10, 10, 255]));
        assert_eq!(p.get(3, 1), Some([10, 10, 10, 255]), "the wall held");
        let mut q = Painted::blank(5, 3, [10, 10, 10, 255]);
        q.set(0, 0, [14, 10, 10, 255]);
        assert_eq!(q.flood_fill(4, 2, 4, R), 15, "within 4 levels joins it");
        assert_eq!(q.flood_fill(9, 9, 4, R), 0, "outside: nothing");
    }

    #[test]
    fn flips_rotations_and_resizes() {
        let mut p = Painted::blank(3, 2, CLEAR);
        p.set(0, 0, R);
        assert_eq!(p.flip_h().get(2, 0), Some(R));
        assert_eq!(p.flip_v().get(0, 1), Some(R));
        let r = p.rotate_cw();
        assert_eq!((r.width, r.height), (2, 3));
        assert_eq!(r.get(1, 0), Some(R), "top-left goes to top-right");
        assert_eq!(
            r.rotate_cw().rotate_cw().rotate_cw(),
            p,
            "four turns are none"
        );
        let big = p.resize_nearest(6, 4);
        assert_eq!(coloured(&big, R), vec![(0, 0), (1, 0), (0, 1), (1, 1)]);
        assert_eq!(big.resize_nearest(3, 2), p);
    }

    #[test]
    fn a_region_of_a_frame_copies_its_pixels_or_is_refused() {
        let (fw, fh) = (4, 3);
        let rgb: Vec<u8> = (0..fw * fh * 3).map(|i| i as u8).collect();
        let p = Painted::from_rgb_region(&rgb, fw, fh, (1, 1), (2, 2)).expect("inside");
        assert_eq!(p.get(0, 0), Some([15, 16, 17, 255]));
        assert_eq!(p.get(1, 1), Some([30, 31, 32, 255]));
        assert!(Painted::from_rgb_region(&rgb, fw, fh, (3, 0), (2, 1)).is_none());
        assert!(Painted::from_rgb_region(&rgb, fw, fh, (0, 0), (0, 2)).is_none());
    }
}
