//! SCRAM-SHA-256 (RFC 5802 / RFC 7677) for MQTT 5.0 enhanced authentication, server side and
//! a small client side (for tests and the conformance suite). No channel binding.
//!
//! The exchange, carried in Authentication Data:
//! 1. CONNECT (or AUTH 0x19): `n,,n=<user>,r=<client nonce>`
//! 2. AUTH 0x18 from the server: `r=<client nonce><server nonce>,s=<salt>,i=<iterations>`
//! 3. AUTH 0x18 from the client: `c=biws,r=<nonce>,p=<proof>`
//! 4. CONNACK 0x00 (or AUTH 0x00): `v=<server signature>`

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The method name carried in the Authentication Method property.
pub const METHOD: &str = "SCRAM-SHA-256";

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// A message does not follow the syntax.
    #[error("malformed SCRAM message")]
    Malformed,
    /// Channel binding was asked for; it is not supported.
    #[error("channel binding is not supported")]
    ChannelBinding,
    /// The user is not known.
    #[error("unknown user")]
    UnknownUser,
    /// The nonce was changed by the client.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// The proof is wrong (bad password).
    #[error("invalid proof")]
    InvalidProof,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut out = [0u8; 32];
    if let Ok(mut m) = HmacSha256::new_from_slice(key) {
        m.update(data);
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(data));
    out
}

/// The salt the broker uses for `user` (deterministic, so the broker stays reproducible).
pub fn salt_for(user: &str) -> [u8; 16] {
    let h = sha256(format!("mqtt-broker-model/scram-salt/{user}").as_bytes());
    let mut s = [0u8; 16];
    s.copy_from_slice(&h[..16]);
    s
}

/// PBKDF2-HMAC-SHA-256 of the password.
pub fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations.max(1), &mut out);
    out
}

/// Splits `k=v,k=v` attributes.
fn attrs(s: &str) -> Vec<(&str, &str)> {
    s.split(',')
        .filter_map(|part| part.split_once('='))
        .collect()
}

fn attr<'a>(list: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    list.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Undoes the `=2C` / `=3D` escaping of a SCRAM user name.
fn unescape_user(s: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let code = rest.get(i..i + 3).ok_or(ScramError::Malformed)?;
        match code {
            "=2C" => out.push(','),
            "=3D" => out.push('='),
            _ => return Err(ScramError::Malformed),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Server state between the server-first and the client-final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramServer {
    user: String,
    nonce: String,
    client_first_bare: String,
    server_first: String,
    salted: [u8; 32],
}

impl ScramServer {
    /// Reads the client-first message and answers the server-first message. `server_nonce`
    /// must be printable ASCII without `,`.
    pub fn start(
        users: &BTreeMap<String, String>,
        iterations: u32,
        client_first: &[u8],
        server_nonce: &str,
    ) -> Result<(ScramServer, Vec<u8>), ScramError> {
        let text = std::str::from_utf8(client_first).map_err(|_| ScramError::Malformed)?;
        // gs2-header: "n,," (no channel binding) or "y,," (client supports it, we do not).
        let bare = if let Some(b) = text.strip_prefix("n,,") {
            b
        } else if let Some(b) = text.strip_prefix("y,,") {
            b
        } else if text.starts_with("p=") {
            return Err(ScramError::ChannelBinding);
        } else {
            return Err(ScramError::Malformed);
        };
        let a = attrs(bare);
        let user = unescape_user(attr(&a, "n").ok_or(ScramError::Malformed)?)?;
        let cnonce = attr(&a, "r").ok_or(ScramError::Malformed)?;
        if cnonce.is_empty() || cnonce.contains(',') {
            return Err(ScramError::Malformed);
        }
        let password = users.get(&user).ok_or(ScramError::UnknownUser)?;
        let salt = salt_for(&user);
        let salted = salted_password(password, &salt, iterations);
        let nonce = format!("{cnonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i={}", B64.encode(salt), iterations.max(1));
        Ok((
            ScramServer {
                user,
                nonce,
                client_first_bare: bare.to_string(),
                server_first: server_first.clone(),
                salted,
            },
            server_first.into_bytes(),
        ))
    }

    /// The authenticated user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Checks the client-final message; on success returns the server-final message.
    pub fn finish(&self, client_final: &[u8]) -> Result<Vec<u8>, ScramError> {
        let text = std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed)?;
        let (without_proof, proof_b64) = text.rsplit_once(",p=").ok_or(ScramError::Malformed)?;
        let a = attrs(without_proof);
        let c = attr(&a, "c").ok_or(ScramError::Malformed)?;
        if c != "biws" && c != "eSws" {
            return Err(ScramError::ChannelBinding);
        }
        if attr(&a, "r") != Some(self.nonce.as_str()) {
            return Err(ScramError::NonceMismatch);
        }
        let proof = B64.decode(proof_b64).map_err(|_| ScramError::Malformed)?;
        if proof.len() != 32 {
            return Err(ScramError::InvalidProof);
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_key = hmac(&self.salted, b"Client Key");
        let stored_key = sha256(&client_key);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let mut recovered = [0u8; 32];
        for (i, r) in recovered.iter_mut().enumerate() {
            *r = proof.get(i).copied().unwrap_or(0) ^ signature[i];
        }
        if sha256(&recovered) != stored_key {
            return Err(ScramError::InvalidProof);
        }
        let server_key = hmac(&self.salted, b"Server Key");
        let server_sig = hmac(&server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_sig)).into_bytes())
    }
}

/// Client side of the exchange (for tests and the conformance suite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramClient {
    user: String,
    password: String,
    cnonce: String,
    auth_message: Option<String>,
    salted: Option<[u8; 32]>,
}

impl ScramClient {
    /// A client for `user` with this nonce (printable ASCII without `,`).
    pub fn new(user: &str, password: &str, cnonce: &str) -> ScramClient {
        ScramClient {
            user: user.to_string(),
            password: password.to_string(),
            cnonce: cnonce.to_string(),
            auth_message: None,
            salted: None,
        }
    }

    fn first_bare(&self) -> String {
        let user = self.user.replace('=', "=3D").replace(',', "=2C");
        format!("n={user},r={}", self.cnonce)
    }

    /// The client-first message.
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.first_bare()).into_bytes()
    }

    /// Reads the server-first message; returns the client-final message.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let text = std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed)?;
        let a = attrs(text);
        let nonce = attr(&a, "r").ok_or(ScramError::Malformed)?;
        if !nonce.starts_with(&self.cnonce) {
            return Err(ScramError::NonceMismatch);
        }
        let salt = B64
            .decode(attr(&a, "s").ok_or(ScramError::Malformed)?)
            .map_err(|_| ScramError::Malformed)?;
        let iterations: u32 = attr(&a, "i")
            .and_then(|i| i.parse().ok())
            .ok_or(ScramError::Malformed)?;
        let salted = salted_password(&self.password, &salt, iterations);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{},{}", self.first_bare(), text, without_proof);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = sha256(&client_key);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let mut proof = [0u8; 32];
        for (i, p) in proof.iter_mut().enumerate() {
            *p = client_key[i] ^ signature[i];
        }
        self.auth_message = Some(auth_message);
        self.salted = Some(salted);
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message (the server knows the password too).
    pub fn verify_server(&self, server_final: &[u8]) -> bool {
        let (Some(am), Some(salted)) = (&self.auth_message, &self.salted) else {
            return false;
        };
        let server_key = hmac(salted, b"Server Key");
        let sig = hmac(&server_key, am.as_bytes());
        server_final == format!("v={}", B64.encode(sig)).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let mut users = BTreeMap::new();
        users.insert("alice".to_string(), "secret".to_string());
        let mut c = ScramClient::new("alice", "secret", "abc");
        let (s, first) = ScramServer::start(&users, 64, &c.client_first(), "xyz").unwrap();
        let fin = c.client_final(&first).unwrap();
        let v = s.finish(&fin).unwrap();
        assert!(c.verify_server(&v));

        let mut bad = ScramClient::new("alice", "nope", "abc");
        let (s, first) = ScramServer::start(&users, 64, &bad.client_first(), "xyz").unwrap();
        let fin = bad.client_final(&first).unwrap();
        assert_eq!(s.finish(&fin), Err(ScramError::InvalidProof));
        assert_eq!(
            ScramServer::start(&users, 64, b"n,,n=bob,r=a", "x").unwrap_err(),
            ScramError::UnknownUser
        );
    }
}
