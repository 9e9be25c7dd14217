//! The `insight` binary: parse the command line and hand over to the library.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = insight::cli::Cli::parse();
    insight::cli::run(cli)
}
