//! Adam through candle's `Optimizer` interface: `backward_step` on a loss moves the parameters
//! exactly as `Adam::step` with the same gradients does, and minimises a simple quadratic.

use candle_core::{Device, Tensor, Var};
use candle_nn::Optimizer;
use dasvdd_core::{Adam, AdamConfig};

fn quadratic(w: &Var) -> Tensor {
    // sum((w - 3)^2)
    (w.as_tensor() - 3.0)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
}

#[test]
fn backward_step_matches_step_and_minimises() {
    let dev = Device::Cpu;
    let start = Tensor::new(&[[0.5f32, -1.0], [2.0, 7.0]], &dev).unwrap();
    let config = AdamConfig {
        lr: 0.1,
        weight_decay: 1e-3,
        ..AdamConfig::default()
    };
    let a = Var::from_tensor(&start).unwrap();
    let b = Var::from_tensor(&start).unwrap();
    let mut via_trait = <Adam as Optimizer>::new(vec![a.clone()], config).unwrap();
    let mut direct = Adam::new(vec![b.clone()], config).unwrap();
    let first = quadratic(&a).to_scalar::<f32>().unwrap();
    for _ in 0..200 {
        via_trait.backward_step(&quadratic(&a)).unwrap();
        let g = quadratic(&b).backward().unwrap();
        direct
            .step(&[g.get(b.as_tensor()).unwrap().clone()])
            .unwrap();
    }
    let va = a
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let vb = b
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(va, vb);
    let last = quadratic(&a).to_scalar::<f32>().unwrap();
    assert!(last < first / 100.0, "loss {first} -> {last}");
    assert_eq!(via_trait.learning_rate(), 0.1);
    via_trait.set_learning_rate(0.01);
    assert_eq!(via_trait.learning_rate(), 0.01);
}
