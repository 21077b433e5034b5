//! A Postgres cluster of the suite's own (initdb + pg_ctl on a free port),
//! so a test can stop and start it without touching the machine's.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::{stack::free_port, unique_suffix};

pub struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bin = server_binaries();
        let data = std::env::temp_dir().join(format!("prpulse-pg-{}", unique_suffix()));
        std::fs::create_dir_all(&data).unwrap();
        if running_as_root() {
            // Postgres refuses to run as root: the cluster belongs to postgres.
            run(Command::new("chown").arg("postgres:").arg(&data));
        }
        let port = free_port();
        let cluster = Self { bin, data, port };
        cluster.pg(
            &["initdb", "-A", "trust", "-U", "postgres", "--no-sync", "-D"],
            true,
        );
        cluster.start_again();
        cluster
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops it the way an operator restarts it: connections are closed.
    pub fn stop(&self) {
        self.pg(&["pg_ctl", "stop", "-m", "fast", "-w", "-D"], true);
    }

    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.data.display()
        );
        self.pg(
            &[
                "pg_ctl",
                "start",
                "-w",
                "-l",
                "/dev/null",
                "-o",
                &options,
                "-D",
            ],
            true,
        );
    }

    /// Runs a server binary with the data directory as its last argument.
    fn pg(&self, args: &[&str], must_succeed: bool) {
        let program = self.bin.join(args[0]);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command
            .args(&args[1..])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let output = command.output().expect("running a Postgres server binary");
        assert!(
            !must_succeed || output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.pg(&["pg_ctl", "stop", "-m", "immediate", "-D"], false);
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn server_binaries() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|entry| Some(entry.ok()?.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists());
    versions.sort();
    versions.pop().expect(
        "the fault suite runs a private Postgres cluster and needs the server binaries \
         (initdb, pg_ctl) under /usr/lib/postgresql/<version>/bin: install postgresql",
    )
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn run(command: &mut Command) {
    let status = command.status().expect("running a command");
    assert!(status.success(), "{command:?} failed");
}
