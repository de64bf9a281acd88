//! The convolutional kernels (`kernels::conv`) against candle's own operations, which the same
//! functions run with the fused kernels off: outputs and the gradients of a weighted sum of
//! the outputs, for the shapes of Ruff's LeNet networks and for odd ones; and the same values
//! on one thread as on many.

use candle_core::{Device, Tensor, Var};
use dasvdd_core::kernels::conv;
use dasvdd_core::kernels::set_fused_kernels;

/// Deterministic values in [-1, 1) (a 64-bit LCG), all distinct in practice.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tensor(shape: &[usize], seed: u64) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(values(n, seed), shape, &Device::Cpu).unwrap()
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// `f(inputs)` and the gradients of `sum(f * r)` with respect to every input, on the fused
/// kernels or on candle's operations.
fn run(
    fused: bool,
    inputs: &[Tensor],
    f: &dyn Fn(&[Tensor]) -> Tensor,
    seed: u64,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    set_fused_kernels(fused);
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts);
    let r = tensor(y.dims(), seed);
    let loss = (&y * &r).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let g = vars
        .iter()
        .map(|v| flat(grads.get(v).expect("a gradient for every input")))
        .collect();
    set_fused_kernels(true);
    (flat(&y), g)
}

fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: fused {x} against candle {y}"
        );
    }
}

/// Fused against candle: outputs and every input's gradient.
fn compare(what: &str, inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> Tensor, tol: f32) {
    let (y1, g1) = run(true, inputs, f, 99);
    let (y2, g2) = run(false, inputs, f, 99);
    assert_close(&format!("{what} output"), &y1, &y2, tol);
    for (i, (a, b)) in g1.iter().zip(&g2).enumerate() {
        assert_close(&format!("{what} gradient {i}"), a, b, tol);
    }
}

#[test]
fn convolutions_match_candle_with_gradients() {
    // LeNet's shapes (MNIST encoder, CIFAR-10 first block), a batch of the product path that
    // fills its weight gradient's groups unevenly, many channels in and few out (the direct
    // loops), and odd ones: one channel in or out, no
    // padding, a non-square image, a batch that is not a multiple of the chunk.
    for (i, &(b, ci, h, w, co, pad)) in [
        (6, 1, 28, 28, 8, 2),
        (5, 8, 14, 14, 4, 2),
        (3, 3, 32, 32, 32, 2),
        (21, 16, 8, 8, 12, 2),
        (3, 24, 10, 10, 5, 2),
        (9, 2, 7, 11, 3, 0),
        (2, 4, 6, 5, 1, 1),
    ]
    .iter()
    .enumerate()
    {
        let x = tensor(&[b, ci, h, w], 10 + i as u64);
        let k = tensor(&[co, ci, 5, 5], 20 + i as u64);
        compare(
            &format!("conv2d {b}x{ci}x{h}x{w} -> {co}, pad {pad}"),
            &[x, k],
            &|t| conv::conv2d(&t[0], &t[1], pad).unwrap(),
            1e-4,
        );
    }
}

#[test]
fn transposed_convolutions_match_candle_with_gradients() {
    // The MNIST decoder's three (padding 2, 3, 2), CIFAR-10's first and last (the last on the
    // direct loops for its 3 output channels), plus odd ones.
    for (i, &(b, ci, h, w, co, pad)) in [
        (6, 2, 8, 8, 4, 2),
        (2, 32, 32, 32, 3, 2),
        (5, 4, 16, 16, 8, 3),
        (4, 8, 28, 28, 1, 2),
        (3, 8, 8, 8, 16, 2),
        (7, 3, 5, 9, 2, 0),
        (2, 1, 6, 6, 3, 4),
    ]
    .iter()
    .enumerate()
    {
        let x = tensor(&[b, ci, h, w], 30 + i as u64);
        let k = tensor(&[ci, co, 5, 5], 40 + i as u64);
        compare(
            &format!("conv_transpose2d {b}x{ci}x{h}x{w} -> {co}, pad {pad}"),
            &[x, k],
            &|t| conv::conv_transpose2d(&t[0], &t[1], pad).unwrap(),
            1e-4,
        );
    }
}

#[test]
fn batch_norm_pooling_and_leaky_relu_match_candle_with_gradients() {
    let x = tensor(&[7, 3, 6, 4], 50);
    compare(
        "batch norm",
        std::slice::from_ref(&x),
        &|t| conv::batch_norm_train(&t[0], 1e-4).unwrap().0,
        1e-4,
    );
    // BatchNorm1d's case: (batch, features).
    compare(
        "batch norm 1d",
        &[tensor(&[9, 5], 51)],
        &|t| conv::batch_norm_train(&t[0], 1e-4).unwrap().0,
        1e-4,
    );
    // Distinct values: on a tie candle's maximum gives the gradient to every maximum, PyTorch
    // (and the kernel) to the first.
    compare(
        "max pool",
        &[tensor(&[3, 2, 8, 6], 52)],
        &|t| conv::max_pool2(&t[0]).unwrap(),
        0.0,
    );
    compare(
        "max pool, odd sides",
        &[tensor(&[2, 2, 7, 5], 53)],
        &|t| conv::max_pool2(&t[0]).unwrap(),
        0.0,
    );
    compare(
        "leaky relu",
        &[x],
        &|t| conv::leaky_relu(&t[0]).unwrap(),
        0.0,
    );
    // The statistics returned for the running averages: mean and biased variance.
    let x = Tensor::from_vec(vec![1f32, 10., 3., 30.], (2, 2, 1, 1), &Device::Cpu).unwrap();
    let (_, mean, var) = conv::batch_norm_train(&x, 1e-4).unwrap();
    assert_eq!(mean.to_vec1::<f32>().unwrap(), vec![2.0, 20.0]);
    assert_eq!(var.to_vec1::<f32>().unwrap(), vec![1.0, 100.0]);
}

#[test]
fn max_pool_passes_the_whole_gradient_to_the_maximum() {
    // candle's own max_pool2d backward passes a quarter of it (see `conv::max_pool2`); both
    // paths of `max_pool2` pass all of it, as PyTorch does.
    let x = Tensor::from_vec(vec![1f32, 4., 3., 2.], (1, 1, 2, 2), &Device::Cpu).unwrap();
    for fused in [true, false] {
        set_fused_kernels(fused);
        let v = Var::from_tensor(&x).unwrap();
        let y = conv::max_pool2(v.as_tensor()).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(
            flat(g.get(&v).unwrap()),
            vec![0.0, 1.0, 0.0, 0.0],
            "fused {fused}"
        );
        set_fused_kernels(true);
    }
}

#[test]
fn max_pool_gives_a_tie_to_the_first_maximum() {
    let x = Tensor::from_vec(vec![1f32, 3., 3., 2.], (1, 1, 2, 2), &Device::Cpu).unwrap();
    let v = Var::from_tensor(&x).unwrap();
    let y = conv::max_pool2(v.as_tensor()).unwrap();
    assert_eq!(flat(&y), vec![3.0]);
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(flat(g.get(&v).unwrap()), vec![0.0, 1.0, 0.0, 0.0]);
    // Zeros of both signs tie: the first stays, sign and all.
    let x = Tensor::from_vec(vec![-0f32, 0., -1., -2.], (1, 1, 2, 2), &Device::Cpu).unwrap();
    let y = flat(&conv::max_pool2(&x).unwrap());
    assert!(y[0] == 0.0 && y[0].is_sign_negative(), "{y:?}");
}

#[test]
fn max_pool_lets_a_nan_win_as_pytorch_does() {
    // A NaN anywhere in a window is its maximum, and the window's gradient goes to it.
    for at in 0..4 {
        let mut values = vec![1f32, 4., 3., 2., 5., 6., 7., 8.];
        values[at] = f32::NAN;
        let x = Tensor::from_vec(values, (1, 2, 2, 2), &Device::Cpu).unwrap();
        let v = Var::from_tensor(&x).unwrap();
        let y = flat(&conv::max_pool2(v.as_tensor()).unwrap());
        assert!(y[0].is_nan() && y[1] == 8.0, "NaN at {at}: {y:?}");
        let dy = Tensor::ones((1, 2, 1, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let dx = flat(&conv::max_pool2_backward(&x, &dy).unwrap());
        let mut want = vec![0f32; 8];
        want[at] = 1.0;
        want[7] = 1.0;
        assert_eq!(dx, want, "NaN at {at}");
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // Both paths: the direct loops (3 x 5 channels) and the products (3 x 48), each with a
    // batch that is not a multiple of the chunk nor of the weight gradient's groups.
    for (c_in, c_out) in [(3, 5), (3, 48)] {
        let x = tensor(&[37, c_in, 12, 12], 60);
        let k = tensor(&[c_out, c_in, 5, 5], 61);
        let f = |t: &[Tensor]| {
            let y = conv::conv2d(&t[0], &t[1], 2).unwrap();
            let y = conv::batch_norm_train(&y, 1e-4).unwrap().0;
            conv::max_pool2(&conv::leaky_relu(&y).unwrap()).unwrap()
        };
        let inputs = [x, k];
        let many = run(true, &inputs, &f, 7);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool.install(|| run(true, &inputs, &f, 7));
        assert_eq!(many, one, "{c_in} x {c_out} channels");
    }
}

#[test]
fn mismatched_shapes_are_errors() {
    let x = tensor(&[2, 3, 8, 8], 70);
    assert!(conv::conv2d(&x, &tensor(&[4, 2, 5, 5], 71), 2).is_err());
    assert!(conv::conv_transpose2d(&x, &tensor(&[2, 4, 5, 5], 72), 2).is_err());
    // Padding beyond kernel - 1 has no transposed-convolution equivalent here.
    assert!(conv::conv_transpose2d(&x, &tensor(&[3, 4, 5, 5], 73), 5).is_err());
    assert!(conv::conv2d(&tensor(&[2, 3, 3, 3], 74), &tensor(&[4, 3, 5, 5], 75), 0).is_err());
    assert!(conv::batch_norm_train(&tensor(&[4], 76), 1e-4).is_err());
}

#[test]
fn an_input_without_gradient_still_gives_the_weight_gradient() {
    // The images of the first layer are plain tensors: their gradient is skipped, the weight's
    // is the same as candle's.
    let x = tensor(&[5, 1, 12, 12], 80);
    let k = tensor(&[3, 1, 5, 5], 81);
    let grad = |fused: bool| {
        set_fused_kernels(fused);
        let w = Var::from_tensor(&k).unwrap();
        let y = conv::conv2d(&x, w.as_tensor(), 2).unwrap();
        let r = tensor(y.dims(), 82);
        let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
        set_fused_kernels(true);
        if fused {
            assert!(g.get(&x).is_none(), "no gradient computed for the images");
        }
        flat(g.get(&w).unwrap())
    };
    assert_close("weight gradient", &grad(true), &grad(false), 1e-4);
}

#[test]
fn upsampling_matches_candle_to_the_bit_and_back() {
    // A batch large enough to go to the pool's threads, and a small odd one at scale 3.
    for (i, (shape, scale)) in [([4, 32, 32, 32], 2), ([2, 3, 5, 7], 3)].iter().enumerate() {
        let x = tensor(shape, 70 + i as u64);
        let (h, w) = (shape[2] * scale, shape[3] * scale);
        let want = flat(&x.upsample_nearest2d(h, w).unwrap());
        let got = conv::upsample_nearest2d_forward(&x, *scale).unwrap();
        assert_eq!(got.dims(), &[shape[0], shape[1], h, w]);
        assert_eq!(flat(&got), want, "{shape:?} x {scale}");
        // The backward pass: each input pixel the sum of its block, in row-major order.
        let dy = tensor(&[shape[0], shape[1], h, w], 80 + i as u64);
        let g = flat(&dy);
        let mut want = Vec::new();
        for plane in g.chunks(h * w) {
            for r in 0..shape[2] {
                for c in 0..shape[3] {
                    let mut sum = 0f32;
                    for a in 0..*scale {
                        for b in 0..*scale {
                            sum += plane[(r * scale + a) * w + c * scale + b];
                        }
                    }
                    want.push(sum);
                }
            }
        }
        let got = conv::upsample_nearest2d_backward(&dy, *scale).unwrap();
        assert_eq!(got.dims(), shape);
        assert_eq!(flat(&got), want, "backward of {shape:?} x {scale}");
    }
}
