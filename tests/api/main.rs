//! Integration tests of the gateway: one binary, one module per feature.

mod health;
