//! nudge-bytecode: the compiled form of a Nudge project.
