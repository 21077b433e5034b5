//! Where a binary's listeners ended up. An address with port 0 binds a
//! port the kernel picks, so whoever started the binary (a test, a
//! supervisor) learns it here instead of guessing a free port, which
//! another process may take first: every listener says its address in
//! its log line and, when `PRPULSE_BOUND_ADDRESSES_FILE` names a file,
//! appends `<listener> <address>` to it as one line.

use std::{io::Write, net::SocketAddr, path::PathBuf};

use tracing::info;

use crate::Env;

#[derive(Clone, Debug, Default)]
pub struct BoundAddresses {
    file: Option<PathBuf>,
}

impl BoundAddresses {
    /// `PRPULSE_BOUND_ADDRESSES_FILE`; unset, listeners only log.
    pub fn from_env(env: &Env) -> Self {
        Self {
            file: env.get("PRPULSE_BOUND_ADDRESSES_FILE").map(PathBuf::from),
        }
    }

    /// Logs that `listener` (`ingest`, `api`, `metrics`) listens on `addr`
    /// and appends it to the file, if one is named. The line goes out in
    /// one write on a file opened for appending, so a reader never sees
    /// half of it and the listeners of one process may share the file.
    pub fn report(&self, listener: &str, addr: SocketAddr) -> std::io::Result<()> {
        info!(listener, %addr, "listening");
        let Some(path) = &self.file else {
            return Ok(());
        };
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(format!("{listener} {addr}\n").as_bytes())
    }
}

/// The address `listener` reported in `contents` (a file's text), the
/// last if it reported more than one; lines not yet ended are not read.
pub fn reported(contents: &str, listener: &str) -> Option<SocketAddr> {
    contents
        .split_inclusive('\n')
        .filter_map(|line| line.strip_suffix('\n')?.split_once(' '))
        .filter(|(name, _)| *name == listener)
        .filter_map(|(_, addr)| addr.parse().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_listener_reads_back_what_it_reported() {
        let path = std::env::temp_dir().join(format!("prpulse-bound-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let path_text = path.to_str().unwrap();
        let bound = BoundAddresses::from_env(&Env::from_pairs([(
            "PRPULSE_BOUND_ADDRESSES_FILE",
            path_text,
        )]));
        bound
            .report("ingest", "127.0.0.1:4711".parse().unwrap())
            .unwrap();
        bound
            .report("metrics", "127.0.0.1:4712".parse().unwrap())
            .unwrap();
        let contents = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            reported(&contents, "ingest"),
            Some("127.0.0.1:4711".parse().unwrap())
        );
        assert_eq!(
            reported(&contents, "metrics"),
            Some("127.0.0.1:4712".parse().unwrap())
        );
        assert_eq!(reported(&contents, "api"), None);
    }

    #[test]
    fn a_line_still_being_written_is_not_read() {
        assert_eq!(reported("ingest 127.0.0.1:47", "ingest"), None);
        assert_eq!(
            reported("ingest 127.0.0.1:1\ningest 127.0.0.1:2\n", "ingest"),
            Some("127.0.0.1:2".parse().unwrap())
        );
    }
}
