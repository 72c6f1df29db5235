//! "Now", in one place: what compares an alarm's time with the present (the enrichment window,
//! which periods CloudWatch still keeps, how old an alarm is) asks a [`Clock`] instead of the
//! system, so a test pins the present relative to its fixture and means the same on any day.
//!
//! Lambda and the CLI use [`Clock::system`]. Leases and expiries in the state table compare the
//! table's own records with the present and keep the system time: nothing there depends on how
//! old an alarm is.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system's time.
    #[default]
    System,
    /// Always this instant (tests, replaying an old alarm as if it were fresh).
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn system() -> Self {
        Self::System
    }

    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self::Fixed(at)
    }

    /// A clock that reads `age` after `at`: "this alarm, delivered `age` after it changed state".
    pub fn after(at: DateTime<Utc>, age: Duration) -> Self {
        Self::Fixed(at + age)
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Fixed(t) => *t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_does_not_move_and_the_system_one_does() {
        let at = DateTime::parse_from_rfc3339("2026-11-20T14:07:31Z").unwrap().with_timezone(&Utc);
        assert_eq!(Clock::fixed(at).now(), at);
        assert_eq!(Clock::after(at, Duration::days(20)).now(), at + Duration::days(20));
        let before = Utc::now();
        assert!(Clock::system().now() >= before);
    }
}
