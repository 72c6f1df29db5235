//! A SageMaker endpoint's status, as DescribeEndpoint names it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The statuses SageMaker documents; anything newer is kept as it was spelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointStatus {
    OutOfService,
    Creating,
    Updating,
    SystemUpdating,
    RollingBack,
    InService,
    Deleting,
    Failed,
    UpdateRollbackFailed,
    Other(String),
}

impl EndpointStatus {
    const KNOWN: [(&'static str, EndpointStatus); 9] = [
        ("OutOfService", Self::OutOfService),
        ("Creating", Self::Creating),
        ("Updating", Self::Updating),
        ("SystemUpdating", Self::SystemUpdating),
        ("RollingBack", Self::RollingBack),
        ("InService", Self::InService),
        ("Deleting", Self::Deleting),
        ("Failed", Self::Failed),
        ("UpdateRollbackFailed", Self::UpdateRollbackFailed),
    ];

    pub fn parse(s: &str) -> Self {
        Self::KNOWN.into_iter().find(|(name, _)| *name == s).map(|(_, st)| st).unwrap_or_else(|| Self::Other(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => Self::KNOWN.iter().find(|(_, st)| st == known).map(|(name, _)| *name).unwrap_or(""),
        }
    }
}

impl std::fmt::Display for EndpointStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EndpointStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Read back from a shared enrichment record (`enrich::shared`): any spelling is kept, as [`EndpointStatus::parse`] does.
impl<'de> Deserialize<'de> for EndpointStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_statuses_round_trip_and_new_ones_are_kept() {
        for (name, _) in EndpointStatus::KNOWN {
            assert_eq!(EndpointStatus::parse(name).as_str(), name);
        }
        assert_eq!(EndpointStatus::parse("InService"), EndpointStatus::InService);
        assert_eq!(EndpointStatus::parse("Hibernating"), EndpointStatus::Other("Hibernating".into()));
        assert_eq!(serde_json::to_string(&EndpointStatus::Failed).unwrap(), "\"Failed\"");
        assert_eq!(serde_json::from_str::<EndpointStatus>("\"Hibernating\"").unwrap(), EndpointStatus::Other("Hibernating".into()));
    }
}
