use std::process::ExitCode;

use clap::Parser;
use eligibility::cli::{self, Cli};
use eligibility::Exit;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // a bug anywhere, on any thread, ends the run with a clear message and exit 70 (the run
    // folder is not published; the next run clears what this one left); a corrupt Parquet
    // input that panics polars' reader is bad data, caught where it is read
    std::panic::set_hook(Box::new(|info| {
        if !eligibility::read::in_guarded_read() {
            eprintln!("internal error (a bug: please report it with this message): {info}");
            std::process::exit(Exit::Software as i32);
        }
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Ok.into()
            };
        }
    };
    match cli::main(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            if tracing::enabled!(tracing::Level::ERROR) {
                tracing::error!("{e}");
            } else {
                eprintln!("error: {e}");
            }
            e.exit().into()
        }
    }
}
