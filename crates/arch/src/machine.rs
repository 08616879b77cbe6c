//! Which machines krash implements: the [`Machine`] vocabulary (from the
//! dump's headers) lives in `krash-core`; here is the error for a machine
//! krash knows but has no [`crate::Arch`] for yet.

use std::fmt;

pub use krash_core::machine::{Machine, UnknownMachine};

/// A machine krash knows but has no implementation for yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedMachine(pub Machine);

impl fmt::Display for UnsupportedMachine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "krash does not support machine {} (ELF e_machine {}) yet", self.0.name(), self.0.elf_machine())
    }
}

impl std::error::Error for UnsupportedMachine {}

impl From<UnsupportedMachine> for krash_core::Error {
    fn from(e: UnsupportedMachine) -> Self {
        krash_core::Error::Unsupported(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_machine_names_it() {
        let e: krash_core::Error = UnsupportedMachine(Machine::Aarch64).into();
        assert_eq!(e.to_string(), "krash does not support machine aarch64 (ELF e_machine 183) yet");
    }
}
