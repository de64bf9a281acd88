//! Many models of one neural method trained at once: DASVDD, the autoencoder and Deep SVDD on
//! its fully connected network hold the models of a stack (the seeds and normal classes of a
//! benchmark) as one network with a leading model axis, each model trained as it would be
//! alone; Deep SVDD on LeNet fits its models side by side on the CPU's cores, one per thread,
//! and the classical methods fit theirs one after the other.

use std::ops::ControlFlow;

use candle_core::Device;
use dasvdd_core::{stack, CoreError, Detector, Result, SampleView};

use super::MethodParams;
use crate::deep_svdd::DeepSvddNetwork;

impl MethodParams {
    /// Whether models of these params train in one pass by [`fit_stacked`] (else it fits them
    /// one after the other).
    pub fn stackable(&self) -> bool {
        match self {
            MethodParams::Dasvdd(_) | MethodParams::Ae(_) => true,
            MethodParams::DeepSvdd(p) => p.network == DeepSvddNetwork::Mlp,
            _ => false,
        }
    }
}

/// Fits `params[m]` on `xs[m]` for every `m`: in one pass over a stack of models where the
/// method allows it ([`MethodParams::stackable`]; the params must then differ only in their
/// seed and the training sets have one number of rows), else one model after the other. Each
/// model is the one its params fit alone. One result per model; the outer error concerns
/// them all (params of different methods, a stack that cannot be formed).
pub fn fit_stacked(
    params: &[MethodParams],
    xs: &[SampleView<'_>],
    device: &Device,
) -> Result<Vec<Result<Box<dyn Detector>>>> {
    let Some(first) = params.first() else {
        return Ok(Vec::new());
    };
    if params.iter().any(|p| p.method() != first.method()) || params.len() != xs.len() {
        return Err(CoreError::InvalidInput(
            "models trained at once must be of one method, one per training set".into(),
        ));
    }
    let alone = |m: usize| params[m].clone().into_boxed().fit_detector(xs[m], device);
    if params.len() == 1 || (!first.stackable() && !first.method().is_neural()) {
        return Ok((0..params.len()).map(alone).collect());
    }
    if !first.stackable() {
        // A network that cannot stack (Deep SVDD on LeNet) still trains its models side by
        // side on the CPU's cores, one model per pass on a one-thread pool of its own, as the
        // stacks' passes do: much of its step is candle's serial autograd, during which a
        // second core would only wait. Each model is the one it is alone (the kernels give
        // the same values on any number of threads).
        let passes = (0..params.len()).map(|m| m..m + 1).collect();
        return stack::run_passes(passes, device, &|pass| Ok(alone(pass.start)));
    }
    macro_rules! all {
        ($variant:ident) => {
            params
                .iter()
                .map(|p| match p {
                    MethodParams::$variant(p) => p.clone(),
                    _ => unreachable!("every params is of the first's method, checked above"),
                })
                .collect::<Vec<_>>()
        };
    }
    Ok(match first {
        MethodParams::Dasvdd(_) => boxed(dasvdd_core::fit_stacked(
            &all!(Dasvdd),
            xs,
            device,
            &mut |_, _| ControlFlow::Continue(()),
        )?),
        MethodParams::Ae(_) => boxed(crate::AeParams::fit_stacked(
            &all!(Ae),
            xs,
            device,
            &mut |_, _| ControlFlow::Continue(()),
        )?),
        MethodParams::DeepSvdd(_) => boxed(crate::DeepSvddParams::fit_stacked(
            &all!(DeepSvdd),
            xs,
            device,
            &mut |_, _| ControlFlow::Continue(()),
            &mut |_, _| ControlFlow::Continue(()),
        )?),
        _ => unreachable!("stackable() lists the stackable methods"),
    })
}

/// Each model's result as a boxed detector.
fn boxed<D: Detector + 'static>(v: Vec<Result<D>>) -> Vec<Result<Box<dyn Detector>>> {
    v.into_iter()
        .map(|r| r.map(|d| Box::new(d) as Box<dyn Detector>))
        .collect()
}
