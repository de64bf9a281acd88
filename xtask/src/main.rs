//! `cargo xtask`: project automation (benchmark matrix, report, sweeps, performance, Slurm).

fn main() {
    println!("cargo xtask <command>\n\ncommands will be listed here");
}
