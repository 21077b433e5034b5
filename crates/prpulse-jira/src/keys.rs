//! Which Jira issues a pull request names. Only its title, head branch and
//! body are scanned: the rest of a GitHub payload holds strings such as
//! `"spdx_id": "GPL-3.0"` that look like keys. The caller then keeps only
//! keys of projects some integration knows.

use std::{collections::BTreeSet, sync::LazyLock};

use regex::Regex;

/// Jira's key shape, whole words only (`XTEST-1` is not `TEST-1`,
/// `TEST-12b` is no key).
static KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[A-Z][A-Z0-9_]+-[0-9]+\b").expect("a valid pattern"));

/// The distinct keys in the three fields, sorted. Branch names are
/// conventionally lower case (`abc-123-fix`), so the branch is matched
/// upper-cased; titles and bodies are matched as written.
pub fn issue_keys_in(
    title: Option<&str>,
    head_ref: Option<&str>,
    body: Option<&str>,
) -> Vec<String> {
    let mut keys = BTreeSet::new();
    let branch = head_ref.map(str::to_ascii_uppercase);
    for text in [title, branch.as_deref(), body].into_iter().flatten() {
        for found in KEY.find_iter(text) {
            keys.insert(found.as_str().to_owned());
        }
    }
    keys.into_iter().collect()
}

/// `ABC` of `ABC-12`.
pub fn project_of(key: &str) -> Option<&str> {
    key.rsplit_once('-').map(|(project, _)| project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_title_branch_and_body_deduplicated() {
        let keys = issue_keys_in(
            Some("[TEST-123] Fix the thing, see TEST-124"),
            Some("feature/test-321-the-thing"),
            Some("Closes TEST-124 and OPS_2-7.\n"),
        );
        assert_eq!(keys, ["OPS_2-7", "TEST-123", "TEST-124", "TEST-321"]);
    }

    #[test]
    fn look_alikes_are_not_keys() {
        assert!(
            issue_keys_in(Some("XTEST-1b, a-1, A-1, utf-8"), None, Some("TEST-12b")).is_empty()
        );
        assert_eq!(
            issue_keys_in(Some("xTEST-1"), None, None),
            Vec::<String>::new()
        );
        assert_eq!(issue_keys_in(None, None, None), Vec::<String>::new());
    }

    #[test]
    fn the_project_is_before_the_last_dash() {
        assert_eq!(project_of("OPS_2-7"), Some("OPS_2"));
        assert_eq!(project_of("nokey"), None);
    }
}
