//! Where a binary started by a test listens: tests give it port 0 and a
//! `PRPULSE_BOUND_ADDRESSES_FILE`, and read back the address it bound, so
//! no test guesses a free port that someone else may take first.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use prpulse_runtime::bound::reported;
use tokio::process::Child;

use crate::{eventually, unique_suffix};

/// Listen on any free local port.
pub const ANY_LOCAL_PORT: &str = "127.0.0.1:0";

/// How long a binary may take from its start to its listeners being bound
/// (it migrates the database first, on a loaded machine).
const START_WITHIN: Duration = Duration::from_secs(60);

/// The file one process reports its bound addresses to; removed on drop.
#[derive(Debug)]
pub struct AddressFile {
    path: PathBuf,
}

impl AddressFile {
    pub fn new(binary: &str) -> Self {
        Self {
            path: std::env::temp_dir().join(format!("prpulse-{binary}-{}.addrs", unique_suffix())),
        }
    }

    /// The variable that tells a binary to report to this file.
    pub fn env(&self) -> (&'static str, String) {
        (
            "PRPULSE_BOUND_ADDRESSES_FILE",
            self.path.display().to_string(),
        )
    }

    /// What `listener` (`ingest`, `api`, `metrics`) reported so far.
    pub fn read(&self, listener: &str) -> Option<SocketAddr> {
        reported(&std::fs::read_to_string(&self.path).ok()?, listener)
    }

    /// The address `listener` bound, once `child` reported it; `None` if
    /// `child` exited first.
    pub async fn wait_for(&self, listener: &str, child: &mut Child) -> Option<SocketAddr> {
        eventually(
            &format!(
                "{listener} reporting its address in {}",
                self.path.display()
            ),
            START_WITHIN,
            async || match self.read(listener) {
                Some(addr) => Ok(Some(addr)),
                None if child.try_wait().ok().flatten().is_some() => Ok(None),
                None => Err("not reported yet"),
            },
        )
        .await
    }
}

impl Drop for AddressFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
