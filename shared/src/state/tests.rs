//! The thread's own logic; the table's conditions are tested against moto in `tests/state.rs`.

use super::key;
use super::thread::{Thread, HISTORY, REOPEN_WITHIN};
use crate::model::AlarmState::{Alarm, Ok as Fine};
use chrono::{DateTime, Duration, Utc};

fn at(min: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap() + Duration::minutes(min)
}

#[test]
fn a_resolve_moves_the_state_and_keeps_how_long_it_lasted() {
    let t = Thread::start("C1".into(), "1.1".into(), Alarm, at(0));
    let ok = t.told(Fine, at(23));
    assert_eq!((ok.state, ok.changed_at, ok.opened_at), (Fine, at(23), at(0)));
    assert_eq!(ok.alarm_since(), Some(at(0)));
    // Flapping: back in ALARM, then OK again: the latest run counts.
    let again = ok.told(Alarm, at(30)).told(Fine, at(41));
    assert_eq!(again.alarm_since(), Some(at(30)));
    assert_eq!(again.history.len(), 4);
}

#[test]
fn a_late_older_notification_is_told_but_does_not_move_the_state_back() {
    let t = Thread::start("C1".into(), "1.1".into(), Alarm, at(0)).told(Fine, at(20));
    let late = t.told(Alarm, at(10));
    assert_eq!((late.state, late.changed_at), (Fine, at(20)));
    assert_eq!(late.history.iter().map(|c| c.at).collect::<Vec<_>>(), [at(0), at(10), at(20)]);
}

#[test]
fn a_new_alarm_long_after_the_resolve_gets_a_new_parent() {
    let t = Thread::start("C1".into(), "1.1".into(), Alarm, at(0)).told(Fine, at(20));
    let soon = at(20) + Duration::from_std(REOPEN_WITHIN).unwrap() - Duration::minutes(1);
    assert!(t.continues(Alarm, soon), "flapping stays in the thread");
    assert!(!t.continues(Alarm, at(20) + Duration::hours(2)));
    assert!(t.continues(Fine, at(20) + Duration::hours(2)), "only a new ALARM opens a new parent");
    let open = Thread::start("C1".into(), "1.1".into(), Alarm, at(0));
    assert!(open.continues(Alarm, at(600)), "a repeat while still in ALARM stays");
}

#[test]
fn history_is_bounded_and_keeps_its_first_entry() {
    let mut t = Thread::start("C1".into(), "1.1".into(), Alarm, at(0));
    for i in 1..40 {
        t = t.told(if i % 2 == 0 { Alarm } else { Fine }, at(i));
    }
    assert_eq!(t.history.len(), HISTORY);
    assert_eq!(t.history[0].at, at(0));
    assert_eq!(t.history.last().unwrap().at, at(39));
}

#[test]
fn keys_stay_within_dynamodbs_limit() {
    assert_eq!(key(&["thread", "slack", "arn:aws:cloudwatch:us-east-1:1:alarm:x"]), "thread#slack#arn:aws:cloudwatch:us-east-1:1:alarm:x");
    let long = "é".repeat(2000);
    let k = key(&["delivery", "r", &long]);
    assert!(k.len() < 2048 && k.starts_with("delivery#r#é"), "{}", k.len());
    assert_ne!(k, key(&["delivery", "r", &format!("{long}x")]));
}
