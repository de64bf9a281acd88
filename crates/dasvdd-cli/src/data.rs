//! `dasvdd data`: the paper's datasets, where they are found, and their download.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Result;
use clap::Subcommand;

/// `dasvdd data ...`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// List the datasets of the paper, whether each is present, and where it comes from
    List,
    /// Download a dataset (checksums verified) into $DASVDD_DATA/<name> or datasets/<name>,
    /// unless a copy is already where the loaders look
    Fetch {
        /// mnist, fmnist, cifar10, speech, pima, awid3, mimii or odds:<name>
        name: String,
        /// Destination folder instead of the default
        #[arg(long)]
        dest: Option<PathBuf>,
    },
}

/// `dasvdd data ...`.
pub fn run(cmd: &DataCommand) -> Result<()> {
    match cmd {
        DataCommand::List => {
            for name in dasvdd_data::DatasetName::KNOWN {
                let n = dasvdd_data::DatasetName::from_str(name)?;
                let info = n.info();
                let place = match dasvdd_data::registry::locate(&n) {
                    Ok(dir) => format!("present in {}", dir.display()),
                    Err(_) => "not present".to_string(),
                };
                println!("{name:8} {:32} {:10} {place}", info.title, info.size);
            }
            Ok(())
        }
        DataCommand::Fetch { name, dest } => {
            let n = dasvdd_data::DatasetName::from_str(name)?;
            let dest = dest
                .clone()
                .unwrap_or_else(|| dasvdd_data::fetch::default_fetch_dir(&n));
            let report = dasvdd_data::fetch(&n, &dest, &dasvdd_data::FetchOptions::default())?;
            for f in &report.files {
                println!(
                    "{}",
                    serde_json::to_string(f).unwrap_or_else(|_| format!("{f:?}"))
                );
            }
            println!("{} is in {}", report.dataset, report.dir.display());
            Ok(())
        }
    }
}
