//! Enrichment: what AWS can tell about the target around the alarm time.
//!
//! This stage fetches concurrently under one deadline; whatever it cannot get becomes a [`Note`]
//! and the alarm is delivered anyway.

use serde::Serialize;

/// One thing enrichment could not do, and why: shown in the message, one line each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    /// The call or source (`DescribeEndpoint`, `enrichment`).
    pub source: String,
    pub message: String,
}

/// What enrichment found. Empty until a SageMaker target is enriched.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Enrichment {
    /// Why enrichment did not run at all, when it did not.
    pub skipped: Option<String>,
    pub notes: Vec<Note>,
}

impl Enrichment {
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self { skipped: Some(reason.into()), notes: vec![] }
    }
}
