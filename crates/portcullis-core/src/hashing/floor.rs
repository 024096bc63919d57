//! The verification floor: the least time any password check takes.
//!
//! A wrong password must take as long as an unknown email whatever scheme the
//! account's hash uses, and a bcrypt cost 12 check takes several times an
//! Argon2id one. So the hasher keeps, per cost class (scheme and parameters),
//! how long one check took on its threads, and every verification lasts at
//! least the slowest class's time plus [`MARGIN_PERCENT`]: the hash runs, then
//! the waiting request sleeps on the async side until the floor has passed
//! since the hash began. With a single class known there is nothing to hide
//! and the floor is zero, so a database of Portcullis hashes only is as fast
//! as before.
//!
//! This module must never make a hashing thread sleep, and never lower the
//! floor below the time of a class it still knows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::hashing::stored::CostClass;

/// The floor is the slowest class's time plus this share of it (in percent),
/// so that an ordinary slow run of the slowest class still ends before it.
pub(crate) const MARGIN_PERCENT: u32 = 30;

/// Known check times per cost class, and the floor they give.
#[derive(Default)]
pub(crate) struct VerificationFloor {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    times: HashMap<CostClass, Duration>,
    floor: Duration,
}

impl VerificationFloor {
    pub(crate) fn current(&self) -> Duration {
        self.lock().floor
    }

    /// Sets the time of `class` (measured, replacing any earlier value) and
    /// returns the new floor.
    pub(crate) fn record(&self, class: CostClass, took: Duration) -> Duration {
        let mut state = self.lock();
        state.times.insert(class, took);
        state.recompute()
    }

    /// Sets the time of `class` from one check if the class has none yet;
    /// returns whether it was new.
    pub(crate) fn learn(&self, class: CostClass, took: Duration) -> bool {
        let mut state = self.lock();
        if state.times.contains_key(&class) {
            return false;
        }
        state.times.insert(class, took);
        state.recompute();
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    fn recompute(&mut self) -> Duration {
        self.floor = if self.times.len() < 2 {
            Duration::ZERO
        } else {
            let slowest = self.times.values().max().copied().unwrap_or_default();
            slowest + slowest * MARGIN_PERCENT / 100
        };
        self.floor
    }
}

#[cfg(test)]
mod tests {
    use crate::hashing::StoredHash;

    use super::*;

    fn class(text: &str) -> CostClass {
        StoredHash::parse(text).unwrap().cost_class()
    }

    #[test]
    fn one_cost_needs_no_floor_two_take_the_slowest_plus_the_margin() {
        let tail = "4DMZiSTrq3pMDwQlmJuEq.1dC1az.GraIABNK2P3b1r8HM/u/aVCq";
        let (cost_10, cost_12) = (
            class(&format!("$2a$10${tail}")),
            class(&format!("$2b$12${tail}")),
        );
        assert_eq!(
            cost_10,
            class(&format!("$2y$10${tail}")),
            "the prefix costs nothing"
        );
        let floor = VerificationFloor::default();
        assert!(floor.learn(cost_10, Duration::from_millis(60)));
        assert_eq!(floor.current(), Duration::ZERO);
        assert!(floor.learn(cost_12, Duration::from_millis(200)));
        assert_eq!(floor.current(), Duration::from_millis(260));
        assert!(
            !floor.learn(cost_12, Duration::from_millis(900)),
            "known already"
        );
        assert_eq!(
            floor.record(cost_12, Duration::from_millis(100)),
            Duration::from_millis(130)
        );
    }
}
