//! `dasvdd data`: the paper's datasets, where they are found, and their download.

use std::fmt::Write as _;
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
        /// Hugging Face Hub dataset repository holding the dataset's files under their
        /// catalogue names, tried before the original host; overrides $DASVDD_HF_REPO (hub
        /// address: $HF_ENDPOINT; token for a private or gated one: $HF_TOKEN or the file of
        /// `huggingface-cli login`)
        #[arg(long, value_name = "OWNER/REPO", value_parser = dasvdd_data::fetch::parse_hub_repo)]
        mirror: Option<String>,
    },
}

/// `dasvdd data ...`.
pub fn run(cmd: &DataCommand) -> Result<()> {
    match cmd {
        DataCommand::List => {
            let mut out = String::new();
            for name in dasvdd_data::DatasetName::KNOWN {
                let n = dasvdd_data::DatasetName::from_str(name)?;
                let info = n.info();
                let place = match dasvdd_data::registry::locate(&n) {
                    Ok(dir) => format!("present in {}", dir.display()),
                    Err(_) => "not present".to_string(),
                };
                writeln!(out, "{name:8} {:32} {:10} {place}", info.title, info.size)?;
            }
            crate::output::print_stdout(&out)
        }
        DataCommand::Fetch { name, dest, mirror } => {
            let n = dasvdd_data::DatasetName::from_str(name)?;
            let dest = dest
                .clone()
                .unwrap_or_else(|| dasvdd_data::fetch::default_fetch_dir(&n));
            let report = dasvdd_data::fetch(
                &n,
                &dest,
                &dasvdd_data::FetchOptions::with_hub_repo(mirror.as_deref()),
            )?;
            let mut out = String::new();
            for f in &report.files {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(f).unwrap_or_else(|_| format!("{f:?}"))
                )?;
            }
            writeln!(out, "{} is in {}", report.dataset, report.dir.display())?;
            crate::output::print_stdout(&out)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Data {
        #[command(subcommand)]
        command: DataCommand,
    }

    fn mirror_of(args: &[&str]) -> Result<Option<String>, clap::Error> {
        let parsed = Data::try_parse_from([&["data", "fetch", "mnist"], args].concat())?;
        match parsed.command {
            DataCommand::Fetch { mirror, .. } => Ok(mirror),
            other => panic!("{other:?}"),
        }
    }

    /// `--mirror <owner/repo>` is the hub repository of the fetch, in place of
    /// $DASVDD_HF_REPO (which the library reads only when the options name none).
    #[test]
    fn fetch_takes_a_hub_mirror() {
        let mirror = mirror_of(&["--mirror", "org/mnist-mirror"]).unwrap();
        assert_eq!(mirror.as_deref(), Some("org/mnist-mirror"));
        let opts = dasvdd_data::FetchOptions::with_hub_repo(mirror.as_deref());
        assert_eq!(opts.hub_repo.as_deref(), Some("org/mnist-mirror"));
        assert_eq!(
            dasvdd_data::FetchOptions::with_hub_repo(None).hub_repo,
            None
        );
        assert_eq!(mirror_of(&[]).unwrap(), None);
        // Not a repository: the error says what is expected, and where a URL belongs.
        let err = mirror_of(&["--mirror", "https://huggingface.co/datasets/org/m"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("<owner>/<repo>") && err.contains("HF_ENDPOINT"),
            "{err}"
        );
        let err = mirror_of(&["--mirror", "justaname"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`justaname` is not a hub dataset repository"),
            "{err}"
        );
        let help = Data::try_parse_from(["data", "fetch", "--help"])
            .unwrap_err()
            .to_string();
        assert!(
            help.contains("--mirror <OWNER/REPO>") && help.contains("DASVDD_HF_REPO"),
            "{help}"
        );
    }
}
