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
    /// `-c name=value` settings of every start.
    settings: Vec<String>,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A cluster started with these settings (`name=value`) besides the
    /// suite's own, e.g. `synchronous_standby_names=*`.
    pub fn start_with(settings: &[&str]) -> Self {
        let bin = server_binaries();
        let data = std::env::temp_dir().join(format!("prpulse-pg-{}", unique_suffix()));
        std::fs::create_dir_all(&data).unwrap();
        if running_as_root() {
            // Postgres refuses to run as root: the cluster belongs to postgres.
            run(Command::new("chown").arg("postgres:").arg(&data));
        }
        let port = free_port();
        let cluster = Self {
            bin,
            data,
            port,
            settings: settings.iter().map(|&setting| setting.to_owned()).collect(),
        };
        cluster.pg(
            &["initdb", "-A", "trust", "-U", "postgres", "--no-sync", "-D"],
            true,
        );
        cluster.start_again();
        cluster
    }

    /// A hot standby of `primary`, streaming from it: a base backup taken
    /// with `pg_basebackup -R` (which writes the standby's connection to
    /// the primary), started on a port of its own.
    pub fn standby_of(primary: &Self) -> Self {
        let data = std::env::temp_dir().join(format!("prpulse-pg-{}", unique_suffix()));
        let standby = Self {
            bin: primary.bin.clone(),
            data,
            port: free_port(),
            settings: Vec::new(),
        };
        let primary_port = primary.port.to_string();
        standby.pg(
            &[
                "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port,
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "--no-sync",
                "-D",
            ],
            true,
        );
        standby.start_again();
        standby
    }

    /// Makes this standby the primary (`pg_ctl promote`, waiting until it
    /// takes writes).
    pub fn promote(&self) {
        self.pg(&["pg_ctl", "promote", "-w", "-D"], true);
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops it the way an operator restarts it: connections are closed.
    pub fn stop(&self) {
        self.pg(&["pg_ctl", "stop", "-m", "fast", "-w", "-D"], true);
    }

    /// Starts it refusing writes: a server to read, that no client asking
    /// for a read-write session takes for a primary.
    pub fn start_read_only(&self) {
        self.start_with_settings(&["default_transaction_read_only=on"]);
    }

    pub fn start_again(&self) {
        self.start_with_settings(&[]);
    }

    fn start_with_settings(&self, extra: &[&str]) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.data.display()
        );
        for setting in self
            .settings
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
        {
            options.push_str(&format!(" -c {setting}"));
        }
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
