//! The one place that decides what becomes of a delivery after an attempt.

use crate::process::{ProcessError, Processed};

#[derive(Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Done (or already done before): ack.
    Ack(Processed),
    /// Can never succeed as it is: to the dead-letter queue, with why.
    DeadLetter(String),
    /// The database is away or chose us as a deadlock victim: hold the
    /// delivery and try again, without spending a delivery attempt.
    Retry,
    /// Shutting down while holding it: give it back to the broker.
    Requeue,
}

impl Disposition {
    pub fn of(result: &Result<Processed, ProcessError>) -> Self {
        match result {
            Ok(processed) => Self::Ack(*processed),
            Err(ProcessError::Store(error)) if error.is_transient() => Self::Retry,
            Err(error) => Self::DeadLetter(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::PayloadError;

    #[test]
    fn successes_ack_and_bad_payloads_dead_letter() {
        assert_eq!(
            Disposition::of(&Ok(Processed::Duplicate)),
            Disposition::Ack(Processed::Duplicate)
        );
        let bad = Err(ProcessError::Payload(PayloadError::OutOfRange {
            field: "pull_request.number",
            value: 1 << 40,
        }));
        assert!(
            matches!(Disposition::of(&bad), Disposition::DeadLetter(reason)
            if reason.contains("pull_request.number"))
        );
    }
}
