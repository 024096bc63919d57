//! A request body that must arrive whole by a deadline.
//!
//! hyper bounds nothing about a body: a client that sends its headers and
//! then one byte a minute holds a connection, a task and a buffer for as
//! long as it likes. [`DeadlineBody`] fails the body once the deadline set
//! when its headers arrived has passed, however much is still to come, so
//! the extractor reading it answers `408` ([`is_body_timeout`] tells that
//! failure apart) and the connection is closed. A per-read timeout would not
//! do: it restarts with every byte.
//!
//! It never delays or changes the bytes that do arrive in time.

use std::error::Error;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// `inner`, failing with [`BodyTimedOut`] once `deadline` has passed.
pub(crate) struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    pub(crate) fn new(inner: Body, deadline: Instant) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }
}

/// The error of a [`DeadlineBody`] whose deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(crate) struct BodyTimedOut;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(context) {
            return Poll::Ready(frame);
        }
        match this.deadline.as_mut().poll(context) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `error`, or any error it wraps, is a [`BodyTimedOut`]: what an
/// extractor that read a [`DeadlineBody`] too slowly sent receives, inside
/// axum's own rejection types.
pub(crate) fn is_body_timeout(error: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::extract::FromRequest as _;
    use axum::http::Request;

    use super::*;

    /// A body that sends one frame and then nothing more, ever.
    struct Stalled(Option<Bytes>);

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.get_mut().0.take() {
                Some(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
                None => Poll::Pending,
            }
        }
    }

    async fn read(
        body: impl http_body::Body<Data = Bytes, Error = axum::Error> + Send + 'static,
    ) -> Result<Bytes, axum::extract::rejection::BytesRejection> {
        Bytes::from_request(Request::new(Body::new(body)), &()).await
    }

    #[tokio::test]
    async fn a_body_that_stalls_past_the_deadline_fails_as_a_timeout() {
        let deadline = Instant::now() + Duration::from_millis(200);
        let stalled = Body::new(Stalled(Some(Bytes::from_static(b"{\"a\""))));
        let rejection = read(DeadlineBody::new(stalled, deadline))
            .await
            .expect_err("the body never ends");
        assert!(is_body_timeout(&rejection), "{rejection:?}");
        assert!(Instant::now() >= deadline);
    }

    #[tokio::test]
    async fn a_body_in_time_is_untouched_and_other_failures_are_not_timeouts() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let bytes = read(DeadlineBody::new(Body::from("{}"), deadline))
            .await
            .expect("the body is whole");
        assert_eq!(bytes, "{}");
        let too_large = Body::from(vec![b'x'; 3 * 1024 * 1024]);
        let rejection = read(DeadlineBody::new(too_large, deadline))
            .await
            .expect_err("over axum's default limit");
        assert!(!is_body_timeout(&rejection), "{rejection:?}");
    }
}
