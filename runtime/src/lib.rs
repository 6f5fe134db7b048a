//! nudge-runtime: the VM, the deterministic engine and the simulator.
