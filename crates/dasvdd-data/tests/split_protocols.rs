//! One-class splits: the image protocol, the paper's PIMA and Speech splits, the seeded
//! half-of-the-normals protocol (with and without groups), and their errors.

mod common;

use dasvdd_data::split::{half_normals_split, image_one_class_split, paper_tabular_split};
use dasvdd_data::{DataError, ImageSet, LabeledData, Matrix};

/// `n` rows whose single feature is the row index, labels from `label`.
fn indexed(n: usize, label: impl Fn(usize) -> u8) -> LabeledData {
    LabeledData {
        x: Matrix::new((0..n).map(|i| i as f32).collect(), n, 1).unwrap(),
        y: (0..n).map(label).collect(),
        groups: None,
    }
}

#[test]
fn image_split_trains_on_the_normal_class_and_tests_on_everything() {
    let (px, lb) = common::mnist_like(50, 2, 2);
    let train = ImageSet::new(px.clone(), lb.clone(), 2, 2, 1).unwrap();
    let test = ImageSet::new(px[..30 * 4].to_vec(), lb[..30].to_vec(), 2, 2, 1).unwrap();
    let s = image_one_class_split("toy", &train, &test, 3).unwrap();
    assert_eq!(
        (
            s.counts.train,
            s.counts.test_normal,
            s.counts.test_anomalous
        ),
        (5, 3, 27)
    );
    assert_eq!(s.train.rows, 5);
    // Training images are exactly the class-3 images of the training split, scaled by 1/255.
    assert_eq!(s.train.row(1)[0], f32::from(train.image(13)[0]) / 255.0);
    assert_eq!(s.test.y[3], 0);
    assert_eq!(s.test.y[4], 1);
    assert_eq!(s.test.x.rows, 30);
}

#[test]
fn empty_normal_class_is_an_error() {
    let (px, lb) = common::mnist_like(9, 2, 2); // labels 0..8, no 9
    let set = ImageSet::new(px, lb, 2, 2, 1).unwrap();
    let err = image_one_class_split("toy", &set, &set, 9).unwrap_err();
    assert!(
        matches!(&err, DataError::Invalid { context, problem }
        if context == "toy" && problem.contains("empty")),
        "{err}"
    );
    let all_anomalous = indexed(10, |_| 1);
    let err = half_normals_split("tab", &all_anomalous, 0).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }));
}

#[test]
fn pima_paper_split_matches_the_reference_counts() {
    // 768 rows, 268 anomalies scattered through the file like the real PIMA data.
    let data = indexed(768, |i| u8::from((i * 268) % 768 < 268));
    assert_eq!(data.y.iter().filter(|&&l| l == 1).count(), 268);
    let s = paper_tabular_split("pima", &data).unwrap();
    assert_eq!(
        (
            s.counts.train,
            s.counts.test_normal,
            s.counts.test_anomalous
        ),
        (461, 39, 268)
    );
    // The test set is the anomalies in file order, then the first 39 normals in file order.
    let first_normals: Vec<f32> = (0..768)
        .filter(|&i| data.y[i] == 0)
        .take(39)
        .map(|i| i as f32)
        .collect();
    assert_eq!(&s.test.x.data[268..], &first_normals[..]);
    assert!(s.train.data.iter().all(|&v| data.y[v as usize] == 0));
}

#[test]
fn speech_paper_split_takes_the_first_tenth_as_test() {
    let data = indexed(3686, |i| u8::from(i % 60 == 5));
    let n_anom = data.y.iter().filter(|&&l| l == 1).count();
    let s = paper_tabular_split("speech", &data).unwrap();
    assert_eq!(s.test.x.rows, 368);
    assert_eq!(
        s.test.x.data,
        (0..368).map(|i| i as f32).collect::<Vec<_>>()
    );
    let test_anom = (0..368).filter(|&i| data.y[i] == 1).count();
    assert_eq!(s.counts.test_anomalous, test_anom);
    assert_eq!(s.counts.train, 3686 - 368 - (n_anom - test_anom));
    assert!(paper_tabular_split("cardio", &data).is_err());
}

#[test]
fn half_normals_split_is_seeded_and_disjoint() {
    let data = indexed(101, |i| u8::from(i % 10 == 0)); // 11 anomalies, 90 normals
    let a = half_normals_split("t", &data, 7).unwrap();
    let b = half_normals_split("t", &data, 7).unwrap();
    let c = half_normals_split("t", &data, 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.train, c.train);
    assert_eq!(
        (
            a.counts.train,
            a.counts.test_normal,
            a.counts.test_anomalous
        ),
        (45, 45, 11)
    );
    let mut all: Vec<f32> = a.train.data.iter().chain(&a.test.x.data).copied().collect();
    all.sort_by(f32::total_cmp);
    assert_eq!(
        all,
        (0..101).map(|i| i as f32).collect::<Vec<_>>(),
        "every row exactly once"
    );
    assert!(a.train.data.iter().all(|&v| data.y[v as usize] == 0));
    // Both parts keep file order.
    assert!(a.train.data.windows(2).all(|w| w[0] < w[1]));
    assert!(a.test.x.data.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn half_normals_split_keeps_groups_whole() {
    // 20 groups of 3 rows; groups 0, 5, 10, 15 are anomalous (only their middle row is labelled 1).
    let mut data = indexed(60, |i| u8::from((i / 3) % 5 == 0 && i % 3 == 1));
    data.groups = Some((0..60).map(|i| (i / 3) as u32).collect());
    let s = half_normals_split("g", &data, 3).unwrap();
    assert_eq!(s.counts.train, 8 * 3);
    let test_groups = s.test.groups.as_ref().unwrap();
    assert_eq!(test_groups.len(), s.test.x.rows);
    for g in 0..20u32 {
        let n_test = test_groups.iter().filter(|&&t| t == g).count();
        assert!(n_test == 0 || n_test == 3, "group {g} was cut");
        if g % 5 == 0 {
            assert_eq!(n_test, 3, "anomalous group {g} must be in the test set");
        }
    }
}

#[test]
fn reference_code_split_keeps_speech_training_anomalies() {
    use dasvdd_data::split::reference_code_tabular_split;
    let data = indexed(3686, |i| u8::from(i % 60 == 5));
    let code = reference_code_tabular_split("speech", &data).unwrap();
    let paper = paper_tabular_split("speech", &data).unwrap();
    assert_eq!(code.test, paper.test);
    assert_eq!(
        code.train.data,
        (368..3686).map(|i| i as f32).collect::<Vec<_>>()
    );
    assert!(code.counts.train > paper.counts.train);
    let pima = indexed(768, |i| u8::from((i * 268) % 768 < 268));
    assert_eq!(
        reference_code_tabular_split("pima", &pima).unwrap(),
        paper_tabular_split("pima", &pima).unwrap()
    );
    assert_eq!(
        "reference-code"
            .parse::<dasvdd_data::SplitProtocol>()
            .unwrap(),
        dasvdd_data::SplitProtocol::ReferenceCode
    );
    assert!("best".parse::<dasvdd_data::SplitProtocol>().is_err());
}

#[test]
fn cifar10_offers_both_contrast_normalisations() {
    use dasvdd_data::{DatasetName, GcnNorm, Preprocessing};
    // The 2021 DASVDD code's l2 GCN, and Deep SVDD's l1 GCN + min-max that the paper cites.
    assert_eq!(
        DatasetName::Cifar10.reference_code_preprocessing(),
        Preprocessing::Gcn(GcnNorm::L2)
    );
    assert_eq!(
        DatasetName::Cifar10.paper_preprocessing(),
        Preprocessing::GcnGlobalMinMax(GcnNorm::L1)
    );
    assert_eq!(
        DatasetName::Cifar10.default_preprocessing(),
        DatasetName::Cifar10.paper_preprocessing()
    );
    for d in [DatasetName::Fmnist, DatasetName::Speech, DatasetName::Awid3] {
        assert_eq!(
            d.paper_preprocessing(),
            d.reference_code_preprocessing(),
            "{d}"
        );
    }
}
