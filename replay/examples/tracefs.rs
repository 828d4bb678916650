//! Prints a scenario's run as tracefs text (what a field recording of it
//! would hold): `cargo run --example tracefs -- traces/regress/drain.scn`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: tracefs SCENARIO");
    let s = daedalus_replay::Scenario::load(std::path::Path::new(&path)).expect("scenario");
    let o = daedalus_replay::run(&s, &daedalus_replay::Options::default()).expect("run");
    print!("{}", daedalus_replay::render::tracefs(&o));
}
