//! Topic authorization and the filter-covers-filter test it needs.

use mqtt_codec::topic_matches;

use crate::config::{Acl, AclAccess};

/// The operation checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Publish,
    Subscribe,
}

/// Is `op` on `topic` (a topic name for publish, a filter for subscribe) allowed?
pub(crate) fn allowed(
    acl: Option<&Acl>,
    op: Op,
    client_id: &str,
    username: Option<&str>,
    topic: &str,
) -> bool {
    let Some(acl) = acl else {
        return true;
    };
    for rule in &acl.rules {
        if let Some(u) = &rule.username {
            if username != Some(u.as_str()) {
                continue;
            }
        }
        if let Some(c) = &rule.client_id {
            if c != client_id {
                continue;
            }
        }
        let covers_op = matches!(
            (rule.access, op),
            (AclAccess::All, _)
                | (AclAccess::Publish, Op::Publish)
                | (AclAccess::Subscribe, Op::Subscribe)
        );
        if !covers_op {
            continue;
        }
        let pattern = rule
            .topic
            .replace("%c", client_id)
            .replace("%u", username.unwrap_or(""));
        let hit = match op {
            Op::Publish => topic_matches(&pattern, topic),
            Op::Subscribe => filter_covers(&pattern, topic),
        };
        if hit {
            return rule.allow;
        }
    }
    acl.default_allow
}

/// Does every topic name matched by `inner` also match `outer`?
pub(crate) fn filter_covers(outer: &str, inner: &str) -> bool {
    if outer == inner {
        return true;
    }
    let mut o = outer.split('/');
    let mut i = inner.split('/');
    // A leading wildcard in `outer` does not match `$` topics; an `inner` starting with `$`
    // names such topics only.
    if inner.starts_with('$') && (outer.starts_with('+') || outer.starts_with('#')) {
        return false;
    }
    loop {
        match (o.next(), i.next()) {
            (Some("#"), _) => return true,
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b && a != "+" => {}
            (Some(_), Some(_)) => return false,
            (None, None) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers() {
        assert!(filter_covers("a/#", "a/b/+"));
        assert!(filter_covers("#", "a"));
        assert!(filter_covers("a/+", "a/b"));
        assert!(!filter_covers("a/+", "a/#"));
        assert!(!filter_covers("a/b", "a/+"));
        assert!(!filter_covers("#", "$SYS/x"));
        assert!(filter_covers("a/#", "a"));
    }
}
