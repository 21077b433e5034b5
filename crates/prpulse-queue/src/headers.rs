//! Typed reads and writes of AMQP header tables.

use lapin::types::{AMQPValue, FieldTable, LongString};

pub fn put_str(table: &mut FieldTable, key: &str, value: &str) {
    table.insert(key.into(), AMQPValue::LongString(LongString::from(value)));
}

pub fn put_i64(table: &mut FieldTable, key: &str, value: i64) {
    table.insert(key.into(), AMQPValue::LongLongInt(value));
}

/// A header as text, whichever string type the sender used.
pub fn get_str<'a>(table: &'a FieldTable, key: &str) -> Option<&'a str> {
    match table.inner().get(key)? {
        AMQPValue::LongString(value) => std::str::from_utf8(value.as_bytes()).ok(),
        AMQPValue::ShortString(value) => Some(value.as_str()),
        _ => None,
    }
}

/// A header as an integer, whichever integer type the sender used.
pub fn get_i64(table: &FieldTable, key: &str) -> Option<i64> {
    match table.inner().get(key)? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::Timestamp(v) => i64::try_from(*v).ok(),
        AMQPValue::LongString(v) => std::str::from_utf8(v.as_bytes()).ok()?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_wrote_and_tolerates_other_types() {
        let mut table = FieldTable::default();
        put_str(&mut table, "s", "hello");
        put_i64(&mut table, "n", 42);
        table.insert("short".into(), AMQPValue::ShortString("hi".into()));
        table.insert("small".into(), AMQPValue::ShortUInt(7));
        assert_eq!(get_str(&table, "s"), Some("hello"));
        assert_eq!(get_str(&table, "short"), Some("hi"));
        assert_eq!(get_i64(&table, "n"), Some(42));
        assert_eq!(get_i64(&table, "small"), Some(7));
        assert_eq!(get_i64(&table, "s"), None);
        assert_eq!(get_str(&table, "absent"), None);
    }
}
