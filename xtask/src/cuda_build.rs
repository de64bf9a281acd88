//! `cargo xtask cuda-build`: the `cuda` feature built on a machine without a GPU or a system
//! CUDA toolkit, in one command. It finds a toolkit (`nvcc` on the PATH with `CUDA_ROOT`, or
//! NVIDIA's CUDA 13.0 wheels installed from the Python package registry into
//! `target/cuda-toolkit/`), makes the link folder (the toolkit's libraries under the names the
//! linker asks for, and a stub `libcuda.so.1` defining the driver functions, which the real
//! driver provides at run time), builds the `dasvdd` and `xtask` binaries in release without
//! debug information into their own target folder (`target/cuda/`, so the CPU build is left
//! alone), strips them and says how to run them on a GPU machine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

/// The CUDA 13.0 wheels of the Python package registry that candle's kernels and link need
/// (versions must match each other: mixing them makes `ptxas` refuse the PTX).
const WHEELS: [&str; 8] = [
    "nvidia-cuda-nvcc==13.0.88",
    "nvidia-nvvm==13.0.88",
    "nvidia-cuda-crt==13.0.88",
    "nvidia-cuda-runtime==13.0.96",
    "nvidia-cuda-cccl==13.0.*",
    "nvidia-cuda-nvrtc==13.0.*",
    "nvidia-cublas==13.0.*",
    "nvidia-curand==10.4.0.*",
];

/// The libraries candle links besides the driver, by the name the linker looks for.
const LIBRARIES: [&str; 5] = ["nvrtc", "curand", "cublas", "cublasLt", "cudart"];

/// The driver functions the binaries call (from a first link; more are added from the
/// linker's complaints if a change of candle needs them).
const DRIVER_SYMBOLS: &str = include_str!("../cuda-driver-symbols.txt");

/// Options of `cargo xtask cuda-build`.
#[derive(Debug, Args)]
pub struct CudaBuildArgs {
    /// Compute capability of the target GPU (90: H100/H200)
    #[arg(long, default_value_t = 90)]
    pub compute_cap: u32,
    /// A CUDA toolkit folder (with bin/nvcc and lib/) instead of the system's or the wheels
    #[arg(long)]
    pub toolkit: Option<PathBuf>,
    /// Python used to install the wheels into target/cuda-toolkit
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Only prepare the toolkit and the link folder, and print the build command
    #[arg(long)]
    pub no_build: bool,
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("{what}: cannot start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The toolkit folder: `--toolkit`, a system one (`CUDA_ROOT`/`CUDA_PATH` with `bin/nvcc`), or
/// the wheels, installed on first use.
fn toolkit(args: &CudaBuildArgs, work: &Path) -> Result<PathBuf> {
    if let Some(t) = &args.toolkit {
        if !t.join("bin/nvcc").is_file() {
            bail!("--toolkit {}: no bin/nvcc there", t.display());
        }
        return Ok(t.clone());
    }
    for var in ["CUDA_ROOT", "CUDA_PATH"] {
        if let Some(t) = std::env::var_os(var).map(PathBuf::from) {
            if t.join("bin/nvcc").is_file() {
                println!("using the system toolkit {} (${var})", t.display());
                return Ok(t);
            }
        }
    }
    let venv = work.join("venv");
    if !venv.join("bin/pip").is_file() {
        println!(
            "installing NVIDIA's CUDA 13.0 wheels into {}",
            venv.display()
        );
        run(
            Command::new(&args.python).args(["-m", "venv"]).arg(&venv),
            "creating the toolkit's Python environment",
        )?;
    }
    let found = find_toolkit(&venv);
    if found.as_ref().is_none_or(|t| !t.join("bin/nvcc").is_file()) {
        run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet"])
                .args(WHEELS),
            "installing the CUDA wheels (pip)",
        )?;
    }
    find_toolkit(&venv)
        .filter(|t| t.join("bin/nvcc").is_file())
        .with_context(|| format!("no nvidia/cu13/bin/nvcc under {}", venv.display()))
}

/// `lib/python3.X/site-packages/nvidia/cu13` of a virtual environment.
fn find_toolkit(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages/nvidia/cu13"))
        .find(|p| p.is_dir())
}

/// The first file of `dir` named `lib{name}.so.*` (the versioned library a wheel ships).
fn versioned_library(dir: &Path, name: &str) -> Option<PathBuf> {
    let prefix = format!("lib{name}.so.");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Writes and compiles the driver stub with `symbols` into `link/libcuda.so`.
fn driver_stub(link: &Path, symbols: &BTreeSet<String>) -> Result<()> {
    let source: String = symbols
        .iter()
        .map(|s| format!("int {s}(void) {{ return 999; }}\n"))
        .collect();
    let c = link.join("libcuda-stub.c");
    let lib = link.join("libcuda.so");
    // Unchanged, the stub is left as it is: a new file would make cargo rebuild candle.
    if lib.is_file() && std::fs::read_to_string(&c).is_ok_and(|old| old == source) {
        return Ok(());
    }
    std::fs::write(&c, source).with_context(|| format!("cannot write {}", c.display()))?;
    run(
        Command::new("gcc")
            .args(["-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o"])
            .arg(&lib)
            .arg(&c),
        "compiling the libcuda stub (gcc)",
    )
}

/// The link folder: `lib{name}.so` links to the toolkit's versioned libraries, and the stub.
fn link_folder(toolkit: &Path, link: &Path, symbols: &BTreeSet<String>) -> Result<()> {
    std::fs::create_dir_all(link)?;
    let libdir = toolkit.join("lib");
    for name in LIBRARIES {
        let target = versioned_library(&libdir, name)
            .with_context(|| format!("no lib{name}.so.* in {}", libdir.display()))?;
        let alias = link.join(format!("lib{name}.so"));
        if std::fs::read_link(&alias).is_ok_and(|t| t == target) {
            continue;
        }
        let _ = std::fs::remove_file(&alias);
        std::os::unix::fs::symlink(&target, &alias)
            .with_context(|| format!("cannot link {}", alias.display()))?;
    }
    driver_stub(link, symbols)
}

/// Driver functions the linker reported missing: GNU ld's `undefined reference to `cuXxx'` and
/// LLVM lld's `undefined symbol: cuXxx` (rustc links with lld on recent toolchains).
fn missing_driver_symbols(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter_map(|l| {
            if let Some(rest) = l.split("undefined reference to `").nth(1) {
                rest.split('\'').next()
            } else {
                l.split("undefined symbol: ").nth(1).map(str::trim)
            }
        })
        .filter(|s| s.starts_with("cu") && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// `cargo xtask cuda-build`.
pub fn run_cuda_build(args: &CudaBuildArgs) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent folder")?
        .to_path_buf();
    let work = root.join("target/cuda-toolkit");
    std::fs::create_dir_all(&work)?;
    let toolkit = toolkit(args, &work)?;
    let link = work.join("link");
    let mut symbols: BTreeSet<String> = DRIVER_SYMBOLS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    link_folder(&toolkit, &link, &symbols)?;
    let target_dir = root.join("target/cuda");
    let path = format!(
        "{}:{}",
        toolkit.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // `cargo <args> --release --features cuda --target-dir target/cuda` with the toolkit.
    let cuda_cargo = |cargo_args: &[&str]| {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&root)
            .args(cargo_args)
            .args(["--release", "--features", "cuda", "--target-dir"])
            .arg(&target_dir)
            .env("PATH", &path)
            .env("CUDA_ROOT", &toolkit)
            .env("CUDA_PATH", &toolkit)
            .env("CUDA_COMPUTE_CAP", args.compute_cap.to_string())
            .env("RUSTFLAGS", format!("-L {}", link.display()))
            // Small enough to carry: no debug information, symbols stripped.
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_PROFILE_RELEASE_STRIP", "true");
        cmd
    };
    let build = |log: &Path| -> Result<bool> {
        let log_file = std::fs::File::create(log)?;
        let status = cuda_cargo(&["build", "-p", "dasvdd-cli", "-p", "xtask"])
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .status()?;
        Ok(status.success())
    };
    let log = work.join("build.log");
    if args.no_build {
        println!(
            "toolkit {}\nlink folder {}\nbuild: PATH={}/bin:$PATH CUDA_ROOT={} CUDA_COMPUTE_CAP={} \
             RUSTFLAGS=\"-L {}\" cargo build --release --features cuda --target-dir {}",
            toolkit.display(),
            link.display(),
            toolkit.display(),
            toolkit.display(),
            args.compute_cap,
            link.display(),
            target_dir.display()
        );
        return Ok(());
    }
    println!(
        "building the cuda feature into {} (20-30 minutes the first time on 2 cores; log {})",
        target_dir.display(),
        log.display()
    );
    let mut ok = build(&log)?;
    // A newer candle may call driver functions the list lacks: add what the linker names.
    for _ in 0..3 {
        if ok {
            break;
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let missing: BTreeSet<String> = missing_driver_symbols(&text)
            .difference(&symbols)
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        println!("adding {} driver functions to the stub", missing.len());
        symbols.extend(missing);
        driver_stub(&link, &symbols)?;
        ok = build(&log)?;
    }
    if !ok {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        for l in tail.into_iter().rev() {
            eprintln!("{l}");
        }
        bail!("the cuda build failed; the whole log is {}", log.display());
    }
    // The GPU-parity test as a program to carry too (`gpu_parity`, stripped).
    let test_log = work.join("build-tests.log");
    let out = cuda_cargo(&[
        "test",
        "--no-run",
        "-p",
        "dasvdd-core",
        "--test",
        "gpu_parity",
    ])
    .output()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    std::fs::write(&test_log, &text)?;
    let exe = text
        .lines()
        .filter_map(|l| l.split_once("tests/gpu_parity.rs (").map(|(_, r)| r))
        .filter_map(|r| r.strip_suffix(')'))
        .next()
        .map(|p| root.join(p));
    let dist = target_dir.join("release");
    match exe {
        Some(exe) if out.status.success() => {
            std::fs::copy(&exe, dist.join("gpu_parity"))
                .with_context(|| format!("cannot copy {}", exe.display()))?;
        }
        _ => bail!(
            "the GPU-parity test did not build; its log is {}",
            test_log.display()
        ),
    }
    for bin in ["dasvdd", "xtask", "gpu_parity"] {
        let p = dist.join(bin);
        let mb = std::fs::metadata(&p)
            .with_context(|| format!("no {}", p.display()))?
            .len() as f64
            / (1 << 20) as f64;
        println!("{} ({mb:.1} MiB)", p.display());
    }
    println!(
        "on a GPU machine: LD_LIBRARY_PATH=<folder with libcublas.so.13, libcublasLt.so.13, \
         libcurand.so.10, libnvrtc.so.13, libcudart.so.13 (e.g. PyTorch's nvidia/cu13/lib)> \
         {}/dasvdd ... --device cuda",
        dist.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_driver_functions_are_read_from_the_linker() {
        let log = "note: /usr/bin/ld: x.o: in function `f':\n\
                   x.c:(.text+0x1): undefined reference to `cuMemAllocHost_v2'\n\
                   undefined reference to `cuInit'\n\
                   undefined reference to `memcpy@GLIBC'\n\
                   = note: rust-lld: error: undefined symbol: cuStreamCreate\n\
                   rust-lld: error: undefined symbol: memcpy@GLIBC\n";
        let got = missing_driver_symbols(log);
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            ["cuInit", "cuMemAllocHost_v2", "cuStreamCreate"]
        );
        assert!(DRIVER_SYMBOLS.lines().any(|l| l == "cuInit"));
    }
}
