//! [`Role`]: which end of the connection this endpoint is. A leaf: the masking rules of the
//! frame layer and everything above it depend on it.

/// Which end of the connection this endpoint is (RFC 6455 §1.3, §5.1).
///
/// It decides the masking rules: a client masks every frame it sends and a server never
/// does; each fails frames from the peer that break the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that sent the opening handshake request.
    Client,
    /// The endpoint that accepted it.
    Server,
}
