//! Topic names, topic filters, shared subscriptions and matching (section 4.7, 4.8.2).

/// Is `name` a valid Topic Name: at least one character [MQTT-4.7.3-1], no wildcard
/// [MQTT-4.7.0-1] (3.1.1: [MQTT-4.7.1-1]), no U+0000 [MQTT-4.7.3-2], at most 65535 bytes
/// [MQTT-4.7.3-3]?
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= usize::from(u16::MAX)
        && !name.bytes().any(|b| matches!(b, b'+' | b'#' | 0))
}

/// Is `filter` a valid Topic Filter: at least one character, no U+0000, `#` only as the whole
/// last level [MQTT-4.7.1-1] (3.1.1: [MQTT-4.7.1-2]), `+` only as a whole level
/// [MQTT-4.7.1-2] (3.1.1: [MQTT-4.7.1-3])? A `$share/` prefix is not interpreted here: see
/// [`parse_shared_subscription`].
pub fn valid_topic_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.len() > usize::from(u16::MAX) || filter.contains('\0') {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        match level {
            "#" if last => {}
            "+" => {}
            l if l.contains(['+', '#']) => return false,
            _ => {}
        }
    }
    true
}

/// A 5.0 shared subscription filter split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedSubscription<'a> {
    /// The ShareName.
    pub share_name: &'a str,
    /// The Topic Filter after the ShareName.
    pub filter: &'a str,
}

/// Splits `$share/{ShareName}/{filter}`. `None` if `filter` does not start with `$share/`;
/// `Some(Err(()))` if it does but breaks [MQTT-4.8.2-1] / [MQTT-4.8.2-2] (empty share name,
/// `+`, `#` in it, or no valid filter after it).
#[allow(clippy::result_unit_err)]
pub fn parse_shared_subscription(filter: &str) -> Option<Result<SharedSubscription<'_>, ()>> {
    let rest = filter.strip_prefix("$share/")?;
    let Some((share_name, inner)) = rest.split_once('/') else {
        return Some(Err(()));
    };
    if share_name.is_empty() || share_name.contains(['+', '#']) || !valid_topic_filter(inner) {
        return Some(Err(()));
    }
    Some(Ok(SharedSubscription {
        share_name,
        filter: inner,
    }))
}

/// Does the Topic Filter `filter` match the Topic Name `name`?
///
/// `+` matches exactly one level (possibly empty), `#` the parent level and any number of
/// child levels; a filter starting with a wildcard does not match a name starting with `$`
/// [MQTT-4.7.2-1]. No normalization is applied [MQTT-4.7.3-4]. The filter is not validated:
/// an invalid filter matches nothing sensible, never panics.
pub fn topic_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(nl)) if fl == nl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_topic_name("a/b"));
        assert!(valid_topic_name("/"));
        assert!(valid_topic_name(" "));
        assert!(!valid_topic_name(""));
        assert!(!valid_topic_name("a/+"));
        assert!(!valid_topic_name("a/#"));
        assert!(!valid_topic_name("a\0b"));
    }

    #[test]
    fn filters() {
        for ok in [
            "#",
            "+",
            "a/#",
            "+/+",
            "/+",
            "a//b",
            "sport/tennis/+",
            "+/tennis/#",
            "$SYS/#",
        ] {
            assert!(valid_topic_filter(ok), "{ok}");
        }
        for bad in ["", "a#", "a/#/b", "a+", "+a/b", "a/b#", "##", "a\0"] {
            assert!(!valid_topic_filter(bad), "{bad}");
        }
    }

    #[test]
    fn shared() {
        assert_eq!(
            parse_shared_subscription("$share/g/a/+"),
            Some(Ok(SharedSubscription {
                share_name: "g",
                filter: "a/+"
            }))
        );
        assert_eq!(parse_shared_subscription("a/b"), None);
        assert_eq!(parse_shared_subscription("$share/g"), Some(Err(())));
        assert_eq!(parse_shared_subscription("$share//a"), Some(Err(())));
        assert_eq!(parse_shared_subscription("$share/g+/a"), Some(Err(())));
        assert_eq!(parse_shared_subscription("$share/g/"), Some(Err(())));
    }

    #[test]
    fn matching() {
        assert!(topic_matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1"
        ));
        assert!(topic_matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(topic_matches("sport/#", "sport"));
        assert!(topic_matches("#", "a/b/c"));
        assert!(topic_matches("sport/+", "sport/"));
        assert!(!topic_matches("sport/+", "sport"));
        assert!(topic_matches("+/+", "/finance"));
        assert!(topic_matches("/+", "/finance"));
        assert!(!topic_matches("+", "/finance"));
        assert!(!topic_matches("#", "$SYS/x"));
        assert!(!topic_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(topic_matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(topic_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(!topic_matches("a/b", "a/b/c"));
        assert!(!topic_matches("a/b/c", "a/b"));
        assert!(!topic_matches("A", "a"));
    }
}
