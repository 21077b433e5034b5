//! The shared GitHub fixtures, read where they are (`../shared/fixtures/github`
//! beside the checkout), never copied into the project.

use std::path::PathBuf;

pub fn root() -> PathBuf {
    std::env::var_os("PRPULSE_GITHUB_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/github")
        })
}

/// The fixtures directory, or `None` with a clear notice when it is absent.
/// Under CI it must be there: its absence fails the test.
pub fn available() -> Option<PathBuf> {
    let root = root();
    if root.is_dir() {
        return Some(root);
    }
    let notice = format!(
        "GitHub fixtures not found at {} (expected ../shared/fixtures/github beside the checkout, \
         or PRPULSE_GITHUB_FIXTURES); the tests over real GitHub payloads did not run",
        root.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{notice}");
    eprintln!("SKIPPED: {notice}");
    None
}

pub fn read(root: &std::path::Path, relative: &str) -> Vec<u8> {
    let path = root.join(relative);
    std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// The headers of a captured delivery, names lower-cased. Recorders write
/// `Name: value` or (webhook.site) `name<TAB>value`.
pub fn headers(root: &std::path::Path, relative: &str) -> Vec<(String, String)> {
    String::from_utf8(read(root, relative))
        .unwrap()
        .lines()
        .filter_map(|line| {
            let name_end = line.find([':', ' ', '\t'])?;
            let (name, value) = line.split_at(name_end);
            let value = value.trim_start_matches(':').trim();
            Some((name.trim().to_ascii_lowercase(), value.to_owned()))
        })
        .collect()
}
