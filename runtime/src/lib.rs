//! nudge-runtime: the VM, the deterministic engine and the simulator.

pub mod chunks;
pub mod engine;
pub mod journey;
pub mod links;
pub mod sim;
pub mod template;
pub mod vm;
