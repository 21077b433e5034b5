//! The stack's processes as a test sees them: their ids, whether they
//! still run, and stopping them gently (SIGTERM) or not (SIGKILL).

use std::process::ExitStatus;

use tokio::process::Child;

use super::Stack;
use crate::process::terminate;

impl Stack {
    /// The process id of ingest, e.g. to read its memory in `/proc`.
    pub fn ingest_pid(&self) -> Option<u32> {
        self.ingest.as_ref().and_then(Child::id)
    }

    /// True while ingest and every worker started by the stack still run.
    pub fn all_running(&mut self) -> bool {
        self.ingest
            .iter_mut()
            .chain(self.workers.iter_mut())
            .all(|child| child.try_wait().is_ok_and(|status| status.is_none()))
    }

    /// The process ids of the running workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().filter_map(Child::id).collect()
    }

    /// Sends SIGTERM to ingest and returns how it exited.
    pub async fn terminate_ingest(&mut self) -> ExitStatus {
        let child = self.ingest.as_mut().expect("ingest is running");
        terminate(child).await
    }

    /// Kills every worker with SIGKILL: a crash, nothing settled.
    pub async fn kill_workers(&mut self) {
        for mut worker in self.workers.drain(..) {
            let _ = worker.start_kill();
            let _ = worker.wait().await;
        }
        self.worker_addresses.clear();
    }

    /// Sends SIGTERM to every worker and returns how each exited.
    pub async fn terminate_workers(&mut self) -> Vec<ExitStatus> {
        let mut statuses = Vec::new();
        for mut worker in self.workers.drain(..) {
            statuses.push(terminate(&mut worker).await);
        }
        self.worker_addresses.clear();
        statuses
    }
}
