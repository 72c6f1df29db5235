//! The shared vocabulary every stage speaks: the alarm model, severity, remediation action names,
//! endpoint status, the controls on a message, units and text helpers. It imports no other module of the crate, so any stage
//! may use it without creating a cycle (`tests/layers.rs` keeps it so).

mod action;
mod alarm;
pub mod controls;
mod endpoint;
mod severity;
pub mod text;
pub mod units;

pub use action::{check_frequency, Action, FREQUENCIES_S, LAST_ACTION_TAG, OPT_IN_TAG};
pub use alarm::*;
pub use endpoint::EndpointStatus;
pub use severity::Severity;
