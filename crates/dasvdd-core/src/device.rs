//! Parsing of `--device cpu|cuda[:N]` into a candle device, with a clear error where CUDA is
//! not compiled in or not present.

use candle_core::Device;

use crate::error::{CoreError, Result};

/// Parses `cpu`, `cuda` or `cuda:N` and opens the device.
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec = spec.trim().to_ascii_lowercase();
    if spec == "cpu" {
        return Ok(Device::Cpu);
    }
    let ordinal = if spec == "cuda" {
        0
    } else if let Some(n) = spec.strip_prefix("cuda:") {
        n.parse::<usize>()
            .map_err(|_| CoreError::Device(format!("`{spec}` is not cpu, cuda or cuda:N")))?
    } else {
        return Err(CoreError::Device(format!(
            "`{spec}` is not cpu, cuda or cuda:N"
        )));
    };
    if !candle_core::utils::cuda_is_available() {
        return Err(CoreError::Device(format!(
            "`{spec}` was asked for but this build has no CUDA support; rebuild with `--features cuda`"
        )));
    }
    // A stream of the device's own, not `new_cuda`'s per-thread default stream: with that, each
    // host thread's operations go to that thread's stream, unordered against another thread's,
    // and work handed to a second thread read tensors not yet computed or memory already
    // reused (docs/gpu.md). On one stream, operations run in the order they were issued, from
    // whichever thread.
    Device::new_cuda_with_stream(ordinal)
        .map_err(|e| CoreError::Device(cuda_open_problem(&spec, &e.to_string())))
}

/// One line for a failure to open a CUDA device: candle's message can run to a backtrace, and
/// its driver errors (no driver library, a stub driver, no GPU) mean one thing to a user.
fn cuda_open_problem(spec: &str, message: &str) -> String {
    let first = message.lines().next().unwrap_or("").trim();
    let code = first
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.starts_with("CUDA_ERROR_"));
    let driver = code.is_some()
        || ["DriverError", "libcuda", "cuInit"]
            .iter()
            .any(|k| first.contains(k));
    if driver {
        format!(
            "cannot open {spec}: no CUDA driver or GPU was found ({})",
            code.unwrap_or(first)
        )
    } else {
        format!("cannot open {spec}: {first}")
    }
}

/// Short name of a device for logs and result files (`cpu`, `cuda:0`).
pub fn device_name(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(_) => match device.location() {
            candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
            _ => "cuda".into(),
        },
        Device::Metal(_) => "metal".into(),
    }
}

/// Fixes the number of CPU threads once, for binaries to call first thing in `main`, before any
/// other thread exists.
///
/// Unless `RAYON_NUM_THREADS` is set, candle works out the number of cores (reading
/// `/proc/cpuinfo` on Linux) before every CPU matrix product; a training step has a dozen of
/// them. Setting the variable to the count candle would find keeps the behaviour and drops
/// that cost. An existing value is left alone.
pub fn pin_cpu_threads() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = candle_core::utils::get_num_threads();
        // Sound only while no other thread reads the environment, hence "first thing in main".
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses_and_garbage_is_an_error() {
        assert!(matches!(parse_device("cpu"), Ok(Device::Cpu)));
        assert!(matches!(parse_device("gpu"), Err(CoreError::Device(_))));
        assert!(matches!(parse_device("cuda:x"), Err(CoreError::Device(_))));
    }

    #[test]
    fn a_driver_failure_is_one_line() {
        let candle = "DriverError(CUDA_ERROR_UNKNOWN, \"unknown error\")\n   0: candle_core::error::Error::bt\n             at /src/error.rs:1";
        let m = cuda_open_problem("cuda", candle);
        assert_eq!(
            m,
            "cannot open cuda: no CUDA driver or GPU was found (CUDA_ERROR_UNKNOWN)"
        );
        let m = cuda_open_problem("cuda:3", "invalid device ordinal\nmore");
        assert_eq!(m, "cannot open cuda:3: invalid device ordinal");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_in_a_cpu_build_is_a_clear_error() {
        let err = parse_device("cuda:0").unwrap_err().to_string();
        assert!(err.contains("no CUDA support"), "{err}");
    }
}
