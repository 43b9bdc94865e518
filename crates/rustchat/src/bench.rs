//! `rustchat bench`: the load generator of `crates/bench`, run from this binary so that it can
//! start this same binary as the servers it measures (`serve --model …`, `bench serve-peer …`).

pub(crate) use rustchat_bench::BenchArgs;

/// Runs the bench (or, for `bench serve-peer`, a peer server).
pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find this program's path to start servers: {e}"))?;
    rustchat_bench::run(args, &exe)
}
