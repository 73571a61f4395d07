//! clubgate gateway.
