//! tejido: the Tejido command line for members (over libp2p to their nodes, with the member
//! key in `--home`) and for node operators (over the node's local socket in `--data-dir`).
//! This file is the glue: arguments to a plan, the runtime, exit codes and error printing.
//!
//! Exit codes: 0 ok, 1 error, 2 usage, 3 no node reachable (the record is queued on this
//! device and is sent by the next command that reaches a node).
//!
//! Messages are in English or Spanish (`--lang`, `TEJIDO_LANG`, the locale; see `i18n.rs` and
//! `cli/i18n/*.ftl`); JSON output and exit codes are the same in every language.
//!
//! # Layout
//! - `args`: clap definitions and `plan`, raw arguments to a validated [`args::Plan`].
//! - `operator`: commands over the operator socket.
//! - `doctor`: `tejido doctor`, what usually goes wrong with a node and what to do.
//! - `member`: commands with the member key: records, queries, shelters, `watch`.
//! - `output`: human and JSON output, safe against any answer a node sends.
//! - `i18n`: messages in Spanish and English.
//! - `demo`: `tejido demo`.

#[macro_use]
mod i18n;
mod args;
mod demo;
mod doctor;
mod member;
mod operator;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Args, Plan};
use crate::output::Printer;

/// How a run ends, as its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Done.
    Ok = 0,
    /// Failed; the message says why.
    Error = 1,
    /// The arguments make no command (clap's own exit code).
    Usage = 2,
    /// No node reachable: the record is queued on this device.
    Queued = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // Help and version go to standard output and are no error.
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    i18n::set_lang(i18n::Lang::resolve(args.lang));
    let outcome = args::plan(args).and_then(|plan| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(runtime) => runtime.block_on(run(plan)),
            Err(e) => {
                eprintln!("tejido: {}", tr!("cannot-start", error = e.to_string()));
                Ok(Exit::Error)
            }
        }
    });
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => error_exit(&e).into(),
    }
}

/// Prints `e` (one line, with its causes) and says how the run ends: a closed pipe is no
/// error, no node reachable means queued.
fn error_exit(e: &anyhow::Error) -> Exit {
    if e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    {
        return Exit::Ok;
    }
    eprintln!("tejido: {e:#}");
    if e.downcast_ref::<member::Unreachable>().is_some() {
        return Exit::Queued;
    }
    Exit::Error
}

async fn run(plan: Plan) -> anyhow::Result<Exit> {
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    match plan {
        Plan::Demo => {
            demo::run()?;
            Ok(Exit::Ok)
        }
        Plan::Completions(shell) => {
            clap_complete::generate(shell, &mut args::command(), "tejido", &mut stdout);
            Ok(Exit::Ok)
        }
        Plan::Man => {
            clap_mangen::Man::new(args::command()).render(&mut stdout)?;
            Ok(Exit::Ok)
        }
        Plan::Operator {
            data_dir,
            command,
            json,
        } => {
            let mut p = Printer::new(&mut stdout, &mut stderr, json);
            operator::run(&mut p, &data_dir, command).await
        }
        Plan::Member {
            home,
            command,
            json,
        } => {
            let mut p = Printer::new(&mut stdout, &mut stderr, json);
            member::run(&mut p, &home, command).await
        }
    }
}
