//! What an instance type has: GPUs (or Neuron accelerators) and vCPUs, for the utilisations
//! SageMaker sums over them. A small table of the accelerated families SageMaker hosts; vCPUs
//! follow the size (`xlarge` = 4, `Nxlarge` = 4 × N), true for the families SageMaker offers.

/// GPUs and vCPUs of one instance; `None` where the type is not known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hardware {
    pub gpus: Option<u32>,
    pub vcpus: Option<u32>,
}

/// `(family, [(size, accelerators)])`: sizes not listed have one.
const ACCELERATED: [(&str, &[(&str, u32)]); 12] = [
    ("g4dn", &[("12xlarge", 4), ("metal", 8)]),
    ("g5", &[("12xlarge", 4), ("24xlarge", 4), ("48xlarge", 8)]),
    ("g6", &[("12xlarge", 4), ("24xlarge", 4), ("48xlarge", 8)]),
    ("g6e", &[("12xlarge", 4), ("24xlarge", 4), ("48xlarge", 8)]),
    ("p3", &[("8xlarge", 4), ("16xlarge", 8)]),
    ("p3dn", &[("24xlarge", 8)]),
    ("p4d", &[("24xlarge", 8)]),
    ("p4de", &[("24xlarge", 8)]),
    ("p5", &[("48xlarge", 8)]),
    ("inf1", &[("6xlarge", 4), ("24xlarge", 16)]),
    ("inf2", &[("24xlarge", 6), ("48xlarge", 12)]),
    ("trn1", &[("32xlarge", 16)]),
];

/// `ml.g5.12xlarge` → 4 GPUs, 48 vCPUs.
pub fn of(instance_type: &str) -> Hardware {
    let name = instance_type.strip_prefix("ml.").unwrap_or(instance_type);
    let Some((family, size)) = name.split_once('.') else { return Hardware::default() };
    let gpus = ACCELERATED
        .iter()
        .find(|(f, _)| *f == family)
        .map(|(_, sizes)| sizes.iter().find(|(s, _)| *s == size).map(|(_, n)| *n).unwrap_or(1));
    let vcpus = match size {
        "medium" => Some(1),
        "large" => Some(2),
        "xlarge" => Some(4),
        s => s.strip_suffix("xlarge").and_then(|n| n.parse::<u32>().ok()).map(|n| 4 * n),
    };
    Hardware { gpus, vcpus }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerated_and_plain_instance_types() {
        assert_eq!(of("ml.g5.12xlarge"), Hardware { gpus: Some(4), vcpus: Some(48) });
        assert_eq!(of("ml.g4dn.xlarge"), Hardware { gpus: Some(1), vcpus: Some(4) });
        assert_eq!(of("ml.p4d.24xlarge"), Hardware { gpus: Some(8), vcpus: Some(96) });
        assert_eq!(of("ml.m5.large"), Hardware { gpus: None, vcpus: Some(2) });
        assert_eq!(of("nonsense"), Hardware::default());
    }
}
