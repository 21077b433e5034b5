//! The one place that decides what becomes of a delivery after an attempt.

use std::fmt::Display;

use prpulse_store::error::Retryability;

use crate::process::{ProcessError, Processed};

#[derive(Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Done (or already done before): ack.
    Ack(Processed),
    /// Lost a race or hit a passing limit: send to retry tier `tier`, whose
    /// delay brings it back to the work queue.
    Retry { tier: usize, error: String },
    /// Can never succeed as it is, or out of retries: to the dead-letter
    /// queue, with why.
    DeadLetter(String),
    /// The database is away: keep the delivery unacked and try again in
    /// place. Retrying through the tiers would spend attempts on an outage,
    /// and holding it stops this worker from taking more.
    Hold,
    /// Shutting down while holding it: give it back to the broker.
    Requeue,
}

/// An error that knows whether trying again can help.
pub trait Failure: Display {
    fn retryability(&self) -> Retryability;
}

impl Failure for ProcessError {
    fn retryability(&self) -> Retryability {
        match self {
            Self::Payload(_) => Retryability::Permanent,
            Self::Store(error) => error.retryability(),
        }
    }
}

impl Disposition {
    /// `retries` is how many times the delivery already went through a
    /// retry tier; `tiers` how many tiers there are.
    pub fn of<E: Failure>(result: &Result<Processed, E>, retries: u32, tiers: usize) -> Self {
        let error = match result {
            Ok(processed) => return Self::Ack(*processed),
            Err(error) => error,
        };
        let tier = usize::try_from(retries).unwrap_or(usize::MAX);
        match error.retryability() {
            Retryability::Unavailable => Self::Hold,
            Retryability::Transient if tier < tiers => Self::Retry {
                tier,
                error: error.to_string(),
            },
            Retryability::Transient => Self::DeadLetter(format!(
                "gave up after {} attempts: {error}",
                retries.saturating_add(1)
            )),
            Retryability::Permanent => Self::DeadLetter(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(Retryability);

    impl Display for Fake {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?} failure", self.0)
        }
    }

    impl Failure for Fake {
        fn retryability(&self) -> Retryability {
            self.0
        }
    }

    fn of(retryability: Retryability, retries: u32) -> Disposition {
        Disposition::of::<Fake>(&Err(Fake(retryability)), retries, 4)
    }

    #[test]
    fn successes_ack() {
        assert_eq!(
            Disposition::of::<Fake>(&Ok(Processed::Duplicate), 3, 4),
            Disposition::Ack(Processed::Duplicate)
        );
    }

    #[test]
    fn transient_failures_climb_the_tiers_then_die() {
        for retries in 0..4 {
            assert_eq!(
                of(Retryability::Transient, retries),
                Disposition::Retry {
                    tier: retries as usize,
                    error: "Transient failure".into()
                }
            );
        }
        assert_eq!(
            of(Retryability::Transient, 4),
            Disposition::DeadLetter("gave up after 5 attempts: Transient failure".into())
        );
    }

    #[test]
    fn an_outage_holds_whatever_the_attempt_and_permanent_dies_at_once() {
        assert_eq!(of(Retryability::Unavailable, 0), Disposition::Hold);
        assert_eq!(of(Retryability::Unavailable, 99), Disposition::Hold);
        assert_eq!(
            of(Retryability::Permanent, 0),
            Disposition::DeadLetter("Permanent failure".into())
        );
    }

    #[test]
    fn bad_payloads_are_permanent() {
        let error = ProcessError::Payload(crate::projection::PayloadError::OutOfRange {
            field: "pull_request.number",
            value: 1 << 40,
        });
        assert!(matches!(
            Disposition::of(&Err(error), 0, 4),
            Disposition::DeadLetter(reason) if reason.contains("pull_request.number")
        ));
    }
}
