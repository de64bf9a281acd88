//! The centre optimiser: AdaGrad matches PyTorch's update on a worked example, and centre steps
//! with the network frozen converge to the batch mean of the codes (eq. 4 of the paper).

use candle_core::{Device, Tensor, Var};
use candle_nn::Optimizer;
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::{AdaGrad, Autoencoder, ParamsAdaGrad, Preset};

/// Expected values from PyTorch 2.15 (`python3 adagrad_ref.py`):
/// ```python
/// import torch
/// c = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
/// t = torch.tensor([0.3, 0.1, -0.4])
/// opt = torch.optim.Adagrad([c], lr=1.0, lr_decay=0.1)
/// for step in range(5):
///     opt.zero_grad()
///     loss = torch.mean((c - t) ** 2)
///     loss.backward()
///     opt.step()
///     print([f"{v:.9g}" for v in c.tolist()])
/// ```
const TORCH: [[f64; 3]; 5] = [
    [0.0, -1.0, -0.5],
    [0.358108491, -0.578175426, -0.399607718],
    [0.294709295, -0.34897691, -0.399968714],
    [0.300037563, -0.211177006, -0.399995297],
    [0.300002456, -0.12316826, -0.399999022],
];

#[test]
fn adagrad_matches_pytorch() {
    let dev = Device::Cpu;
    let c = Var::new(&[1.0f32, -2.0, 0.5], &dev).unwrap();
    let t = Tensor::new(&[0.3f32, 0.1, -0.4], &dev).unwrap();
    let mut opt = AdaGrad::new(
        vec![c.clone()],
        ParamsAdaGrad {
            lr: 1.0,
            lr_decay: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    for expected in TORCH {
        let loss = c
            .as_tensor()
            .sub(&t)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap();
        opt.backward_step(&loss).unwrap();
        let got = c.as_tensor().to_vec1::<f32>().unwrap();
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (*g as f64 - e).abs() <= 1e-6 * (1.0 + e.abs()),
                "got {got:?}, PyTorch {expected:?}"
            );
        }
    }
    assert_eq!(opt.steps(), 5);
}

#[test]
fn centre_steps_on_a_frozen_network_reach_the_mean_code() {
    let dev = Device::Cpu;
    let ae = Autoencoder::init(&Preset::Pima.autoencoder(), &mut seeded_rng(3, 0), &dev).unwrap();
    let mut rng = seeded_rng(4, 0);
    let x: Vec<f32> = (0..64 * 8)
        .map(|_| rand::Rng::random_range(&mut rng, -2.0f32..2.0))
        .collect();
    let xt = Tensor::from_vec(x, (64, 8), &dev).unwrap();
    let z = ae.encode(&xt).unwrap();
    let mean = z.mean(0).unwrap().to_vec1::<f32>().unwrap();
    let c = Var::new(&[3.0f32, -3.0, 1.0, 0.5], &dev).unwrap();
    // The paper's setting for MNIST (lr 1, decay 0.1).
    let mut opt = AdaGrad::new(
        vec![c.clone()],
        ParamsAdaGrad {
            lr: 1.0,
            lr_decay: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    let start: f32 = c
        .as_tensor()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .zip(&mean)
        .map(|(a, b)| (a - b).abs())
        .sum();
    for _ in 0..2000 {
        // As in training: the code mean is a constant, only c is optimised.
        let zm = ae.encode(&xt).unwrap().mean(0).unwrap().detach();
        let loss = c
            .as_tensor()
            .sub(&zm)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap();
        opt.backward_step(&loss).unwrap();
    }
    let got = c.as_tensor().to_vec1::<f32>().unwrap();
    let end: f32 = got.iter().zip(&mean).map(|(a, b)| (a - b).abs()).sum();
    assert!(
        end < 1e-3 && end < start / 100.0,
        "c = {got:?}, mean code = {mean:?}"
    );
}
