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
    Device::new_cuda(ordinal).map_err(|e| CoreError::Device(format!("cannot open {spec}: {e}")))
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

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_in_a_cpu_build_is_a_clear_error() {
        let err = parse_device("cuda:0").unwrap_err().to_string();
        assert!(err.contains("no CUDA support"), "{err}");
    }
}
