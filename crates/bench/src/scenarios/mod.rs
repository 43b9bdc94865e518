//! The scenarios: each sets clients up, lets them run through a warm-up and a measured
//! window on the generator's single thread, and returns one [`Sample`].

pub mod broadcast;
pub mod echo;
pub mod handshake;
pub mod idle;
pub mod setup;
pub mod traffic;

use crate::cli::Scenario;
use crate::report::Sample;
use crate::subjects::Live;

/// Runs `scenario` once against `live`; `run` tells this run's stamps from earlier ones.
/// Call inside a `LocalSet` on a current-thread runtime.
pub async fn run_once(scenario: &Scenario, live: &Live, run: u32) -> anyhow::Result<Sample> {
    match scenario {
        Scenario::Handshake(args) => handshake::run(args, live).await,
        Scenario::Broadcast(args) => broadcast::run(args, live, run).await,
        Scenario::Echo(args) => echo::run(args, live, live.raw_tcp).await,
        Scenario::Idle(args) => idle::run(args, live).await,
        Scenario::ServePeer(_) => anyhow::bail!("serve-peer is not a scenario"),
    }
}
