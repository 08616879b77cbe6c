//! krash-dwarf: DWARF feeding the debuginfo type model; lines and inline chains.
