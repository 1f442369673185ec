use std::process::ExitCode;

use clap::Parser;
use redash_upgrade::cli::{run, Cli};
use redash_upgrade::report::exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = anstream::AutoStream::new(std::io::stdout().lock(), cli.color.to_anstream());
    match run(&cli, &mut stdout).map_err(anyhow::Error::from) {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            let mut stderr =
                anstream::AutoStream::new(std::io::stderr().lock(), cli.color.to_anstream());
            let _ = writeln_error(&mut stderr, &error);
            ExitCode::from(exit::TOOL_FAILED as u8)
        }
    }
}

fn writeln_error(out: &mut dyn std::io::Write, error: &anyhow::Error) -> std::io::Result<()> {
    let style = anstyle::AnsiColor::Red.on_default().bold();
    write!(out, "{style}error:{style:#} {error}")?;
    for cause in error.chain().skip(1) {
        write!(out, ": {cause}")?;
    }
    writeln!(out)
}
