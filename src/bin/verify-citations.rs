//! Checks every citation of the knowledge base against the upstream repositories: each
//! `TAG:path[:line[-line]]` must name a file that exists at that tag in getredash/redash, and
//! lines that exist in it (lines in an alembic migration must reach past its header into code);
//! with `--setup`, `setup@SHA:path[:lines]` the same in getredash/setup, and with `--helm-chart`,
//! `helm@TAG:path[:lines]` in getredash/contrib-helm-chart. Prints the bad ones and
//! exits 1 if there are any. Maintainer tooling: not part of `redash-upgrade`.
//!
//!     cargo run --features testbed --bin verify-citations -- --upstream /path/to/redash.git

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};

use anyhow::{bail, Context};
use clap::Parser;
use redash_upgrade::knowledge::citation::{citations, problem, Citation, Found, Upstream};
use redash_upgrade::knowledge::{KnowledgeBase, Origin};

#[derive(Debug, Parser)]
#[command(about = "Check that every citation of the knowledge base names existing upstream lines")]
struct Args {
    /// A git directory (bare or not) of getredash/redash with its release tags
    #[arg(long, value_name = "DIR")]
    upstream: PathBuf,
    /// A git directory of getredash/setup, to check `setup@SHA:path` citations too
    #[arg(long, value_name = "DIR")]
    setup: Option<PathBuf>,
    /// A git directory of getredash/contrib-helm-chart, to check `helm@TAG:path` citations too
    #[arg(long, value_name = "DIR")]
    helm_chart: Option<PathBuf>,
    /// The knowledge base to check (default: upgrade-paths/ of this repository)
    #[arg(long, value_name = "DIR")]
    upgrade_paths: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether every checked citation holds.
fn run(args: Args) -> anyhow::Result<bool> {
    let directory = args
        .upgrade_paths
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("upgrade-paths"));
    let knowledge = KnowledgeBase::load(&Origin::Directory(directory))?;
    let mut redash = Repository::open(&args.upstream)?;
    let mut setup = args.setup.as_deref().map(Repository::open).transpose()?;
    let mut helm_chart = args
        .helm_chart
        .as_deref()
        .map(Repository::open)
        .transpose()?;
    let mut out = std::io::stdout().lock();
    let (mut checked, mut bad, mut skipped, mut skipped_helm) = (0, 0, 0, 0);
    for cited in citations(&knowledge) {
        let citation = Citation::parse(&cited.text).expect("citations() returns parsed ones");
        let repository = match citation.upstream {
            Upstream::Redash { .. } => &mut redash,
            Upstream::Setup { .. } => match setup.as_mut() {
                Some(repository) => repository,
                None => {
                    skipped += 1;
                    continue;
                }
            },
            Upstream::HelmChart { .. } => match helm_chart.as_mut() {
                Some(repository) => repository,
                None => {
                    skipped_helm += 1;
                    continue;
                }
            },
        };
        checked += 1;
        let found = repository.read(citation.upstream.revision(), citation.path)?;
        if let Some(problem) = problem(&citation, found) {
            bad += 1;
            writeln!(
                out,
                "{}: {}: {}: {problem}",
                cited.file, cited.place, cited.text
            )?;
        }
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{checked} citations checked, {bad} bad")?;
    if skipped > 0 {
        write!(err, "; {skipped} setup@ citations not checked (no --setup)")?;
    }
    if skipped_helm > 0 {
        write!(
            err,
            "; {skipped_helm} helm@ citations not checked (no --helm-chart)"
        )?;
    }
    writeln!(err)?;
    Ok(bad == 0)
}

/// One `git cat-file --batch` process over a git directory, with what it has answered.
struct Repository {
    dir: PathBuf,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    cache: HashMap<String, Found>,
}

impl Repository {
    fn open(dir: &Path) -> anyhow::Result<Repository> {
        let status = Command::new("git")
            .arg("--git-dir")
            .arg(dir)
            .args(["rev-parse", "--git-dir"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running git")?;
        if !status.success() {
            bail!("{}: not a git directory", dir.display());
        }
        let mut child = Command::new("git")
            .arg("--git-dir")
            .arg(dir)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("running git cat-file")?;
        let input = child.stdin.take().expect("piped");
        let output = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Repository {
            dir: dir.to_owned(),
            child,
            input,
            output,
            cache: HashMap::new(),
        })
    }

    fn read(&mut self, revision: &str, path: &str) -> anyhow::Result<&Found> {
        let name = format!("{revision}:{path}");
        if !self.cache.contains_key(&name) {
            let found = self
                .ask(&name)
                .with_context(|| format!("reading {name} from {}", self.dir.display()))?;
            self.cache.insert(name.clone(), found);
        }
        Ok(&self.cache[&name])
    }

    fn ask(&mut self, name: &str) -> anyhow::Result<Found> {
        writeln!(self.input, "{name}")?;
        self.input.flush()?;
        let mut header = String::new();
        self.output.read_line(&mut header)?;
        let fields: Vec<&str> = header.split_whitespace().collect();
        let [_, kind, size] = fields[..] else {
            // `<name> missing` or `<name> ambiguous`.
            return Ok(Found::Missing);
        };
        let size: usize = size.parse().context("object size")?;
        let mut body = vec![0; size + 1];
        self.output.read_exact(&mut body)?;
        body.pop();
        Ok(match kind {
            "blob" => Found::File(String::from_utf8_lossy(&body).into_owned()),
            "tree" => Found::Directory,
            _ => Found::Missing,
        })
    }
}

impl Drop for Repository {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
