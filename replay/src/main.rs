//! `daedalus-replay`: check scenarios against the job core, import traces,
//! minimize failing scenarios, render ownership timelines.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use daedalus_replay::{Options, Outcome, Scenario, core, import, minimize, render};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "daedalus-replay",
    version,
    about = "Replay daedalus scenarios on the real job core against a v4l2_m2m mock"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenario files (or every *.scn under directories, each file
    /// once, links followed without looping); exit 0 when all are clean,
    /// 1 on a violation, 2 on unusable input (a directory without a *.scn
    /// included).
    Check {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Job core variant ("real" or a mutant; `list` shows them).
        #[arg(long, default_value = "real")]
        core: String,
        /// Print each scenario's outcome log.
        #[arg(long)]
        log: bool,
        /// Print each scenario's tracepoint log (what the KUnit executor's
        /// differential check compares).
        #[arg(long, conflicts_with = "log")]
        trace_log: bool,
        /// Print the full diagnosis of every violation.
        #[arg(long, short)]
        verbose: bool,
        /// Also run every mutant core and show which invariant each trace
        /// catches it with; a mutant that passes every trace is an error
        /// (the harness would not bite).
        #[arg(long)]
        mutants: bool,
        /// The daemon takes mapped jobs (RESP_HELLO F_MAPPED): every job
        /// goes zero-copy, pictures come without inline bytes.
        #[arg(long)]
        mapped: bool,
        /// Also write the report page here: the verdicts, the mutant
        /// matrix, each violation's diagnosis and timeline (HTML, one
        /// self-contained file).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Convert a trace (tracefs text, trace-cmd report, or trace.dat) into
    /// one scenario per context.
    Import {
        /// The trace file.
        trace: PathBuf,
        /// Where to write the scenario: a file (default: standard
        /// output), for a trace of one context; or a directory, one
        /// `ctxID.scn` per context: an existing one, or a path ending in
        /// '/', created when missing. Several contexts need a directory.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Shrink a failing scenario to the smallest one that still breaks the
    /// same invariant on the same core.
    Minimize {
        /// The scenario.
        scenario: PathBuf,
        /// Job core variant.
        #[arg(long, default_value = "real")]
        core: String,
        /// Output file (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Render the buffer-ownership timeline of a run.
    Render {
        /// The scenario.
        scenario: PathBuf,
        /// Job core variant.
        #[arg(long, default_value = "real")]
        core: String,
        /// `perfetto` (Chrome trace JSON, opens in ui.perfetto.dev) or `svg`.
        #[arg(long, default_value = "perfetto")]
        format: String,
        /// Output file (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Write a trace.dat without kernel pointers (kallsyms and printk
    /// formats emptied, each pointer field's value replaced by its rank of
    /// first appearance), as trace-cmd's version 6, uncompressed; or, with
    /// `--check`, list what the files still hold (exit 1 when one holds a
    /// pointer). Exit 2 on unusable input.
    Scrub {
        /// The trace.dat (a version 7 one is converted with trace-cmd);
        /// with --check, every file to check.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
        /// The scrubbed trace.dat to write (required without --check).
        #[arg(
            long,
            short,
            required_unless_present = "check",
            conflicts_with = "check"
        )]
        out: Option<PathBuf>,
        /// Check instead of writing.
        #[arg(long)]
        check: bool,
    },
    /// List the compiled job-core variants.
    Cores,
    /// Write scenarios made by the `orderings` fuzz target's generator from
    /// fixed seeds (and from raw fuzzer inputs), each clean on the real
    /// core and runnable by the KUnit executor: the inputs of the KUnit
    /// differential fuzzing. Exit 1 when one breaks an invariant on the
    /// real core (it is printed: a find for traces/), 2 on unusable input.
    Generate {
        /// The first seed; scenario i comes from seed + i.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many seeded scenarios to write.
        #[arg(long, default_value_t = 500)]
        count: usize,
        /// Most operations in one seeded scenario.
        #[arg(long, default_value_t = 24)]
        max_ops: usize,
        /// Most jobs one `Decode` operation runs, and most rounds of one
        /// `StreamLoop` (the fuzz target's go up to 511 and 128; each costs
        /// far more on the KUnit executor).
        #[arg(long, default_value_t = 8)]
        max_decode_jobs: u32,
        /// Directories of raw fuzzer inputs (an orderings corpus) to add.
        #[arg(long)]
        inputs: Vec<PathBuf>,
        /// The directory to write into (created).
        #[arg(long, short)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    // Quietly stop when the reader goes away (`| head`).
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        if msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        eprintln!("{msg}");
    }));
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Check {
            paths,
            core,
            log,
            trace_log,
            verbose,
            mutants,
            mapped,
            report,
        } => {
            let show = if trace_log {
                Show::Trace
            } else if log {
                Show::Full
            } else {
                Show::None
            };
            let (code, mut page) = check(&paths, &core, show, verbose, mapped);
            let code = if mutants && code == ExitCode::SUCCESS {
                let (code, matrix) = mutant_matrix(&paths, report.is_some());
                page.matrix = matrix;
                code
            } else {
                code
            };
            match report {
                Some(p) => match std::fs::write(&p, render::report::html(&page)) {
                    Ok(()) => {
                        println!("report: {}", p.display());
                        code
                    }
                    Err(e) => {
                        eprintln!("daedalus-replay: {}: {e}", p.display());
                        ExitCode::from(2)
                    }
                },
                None => code,
            }
        }
        Cmd::Import { trace, out } => import_cmd(&trace, out.as_deref()),
        Cmd::Minimize {
            scenario,
            core,
            out,
        } => minimize_cmd(&scenario, &core, out.as_deref()),
        Cmd::Render {
            scenario,
            core,
            format,
            out,
        } => render_cmd(&scenario, &core, &format, out.as_deref()),
        Cmd::Generate {
            seed,
            count,
            max_ops,
            max_decode_jobs,
            inputs,
            out,
        } => generate(seed, count, max_ops, max_decode_jobs, &inputs, &out),
        Cmd::Scrub { traces, out, check } => match out {
            Some(out) if !check => scrub_cmd(&traces, &out),
            _ => scrub_check(&traces),
        },
        Cmd::Cores => {
            for v in core::variants() {
                println!("{v}");
            }
            for (n, why) in core::BROKEN_MUTANTS {
                println!("{n} (does not apply: {why})");
            }
            ExitCode::SUCCESS
        }
    }
}

fn scrub_cmd(traces: &[PathBuf], out: &Path) -> ExitCode {
    let [input] = traces else {
        eprintln!("scrub: one trace.dat to write into {}", out.display());
        return ExitCode::from(2);
    };
    match daedalus_replay::scrub::scrub(input) {
        Ok((bytes, n)) => {
            if let Err(e) = std::fs::write(out, bytes) {
                eprintln!("{}: {e}", out.display());
                return ExitCode::from(2);
            }
            eprintln!(
                "{}: kallsyms and printk formats dropped, {n} pointer(s) replaced by their rank",
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn scrub_check(traces: &[PathBuf]) -> ExitCode {
    let mut dirty = false;
    for t in traces {
        match daedalus_replay::scrub::check(t) {
            Ok(found) if found.is_empty() => println!("{}: no kernel pointer", t.display()),
            Ok(found) => {
                dirty = true;
                for f in &found {
                    println!("{}: {f}", t.display());
                }
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    if dirty {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The scenario files `paths` name: a file as given (a symbolic link to
/// one too), and every `*.scn` under a directory. The walk follows
/// symbolic links but enters each directory once, known by its device and
/// inode, so a link to itself or to a parent ends; a file reached by
/// several paths (or named twice) is taken once, by the first of them in
/// breadth-first, name order. A directory with no `*.scn` in it or below
/// is an error: a typo, or scenarios that are not where they were looked
/// for, must not read as a clean run of none.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    use std::collections::{HashSet, VecDeque};
    use std::os::unix::fs::MetadataExt;
    let id = |m: &std::fs::Metadata| (m.dev(), m.ino());
    let mut seen_files = HashSet::new();
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{}: no such file or directory", p.display()),
            _ => format!("{}: {e}", p.display()),
        })?;
        if !meta.is_dir() {
            if seen_files.insert(id(&meta)) {
                files.push(p.clone());
            }
            continue;
        }
        let mut seen_dirs = HashSet::from([id(&meta)]);
        let mut queue = VecDeque::from([p.clone()]);
        // Scenario files under `p`, also those taken by an earlier path.
        let mut found = 0usize;
        while let Some(d) = queue.pop_front() {
            let rd = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
            let mut entries = rd
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", d.display()))?;
            entries.sort();
            for path in entries {
                let scn = path.extension().is_some_and(|x| x == "scn");
                match std::fs::metadata(&path) {
                    Ok(m) if m.is_dir() => {
                        // Entered once: a link back up the tree ends here.
                        if !seen_dirs.insert(id(&m)) {
                            continue;
                        }
                        queue.push_back(path);
                    }
                    Ok(m) if scn && !m.is_file() => {
                        return Err(format!("{}: not a regular file", path.display()));
                    }
                    Ok(m) if scn => {
                        found += 1;
                        if !seen_files.insert(id(&m)) {
                            continue;
                        }
                        files.push(path);
                    }
                    // A dangling link: reading it names what is wrong.
                    Err(_) if scn => {
                        found += 1;
                        files.push(path);
                    }
                    _ => {}
                }
            }
        }
        if found == 0 {
            return Err(format!(
                "{}: no scenario file (*.scn) in this directory or below",
                p.display()
            ));
        }
    }
    files.sort();
    Ok(files)
}

fn bar(n: usize) -> ProgressBar {
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if n < 50 {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    pb
}

/// Which log `check` prints per scenario.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Show {
    None,
    Full,
    Trace,
}

fn check(
    paths: &[PathBuf],
    core: &str,
    show: Show,
    verbose: bool,
    mapped: bool,
) -> (ExitCode, render::report::Report) {
    let mut page = render::report::Report {
        core: core.to_owned(),
        ..Default::default()
    };
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("daedalus-replay: {e}");
            page.summary = e;
            return (ExitCode::from(2), page);
        }
    };
    let opts = Options {
        core: core.to_owned(),
        mapped,
        ..Options::default()
    };
    let (mut clean, mut bad, mut unusable) = (0, 0, 0);
    let mut rows = Vec::new();
    let mut details = Vec::new();
    let pb = bar(files.len());
    for f in &files {
        pb.set_message(f.display().to_string());
        let mut shown = None;
        let row = match Scenario::load(f) {
            Err(e) => {
                unusable += 1;
                details.push(format!("{e}\n"));
                (
                    f.display().to_string(),
                    "UNUSABLE".to_owned(),
                    e.to_string(),
                )
            }
            Ok(s) => match daedalus_replay::run(&s, &opts) {
                Err(e) => {
                    eprintln!("daedalus-replay: {e}");
                    page.summary = e.to_string();
                    return (ExitCode::from(2), page);
                }
                Ok(o) => {
                    match show {
                        Show::Full => println!("== {}\n{}", f.display(), o.log_text()),
                        Show::Trace => {
                            println!("== {}\n{}{}", f.display(), o.trace_log(), o.io_log())
                        }
                        Show::None => {}
                    }
                    match o.verdict.violation() {
                        None => {
                            clean += 1;
                            (
                                f.display().to_string(),
                                "clean".to_owned(),
                                format!("{} events", o.events_run),
                            )
                        }
                        Some(v) => {
                            bad += 1;
                            details.push(format!("{}:\n{v}", f.display()));
                            shown = Some(render::report::Shown {
                                id: format!("v{}", rows.len()),
                                title: format!("{}: {}", f.display(), v.invariant.name()),
                                scenario: f.display().to_string(),
                                diagnosis: v.to_string(),
                                svg: render::svg_timeline(&s, &o),
                            });
                            let what = match v.buffer {
                                Some(b) => format!(
                                    "{} on {b} at line {}",
                                    v.invariant.name(),
                                    v.broke.line
                                ),
                                None => format!("{} at line {}", v.invariant.name(), v.broke.line),
                            };
                            (f.display().to_string(), "VIOLATION".to_owned(), what)
                        }
                    }
                }
            },
        };
        page.rows.push(render::report::Row {
            file: row.0.clone(),
            verdict: row.1.clone(),
            detail: row.2.clone(),
            shown,
        });
        rows.push(row);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(8).max(8);
    println!("{:<w0$}  {:<9}  detail", "scenario", "verdict");
    for (f, v, d) in &rows {
        println!("{f:<w0$}  {v:<9}  {d}");
    }
    page.summary = format!("core {core}: {clean} clean, {bad} violation(s), {unusable} unusable");
    println!("{}", page.summary);
    if verbose || bad + unusable > 0 {
        for d in &details {
            println!("\n{d}");
        }
    }
    let code = if unusable > 0 {
        ExitCode::from(2)
    } else if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    (code, page)
}

fn write_out(out: Option<&Path>, text: &str) -> ExitCode {
    match out {
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Some(p) => match std::fs::write(p, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("daedalus-replay: {}: {e}", p.display());
                ExitCode::from(2)
            }
        },
    }
}

fn load(p: &Path) -> Result<Scenario, ExitCode> {
    Scenario::load(p).map_err(|e| {
        eprintln!("daedalus-replay: {e}");
        ExitCode::from(2)
    })
}

/// `import`: one scenario to a file or standard output, or one per
/// context (`ctxID.scn`) into a directory: `-o DIR/` (created when
/// missing) or an existing directory. Several contexts need a directory.
fn import_cmd(trace: &Path, out: Option<&Path>) -> ExitCode {
    let imported = match import::import_file(trace) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("daedalus-replay: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "imported {} context(s), {} event(s) used, {} unknown event(s) skipped",
        imported.scenarios.len(),
        imported.used,
        imported.skipped
    );
    let dir = out.filter(|p| {
        p.as_os_str()
            .to_string_lossy()
            .ends_with(std::path::MAIN_SEPARATOR)
            || p.is_dir()
    });
    if let Some(dir) = dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("daedalus-replay: {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        for (ctx, s) in &imported.scenarios {
            let p = dir.join(format!("ctx{ctx}.scn"));
            if write_out(Some(&p), &s.to_text()) != ExitCode::SUCCESS {
                return ExitCode::from(2);
            }
        }
        return ExitCode::SUCCESS;
    }
    match imported.scenarios.as_slice() {
        [(_, s)] => write_out(out, &s.to_text()),
        several => {
            let ids: Vec<String> = several.iter().map(|(c, _)| c.to_string()).collect();
            let to = match out {
                Some(p) => format!("{} is not a directory", p.display()),
                None => "standard output takes one".to_owned(),
            };
            eprintln!(
                "daedalus-replay: {}: {} decoder contexts (ctx {}), one scenario each, and {to}: \
                 give a directory, ending in '/' if it does not exist yet (-o DIR/)",
                trace.display(),
                several.len(),
                ids.join(", ")
            );
            ExitCode::from(2)
        }
    }
}

/// Loads one scenario and runs it on `core`, for the commands that work
/// on a single run's outcome; failures are already reported.
fn load_and_run(path: &Path, core: &str) -> Result<(Scenario, Options, Outcome), ExitCode> {
    let s = load(path)?;
    let opts = Options {
        core: core.to_owned(),
        ..Options::default()
    };
    let o = daedalus_replay::run(&s, &opts).map_err(|e| {
        eprintln!("daedalus-replay: {e}");
        ExitCode::from(2)
    })?;
    Ok((s, opts, o))
}

fn minimize_cmd(path: &Path, core: &str, out: Option<&Path>) -> ExitCode {
    let (s, opts, o) = match load_and_run(path, core) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let Some(v) = o.verdict.violation() else {
        eprintln!(
            "daedalus-replay: {} is clean on core {core}: nothing to minimize",
            path.display()
        );
        return ExitCode::from(2);
    };
    let pb = bar(s.lines.len());
    pb.set_message(format!("minimizing ({})", v.invariant.name()));
    let small = minimize::minimize(&s, v.invariant, &opts, |n| {
        pb.set_position((s.lines.len() - n) as u64)
    });
    pb.finish_and_clear();
    eprintln!(
        "{}: {} -> {} events, still {}",
        path.display(),
        s.lines.len(),
        small.lines.len(),
        v.invariant.name()
    );
    let text = format!(
        "# minimized from {}: {} on core {core}\n{}",
        path.display(),
        v.invariant.name(),
        small.to_text()
    );
    write_out(out, &text)
}

fn render_cmd(path: &Path, core: &str, format: &str, out: Option<&Path>) -> ExitCode {
    let (s, _, o) = match load_and_run(path, core) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let text = match format {
        "perfetto" | "json" | "chrome" => render::perfetto(&s, &o),
        "svg" => render::svg(&s, &o),
        other => {
            eprintln!("daedalus-replay: unknown format `{other}` (perfetto or svg)");
            return ExitCode::from(2);
        }
    };
    write_out(out, &text)
}

/// Every mutant against every scenario: the invariant that catches it;
/// with `page`, also the matrix for the report, each mutant's shown
/// violation with its timeline.
fn mutant_matrix(paths: &[PathBuf], page: bool) -> (ExitCode, Option<render::report::Matrix>) {
    let Ok(files) = collect(paths) else {
        return (ExitCode::from(2), None);
    };
    let mutants: Vec<&str> = core::variants()
        .into_iter()
        .filter(|v| *v != "real")
        .collect();
    let mut scenarios: Vec<(String, Scenario)> = Vec::new();
    let mut unusable = 0usize;
    for f in &files {
        match Scenario::load(f) {
            Ok(s) => scenarios.push((
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                s,
            )),
            // check() above named it and why; the table only counts it.
            Err(_) => unusable += 1,
        }
    }
    let w0 = scenarios
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = format!(
        "\nmutants (a lifecycle mistake each; the invariant that caught it):\n{:<w0$}",
        "scenario"
    );
    for m in &mutants {
        out.push_str(&format!("  {m:<26}"));
    }
    out.push('\n');
    let mut matrix = render::report::Matrix {
        mutants: mutants.iter().map(|m| (*m).to_owned()).collect(),
        ..Default::default()
    };
    let mut caught = vec![0usize; mutants.len()];
    // Per mutant, the regression trace's (or else the first) diagnosis:
    // the table names invariants, this names the buffer and what broke.
    let mut first: Vec<Option<(String, String)>> = vec![None; mutants.len()];
    for (name, s) in &scenarios {
        out.push_str(&format!("{name:<w0$}"));
        let mut cells = Vec::new();
        for (i, m) in mutants.iter().enumerate() {
            let opts = Options {
                core: (*m).to_owned(),
                keep_log: false,
                ..Options::default()
            };
            let cell = match daedalus_replay::run(s, &opts) {
                Ok(o) => match o.verdict.violation() {
                    Some(v) => {
                        caught[i] += 1;
                        let preferred = name.starts_with("field-bug");
                        if first[i].is_none() || preferred {
                            let buffer = v.buffer.map(|b| format!(" on {b}")).unwrap_or_default();
                            first[i] = Some((
                                name.clone(),
                                format!("{}{buffer}: {}", v.invariant.name(), v.detail),
                            ));
                        }
                        cells.push(Some((v.invariant.name().to_owned(), v.to_string())));
                        v.invariant.name().to_owned()
                    }
                    None => {
                        cells.push(None);
                        "-".to_owned()
                    }
                },
                Err(e) => {
                    cells.push(None);
                    format!("error: {e}")
                }
            };
            out.push_str(&format!("  {cell:<26}"));
        }
        matrix.rows.push((name.clone(), cells));
        out.push('\n');
    }
    if page {
        // The shown violation of each mutant, run again with its log.
        for (m, f) in mutants.iter().zip(&first) {
            let shown = f.as_ref().and_then(|(scenario, _)| {
                let (_, s) = scenarios.iter().find(|(n, _)| n == scenario)?;
                let opts = Options {
                    core: (*m).to_owned(),
                    ..Options::default()
                };
                let o = daedalus_replay::run(s, &opts).ok()?;
                let v = o.verdict.violation()?;
                Some(render::report::Shown {
                    id: format!("m-{m}"),
                    title: format!("{m} in {scenario}: {}", v.invariant.name()),
                    scenario: scenario.clone(),
                    diagnosis: v.to_string(),
                    svg: render::svg_timeline(s, &o),
                })
            });
            matrix.shown.push(shown);
        }
    }
    for (m, f) in mutants.iter().zip(&first) {
        if let Some((scenario, what)) = f {
            out.push_str(&format!("{m} in {scenario}: {what}\n"));
        }
    }
    let missed: Vec<&str> = mutants
        .iter()
        .zip(&caught)
        .filter(|(_, c)| **c == 0)
        .map(|(m, _)| *m)
        .collect();
    for (n, why) in core::BROKEN_MUTANTS {
        out.push_str(&format!(
            "mutant {n} does not apply to the job core: {why}\n"
        ));
    }
    if unusable > 0 {
        out.push_str(&format!(
            "{unusable} unusable scenario file(s) left out of the table\n"
        ));
    }
    let mut out: String = out.lines().map(|l| format!("{}\n", l.trim_end())).collect();
    let (code, last) = if missed.is_empty() && core::BROKEN_MUTANTS.is_empty() {
        (
            ExitCode::SUCCESS,
            format!("every mutant ({}) is caught", mutants.len()),
        )
    } else {
        (
            ExitCode::from(1),
            format!("NOT caught by any scenario: {}", missed.join(", ")),
        )
    };
    out.push_str(&last);
    out.push('\n');
    print!("{out}");
    matrix.notes.extend(
        core::BROKEN_MUTANTS
            .iter()
            .map(|(n, why)| format!("mutant {n} does not apply to the job core: {why}")),
    );
    matrix.notes.push(last);
    (code, page.then_some(matrix))
}

/// `generate`: see [`Cmd::Generate`].
fn generate(
    seed: u64,
    count: usize,
    max_ops: usize,
    max_decode_jobs: u32,
    inputs: &[PathBuf],
    out: &Path,
) -> ExitCode {
    use daedalus_replay::generate;
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("{}: {e}", out.display());
        return ExitCode::from(2);
    }
    let mut made: Vec<(String, Scenario)> = Vec::new();
    // Seeds whose scenario names a context the KUnit executor cannot
    // number are passed over; a generator that makes almost only those is
    // broken.
    let mut s = seed;
    while made.len() < count {
        if s - seed >= 4 * count as u64 + 64 {
            eprintln!(
                "generate: only {} of {count} seeds gave a scenario the KUnit executor can run",
                made.len()
            );
            return ExitCode::from(2);
        }
        let scn = generate::seeded(s, max_ops, max_decode_jobs);
        if generate::fits_kunit(&scn) {
            made.push((format!("seed-{s}.scn"), scn));
        }
        s += 1;
    }
    for dir in inputs {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect(),
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::from(2);
            }
        };
        files.sort();
        for f in files {
            let bytes = match std::fs::read(&f) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("{}: {e}", f.display());
                    return ExitCode::from(2);
                }
            };
            let scn = generate::scenario_limited(&generate::ops(&bytes), max_decode_jobs);
            if generate::fits_kunit(&scn) {
                let name = f
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                made.push((format!("input-{name}.scn"), scn));
            }
        }
    }
    let mut found = false;
    for (name, scn) in &made {
        let o = match daedalus_replay::run(scn, &Options::default()) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("generate: {e}");
                return ExitCode::from(2);
            }
        };
        if let Some(v) = o.verdict.violation() {
            println!(
                "{name}: the real core breaks {}\n{v}\n{}",
                v.invariant.name(),
                scn.to_text()
            );
            found = true;
            continue;
        }
        let text = scn.to_text();
        let text = match text.split_once('\n') {
            Some((head, rest)) => format!(
                "{head}\n# daedalus-replay generate: {name} (max {max_ops} operations)\n{rest}"
            ),
            None => text,
        };
        if let Err(e) = std::fs::write(out.join(name), text) {
            eprintln!("{}: {e}", out.join(name).display());
            return ExitCode::from(2);
        }
    }
    println!("generate: {} scenario(s) in {}", made.len(), out.display());
    if found {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
