//! The hashing threads: a fixed pool that owns the Argon2 memory and a
//! bounded queue in front of it.
//!
//! Each of the `workers` threads allocates its Argon2 memory once and
//! hands it to every job it runs, so memory stays at workers × m_cost
//! however many logins arrive. The threads run in the idle scheduling
//! class: they get every cycle no other thread wants, so requests that only
//! check a token never wait behind a storm of logins. At most
//! [`WAITING_PER_WORKER`] jobs per thread may wait; beyond, a job is shed
//! with [`HashingError::Busy`] instead of growing the queue. A job whose
//! caller has gone is skipped.
//!
//! This module never sleeps on a hashing thread and knows nothing of
//! passwords: it runs closures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use argon2::Block;

use crate::hashing::HashingError;
use crate::telemetry;

/// Hashes that may wait per hashing thread: at about 15 ms a hash, a full
/// queue drains in about two seconds.
pub(super) const WAITING_PER_WORKER: usize = 128;

/// A unit of work for a hashing thread, given that thread's Argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The threads and the queue; see the module documentation.
pub(super) struct HashingPool {
    jobs: Mutex<mpsc::Sender<Job>>,
    waiting: Arc<AtomicUsize>,
    /// Jobs allowed to wait at once; beyond, requests are shed.
    max_waiting: usize,
}

impl HashingPool {
    /// Starts `workers` threads (at least one).
    pub(super) fn start(workers: usize) -> Result<Self, HashingError> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers.max(1) {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("portcullis-hash-{index}"))
                .spawn(move || {
                    if let Err(error) = run_only_when_idle() {
                        tracing::warn!(?error, "could not lower the priority of a hashing thread");
                    }
                    let mut memory = Vec::new();
                    loop {
                        let job = receiver
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| HashingError::Internal(e.to_string()))?;
        }
        Ok(Self {
            jobs: Mutex::new(sender),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: workers.max(1) * WAITING_PER_WORKER,
        })
    }

    /// Jobs waiting for a thread right now.
    pub(super) fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Queues `work` for a hashing thread and waits for its answer.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> Result<T, HashingError> + Send + 'static,
    ) -> Result<T, HashingError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let waiting = Arc::clone(&self.waiting);
        let queued = Instant::now();
        let ahead = waiting.fetch_add(1, Ordering::Relaxed);
        if ahead >= self.max_waiting {
            waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(HashingError::Busy);
        }
        telemetry::hash_queue_depth(ahead + 1);
        let job: Job = Box::new(move |memory| {
            telemetry::hash_queue_depth(waiting.fetch_sub(1, Ordering::Relaxed) - 1);
            telemetry::hash_wait(queued.elapsed());
            // A client that gave up no longer needs the answer: skip the work.
            if !answer.is_closed() {
                let _ = answer.send(work(memory));
            }
        });
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| HashingError::PoolClosed)?;
        answered.await.map_err(|_| HashingError::PoolClosed)?
    }
}

/// Puts the calling thread in Linux's `SCHED_IDLE` class (elsewhere, the
/// lowest priority): it gets every cycle no other thread wants, and yields
/// the moment one does.
fn run_only_when_idle() -> Result<(), thread_priority::Error> {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    }
}
