// The layout test asks the cc crate for the system C compiler, which needs
// the target triple that only build scripts are told.
fn main() {
    println!(
        "cargo:rustc-env=DAEDALUS_PROTO_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=build.rs");
}
