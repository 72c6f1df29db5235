//! The endpoint updates sagealarm can make, by name, and the tags that govern them: shared by the
//! routing document (rule actions), enrichment (the opt-in tag) and remediation (the guardrails).

use serde::{Deserialize, Serialize};

/// The endpoint tag that opts an endpoint in: a comma-separated list of allowed actions.
pub const OPT_IN_TAG: &str = "sagealarm:remediate";
/// Where the last action is recorded: `<RFC 3339 time> <alarm identity>@<state change time>`.
pub const LAST_ACTION_TAG: &str = "sagealarm:last-action";
/// Publish frequencies SageMaker accepts for enhanced metrics.
pub const FREQUENCIES_S: [i32; 7] = [10, 30, 60, 120, 180, 240, 300];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    ScaleOut,
    EnableEnhancedMetrics { frequency_s: i32 },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::ScaleOut => "scale-out",
            Action::EnableEnhancedMetrics { .. } => "enable-enhanced-metrics",
        }
    }

    /// The action a name stands for (in a routing rule, the opt-in tag), the inverse of [`name`](Self::name).
    pub fn from_name(name: &str, frequency_s: i32) -> Option<Self> {
        [Action::ScaleOut, Action::EnableEnhancedMetrics { frequency_s }].into_iter().find(|a| a.name() == name)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::ScaleOut => f.write_str(self.name()),
            Action::EnableEnhancedMetrics { frequency_s } => write!(f, "enable-enhanced-metrics ({frequency_s} s)"),
        }
    }
}

/// `frequency_s` when SageMaker accepts it; otherwise the accepted ones, listed.
pub fn check_frequency(frequency_s: i32) -> Result<i32, String> {
    if FREQUENCIES_S.contains(&frequency_s) {
        return Ok(frequency_s);
    }
    Err(FREQUENCIES_S.map(|f| f.to_string()).join(", "))
}
