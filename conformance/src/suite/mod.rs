//! The catalogue of conformance tests, one module per area of the standards.
//!
//! A statement id leads to its tests with `grep -rn 'MQTT-3.1.2-4' conformance/src/suite/`.
//!
//! | module | chapters |
//! | --- | --- |
//! | `connect` | 3.1 CONNECT, 3.2 CONNACK, 3.14 DISCONNECT, 3.12/3.13 PING, keep alive, wills, client ids, authentication |
//! | `session` | 4.1 session state, clean session / clean start, session present, session expiry, takeover, redelivery after reconnect (4.4) |
//! | `publish` | 3.3-3.7 PUBLISH and acks, 4.3 QoS flows, 2.3.1 packet ids, 4.6 ordering, message expiry, payload format, request/response, user properties, 4.9 flow control, topic aliases, maximum packet size |
//! | `subscribe` | 3.8-3.11 SUBSCRIBE/SUBACK/UNSUBSCRIBE/UNSUBACK, 4.7 topics and wildcards, `$` topics, subscription options, subscription ids, 4.8 shared subscriptions, retained messages |
//! | `malformed` | 1.5 data representation, 2.x fixed header and properties, 4.13 errors, malformed packets of every type, 4.12 AUTH / enhanced authentication |
//! | `transport` | 6 MQTT over WebSocket (runs when the target is reached over WebSocket) |

use crate::case::TestCase;

pub mod connect;
pub mod malformed;
pub mod publish;
pub mod session;
pub mod subscribe;
pub mod transport;
pub(crate) mod util;

/// Every test of the suite, in catalogue order.
pub fn all() -> Vec<TestCase> {
    let mut v = Vec::new();
    v.extend(connect::tests());
    v.extend(session::tests());
    v.extend(publish::tests());
    v.extend(subscribe::tests());
    v.extend(malformed::tests());
    v.extend(transport::tests());
    v
}
