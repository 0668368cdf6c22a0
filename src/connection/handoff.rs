//! One step from an opening handshake to a [`Connection`]: the negotiated extension installed
//! (permessage-deflate, from [`Config::deflate`]), the subprotocol recorded, and the bytes
//! that followed the handshake head already fed. Nothing is left to remember in between.
//!
//! It sits above both the handshake and the connection (and deflate), so that neither of those
//! imports the other: the handshake knows nothing of connections, and the connection nothing
//! of HTTP.

use alloc::boxed::Box;

use super::{Builder, Config, Connection, Extension, MaskKeySource};
use crate::error::Error;
use crate::fault::UsageError;
use crate::handshake::{self, Accept, AcceptResponse, Accepted, Bootstrap, Request};
#[cfg(feature = "std")]
use crate::handshake::{ClientHandshake, Response};
use crate::role::Role;

impl Request<'_> {
    /// Accepts the request and makes its connection, in one step.
    ///
    /// Checks `accept` against the offers as [`accept`](Self::accept) does; negotiates
    /// permessage-deflate with the client's offers when `config` has a
    /// [`deflate`](Config::deflate) policy (adding the answer to the response); installs the
    /// agreed extension in the connection; records the subprotocol; and feeds `after_head`,
    /// the bytes that came after the request head (`buf[used..n]` from
    /// [`RequestParser::feed`](handshake::RequestParser::feed); empty when an HTTP library
    /// parsed the request). Then write the response: [`AcceptResponse::write`] for HTTP/1.1,
    /// or its status and headers on an HTTP/2 stream.
    ///
    /// An extension other than permessage-deflate in `accept` is
    /// [`UsageError::ExtensionNotImplemented`]: install its codec yourself with
    /// [`Connection::builder`].
    ///
    /// ```
    /// use rfc6455::connection::{Config, Event};
    /// use rfc6455::handshake::{self, Accept, RequestParser};
    ///
    /// // The request and the client's first frame (a masked "Hello") arrived in one read.
    /// let read = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n\
    ///     \x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    /// let mut parser = RequestParser::new(handshake::Config::default());
    /// let (request, used) = parser.feed(read)?.expect("a complete head");
    /// let accept = Accept::new().with_subprotocol(request.select_subprotocol(&["chat"]));
    /// let (response, mut conn) = request.upgrade(&accept, Config::default(), &read[used..])?;
    ///
    /// let mut out = Vec::new();
    /// response.write(&mut out)?; // the 101, first on the wire
    /// assert_eq!(conn.subprotocol(), Some("chat"));
    /// assert_eq!(conn.poll_event(), Some(Event::Text("Hello")));
    /// # Ok::<(), rfc6455::Error>(())
    /// ```
    pub fn upgrade<'a>(
        &self,
        accept: &Accept<'a>,
        config: Config,
        after_head: &[u8],
    ) -> Result<(AcceptResponse<'a>, Connection), Error> {
        #[allow(unused_mut)] // Only deflate adds to the response.
        let mut response = self.accept(accept)?;
        #[cfg(feature = "deflate")]
        if let Some(policy) = &config.deflate {
            use crate::deflate::{DeflateParams, EXTENSION_NAME};
            let answered = response.agreed().any(|e| e.is(EXTENSION_NAME));
            if !answered {
                if let Some(params) = crate::deflate::negotiate_server(self.extensions(), policy) {
                    // The most common answer, the name alone, is a fixed text: no heap.
                    let answer = if params == DeflateParams::default() {
                        alloc::borrow::Cow::Borrowed(EXTENSION_NAME)
                    } else {
                        alloc::borrow::Cow::Owned(alloc::string::String::from(params.response().as_str()))
                    };
                    response.set_negotiated(answer);
                }
            }
        }
        let extension = extension_for(Role::Server, response.agreed(), &config)?;
        let builder = Connection::builder(Role::Server).config(config);
        let connection = start(builder, extension, response.subprotocol(), after_head);
        Ok((response, connection))
    }
}

#[cfg(feature = "std")]
impl ClientHandshake {
    /// Verifies the server's response ([`verify`](Self::verify)) and makes the connection, in
    /// one step: permessage-deflate installed if the server accepted our offer (checked
    /// against [`Config::deflate`], or the default policy when the offer was made by hand),
    /// the subprotocol recorded, and `after_head` (the bytes after the response head, the
    /// server's first frames) fed.
    ///
    /// The client's masking keys come from the operating system through `rand`; use
    /// [`Accepted::into_connection_with_keys`] to supply them.
    pub fn into_connection(
        &self,
        response: &Response<'_>,
        config: Config,
        after_head: &[u8],
    ) -> Result<Connection, Error> {
        self.verify(response)?.into_connection(config, after_head)
    }
}

impl Accepted<'_> {
    /// Makes the connection for a verified response (see
    /// [`ClientHandshake::into_connection`]); for responses verified through the `http`
    /// crate (`verify_http`), pass an empty `after_head`.
    #[cfg(feature = "std")]
    pub fn into_connection(self, config: Config, after_head: &[u8]) -> Result<Connection, Error> {
        self.connect(Connection::builder(Role::Client), config, after_head)
    }

    /// [`into_connection`](Self::into_connection) with the source of masking keys given (for
    /// `no_std` clients, or tests that pin keys).
    pub fn into_connection_with_keys(
        self,
        config: Config,
        keys: MaskKeySource,
        after_head: &[u8],
    ) -> Result<Connection, Error> {
        self.connect(Connection::builder(Role::Client).mask_keys(keys), config, after_head)
    }

    fn connect(self, builder: Builder, config: Config, after_head: &[u8]) -> Result<Connection, Error> {
        // §7 of RFC 7692: the client checks that the answer honours what it asked for.
        #[cfg(feature = "deflate")]
        crate::deflate::accept_client(self.extensions(), &config.deflate.clone().unwrap_or_default())?;
        let extension = extension_for(Role::Client, self.extensions().iter().copied(), &config)?;
        // §7.1.1's "server closes first" is about TCP's TIME_WAIT; an HTTP/2 stream has none.
        let builder = builder.server_closes_first(self.bootstrap() == Bootstrap::Http1Upgrade);
        Ok(start(builder.config(config), extension, self.subprotocol(), after_head))
    }
}

/// The codec for the extensions a handshake agreed on: permessage-deflate, or none.
// Without deflate, every agreed extension is refused: the loop ends at the first.
#[cfg_attr(not(feature = "deflate"), allow(clippy::never_loop))]
fn extension_for<'e>(
    role: Role,
    agreed: impl IntoIterator<Item = handshake::Extension<'e>>,
    config: &Config,
) -> Result<Option<Box<dyn Extension>>, Error> {
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    let mut codec: Option<Box<dyn Extension>> = None;
    for extension in agreed {
        #[cfg(feature = "deflate")]
        if codec.is_none() && extension.is(crate::deflate::EXTENSION_NAME) {
            let policy = config.deflate.clone().unwrap_or_default();
            let params = crate::deflate::response_params(&extension)?;
            codec = Some(Box::new(crate::deflate::PerMessageDeflate::new(role, params, &policy)));
            continue;
        }
        let _ = (extension, role, config);
        return Err(UsageError::ExtensionNotImplemented.into());
    }
    Ok(codec)
}

/// Builds the connection with what the handshake agreed on, and feeds it the bytes that
/// followed the handshake.
fn start(
    mut builder: Builder,
    extension: Option<Box<dyn Extension>>,
    subprotocol: Option<&str>,
    after_head: &[u8],
) -> Connection {
    if let Some(extension) = extension {
        builder = builder.extension(extension);
    }
    if let Some(subprotocol) = subprotocol {
        builder = builder.subprotocol(subprotocol);
    }
    let mut connection = builder.build();
    connection.handle_bytes(after_head);
    connection
}
