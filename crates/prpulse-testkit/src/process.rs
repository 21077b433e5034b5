//! The binaries as processes: where they are built, waiting until one
//! serves, stopping one as an orchestrator would.

use std::{net::TcpListener, path::PathBuf, process::ExitStatus, time::Duration};

use tokio::process::Child;

use crate::eventually;

pub(crate) async fn terminate(child: &mut Child) -> ExitStatus {
    let pid = child.id().expect("the process is running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("running kill");
    assert!(sent.success());
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the process exits within 30 s of SIGTERM")
        .unwrap()
}

/// The real binaries, built by `cargo build --bins` next to this test
/// binary (target/<profile>/, tests run from target/<profile>/deps/) or
/// next to the program itself (a benchmark), or in `PRPULSE_BIN_DIR`.
pub fn binary_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("PRPULSE_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().unwrap();
            if dir.ends_with("deps") {
                dir.parent().unwrap().to_path_buf()
            } else {
                dir.to_path_buf()
            }
        });
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} does not exist: build the binaries first with `cargo build --bins` (scripts/test does)",
        path.display()
    );
    path
}

/// Waits until `child` answers `url` with a 2xx; false if it exited
/// first, a failed assertion if neither happens within 30 s.
pub async fn wait_until_serving(
    http: &reqwest::Client,
    url: &str,
    child: &mut Child,
    what: &str,
) -> bool {
    eventually(
        &format!("{what} answering {url}"),
        Duration::from_secs(30),
        async || {
            let response = http.get(url).timeout(Duration::from_secs(2)).send().await;
            if response.is_ok_and(|r| r.status().is_success()) {
                Ok(true)
            } else if child.try_wait().ok().flatten().is_some() {
                Ok(false)
            } else {
                Err("not yet")
            }
        },
    )
    .await
}

/// A port nothing listens on right now, for a test that needs a closed
/// port (an unreachable broker or database). Never to start a binary on:
/// another process may take it first; give the binary port 0 and read
/// back what it bound (`listen::AddressFile`).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
