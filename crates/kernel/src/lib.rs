//! krash-kernel: see the workspace README for this layer's place.
