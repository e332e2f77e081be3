//! Spectrograms: a short-time Fourier transform (Hann window) of a mono signal as a plain grid of
//! magnitudes in dB, rows resampled onto a log-frequency axis, and a magma-like colour map into
//! RGBA so a viewer only has to upload the picture.

use super::clip::AudioBuffer;
use super::spec_error::SpecError;
use realfft::RealFftPlanner;
use std::f64::consts::PI;

/// Magnitudes below this are shown (and stored) as this, so silence is a number, not −∞.
pub const FLOOR_DB: f32 = -120.0;

/// Window length and hop, in samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StftParams {
    pub window: usize,
    pub hop: usize,
}

impl Default for StftParams {
    fn default() -> Self {
        StftParams {
            window: 1024,
            hop: 256,
        }
    }
}

impl StftParams {
    /// `window` with the smallest hop (at least a quarter window) that keeps `samples` within
    /// `max_columns` columns: a long file must not make a grid larger than the screen.
    pub fn for_length(window: usize, samples: usize, max_columns: usize) -> StftParams {
        let window = window.max(2);
        // `samples / hop + 1` columns.
        let hop = samples
            .div_ceil(max_columns.saturating_sub(1).max(1))
            .max(window / 4)
            .max(1);
        StftParams { window, hop }
    }
}

/// A grid of dB values: `rows` frequencies (ascending) × `cols` time columns, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
    /// The frequency of each row, ascending.
    pub freqs_hz: Vec<f32>,
    pub db: Vec<f32>,
}

impl Grid {
    pub fn at(&self, row: usize, col: usize) -> f32 {
        self.db[row * self.cols + col]
    }

    /// The row whose frequency is nearest `hz`.
    pub fn row_of(&self, hz: f32) -> usize {
        self.freqs_hz
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - hz).abs().total_cmp(&(b.1 - hz).abs()))
            .map_or(0, |(i, _)| i)
    }
}

/// An STFT: bins (0 Hz to Nyquist) × frames, and the time each column is centred on.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrogram {
    pub sample_rate_hz: u32,
    pub params: StftParams,
    /// Rows are the `window / 2 + 1` bins of the transform.
    pub grid: Grid,
    /// Column k is centred on sample `k * hop`, at `times_secs[k]`.
    pub times_secs: Vec<f64>,
}

/// The mean of the channels.
pub fn mono(audio: &AudioBuffer) -> Vec<f32> {
    let ch = usize::from(audio.channels()).max(1);
    audio
        .samples()
        .chunks_exact(ch)
        .map(|f| f.iter().sum::<f32>() / ch as f32)
        .collect()
}

/// STFT of `signal`. Column k covers the window centred on sample `k * hop` (zero outside the
/// signal). Magnitudes are scaled so a full-scale sine reads 0 dB at its bin.
pub fn stft(signal: &[f32], sample_rate_hz: u32, p: StftParams) -> Result<Spectrogram, SpecError> {
    if p.window < 2 || p.hop == 0 {
        return Err(SpecError::new(
            "spectrogram.window",
            format!(
                "window {} and hop {} must be at least 2 and 1",
                p.window, p.hop
            ),
        ));
    }
    if sample_rate_hz == 0 {
        return Err(SpecError::new(
            "spectrogram.sample_rate_hz",
            "the sample rate must be above 0",
        ));
    }
    let n = p.window;
    let hann: Vec<f32> = (0..n)
        .map(|i| (0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos()) as f32)
        .collect();
    // A sine of amplitude A gives |X| = A · Σw / 2 at its bin.
    let scale = 2.0 / hann.iter().sum::<f32>();
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let bins = n / 2 + 1;
    let cols = signal.len() / p.hop + 1;
    let mut db = vec![FLOOR_DB; bins * cols];
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let half = (n / 2) as isize;
    for k in 0..cols {
        let centre = (k * p.hop) as isize;
        for (i, x) in input.iter_mut().enumerate() {
            let s = centre - half + i as isize;
            *x = usize::try_from(s)
                .ok()
                .and_then(|s| signal.get(s))
                .map_or(0.0, |&v| v * hann[i]);
        }
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .map_err(|e| SpecError::new("spectrogram", e.to_string()))?;
        for (b, c) in spectrum.iter().enumerate() {
            let mag = c.norm() * scale;
            db[b * cols + k] = (20.0 * mag.max(1e-12).log10()).max(FLOOR_DB);
        }
    }
    let bin_hz = sample_rate_hz as f32 / n as f32;
    Ok(Spectrogram {
        sample_rate_hz,
        params: p,
        grid: Grid {
            rows: bins,
            cols,
            freqs_hz: (0..bins).map(|b| b as f32 * bin_hz).collect(),
            db,
        },
        times_secs: (0..cols)
            .map(|k| (k * p.hop) as f64 / f64::from(sample_rate_hz))
            .collect(),
    })
}

/// `rows` frequencies spaced evenly in log between `f_min` and `f_max` (both included).
pub fn log_frequencies(rows: usize, f_min: f32, f_max: f32) -> Vec<f32> {
    let (lo, hi) = (f_min.max(1e-3), f_max.max(f_min.max(1e-3)));
    match rows {
        0 => Vec::new(),
        1 => vec![lo],
        _ => (0..rows)
            .map(|r| lo * (hi / lo).powf(r as f32 / (rows - 1) as f32))
            .collect(),
    }
}

impl Spectrogram {
    pub fn nyquist_hz(&self) -> f32 {
        self.sample_rate_hz as f32 / 2.0
    }

    pub fn bin_hz(&self) -> f32 {
        self.sample_rate_hz as f32 / self.params.window as f32
    }

    /// The grid resampled onto `rows` log-spaced frequencies from `f_min` to Nyquist. A row
    /// that spans several bins takes their loudest (so a tone never falls between rows); one
    /// narrower than a bin interpolates between its neighbours.
    pub fn to_log(&self, rows: usize, f_min: f32) -> Grid {
        let g = &self.grid;
        let freqs = log_frequencies(rows, f_min, self.nyquist_hz());
        let bin_hz = self.bin_hz();
        let last = g.rows.saturating_sub(1);
        let mut db = vec![FLOOR_DB; rows * g.cols];
        for (r, &f) in freqs.iter().enumerate() {
            // The row's band: halfway (in log) to its neighbours.
            let below = if r > 0 { (freqs[r - 1] * f).sqrt() } else { f };
            let above = if r + 1 < rows {
                (freqs[r + 1] * f).sqrt()
            } else {
                f
            };
            let (b0, b1) = (
                ((below / bin_hz).ceil() as usize).min(last),
                ((above / bin_hz).floor() as usize).min(last),
            );
            let out = &mut db[r * g.cols..(r + 1) * g.cols];
            if b1 >= b0 && above > below {
                for (c, o) in out.iter_mut().enumerate() {
                    *o = (b0..=b1).map(|b| g.at(b, c)).fold(FLOOR_DB, f32::max);
                }
            } else {
                let x = (f / bin_hz).min(last as f32);
                let (i0, frac) = (x.floor() as usize, x.fract());
                let i1 = (i0 + 1).min(last);
                for (c, o) in out.iter_mut().enumerate() {
                    *o = g.at(i0, c) * (1.0 - frac) + g.at(i1, c) * frac;
                }
            }
        }
        Grid {
            rows,
            cols: g.cols,
            freqs_hz: freqs,
            db,
        }
    }
}

/// Control points of a magma-like colour map, dark to light.
const MAGMA: [[u8; 3]; 9] = [
    [0, 0, 4],
    [28, 16, 68],
    [79, 18, 123],
    [129, 37, 129],
    [181, 54, 122],
    [229, 80, 100],
    [251, 135, 97],
    [254, 194, 135],
    [252, 253, 191],
];

/// The colour of `t` in 0..1 (clamped).
pub fn magma(t: f32) -> [u8; 3] {
    let x = t.clamp(0.0, 1.0) * (MAGMA.len() - 1) as f32;
    let i = (x.floor() as usize).min(MAGMA.len() - 2);
    let f = x - i as f32;
    let (a, b) = (MAGMA[i], MAGMA[i + 1]);
    std::array::from_fn(|k| (f32::from(a[k]) * (1.0 - f) + f32::from(b[k]) * f).round() as u8)
}

/// An RGBA picture, row-major from the top.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbaImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl RgbaImage {
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 4] {
        let i = (y * self.width + x) * 4;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }
}

/// The grid coloured from `floor_db` (black) to `ceil_db` (light), the highest frequency on
/// the top row and time running left to right.
pub fn colorize(g: &Grid, floor_db: f32, ceil_db: f32) -> RgbaImage {
    let span = (ceil_db - floor_db).max(1e-3);
    let mut pixels = Vec::with_capacity(g.rows * g.cols * 4);
    for y in 0..g.rows {
        let row = g.rows - 1 - y;
        for c in 0..g.cols {
            let [r, gg, b] = magma((g.at(row, c) - floor_db) / span);
            pixels.extend_from_slice(&[r, gg, b, 255]);
        }
    }
    RgbaImage {
        width: g.cols,
        height: g.rows,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(sr: u32, secs: f64, hz: f64, amp: f32, from_secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(sr)) as usize;
        let start = (from_secs * f64::from(sr)) as usize;
        (0..n)
            .map(|i| {
                if i < start {
                    0.0
                } else {
                    amp * (2.0 * PI * hz * i as f64 / f64::from(sr)).sin() as f32
                }
            })
            .collect()
    }

    fn loudest_row(g: &Grid, col: usize) -> usize {
        (0..g.rows)
            .max_by(|&a, &b| g.at(a, col).total_cmp(&g.at(b, col)))
            .unwrap_or(0)
    }

    #[test]
    fn a_tone_peaks_at_its_bin_at_its_level() {
        let sr = 16_000;
        let s = stft(&sine(sr, 1.0, 1000.0, 0.5, 0.0), sr, StftParams::default()).expect("stft");
        assert_eq!(s.grid.rows, 513);
        assert_eq!(s.grid.cols, 16_000 / 256 + 1);
        let want = (1000.0 / s.bin_hz()).round() as usize; // 1000 Hz / 15.625 Hz = bin 64
        for col in [5, 20, 40, 55] {
            let got = loudest_row(&s.grid, col);
            assert!(
                got.abs_diff(want) <= 1,
                "column {col}: bin {got}, want {want}"
            );
            // Half scale is −6 dB; the Hann window spreads an off-centre tone a little.
            let level = s.grid.at(got, col);
            assert!((-8.0..=-5.0).contains(&level), "level {level} dB");
        }
        assert!((s.times_secs[20] - 20.0 * 256.0 / 16_000.0).abs() < 1e-12);
    }

    #[test]
    fn a_tone_that_starts_late_is_quiet_before_it_starts() {
        let sr = 8_000;
        let t0 = 0.5;
        let s = stft(&sine(sr, 1.0, 600.0, 0.5, t0), sr, StftParams::default()).expect("stft");
        let bin = s.grid.row_of(600.0);
        let half_window = 512.0 / f64::from(sr);
        for (k, &t) in s.times_secs.iter().enumerate() {
            let v = s.grid.at(bin, k);
            if t + half_window < t0 {
                assert!(v < -100.0, "{t:.3} s: {v} dB before the tone");
            } else if t - half_window > t0 && t + half_window < 1.0 {
                assert!(v > -10.0, "{t:.3} s: {v} dB during the tone");
            }
        }
    }

    #[test]
    fn the_log_axis_spans_20_hz_to_nyquist_and_keeps_the_tone_at_its_frequency() {
        let freqs = log_frequencies(4, 20.0, 20_000.0);
        for (got, want) in freqs.iter().zip([20.0, 200.0, 2000.0, 20_000.0]) {
            assert!((got - want).abs() / want < 1e-4, "{got} vs {want}");
        }
        let sr = 16_000;
        let s = stft(&sine(sr, 0.5, 3000.0, 0.5, 0.0), sr, StftParams::default()).expect("stft");
        let log = s.to_log(200, 20.0);
        assert_eq!((log.rows, log.cols), (200, s.grid.cols));
        assert!((log.freqs_hz[0] - 20.0).abs() < 1e-3);
        assert!((log.freqs_hz[199] - 8000.0).abs() < 0.1);
        let peak = loudest_row(&log, 10);
        // The peak is on the row nearest the tone (rows are ~90 Hz apart there).
        assert!(
            peak.abs_diff(log.row_of(3000.0)) <= 1,
            "peak at {} Hz",
            log.freqs_hz[peak]
        );
        let ratio = log.freqs_hz[101] / log.freqs_hz[100];
        assert!((log.freqs_hz[51] / log.freqs_hz[50] - ratio).abs() < 1e-4);
        assert!(log.at(log.row_of(200.0), 10) < -60.0, "nothing at 200 Hz");
    }

    #[test]
    fn colours_run_dark_to_light_with_high_frequencies_on_top() {
        assert_eq!(magma(0.0), [0, 0, 4]);
        assert_eq!(magma(1.0), [252, 253, 191]);
        assert_eq!(magma(-3.0), magma(0.0));
        let g = Grid {
            rows: 2,
            cols: 1,
            freqs_hz: vec![0.0, 100.0],
            db: vec![-120.0, 0.0],
        };
        let img = colorize(&g, -120.0, 0.0);
        assert_eq!((img.width, img.height), (1, 2));
        assert_eq!(
            img.pixel(0, 0),
            [252, 253, 191, 255],
            "the loud high row on top"
        );
        assert_eq!(img.pixel(0, 1), [0, 0, 4, 255]);
    }

    #[test]
    fn bad_parameters_are_refused_and_long_signals_stay_bounded() {
        assert!(stft(&[0.0; 10], 8000, StftParams { window: 1, hop: 1 }).is_err());
        assert!(stft(&[0.0; 10], 0, StftParams::default()).is_err());
        let p = StftParams::for_length(1024, 48_000 * 600, 2000);
        assert!(48_000 * 600 / p.hop < 2000);
        assert_eq!(StftParams::for_length(1024, 100, 2000).hop, 256);
    }
}
