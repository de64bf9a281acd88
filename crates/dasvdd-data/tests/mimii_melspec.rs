//! The log-mel features against librosa 0.11.0: the Slaney mel filter bank (all row sums and
//! two checksums) and the DCASE baseline's `10 * log10(mel + eps)` on an integer test signal,
//! with zero (librosa >= 0.10 default) and reflect padding, then the 5-frame stacking.
//!
//! Expected values from librosa 0.11.0 (numpy float64 input):
//! ```python
//! import sys, numpy as np, librosa
//! print("librosa", librosa.__version__)
//! n = np.arange(8000, dtype=np.int64)
//! s = ((n * 37) % 200 - 100) * 150 + ((n * n * 7919 + 13) % 2001 - 1000) * 5
//! y = s.astype(np.float64) / 32768.0
//! fb = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128)
//! print("fb shape", fb.shape, "total", repr(float(fb.astype(np.float64).sum())))
//! idx = np.arange(fb.size, dtype=np.float64).reshape(fb.shape) + 1.0
//! print("fb weighted", repr(float((fb.astype(np.float64) * idx).sum())))
//! print("ROWSUMS", ", ".join(repr(float(v)) for v in fb.astype(np.float64).sum(axis=1)))
//! for mode in ["constant", "reflect"]:
//!     S = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=1024, hop_length=512, n_mels=128, power=2.0, pad_mode=mode)
//!     L = 20.0 / 2.0 * np.log10(S + sys.float_info.epsilon)
//!     print(mode, L.shape)
//!     pts = [(t, m) for t in [0, 1, 7, 14, 15] for m in [0, 1, 2, 10, 31, 64, 100, 127]]
//!     if mode == "reflect": pts = pts[::4]
//!     print("PTS", ", ".join("(%d, %d, %r)" % (t, m, float(L[m, t])) for t, m in pts))
//!     print("FRAMESUMS", ", ".join(repr(float(v)) for v in L.sum(axis=0)))
//! ```

use dasvdd_data::melspec::{
    mel_filter_bank, stack_frames, LogMel, LogMelExtractor, MelConfig, PadMode,
};
use dasvdd_data::Matrix;

const FB_TOTAL: f64 = 8.18838044066149;
const FB_WEIGHTED: f64 = 268125.33233627514;
const FB_ROW_SUMS: [f64; 128] = [
    0.05695532262325287,
    0.07094385754317045,
    0.05715555937786121,
    0.07074361946433783,
    0.0573557979951147,
    0.0705433851107955,
    0.057556032843422145,
    0.07034314703196287,
    0.05775626777904108,
    0.07014290802180767,
    0.057956504402682185,
    0.06994267459958792,
    0.05815674306359142,
    0.06974243652075529,
    0.058356981608085334,
    0.06954220216721296,
    0.05855721666011959,
    0.06934196501970291,
    0.05875745334196836,
    0.06914172414690256,
    0.0589576899074018,
    0.06894149258732796,
    0.05915792682208121,
    0.06874125357717276,
    0.05935816536657512,
    0.0685410164296627,
    0.05955839832313359,
    0.0683407774195075,
    0.0597586368676275,
    0.06814054399728775,
    0.05995887401513755,
    0.06794030871242285,
    0.06015910883434117,
    0.0677400715649128,
    0.06035935110412538,
    0.0675398325547576,
    0.060559584060683846,
    0.06733959447592497,
    0.06075981887988746,
    0.06713935919106007,
    0.06096005532890558,
    0.06696476135402918,
    0.06033289013430476,
    0.06846083048731089,
    0.060615076567046344,
    0.0645629484206438,
    0.06594686303287745,
    0.06258505256846547,
    0.06325714034028351,
    0.0637667360715568,
    0.0648222416639328,
    0.06449281796813011,
    0.06365415133768693,
    0.06367167737334967,
    0.06443498929729685,
    0.06465245451545343,
    0.06376668158918619,
    0.06337583810091019,
    0.06291226064786315,
    0.0663345130160451,
    0.06261547154281288,
    0.06429233169183135,
    0.06383333867415786,
    0.06448716507293284,
    0.06285125983413309,
    0.06515858648344874,
    0.0639610649086535,
    0.06371372810099274,
    0.06393371778540313,
    0.06402836134657264,
    0.06400810601189733,
    0.06388271157629788,
    0.06366128847002983,
    0.06473578116856515,
    0.06384745106333867,
    0.06350730720441788,
    0.06463566340971738,
    0.0637249966384843,
    0.06363674579188228,
    0.06436612503603101,
    0.06409102352336049,
    0.06385612426674925,
    0.06383641762658954,
    0.06445494532817975,
    0.06389164477150189,
    0.06350595992989838,
    0.0646725952392444,
    0.06348991440609097,
    0.06411527434829623,
    0.06417917972430587,
    0.06388863579195458,
    0.06389491527806967,
    0.06415864414884709,
    0.0640768335579196,
    0.06363796511868713,
    0.06441931845620275,
    0.06383819214534014,
    0.06396042730193585,
    0.06402517115930095,
    0.06397755036596209,
    0.06382716033840552,
    0.06436914775986224,
    0.06374586123899917,
    0.06398045987225487,
    0.06408838826610008,
    0.06408018030924723,
    0.06396568031050265,
    0.06386254356766585,
    0.06412614433793351,
    0.06399013771442696,
    0.06394954914867412,
    0.06399522100400645,
    0.06409452306979802,
    0.06392303793109022,
    0.06399570852227043,
    0.06403817390673794,
    0.06397013715468347,
    0.06400849251076579,
    0.06396343913365854,
    0.06404860423936043,
    0.06401963430107571,
    0.06390433892556757,
    0.06409026420442387,
    0.0639570367638953,
    0.06404640603432199,
    0.06394530711622792,
    0.064038229000289,
    0.06395111585152335,
];

const CONSTANT_POINTS: [(usize, usize, f64); 40] = [
    (0, 0, -11.19300681460129),
    (0, 1, -10.552684977647147),
    (0, 2, -8.86460629404245),
    (0, 10, -13.48732105707435),
    (0, 31, -5.881774140749685),
    (0, 64, -1.7606037656439246),
    (0, 100, -3.906425814765417),
    (0, 127, -6.698313003444837),
    (1, 0, -11.751186409942624),
    (1, 1, -7.225137754289026),
    (1, 2, -7.431231622241954),
    (1, 10, -3.8639128124464515),
    (1, 31, -10.684500157267866),
    (1, 64, -6.404988684740545),
    (1, 100, -0.4114664751795622),
    (1, 127, -3.3368616647273965),
    (7, 0, -10.461165451084495),
    (7, 1, -8.497776504098315),
    (7, 2, -4.2018393889900425),
    (7, 10, -5.766147341338407),
    (7, 31, -7.204423398509656),
    (7, 64, -5.989154025631606),
    (7, 100, -0.4011968287549085),
    (7, 127, -1.7063367158034315),
    (14, 0, -7.925389076312789),
    (14, 1, -5.4913315953036275),
    (14, 2, -9.128668394357165),
    (14, 10, -5.541644496813144),
    (14, 31, -11.323563851049911),
    (14, 64, -5.7716029718522455),
    (14, 100, -0.9931460500042284),
    (14, 127, -3.6768720002923305),
    (15, 0, -8.846729418869101),
    (15, 1, -12.602773058490724),
    (15, 2, -5.634868527451974),
    (15, 10, -8.649874914022938),
    (15, 31, -5.93971073172335),
    (15, 64, -4.7450170007175085),
    (15, 100, -0.9793961997778495),
    (15, 127, -1.7783194225926793),
];
const CONSTANT_FRAME_SUMS: [f64; 16] = [
    -954.2379378471828,
    -652.7271803813267,
    -647.3866921810783,
    -649.5257643964991,
    -731.9747593417,
    -649.1795038231381,
    -645.7183945136973,
    -658.7513732618357,
    -715.6742420316266,
    -631.1134220601917,
    -641.7806169555166,
    -671.0824087620049,
    -680.2229500898375,
    -606.1610630769932,
    -644.9325616725254,
    -697.4796896800581,
];
const REFLECT_POINTS: [(usize, usize, f64); 10] = [
    (0, 0, -10.568784909615694),
    (0, 31, -1.562920141022766),
    (1, 0, -11.751186409942624),
    (1, 31, -10.684500157267866),
    (7, 0, -10.461165451084495),
    (7, 31, -7.204423398509656),
    (14, 0, -7.925389076312789),
    (14, 31, -11.323563851049911),
    (15, 0, -9.209735197600079),
    (15, 31, -6.435287551154572),
];
const REFLECT_FRAME_SUMS: [f64; 16] = [
    -647.7077827818617,
    -652.7271803813267,
    -647.3866921810783,
    -649.5257643964991,
    -731.9747593417,
    -649.1795038231381,
    -645.7183945136973,
    -658.7513732618357,
    -715.6742420316266,
    -631.1134220601917,
    -641.7806169555166,
    -671.0824087620049,
    -680.2229500898375,
    -606.1610630769932,
    -644.9325616725254,
    -681.331449403244,
];

/// The integer test signal of the Python script, scaled as `librosa.load` scales 16-bit PCM.
fn signal() -> Vec<f32> {
    (0..8000i64)
        .map(|n| {
            let s = ((n * 37) % 200 - 100) * 150 + ((n * n * 7919 + 13) % 2001 - 1000) * 5;
            s as f32 / 32768.0
        })
        .collect()
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-3)
}

#[test]
fn filter_bank_matches_librosa() {
    let fb = mel_filter_bank(&MelConfig::default()).unwrap();
    assert_eq!((fb.rows, fb.cols), (128, 513));
    let total: f64 = fb.data.iter().map(|&w| f64::from(w)).sum();
    let weighted: f64 = fb
        .data
        .iter()
        .enumerate()
        .map(|(i, &w)| f64::from(w) * (i + 1) as f64)
        .sum();
    assert!(close(total, FB_TOTAL, 1e-5), "{total} vs {FB_TOTAL}");
    assert!(
        close(weighted, FB_WEIGHTED, 1e-5),
        "{weighted} vs {FB_WEIGHTED}"
    );
    for (m, (row, &want)) in fb.row_iter().zip(FB_ROW_SUMS.iter()).enumerate() {
        let got: f64 = row.iter().map(|&w| f64::from(w)).sum();
        assert!(close(got, want, 1e-5), "band {m}: {got} vs {want}");
    }
}

fn check(pad_mode: PadMode, points: &[(usize, usize, f64)], frame_sums: &[f64; 16]) {
    let cfg = MelConfig {
        pad_mode,
        ..MelConfig::default()
    };
    let ex = LogMelExtractor::new(cfg).unwrap();
    let lm = ex.log_mel(&signal(), "test signal").unwrap();
    assert_eq!((lm.values.rows, lm.values.cols), (16, 128));
    for &(t, m, want) in points {
        let got = f64::from(lm.values.row(t)[m]);
        assert!(
            close(got, want, 1e-4),
            "{pad_mode:?} frame {t} band {m}: {got} vs {want}"
        );
    }
    for (t, &want) in frame_sums.iter().enumerate() {
        let got: f64 = lm.values.row(t).iter().map(|&v| f64::from(v)).sum();
        assert!(
            close(got, want, 1e-4),
            "{pad_mode:?} frame {t} sum: {got} vs {want}"
        );
    }
}

#[test]
fn log_mel_matches_librosa_constant_padding() {
    check(PadMode::Constant, &CONSTANT_POINTS, &CONSTANT_FRAME_SUMS);
}

#[test]
fn log_mel_matches_librosa_reflect_padding() {
    check(PadMode::Reflect, &REFLECT_POINTS, &REFLECT_FRAME_SUMS);
}

#[test]
fn stacking_follows_the_dcase_baseline() {
    // 7 frames of 2 bands, value = 10 * frame + band.
    let data: Vec<f32> = (0..7)
        .flat_map(|t| [10.0 * t as f32, 10.0 * t as f32 + 1.0])
        .collect();
    let lm = LogMel {
        values: Matrix::new(data, 7, 2).unwrap(),
    };
    let v = stack_frames(&lm, 5);
    assert_eq!((v.rows, v.cols), (3, 10));
    assert_eq!(
        v.row(0),
        &[0.0, 1.0, 10.0, 11.0, 20.0, 21.0, 30.0, 31.0, 40.0, 41.0]
    );
    assert_eq!(
        v.row(2),
        &[20.0, 21.0, 30.0, 31.0, 40.0, 41.0, 50.0, 51.0, 60.0, 61.0]
    );
    let short = LogMel {
        values: Matrix::new(vec![0.0; 8], 4, 2).unwrap(),
    };
    assert_eq!(stack_frames(&short, 5).rows, 0);
    // The default vector is 5 x 128 = 640 values.
    assert_eq!(MelConfig::default().vector_len(), 640);
}

#[test]
fn invalid_configs_and_signals_are_errors() {
    let bad = MelConfig {
        hop_length: 0,
        ..MelConfig::default()
    };
    assert!(LogMelExtractor::new(bad).is_err());
    let bad = MelConfig {
        fmax: Some(9000.0),
        ..MelConfig::default()
    };
    assert!(mel_filter_bank(&bad).is_err());
    let ex = LogMelExtractor::new(MelConfig::default()).unwrap();
    assert!(ex.log_mel(&[], "empty").is_err());
    let ex = LogMelExtractor::new(MelConfig {
        pad_mode: PadMode::Reflect,
        ..MelConfig::default()
    })
    .unwrap();
    assert!(ex.log_mel(&[0.1; 100], "short").is_err());
}
