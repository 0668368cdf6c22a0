//! WebSocket URIs, `ws://` and `wss://` (RFC 6455 §3).
//!
//! This file owns splitting a WebSocket URI into what the client's handshake needs: whether
//! the connection is secure, the host and port to connect to, the `Host` header value, and
//! the resource name for the request line. It does not resolve names or open connections,
//! and it does not percent-decode: the path and query go on the request line as given.

use core::fmt;

use super::head::is_authority_char;
use crate::fault::{HandshakeInput, UsageError};

/// A parsed `ws://` or `wss://` URI (RFC 6455 §3), borrowed from its text.
///
/// ```
/// use rfc6455::handshake::WebSocketUri;
/// let uri = WebSocketUri::parse("wss://[::1]:8443/chat?room=1")?;
/// assert!(uri.is_secure());
/// assert_eq!((uri.host(), uri.port()), ("::1", 8443));
/// assert_eq!(uri.host_header().to_string(), "[::1]:8443");
/// assert_eq!(uri.resource_name().to_string(), "/chat?room=1");
///
/// let uri = WebSocketUri::parse("ws://example.com")?;
/// assert_eq!((uri.port(), uri.path(), uri.query()), (80, "/", None));
/// assert_eq!(uri.host_header().to_string(), "example.com");
/// # Ok::<(), rfc6455::UsageError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketUri<'a> {
    secure: bool,
    /// The host as written, with brackets around an IPv6 literal.
    host: &'a str,
    port: u16,
    explicit_port: bool,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> WebSocketUri<'a> {
    /// Parses a WebSocket URI: scheme `ws` or `wss` (any case), a host (name, IPv4, or IPv6
    /// in brackets), an optional port (default 80 or 443), a path and a query.
    ///
    /// Refused, as [`UsageError::InvalidHandshakeInput`]: other schemes, a fragment (§3: "MUST
    /// NOT be used"), user information (send credentials in a header), and characters that
    /// are not allowed unencoded in a URI.
    pub fn parse(uri: &'a str) -> Result<Self, UsageError> {
        let invalid = UsageError::InvalidHandshakeInput;
        let (scheme, rest) = uri.split_once("://").ok_or(invalid(HandshakeInput::UriNoScheme))?;
        let secure = if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("ws") {
            false
        } else {
            return Err(invalid(HandshakeInput::UriScheme));
        };
        if rest.contains('#') {
            return Err(invalid(HandshakeInput::UriFragment));
        }
        let (authority, resource) = match rest.find(['/', '?']) {
            // Invariant: `find` returns a char boundary within `rest`.
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(invalid(HandshakeInput::UriUserInfo));
        }
        if !authority.bytes().all(is_authority_char) {
            return Err(invalid(HandshakeInput::UriAuthority));
        }
        let (host, port) = split_host_port(authority)?;
        let default_port = if secure { 443 } else { 80 };
        let (port, explicit_port) = match port {
            None | Some("") => (default_port, false),
            Some(digits) => {
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(HandshakeInput::UriPort));
                }
                let port = digits.parse::<u16>().map_err(|_| invalid(HandshakeInput::UriPort))?;
                (port, port != default_port)
            }
        };
        // Only visible ASCII may go on the request line unencoded.
        if !resource.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(HandshakeInput::UriNotEncoded));
        }
        let (path, query) = match resource.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (resource, None),
        };
        Ok(Self { secure, host, port, explicit_port, path: if path.is_empty() { "/" } else { path }, query })
    }

    /// Whether the scheme is `wss` (TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to: a name, an IPv4 address, or an IPv6 address without brackets.
    pub fn host(&self) -> &'a str {
        self.host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(self.host)
    }

    /// The port to connect to: the URI's, or 80 for `ws` and 443 for `wss`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path, `/` if the URI had none.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The query, without the `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The `Host` header value (§4.1 item 4): the host, and the port unless it is the default
    /// for the scheme.
    pub fn host_header(&self) -> impl fmt::Display + '_ {
        HostHeader(self)
    }

    /// The resource name (§3): the path, then `?` and the query if there is one. This is the
    /// request-target of the client's `GET`.
    pub fn resource_name(&self) -> impl fmt::Display + '_ {
        ResourceName(self)
    }
}

struct HostHeader<'u, 'a>(&'u WebSocketUri<'a>);

impl fmt::Display for HostHeader<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.host)?;
        if self.0.explicit_port {
            write!(f, ":{}", self.0.port)?;
        }
        Ok(())
    }
}

struct ResourceName<'u, 'a>(&'u WebSocketUri<'a>);

impl fmt::Display for ResourceName<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.path)?;
        if let Some(query) = self.0.query {
            write!(f, "?{query}")?;
        }
        Ok(())
    }
}

/// Splits an authority (without user information) into the host (with brackets for an IPv6
/// literal) and the text after the port's `:`, if any.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UsageError> {
    let invalid = UsageError::InvalidHandshakeInput;
    if authority.starts_with('[') {
        let close = authority.find(']').ok_or(invalid(HandshakeInput::UriIpv6))?;
        // Invariant: `close` is the index of an ASCII `]`, so `close + 1` is a char boundary
        // within the string.
        let (host, after) = authority.split_at(close + 1);
        // Invariant: `host` is `[` (index 0) through `]` (index `close` >= 1), both ASCII.
        let inner = &host[1..close];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err(invalid(HandshakeInput::UriIpv6));
        }
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(invalid(HandshakeInput::UriIpv6)),
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(invalid(HandshakeInput::UriNoHost));
    }
    if host.contains(['[', ']']) {
        return Err(invalid(HandshakeInput::UriAuthority));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn parts(uri: &str) -> (bool, &str, u16, alloc::string::String, alloc::string::String) {
        let uri = WebSocketUri::parse(uri).unwrap();
        (
            uri.is_secure(),
            uri.host(),
            uri.port(),
            uri.host_header().to_string(),
            uri.resource_name().to_string(),
        )
    }

    #[test]
    fn accepted_uris() {
        assert_eq!(parts("ws://example.com"), (false, "example.com", 80, "example.com".into(), "/".into()));
        assert_eq!(parts("WSS://Example.com/"), (true, "Example.com", 443, "Example.com".into(), "/".into()));
        assert_eq!(parts("ws://h:8080/a/b?c=d"), (false, "h", 8080, "h:8080".into(), "/a/b?c=d".into()));
        assert_eq!(parts("ws://h:80/x"), (false, "h", 80, "h".into(), "/x".into()));
        assert_eq!(parts("wss://h:80/x"), (true, "h", 80, "h:80".into(), "/x".into()));
        assert_eq!(parts("wss://h:/x"), (true, "h", 443, "h".into(), "/x".into()));
        assert_eq!(parts("ws://h?q=1"), (false, "h", 80, "h".into(), "/?q=1".into()));
        assert_eq!(
            parts("ws://127.0.0.1:9001"),
            (false, "127.0.0.1", 9001, "127.0.0.1:9001".into(), "/".into())
        );
        assert_eq!(parts("ws://[::1]"), (false, "::1", 80, "[::1]".into(), "/".into()));
        assert_eq!(
            parts("wss://[2001:db8::7]:443/p"),
            (true, "2001:db8::7", 443, "[2001:db8::7]".into(), "/p".into())
        );
        assert_eq!(
            parts("ws://[::ffff:1.2.3.4]:1/"),
            (false, "::ffff:1.2.3.4", 1, "[::ffff:1.2.3.4]:1".into(), "/".into())
        );
        assert_eq!(parts("ws://h/%23x?a=%20"), (false, "h", 80, "h".into(), "/%23x?a=%20".into()));
        // The resource name's two parts.
        for (uri, path, query) in [
            ("ws://h", "/", None),
            ("ws://h?q=1", "/", Some("q=1")),
            ("ws://h:8080/a/b?c=d", "/a/b", Some("c=d")),
            ("ws://h/x?", "/x", Some("")),
        ] {
            let uri = WebSocketUri::parse(uri).unwrap();
            assert_eq!((uri.path(), uri.query()), (path, query));
        }
    }

    #[test]
    fn refused_uris() {
        use crate::fault::HandshakeInput::*;
        for (bad, why) in [
            ("http://h/", UriScheme),
            ("example.com/chat", UriNoScheme),
            ("ws:/h", UriNoScheme),
            ("ws://", UriNoHost),
            ("ws:///path", UriNoHost),
            ("ws://:80/", UriNoHost),
            ("ws://h/#frag", UriFragment),
            ("ws://h#frag", UriFragment),
            ("ws://user:pass@h/", UriUserInfo),
            ("ws://h:http/", UriPort),
            ("ws://h:65536/", UriPort),
            ("ws://h:-1/", UriPort),
            ("ws://[::1/", UriIpv6),
            ("ws://[]/", UriIpv6),
            ("ws://[::1]x/", UriIpv6),
            ("ws://[g::1]/", UriIpv6),
            ("ws://h]/", UriAuthority),
            ("ws://h o/", UriAuthority),
            ("ws://h/a b", UriNotEncoded),
            ("ws://h/caf\u{e9}", UriNotEncoded),
            ("ws://h/\r\nX: y", UriNotEncoded),
        ] {
            assert_eq!(WebSocketUri::parse(bad), Err(UsageError::InvalidHandshakeInput(why)), "{bad:?}");
        }
    }
}
