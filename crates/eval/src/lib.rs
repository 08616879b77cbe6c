//! The C object and expression engine over the program core: typed values
//! read from the dump and shown as gdb prints them (`value`), C expressions
//! as `p` and `struct` take them (`expr`), and a frame's parameters and
//! locals from DWARF (`frame_vars`).

pub mod expr;
pub mod frame_vars;
pub mod value;
