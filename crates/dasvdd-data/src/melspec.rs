//! Log-mel spectrogram features of the DCASE 2020 Task 2 baseline, computed as librosa 0.11
//! computes them, and the baseline's stacking of consecutive frames into one vector.
//!
//! Pipeline (defaults in [`MelConfig::default`]):
//! 1. short-time Fourier transform with a periodic Hann window of `n_fft` samples
//!    (`scipy.signal.get_window('hann', n_fft)`), hop `hop_length`, frames centred on
//!    `t * hop_length` by padding `n_fft / 2` samples on each side. librosa >= 0.10 pads with
//!    zeros (`pad_mode='constant'`, the default of `librosa.feature.melspectrogram` in the
//!    librosa 0.11.0 this module was checked against); librosa <= 0.9, which the original
//!    DCASE 2020 baseline ran on, reflected the signal. Both are offered by [`PadMode`];
//! 2. power spectrogram `|X|^power`;
//! 3. mel filter bank of `librosa.filters.mel` with its defaults: Slaney's mel scale (linear
//!    below 1 kHz, logarithmic above), `fmin = 0`, `fmax = sr / 2`, Slaney area
//!    normalisation (`norm='slaney'`);
//! 4. the baseline's `20 / power * log10(mel + eps)` with `eps = sys.float_info.epsilon`;
//! 5. [`stack_frames`]: `frames` consecutive log-mel frames concatenated into one vector of
//!    `frames * n_mels` values (640 with the defaults), one vector per start frame.
//!
//! Arithmetic is in `f64` throughout; the output is `f32`.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use crate::error::{DataError, Result};
use crate::matrix::Matrix;

/// How the signal is padded at both ends so that frames are centred on their hop positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadMode {
    /// Zeros, as librosa >= 0.10 does by default.
    Constant,
    /// Mirror without repeating the edge sample (`numpy.pad(mode='reflect')`), as librosa
    /// <= 0.9 did by default.
    Reflect,
}

/// Parameters of the log-mel features.
#[derive(Debug, Clone, PartialEq)]
pub struct MelConfig {
    /// Sample rate in Hz the audio must have; 16000 for MIMII and DCASE 2020 Task 2.
    pub sample_rate: u32,
    /// FFT and window length in samples; 1024.
    pub n_fft: usize,
    /// Samples between frame starts; 512.
    pub hop_length: usize,
    /// Number of mel bands; 128.
    pub n_mels: usize,
    /// Exponent of the magnitude spectrogram; 2.0 (power).
    pub power: f64,
    /// Lowest filter-bank frequency in Hz; 0.
    pub fmin: f64,
    /// Highest filter-bank frequency in Hz; `None` = `sample_rate / 2`.
    pub fmax: Option<f64>,
    /// Padding of the centred frames; [`PadMode::Constant`], librosa 0.11's default.
    pub pad_mode: PadMode,
    /// Consecutive frames stacked into one feature vector; 5.
    pub frames: usize,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            sample_rate: 16_000,
            n_fft: 1024,
            hop_length: 512,
            n_mels: 128,
            power: 2.0,
            fmin: 0.0,
            fmax: None,
            pad_mode: PadMode::Constant,
            frames: 5,
        }
    }
}

impl MelConfig {
    /// Length of one stacked feature vector, `frames * n_mels`.
    pub fn vector_len(&self) -> usize {
        self.frames * self.n_mels
    }

    fn validate(&self) -> Result<()> {
        let bad = |problem: String| Err(DataError::invalid("mel spectrogram config", problem));
        if self.n_fft < 2 || self.hop_length == 0 || self.n_mels == 0 || self.frames == 0 {
            return bad(format!(
                "n_fft ({}) must be at least 2 and hop_length ({}), n_mels ({}), frames ({}) positive",
                self.n_fft, self.hop_length, self.n_mels, self.frames
            ));
        }
        let nyquist = f64::from(self.sample_rate) / 2.0;
        let fmax = self.fmax.unwrap_or(nyquist);
        if !(self.fmin >= 0.0 && fmax > self.fmin && fmax <= nyquist) {
            return bad(format!(
                "need 0 <= fmin ({}) < fmax ({fmax}) <= sample_rate / 2 ({nyquist})",
                self.fmin
            ));
        }
        if !(self.power.is_finite() && self.power > 0.0) {
            return bad(format!("power ({}) must be positive", self.power));
        }
        Ok(())
    }
}

/// Slaney's mel scale (librosa's `htk=False`): linear below 1 kHz at 200/3 Hz per mel,
/// logarithmic above it at ln(6.4) / 27 per mel.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Slaney's Hz -> mel (librosa `hz_to_mel(htk=False)`).
fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// Slaney's mel -> Hz (librosa `mel_to_hz(htk=False)`).
fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// The mel filter bank of `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)` with Slaney's
/// scale and normalisation: `n_mels` rows of `1 + n_fft / 2` weights, row-major.
pub fn mel_filter_bank(config: &MelConfig) -> Result<Matrix> {
    config.validate()?;
    let n_bins = 1 + config.n_fft / 2;
    let sr = f64::from(config.sample_rate);
    let fmax = config.fmax.unwrap_or(sr / 2.0);
    // np.fft.rfftfreq(n_fft, 1 / sr)
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|k| k as f64 * sr / config.n_fft as f64)
        .collect();
    let (mel_lo, mel_hi) = (hz_to_mel(config.fmin), hz_to_mel(fmax));
    let n_pts = config.n_mels + 2;
    let mel_f: Vec<f64> = (0..n_pts)
        .map(|i| mel_to_hz(mel_lo + (mel_hi - mel_lo) * i as f64 / (n_pts - 1) as f64))
        .collect();
    let mut weights = vec![0f32; config.n_mels * n_bins];
    for m in 0..config.n_mels {
        let (lo, centre, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (centre - lo);
            let upper = (hi - f) / (hi - centre);
            let w = lower.min(upper).max(0.0);
            weights[m * n_bins + k] = (w * enorm) as f32;
        }
    }
    Ok(Matrix {
        data: weights,
        rows: config.n_mels,
        cols: n_bins,
    })
}

/// Log-mel spectrogram of one signal: `frames` rows of `n_mels` values (time-major, i.e. the
/// transpose of librosa's `(n_mels, frames)` array).
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    /// `frames x n_mels`, row-major.
    pub values: Matrix,
}

/// Computes log-mel spectrograms for one configuration, reusing the FFT plan and filter bank.
pub struct LogMelExtractor {
    config: MelConfig,
    fft: Arc<dyn Fft<f64>>,
    window: Vec<f64>,
    /// Per mel band: first FFT bin with a non-zero weight and the weights from there on.
    bands: Vec<(usize, Vec<f64>)>,
}

impl std::fmt::Debug for LogMelExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMelExtractor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LogMelExtractor {
    /// Plans the FFT and builds the filter bank; fails on an invalid configuration.
    pub fn new(config: MelConfig) -> Result<Self> {
        let bank = mel_filter_bank(&config)?;
        let bands = bank
            .row_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0).unwrap_or(row.len());
                let last = row.iter().rposition(|&w| w != 0.0).map_or(first, |l| l + 1);
                (
                    first,
                    row[first..last].iter().map(|&w| f64::from(w)).collect(),
                )
            })
            .collect();
        let n = config.n_fft;
        // Periodic Hann window, as scipy.signal.get_window('hann', n) (fftbins=True).
        let window = (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
            .collect();
        let fft = FftPlanner::new().plan_fft_forward(n);
        Ok(LogMelExtractor {
            config,
            fft,
            window,
            bands,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// Number of centred frames for `n_samples` samples: `1 + n_samples / hop_length`.
    pub fn n_frames(&self, n_samples: usize) -> usize {
        1 + n_samples / self.config.hop_length
    }

    /// Log-mel spectrogram of `signal` (samples scaled to [-1, 1)). `context` names the source
    /// in errors. Reflect padding needs more than `n_fft / 2` samples.
    pub fn log_mel(&self, signal: &[f32], context: &str) -> Result<LogMel> {
        let c = &self.config;
        let pad = c.n_fft / 2;
        if signal.is_empty() {
            return Err(DataError::invalid(context, "empty signal"));
        }
        if c.pad_mode == PadMode::Reflect && signal.len() <= pad {
            return Err(DataError::invalid(
                context,
                format!(
                    "signal of {} samples is too short for reflect padding of {pad}",
                    signal.len()
                ),
            ));
        }
        let n = signal.len() as isize;
        let sample = |i: isize| -> f64 {
            let j = match c.pad_mode {
                PadMode::Constant if i < 0 || i >= n => return 0.0,
                PadMode::Constant => i,
                PadMode::Reflect if i < 0 => -i,
                PadMode::Reflect if i >= n => 2 * (n - 1) - i,
                PadMode::Reflect => i,
            };
            f64::from(signal[j as usize])
        };
        let n_frames = self.n_frames(signal.len());
        let n_bins = 1 + c.n_fft / 2;
        let mut buf = vec![Complex::new(0.0, 0.0); c.n_fft];
        let mut scratch = vec![Complex::new(0.0, 0.0); self.fft.get_inplace_scratch_len()];
        let mut spectrum = vec![0f64; n_bins];
        let mut out = Vec::with_capacity(n_frames * c.n_mels);
        let eps = f64::EPSILON;
        for t in 0..n_frames {
            let start = (t * c.hop_length) as isize - pad as isize;
            for (i, b) in buf.iter_mut().enumerate() {
                *b = Complex::new(sample(start + i as isize) * self.window[i], 0.0);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            for (s, z) in spectrum.iter_mut().zip(&buf) {
                let mag2 = z.norm_sqr();
                *s = if c.power == 2.0 {
                    mag2
                } else {
                    mag2.sqrt().powf(c.power)
                };
            }
            for (first, w) in &self.bands {
                let mel: f64 = w.iter().zip(&spectrum[*first..]).map(|(a, b)| a * b).sum();
                out.push((20.0 / c.power * (mel + eps).log10()) as f32);
            }
        }
        let values = Matrix {
            data: out,
            rows: n_frames,
            cols: c.n_mels,
        };
        Ok(LogMel { values })
    }
}

/// Stacks `frames` consecutive rows of a log-mel spectrogram into vectors, as the DCASE 2020
/// baseline does: vector `i` is frames `i, i + 1, ..., i + frames - 1` concatenated, so there
/// are `n_frames - frames + 1` vectors (none when the spectrogram is shorter than `frames`).
pub fn stack_frames(log_mel: &LogMel, frames: usize) -> Matrix {
    let m = &log_mel.values;
    let n_vectors = (m.rows + 1).saturating_sub(frames);
    let mut data = Vec::with_capacity(n_vectors * frames * m.cols);
    for i in 0..n_vectors {
        data.extend_from_slice(&m.data[i * m.cols..(i + frames) * m.cols]);
    }
    Matrix {
        data,
        rows: n_vectors,
        cols: frames * m.cols,
    }
}
