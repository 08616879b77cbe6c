//! arm64 disassembly printed as gdb (and so crash's `dis` on arm64) prints it.
