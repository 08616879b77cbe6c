//! Devices: character and block majors, disks with in-flight I/O, resource
//! trees, and interrupt descriptors.

pub mod devices;
pub mod irq;
