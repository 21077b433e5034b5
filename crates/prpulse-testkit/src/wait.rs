//! The one way tests wait: poll a condition until it holds, with a
//! deadline that fails the test with what was seen last. Never a sleep to
//! let something happen, nor one to prove that something did not (wait
//! for a later sentinel, or a counter, instead).

use std::{fmt::Debug, time::Duration};

use tokio::time::Instant;

/// How often a condition is asked again.
const POLL: Duration = Duration::from_millis(50);

/// What a check may answer: `true`, `Some(value)` or `Ok(value)` when the
/// condition holds; `false`, `None` or `Err(seen)` while it does not, with
/// `seen` put in the failure message.
pub trait Settled {
    type Value;
    type Seen: Debug;
    fn settled(self) -> Result<Self::Value, Self::Seen>;
}

impl Settled for bool {
    type Value = ();
    type Seen = bool;
    fn settled(self) -> Result<(), bool> {
        if self { Ok(()) } else { Err(false) }
    }
}

impl<T> Settled for Option<T> {
    type Value = T;
    type Seen = &'static str;
    fn settled(self) -> Result<T, &'static str> {
        self.ok_or("nothing yet")
    }
}

impl<T, E: Debug> Settled for Result<T, E> {
    type Value = T;
    type Seen = E;
    fn settled(self) -> Result<T, E> {
        self
    }
}

/// Asks `check` every 50 ms until it settles and returns its value; fails
/// the test, naming `what` and the last answer, if it has not within
/// `within`. It asks at least once, however short `within` is.
pub async fn eventually<R: Settled>(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> R,
) -> R::Value {
    let deadline = Instant::now() + within;
    loop {
        let seen = match check().await.settled() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}; last seen: {seen:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_what_the_check_settled_on() {
        let mut asked = 0;
        let value = eventually("the third answer", Duration::from_secs(30), async || {
            asked += 1;
            (asked == 3).then_some(asked)
        })
        .await;
        assert_eq!(value, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "never: not within 0ns; last seen: \"still 2 of 3\"")]
    async fn fails_naming_what_it_waited_for_and_the_last_answer() {
        eventually("never", Duration::ZERO, async || {
            Err::<(), _>("still 2 of 3")
        })
        .await;
    }
}
