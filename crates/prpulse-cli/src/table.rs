use comfy_table::{Table, presets::NOTHING};

/// Left-aligned columns, each as wide as its widest cell (by display
/// width, so names in wide scripts line up), two spaces apart, no borders:
/// easy to read and to `awk`.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header(header.to_vec());
    for row in rows {
        table.add_row(row.clone());
    }
    let last = header.len().saturating_sub(1);
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { 2 }));
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let rendered = render(
            &["ID", "REASON"],
            &[
                vec!["a".into(), "short".into()],
                vec!["longer-id".into(), "x".into()],
            ],
        );
        assert_eq!(
            rendered,
            "ID         REASON\na          short\nlonger-id  x"
        );
    }

    #[test]
    fn wide_characters_count_by_display_width() {
        let rendered = render(
            &["WHO", "N"],
            &[
                vec!["日本".into(), "1".into()],
                vec!["abcde".into(), "2".into()],
            ],
        );
        assert_eq!(rendered, "WHO    N\n日本   1\nabcde  2");
    }
}
