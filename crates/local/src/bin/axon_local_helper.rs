//! Hidden helper binary of the `axon-local` crate: it only routes `__local` subcommands to
//! `axon_local::internal_main`, so the crate's own tests and benchmark can re-execute it as the
//! engine and the per-Task supervisor. Users run `axon`, which routes the same subcommands.

fn main() -> std::process::ExitCode {
    axon_local::internal_main(std::env::args().collect())
}
