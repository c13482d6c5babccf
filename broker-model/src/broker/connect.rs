//! CONNECT / CONNACK, enhanced authentication (AUTH), DISCONNECT, session takeover and
//! resumption.

use bytes::Bytes;
use mqtt_codec::{
    Auth, ConnAck, Connect, Disconnect, Packet, ProtocolVersion, PubRel, Publish, QoS, ReasonCode,
};
use mqtt_spec::v5;

use super::Broker;
use crate::conn::{Phase, ReAuth};
use crate::scram::{self, ScramServer};
use crate::session::{OutState, Session, NEVER};
use crate::types::{CloseReason, ConnId, Event};

/// An AUTH packet without properties (the codec has no constructor for it).
fn auth_packet(reason_code: ReasonCode) -> Auth {
    Auth {
        reason_code,
        ..Auth::default()
    }
}

/// Why a CONNECT is refused: the 3.1.1 return code and the 5.0 reason code.
struct Refusal {
    v3: ReasonCode,
    v5: ReasonCode,
    detail: &'static str,
    server_reference: Option<String>,
}

fn refuse(v3: ReasonCode, v5: ReasonCode, detail: &'static str) -> Refusal {
    Refusal {
        v3,
        v5,
        detail,
        server_reference: None,
    }
}

impl Broker {
    pub(super) fn on_connect(&mut self, conn: ConnId, c: Connect) {
        let version = c.protocol;
        if let Some(cn) = self.conns.get_mut(&conn) {
            cn.version = version;
            if version.is_v5() {
                // Known from here on, so that even a refusing CONNACK respects it
                // ([MQTT-3.2.2-19] [MQTT-3.2.2-20]).
                cn.client_max_packet_size = c
                    .properties
                    .maximum_packet_size
                    .unwrap_or(mqtt_codec::MAX_PACKET_SIZE);
            }
        }
        let v5 = version.is_v5();
        // Versions switched off: [MQTT-3.1.2-2] (3.1.1 CONNACK 0x01; 5.0 0x84).
        let allowed = match version {
            ProtocolVersion::V3_1 => self.config.allow_v3_1,
            ProtocolVersion::V3_1_1 => self.config.allow_v3_1_1,
            ProtocolVersion::V5 => self.config.allow_v5,
        };
        if !allowed {
            return self.refuse_connect(
                conn,
                refuse(
                    ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION,
                    ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
                    "protocol version not enabled",
                ),
            );
        }
        // Client identifier rules.
        if c.client_id.is_empty() {
            if !v5 && !c.clean_start {
                // [MQTT-3.1.3-8] (3.1.1): zero-length id needs CleanSession 1.
                return self.refuse_connect(
                    conn,
                    refuse(
                        ReasonCode::V3_IDENTIFIER_REJECTED,
                        ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
                        "zero-length client identifier with CleanSession 0",
                    ),
                );
            }
            if !self.config.assign_client_ids {
                // [MQTT-3.1.3-9] (3.1.1) / [MQTT-3.1.3-8] (5.0): identifier rejected.
                return self.refuse_connect(
                    conn,
                    refuse(
                        ReasonCode::V3_IDENTIFIER_REJECTED,
                        ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
                        "zero-length client identifiers are not accepted",
                    ),
                );
            }
        } else if self
            .config
            .max_client_id_len
            .is_some_and(|max| c.client_id.len() > max.max(23))
        {
            // [MQTT-3.1.3-5] (3.1.1): 1 to 23 characters are always allowed.
            return self.refuse_connect(
                conn,
                refuse(
                    ReasonCode::V3_IDENTIFIER_REJECTED,
                    ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
                    "client identifier too long",
                ),
            );
        }
        // Will QoS / Will Retain beyond what the server supports (5.0).
        if let Some(w) = &c.will {
            if v5 && w.qos > self.config.max_qos() {
                // [MQTT-3.2.2-12]
                return self.refuse_connect(
                    conn,
                    refuse(
                        ReasonCode::V3_NOT_AUTHORIZED,
                        ReasonCode::QOS_NOT_SUPPORTED,
                        "will QoS above the maximum QoS",
                    ),
                );
            }
            if v5 && w.retain && !self.config.retain_available {
                // [MQTT-3.2.2-13]
                return self.refuse_connect(
                    conn,
                    refuse(
                        ReasonCode::V3_NOT_AUTHORIZED,
                        ReasonCode::RETAIN_NOT_SUPPORTED,
                        "will retain without retain support",
                    ),
                );
            }
        }
        // Redirection.
        if let Some(r) = self.config.server_reference.clone() {
            return self.refuse_connect(
                conn,
                Refusal {
                    v3: ReasonCode::V3_SERVER_UNAVAILABLE,
                    v5: if r.permanent {
                        ReasonCode::SERVER_MOVED
                    } else {
                        ReasonCode::USE_ANOTHER_SERVER
                    },
                    detail: "redirected",
                    server_reference: Some(r.reference),
                },
            );
        }
        // Enhanced authentication (5.0).
        if v5 {
            if let Some(method) = c.properties.authentication_method.clone() {
                if !self.config.enhanced_auth || &*method != scram::METHOD {
                    // [MQTT-4.12.0-1]: unsupported method, CONNACK 0x8C and close.
                    return self.refuse_connect(
                        conn,
                        refuse(
                            ReasonCode::V3_NOT_AUTHORIZED,
                            ReasonCode::BAD_AUTHENTICATION_METHOD,
                            "unsupported authentication method",
                        ),
                    );
                }
                let data = c.properties.authentication_data.clone().unwrap_or_default();
                let nonce = self.random_alnum(24);
                match ScramServer::start(
                    &self.config.users,
                    self.config.scram_iterations,
                    &data,
                    &nonce,
                ) {
                    Ok((server, first)) => {
                        if let Some(cn) = self.conns.get_mut(&conn) {
                            cn.auth_method = Some(method.clone());
                            cn.phase = Phase::Authenticating {
                                connect: Box::new(c),
                                scram: Some(server),
                            };
                        }
                        // [MQTT-4.12.0-2]: AUTH 0x18 carrying the server-first message,
                        // [MQTT-4.12.0-5] with the same method.
                        let mut a = auth_packet(ReasonCode::CONTINUE_AUTHENTICATION);
                        a.properties.authentication_method = Some(method);
                        a.properties.authentication_data = Some(Bytes::from(first));
                        self.send_packet(conn, &Packet::Auth(a));
                    }
                    Err(_) => {
                        // [MQTT-4.12.0-4]: the server can reject at any point.
                        self.refuse_connect(
                            conn,
                            refuse(
                                ReasonCode::V3_NOT_AUTHORIZED,
                                ReasonCode::NOT_AUTHORIZED,
                                "authentication failed",
                            ),
                        );
                    }
                }
                return;
            }
        }
        // User name / password.
        if let Some(r) = self.check_credentials(&c) {
            return self.refuse_connect(conn, r);
        }
        self.complete_connect(conn, c, None);
    }

    fn check_credentials(&self, c: &Connect) -> Option<Refusal> {
        match &c.username {
            Some(u) => match self.config.users.get(&**u) {
                Some(pw) => {
                    if c.password.as_deref() == Some(pw.as_bytes()) {
                        None
                    } else {
                        Some(refuse(
                            ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD,
                            ReasonCode::BAD_USER_NAME_OR_PASSWORD,
                            "bad user name or password",
                        ))
                    }
                }
                None if self.config.users.is_empty() && !self.config.requires_credentials() => None,
                None => Some(refuse(
                    ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD,
                    ReasonCode::BAD_USER_NAME_OR_PASSWORD,
                    "bad user name or password",
                )),
            },
            None if self.config.requires_credentials() => Some(refuse(
                ReasonCode::V3_NOT_AUTHORIZED,
                ReasonCode::NOT_AUTHORIZED,
                "anonymous connections are not allowed",
            )),
            None => None,
        }
    }

    /// CONNACK with an error code, then close ([MQTT-3.2.2-5] 3.1.1; 5.0 [MQTT-3.2.2-6]
    /// Session Present 0). Nothing after the CONNECT is processed ([MQTT-3.1.4-5] 3.1.1,
    /// [MQTT-3.1.4-6] 5.0): the connection is removed at once.
    fn refuse_connect(&mut self, conn: ConnId, r: Refusal) {
        let v5 = self.conns.get(&conn).is_some_and(|c| c.is_v5());
        let rc = if v5 { r.v5 } else { r.v3 };
        let mut ack = ConnAck::new(rc);
        if v5 {
            ack.properties.server_reference = r.server_reference.map(Into::into);
            if self.config.reason_strings {
                ack.properties.reason_string = Some(r.detail.into());
            }
        }
        self.send_packet(conn, &Packet::ConnAck(ack));
        self.emit(Event::ConnectRefused {
            conn,
            code: Some(rc),
        });
        self.close_conn(conn, CloseReason::ConnectRefused, false, true);
    }

    /// Accepts the connection: takeover, clean start, session, CONNACK, resend.
    fn complete_connect(&mut self, conn: ConnId, c: Connect, auth_data: Option<Bytes>) {
        let v5 = c.protocol.is_v5();
        let mut assigned = None;
        let client_id = if c.client_id.is_empty() {
            // [MQTT-3.1.3-6] (both versions): a unique identifier; 5.0 [MQTT-3.1.3-7]
            // [MQTT-3.2.2-16]: returned in CONNACK.
            let id = loop {
                let candidate = format!("auto-{}", self.random_alnum(16));
                if !self.sessions.contains_key(&candidate) {
                    break candidate;
                }
            };
            assigned = Some(id.clone());
            id
        } else {
            c.client_id.to_string()
        };
        // Takeover: 5.0 [MQTT-3.1.4-3] DISCONNECT 0x8E to the old connection; 3.1.1
        // [MQTT-3.1.4-2] the old connection is closed.
        let old = self.sessions.get(&client_id).and_then(|s| s.conn);
        if let Some(old) = old.filter(|o| *o != conn) {
            if self.conns.get(&old).is_some_and(|o| o.is_v5()) {
                self.send_packet(
                    old,
                    &Packet::Disconnect(Disconnect::new(ReasonCode::SESSION_TAKEN_OVER)),
                );
            }
            self.close_conn(old, CloseReason::SessionTakenOver, true, true);
        }
        // Session expiry.
        let requested = if v5 {
            c.properties.session_expiry_interval.unwrap_or(0)
        } else if c.clean_start {
            0
        } else {
            NEVER
        };
        let granted = match self.config.max_session_expiry_interval {
            Some(max) if v5 => requested.min(max),
            _ => requested,
        };
        // Clean start: 5.0 [MQTT-3.1.2-4], 3.1.1 [MQTT-3.1.2-6]: discard the old session.
        if c.clean_start && self.sessions.contains_key(&client_id) {
            self.end_session(&client_id);
        }
        let session_present = self.sessions.contains_key(&client_id);
        if session_present {
            // 5.0 [MQTT-3.1.2-5] / 3.1.1 [MQTT-3.1.2-4]: resume. [MQTT-3.1.3-9]: a delayed
            // will of the previous connection is not sent.
            self.pending_wills.remove(&client_id);
        } else {
            // 5.0 [MQTT-3.1.2-6]: a new session.
            self.sessions.insert(
                client_id.clone(),
                Session::new(client_id.clone(), c.protocol),
            );
        }
        if let Some(s) = self.sessions.get_mut(&client_id) {
            s.conn = Some(conn);
            s.protocol = c.protocol;
            s.username = c.username.as_ref().map(|u| u.to_string());
            s.expiry_interval = granted;
            s.connect_expiry_was_zero = requested == 0;
            s.expires_at = None;
        }
        // Keep alive: 5.0 [MQTT-3.2.2-21] [MQTT-3.2.2-22]: the Server Keep Alive if sent.
        let keep_alive = match self.config.server_keep_alive {
            Some(k) if v5 => k,
            _ => c.keep_alive,
        };
        let props = &c.properties;
        if let Some(cn) = self.conns.get_mut(&conn) {
            cn.phase = Phase::Connected;
            cn.client_id = Some(client_id.clone());
            cn.username = c.username.as_ref().map(|u| u.to_string());
            cn.keep_alive = keep_alive;
            cn.last_received = self.now;
            // [MQTT-3.1.2-7] (5.0) / [MQTT-3.1.2-8] (3.1.1): the will is stored.
            cn.will = c.will.clone();
            if v5 {
                cn.client_receive_maximum = props.receive_maximum.unwrap_or(u16::MAX);
                cn.client_max_packet_size = props
                    .maximum_packet_size
                    .unwrap_or(mqtt_codec::MAX_PACKET_SIZE);
                cn.client_topic_alias_maximum = props.topic_alias_maximum.unwrap_or(0);
                cn.request_problem_information = props.request_problem_information != Some(false);
            }
        }
        // CONNACK: 3.1.1 [MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3]; 5.0 [MQTT-3.2.2-2]
        // [MQTT-3.2.2-3]: Session Present. 5.0 [MQTT-3.1.4-5] / 3.1.1 [MQTT-3.1.4-4]: 0x00.
        let mut ack = ConnAck::new(ReasonCode::SUCCESS);
        ack.session_present = session_present;
        if v5 {
            let cfg = &self.config;
            let p = &mut ack.properties;
            if granted != requested {
                p.session_expiry_interval = Some(granted);
            }
            if cfg.receive_maximum != u16::MAX {
                p.receive_maximum = Some(cfg.receive_maximum.max(1));
            }
            if cfg.max_qos() != QoS::ExactlyOnce {
                // [MQTT-3.2.2-9]
                p.maximum_qos = Some(cfg.max_qos());
            }
            if !cfg.retain_available {
                p.retain_available = Some(false);
            }
            if cfg.maximum_packet_size.is_some() {
                p.maximum_packet_size = Some(cfg.max_packet_size());
            }
            // [MQTT-3.2.2-16]
            p.assigned_client_identifier = assigned.map(Into::into);
            if cfg.topic_alias_maximum > 0 {
                p.topic_alias_maximum = Some(cfg.topic_alias_maximum);
            }
            if !cfg.wildcard_subscriptions {
                p.wildcard_subscription_available = Some(false);
            }
            if !cfg.subscription_identifiers {
                p.subscription_identifier_available = Some(false);
            }
            if !cfg.shared_subscriptions {
                p.shared_subscription_available = Some(false);
            }
            if let Some(k) = cfg.server_keep_alive {
                p.server_keep_alive = Some(k);
            }
            // [MQTT-3.1.2-28]: Response Information only when asked for.
            if props.request_response_information == Some(true) {
                p.response_information = cfg.response_information.clone().map(Into::into);
            }
            if let Some(m) = self.conns.get(&conn).and_then(|c| c.auth_method.clone()) {
                // [MQTT-4.12.0-5]
                p.authentication_method = Some(m);
                p.authentication_data = auth_data;
            }
            // [MQTT-3.2.2-19] [MQTT-3.2.2-20]: drop optional text if too large.
            let max = self
                .conns
                .get(&conn)
                .map_or(u32::MAX, |c| c.client_max_packet_size);
            if Packet::ConnAck(ack.clone())
                .encoded_len(ProtocolVersion::V5)
                .unwrap_or(usize::MAX)
                > max as usize
            {
                ack.properties.response_information = None;
                ack.properties.reason_string = None;
                ack.properties.user_properties.clear();
            }
        }
        // 5.0 [MQTT-3.2.0-1] / 3.1.1 [MQTT-3.2.0-1]: CONNACK first (only AUTH before it);
        // [MQTT-3.2.0-2]: once, as the connection leaves the connecting phases here.
        self.send_packet(conn, &Packet::ConnAck(ack));
        self.emit(Event::Connected {
            conn,
            client_id: client_id.clone(),
            protocol: c.protocol,
            session_present,
        });
        if session_present {
            self.resend_inflight(&client_id);
        }
        self.pump(&client_id);
    }

    /// [MQTT-4.4.0-1] (both versions): on resumption, unacknowledged PUBLISH packets again
    /// with DUP 1 ([MQTT-3.3.1-1]) and PUBREL packets, with their packet identifiers, in the
    /// original order (3.1.1 [MQTT-4.6.0-1]): every in-flight message is owed a resend, sent
    /// as the new connection's Receive Maximum allows.
    fn resend_inflight(&mut self, cid: &str) {
        if let Some(s) = self.sessions.get_mut(cid) {
            for f in s.inflight.iter_mut() {
                f.resend_pending = true;
                f.counted = false;
            }
        }
        self.resend_pending(cid);
    }

    /// Sends, in order, the resends a resumption left owed while the quota allows. The quota
    /// of the new connection starts again at its Receive Maximum ([MQTT-4.9.0-1]) and only
    /// PUBLISH packets take it ([MQTT-3.3.4-9] [MQTT-4.9.0-2]): a resent PUBLISH does, a
    /// resent PUBREL does not (4.9: the quota is not raised above its start when that
    /// PUBREL's PUBCOMP arrives). A resent PUBLISH carries the Message Expiry Interval left
    /// now ([MQTT-3.3.2-6]; the message is still delivered once onward delivery has started,
    /// 0 when none is left).
    pub(crate) fn resend_pending(&mut self, cid: &str) {
        let expiry_on = self.config.message_expiry;
        // The quota used, counted once and kept up to date below; `next` walks the in-flight
        // list in order, so each call costs one pass, not one per resend.
        let mut used = self
            .sessions
            .get(cid)
            .map_or(0, |s| s.inflight.iter().filter(|f| f.counted).count());
        let mut next = 0usize;
        loop {
            let Some((conn, v5, limit)) = self.send_window(cid) else {
                return;
            };
            let Some(s) = self.sessions.get_mut(cid) else {
                return;
            };
            let Some(skip) = s
                .inflight
                .range(next.min(s.inflight.len())..)
                .position(|f| f.resend_pending)
            else {
                return;
            };
            next += skip;
            let Some(f) = s.inflight.get_mut(next) else {
                return;
            };
            if f.state != OutState::AwaitPubComp {
                if used >= limit {
                    return;
                }
                f.counted = true;
                used += 1;
            }
            f.resend_pending = false;
            let f = f.clone();
            match f.state {
                OutState::AwaitPubComp => {
                    self.send_packet(conn, &Packet::PubRel(PubRel::new(f.packet_id)));
                    next += 1;
                }
                OutState::AwaitPubAck | OutState::AwaitPubRec => {
                    let expiry = if expiry_on {
                        f.delivery.msg.remaining_expiry(self.now).unwrap_or(Some(0))
                    } else {
                        f.expiry
                    };
                    let mut p: Publish = f.delivery.msg.to_publish(&f.delivery, expiry, v5);
                    p.dup = true;
                    p.packet_id = f.packet_id;
                    if self.send_publish(conn, p) {
                        next += 1;
                    } else {
                        // Too large for the client: discarded, and its quota unit with it.
                        if let Some(s) = self.sessions.get_mut(cid) {
                            s.inflight.retain(|g| g.packet_id != f.packet_id);
                        }
                        used = used.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// DISCONNECT from the client.
    pub(super) fn on_disconnect(&mut self, conn: ConnId, d: Disconnect) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let v5 = c.is_v5();
        let cid = c.client_id.clone().unwrap_or_default();
        if v5 {
            if let Some(new_expiry) = d.properties.session_expiry_interval {
                let was_zero = self
                    .sessions
                    .get(&cid)
                    .is_some_and(|s| s.connect_expiry_was_zero);
                if was_zero && new_expiry != 0 {
                    // 3.14.2.2.2: 0 at CONNECT cannot become non-zero (no statement id).
                    return self.violation(
                        conn,
                        &[],
                        ReasonCode::PROTOCOL_ERROR,
                        "session expiry changed from 0 at DISCONNECT".into(),
                    );
                }
                let max = self.config.max_session_expiry_interval.unwrap_or(u32::MAX);
                if let Some(s) = self.sessions.get_mut(&cid) {
                    s.expiry_interval = new_expiry.min(max);
                }
            }
        }
        // 5.0 [MQTT-3.1.2-10] [MQTT-3.14.4-3]: only 0x00 (Normal disconnection) discards the
        // will; 0x04 and the error codes leave it to be published. 3.1.1 [MQTT-3.1.2-10]
        // [MQTT-3.14.4-3]: any DISCONNECT discards it.
        let keep_will = v5 && d.reason_code != ReasonCode::NORMAL_DISCONNECTION;
        if !keep_will {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.will = None;
            }
        }
        self.close_conn(conn, CloseReason::ClientDisconnect, keep_will, true);
    }

    /// AUTH from the client: the CONNECT exchange or a re-authentication.
    pub(super) fn on_auth(&mut self, conn: ConnId, a: Auth) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(method) = c.auth_method.clone() else {
            // [MQTT-4.12.0-7]: AUTH without an Authentication Method in CONNECT.
            return self.violation(
                conn,
                &[v5!("MQTT-4.12.0-7")],
                ReasonCode::PROTOCOL_ERROR,
                "AUTH without an authentication method in CONNECT".into(),
            );
        };
        if a.properties.authentication_method.as_ref() != Some(&method) {
            // [MQTT-4.12.0-5]: same method in every AUTH.
            return self.violation(
                conn,
                &[v5!("MQTT-4.12.0-5")],
                ReasonCode::PROTOCOL_ERROR,
                "authentication method changed".into(),
            );
        }
        let data = a.properties.authentication_data.clone().unwrap_or_default();
        let connected = c.is_connected();
        if !connected {
            // Client-final of the CONNECT exchange ([MQTT-4.12.0-3]: reason 0x18).
            if a.reason_code != ReasonCode::CONTINUE_AUTHENTICATION {
                return self.violation(
                    conn,
                    &[v5!("MQTT-4.12.0-3")],
                    ReasonCode::PROTOCOL_ERROR,
                    "AUTH during CONNECT must be 0x18".into(),
                );
            }
            let Some(cn) = self.conns.get_mut(&conn) else {
                return;
            };
            let phase = std::mem::replace(&mut cn.phase, Phase::AwaitConnect);
            let (connect, scram) = match phase {
                Phase::Authenticating { connect, scram } => (connect, scram),
                other => {
                    cn.phase = other;
                    return;
                }
            };
            let result =
                scram.and_then(|s| s.finish(&data).ok().map(|fin| (fin, s.user().to_string())));
            match result {
                Some((fin, user)) => {
                    let mut connect = *connect;
                    connect.username = Some(user.into());
                    self.complete_connect(conn, connect, Some(Bytes::from(fin)));
                }
                None => {
                    // [MQTT-4.12.0-4]: rejected, CONNACK 0x87 (5.0 only: AUTH needs 5.0).
                    let r = refuse(
                        ReasonCode::V3_NOT_AUTHORIZED,
                        ReasonCode::NOT_AUTHORIZED,
                        "authentication failed",
                    );
                    self.refuse_connect(conn, r);
                }
            }
            return;
        }
        // Re-authentication ([MQTT-4.12.1-1]).
        if a.reason_code == ReasonCode::RE_AUTHENTICATE {
            let nonce = self.random_alnum(24);
            match ScramServer::start(
                &self.config.users,
                self.config.scram_iterations,
                &data,
                &nonce,
            ) {
                Ok((server, first)) => {
                    if let Some(cn) = self.conns.get_mut(&conn) {
                        cn.reauth = Some(ReAuth { scram: server });
                    }
                    let mut r = auth_packet(ReasonCode::CONTINUE_AUTHENTICATION);
                    r.properties.authentication_method = Some(method);
                    r.properties.authentication_data = Some(Bytes::from(first));
                    self.send_packet(conn, &Packet::Auth(r));
                }
                Err(_) => self.reauth_failed(conn),
            }
            return;
        }
        let reauth = self.conns.get_mut(&conn).and_then(|c| c.reauth.take());
        match reauth.map(|r| r.scram.finish(&data)) {
            Some(Ok(fin)) => {
                let mut r = auth_packet(ReasonCode::SUCCESS);
                r.properties.authentication_method = Some(method);
                r.properties.authentication_data = Some(Bytes::from(fin));
                self.send_packet(conn, &Packet::Auth(r));
            }
            Some(Err(_)) => self.reauth_failed(conn),
            None => self.violation(
                conn,
                &[v5!("MQTT-4.12.1-1")],
                ReasonCode::PROTOCOL_ERROR,
                "AUTH 0x18 without a re-authentication in progress".into(),
            ),
        }
    }

    /// [MQTT-4.12.1-2]: DISCONNECT with a reason code, then close.
    fn reauth_failed(&mut self, conn: ConnId) {
        self.send_disconnect(conn, Disconnect::new(ReasonCode::NOT_AUTHORIZED));
        self.close_conn(conn, CloseReason::AuthenticationFailed, true, true);
    }
}
