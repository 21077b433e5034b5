//! The `Link` response header: `<url>; rel="next", <url>; rel="last"`.

/// The URL of the `rel="next"` page, if any.
pub fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|param| param.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_page_whatever_the_order() {
        let link = r#"<https://api.github.com/repositories/1/hooks?page=3>; rel="last", <https://api.github.com/repositories/1/hooks?page=2>; rel="next""#;
        assert_eq!(
            next_page(link).as_deref(),
            Some("https://api.github.com/repositories/1/hooks?page=2")
        );
        let cursor = r#"<https://api.github.com/repos/o/r/hooks/1/deliveries?per_page=100&cursor=v1_12077215967>; rel="next""#;
        assert!(
            next_page(cursor)
                .unwrap()
                .ends_with("cursor=v1_12077215967")
        );
        assert_eq!(next_page(r#"<https://x/?page=1>; rel="prev""#), None);
        assert_eq!(next_page(""), None);
    }
}
