//! Peak resident memory of a process, from `/proc/<pid>/status`.

/// `VmHWM` (the high-water mark of the resident set) in MiB, if the
/// process exists and the kernel reports it.
pub fn peak_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

/// The larger of two peaks, either of which may be unknown.
pub fn larger(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn parse_vm_hwm(status: &str) -> Option<f64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark() {
        let status = "Name:\tprpulse-ingest\nVmPeak:\t 400000 kB\nVmHWM:\t   30720 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(30.0));
        assert!(peak_mib(std::process::id()).is_some_and(|mib| mib > 0.0));
    }
}
