//! `fuzz-scenario <target> <input> <out.scn>`: turns a crash input of a
//! scenario-carrying target (orderings, kmod_messages, scenario_text) into
//! a scenario file and prints the invariant it breaks on the job core
//! (`DAEDALUS_FUZZ_CORE`, default real), or `clean`. Exit 2 when the input
//! carries no scenario. fuzz/run.sh feeds the file to
//! `daedalus-replay minimize`.

use std::process::ExitCode;

use daedalus_fuzz::corpus::to_scenario;
use daedalus_replay::Verdict;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, target, input, out] = args.as_slice() else {
        eprintln!("usage: fuzz-scenario <target> <input> <out.scn>");
        return ExitCode::from(2);
    };
    let data = match std::fs::read(input) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("fuzz-scenario: {input}: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(s) = to_scenario(target, &data) else {
        eprintln!("fuzz-scenario: {target} input {input} carries no scenario");
        return ExitCode::from(2);
    };
    if let Err(e) = std::fs::write(out, s.to_text()) {
        eprintln!("fuzz-scenario: {out}: {e}");
        return ExitCode::from(2);
    }
    match daedalus_fuzz::verdict(&s) {
        Verdict::Violation(v) => println!("{}", v.invariant.name()),
        _ => println!("clean"),
    }
    ExitCode::SUCCESS
}
