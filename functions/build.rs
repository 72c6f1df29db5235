//! The build script of every Lambda function (each Cargo.toml says `build = "../build.rs"`).
//!
//! Links the bootstrap as a position-dependent executable (`-no-pie`). A position-independent one
//! carries some 72,000 relative relocations (every vtable and static pointer of the AWS SDK and its
//! stack): the dynamic loader rewrote them at each cold start, copying 1.1 MB of `.data.rel.ro`
//! into fresh pages, 2.5 ms before `main` (measured with `perf record` on this repository's
//! release binary). Linked at a fixed address, those pages are read from the file as they are.
//! What is given up: address-space randomisation of the executable's own image (the libraries,
//! heap and stacks are still randomised) — see the README's design section.

fn main() {
    println!("cargo:rerun-if-changed=../build.rs");
    // GNU ld, lld and `zig cc` (cargo-lambda's cross linker) take the last of -pie / -no-pie; rustc
    // puts its -pie first. Other targets (macOS development machines) keep their default.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
