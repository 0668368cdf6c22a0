//! Upgrading a request that an HTTP server already parsed (hyper, axum): the server's side of
//! the opening handshake for a WebSocket route inside an ordinary HTTP application.
//!
//! The core validates the request from the `http` types ([`Request::from_http`], or
//! [`Request::from_http_extended_connect`] for RFC 8441 over HTTP/2) and makes the answer and
//! the connection in one step ([`Request::upgrade`]); the [`Options::on_request`] hook decides
//! as it does for [`accept_with`](crate::accept_with). This module turns the answer into an
//! `http::Response` for the server to send, and waits for hyper to hand the connection over
//! (`hyper::upgrade::on`). It does not read or write HTTP itself.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use rfc6455::connection::Connection;
use rfc6455::handshake::{self, HandshakeError, Reject, Request};
use tokio::time::{Instant, Sleep};

use crate::options::{accept_of, reject_of};
use crate::{Decision, Error, Options, WebSocket};

/// The WebSocket an upgrade yields: over hyper's upgraded connection (an HTTP/1.1 connection,
/// or one HTTP/2 stream), adapted to tokio's I/O traits.
pub type UpgradedWebSocket = WebSocket<TokioIo<Upgraded>>;

/// Answers a WebSocket request that hyper (or a framework on it) parsed: returns the response
/// to send and a [`PendingUpgrade`] that yields the [`WebSocket`] once the server has sent it.
///
/// * An HTTP/1.1 `GET` with `Upgrade: websocket` (RFC 6455 §4.2.1) is answered `101
///   Switching Protocols` with `Sec-WebSocket-Accept` (§4.2.2).
/// * An HTTP/2 extended CONNECT with `:protocol = websocket` (RFC 8441 §4, §5; feature
///   `http2`, and the server's `enable_connect_protocol()`) is answered `200`, without
///   `Sec-WebSocket-Accept` or `Content-Length`; the WebSocket then runs on that stream.
/// * The subprotocol and headers are the [`Options::on_request`] hook's [`Decision`]; without
///   a hook, every valid request is accepted with no subprotocol. permessage-deflate (RFC
///   7692) is negotiated by the core when [`Options::config`] has a policy.
/// * A request the core refuses is answered with the status it calls for (`400`, `405` with
///   `Allow`, `426` with `Sec-WebSocket-Version: 13`, ...) and the reason as a text body; a
///   hook's rejection with its status, headers and body; a decision the core cannot honour (a
///   subprotocol the client did not offer, a reserved header, a status outside 300-599), or a
///   request hyper cannot hand over, with `500`. The [`PendingUpgrade`] then resolves at once
///   to the error.
///
/// The response body is any type made from [`Bytes`]: `http_body_util::Full<Bytes>`, axum's
/// `Body`. [`Options::handshake_timeout`] bounds the wait for the server to send the response
/// and hand the connection over.
///
/// ```no_run
/// use std::convert::Infallible;
/// use http_body_util::Full;
/// use hyper::body::{Bytes, Incoming};
/// use rfc6455_tokio::{Decision, Options};
///
/// async fn handle(mut request: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
///     let options = Options::default()
///         .on_request(|request| Decision::accept().with_subprotocol_from(request, &["chat"]));
///     let (response, pending) = rfc6455_tokio::upgrade(&mut request, options);
///     tokio::spawn(async move {
///         let Ok(mut ws) = pending.await else { return };
///         while let Some(Ok(message)) = ws.recv().await {
///             if message.is_data() && ws.send(message).await.is_err() {
///                 break;
///             }
///         }
///     });
///     Ok(response)
/// }
/// ```
///
/// Serve `handle` with hyper's `serve_connection(..).with_upgrades()` (HTTP/1.1), or an
/// HTTP/2 builder with `enable_connect_protocol()`; hyper hands over nothing otherwise.
pub fn upgrade<ReqBody, ResBody>(
    request: &mut http::Request<ReqBody>,
    options: Options,
) -> (http::Response<ResBody>, PendingUpgrade)
where
    ResBody: From<Bytes>,
{
    let (response, pending) = answer(request, options);
    (response.map(ResBody::from), pending)
}

/// The WebSocket of an [`upgrade`], once the HTTP server has sent the response: a future of
/// `Result<`[`UpgradedWebSocket`]`, `[`Error`]`>`.
///
/// Await it in a task of its own (it resolves only after the handler has returned the
/// response). Errors, at once when the request was refused (the response said so to the
/// client): [`Error::Handshake`] for a request the core refused or a decision it could not
/// honour, [`Error::Rejected`] for the hook's rejection, [`Error::Usage`] for a rejection
/// that could not be written, [`Error::Io`] when the request carries no way to hand the
/// connection over. Later: [`Error::Io`] when hyper could not hand it over (the client went
/// away), [`Error::Handshake`] with [`HandshakeError::Timeout`] after
/// [`Options::handshake_timeout`].
#[must_use = "the WebSocket comes only by awaiting it"]
pub struct PendingUpgrade {
    state: State,
}

enum State {
    /// Accepted: waiting for hyper to send the response and hand the connection over.
    Waiting(Box<Waiting>),
    /// Refused, with why.
    Refused(Error),
    /// The WebSocket or the error was handed out.
    Done,
}

struct Waiting {
    on_upgrade: OnUpgrade,
    connection: Connection,
    options: Options,
    deadline: Option<Instant>,
    /// The timer for `deadline`, made at the first poll (inside the runtime).
    timer: Option<Pin<Box<Sleep>>>,
}

impl fmt::Debug for PendingUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Waiting(_) => "waiting",
            State::Refused(_) => "refused",
            State::Done => "done",
        };
        f.debug_struct("PendingUpgrade").field("state", &state).finish()
    }
}

impl PendingUpgrade {
    /// Whether the request was accepted (the response is a `101` or a `200`): false when the
    /// future resolves to an error at once, without waiting for anything.
    pub fn is_accepted(&self) -> bool {
        matches!(self.state, State::Waiting(_))
    }
}

impl Future for PendingUpgrade {
    type Output = Result<UpgradedWebSocket, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, State::Done) {
            State::Waiting(mut waiting) => match waiting.poll_upgraded(cx) {
                Poll::Pending => {
                    this.state = State::Waiting(waiting);
                    Poll::Pending
                }
                Poll::Ready(Ok(upgraded)) => {
                    let Waiting { connection, options, .. } = *waiting;
                    Poll::Ready(Ok(WebSocket::from_connection(TokioIo::new(upgraded), connection, &options)))
                }
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            },
            State::Refused(error) => Poll::Ready(Err(error)),
            State::Done => {
                Poll::Ready(Err(Error::Io(io::Error::other("PendingUpgrade polled after completion"))))
            }
        }
    }
}

impl Waiting {
    fn poll_upgraded(&mut self, cx: &mut Context<'_>) -> Poll<Result<Upgraded, Error>> {
        if let Poll::Ready(upgraded) = Pin::new(&mut self.on_upgrade).poll(cx) {
            return Poll::Ready(upgraded.map_err(|error| Error::Io(io::Error::other(error))));
        }
        if let Some(deadline) = self.deadline {
            let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Error::Handshake(HandshakeError::Timeout.into())));
            }
        }
        Poll::Pending
    }
}

/// Validates, decides and answers; the one path of [`upgrade`] and the axum extractor.
fn answer<B>(
    request: &mut http::Request<B>,
    mut options: Options,
) -> (http::Response<Bytes>, PendingUpgrade) {
    let deadline = options.handshake_timeout.map(|timeout| Instant::now() + timeout);
    let hook = options.on_request.take();
    // Taken before the request is borrowed for validation; hyper puts it in every request
    // whose connection can be handed over.
    let on_upgrade = request.extensions_mut().remove::<OnUpgrade>();
    let refuse = |response, error| (response, PendingUpgrade { state: State::Refused(error) });
    let valid = match validate(request, &options.handshake) {
        Ok(valid) => valid,
        Err(error) => {
            let response = for_error(&error);
            return refuse(response, Error::Handshake(error.into()));
        }
    };
    let Some(on_upgrade) = on_upgrade else {
        // A server setup fault, not the client's: say so before the hook runs.
        let error = io::Error::new(
            io::ErrorKind::Unsupported,
            "the HTTP server cannot hand this connection over (hyper's `with_upgrades()`, or \
             `enable_connect_protocol()` for HTTP/2)",
        );
        return refuse(internal_error(), Error::Io(error));
    };
    let decision = match hook {
        Some(hook) => hook(&valid),
        None => Decision::accept(),
    };
    match decision {
        Decision::Accept { subprotocol, headers } => {
            let accept = accept_of(subprotocol.as_deref(), &headers);
            let config = options.connection_config();
            // hyper hands any bytes it read past the head back through the upgraded I/O, so
            // none are fed here.
            let upgraded = valid.upgrade(&accept, config, &[]).and_then(|(response, connection)| {
                Ok((response.to_http()?.map(|()| Bytes::new()), connection))
            });
            match upgraded {
                Ok((response, connection)) => {
                    let waiting = Waiting { on_upgrade, connection, options, deadline, timer: None };
                    (response, PendingUpgrade { state: State::Waiting(Box::new(waiting)) })
                }
                // The hook chose what the request did not offer, or a reserved header.
                Err(error) => refuse(internal_error(), Error::Handshake(error)),
            }
        }
        Decision::Reject { status, headers, body } => match reject_of(status, &headers).to_http() {
            Ok(response) => refuse(response.map(|()| Bytes::from(body)), Error::Rejected(status)),
            Err(error) => refuse(internal_error(), Error::Usage(error)),
        },
    }
}

/// The core's validation of an HTTP/1.x upgrade (RFC 6455 §4.2.1), or of an extended CONNECT
/// for a request over HTTP/2 or later (RFC 8441 §4, §5).
fn validate<'r, B>(
    request: &'r http::Request<B>,
    config: &handshake::Config,
) -> Result<Request<'r>, HandshakeError> {
    if request.version() <= http::Version::HTTP_11 {
        return Request::from_http(request, config);
    }
    #[cfg(feature = "http2")]
    let protocol = request.extensions().get::<hyper::ext::Protocol>().map(|protocol| protocol.as_str());
    // Without hyper's `http2` feature there is no `:protocol` to read.
    #[cfg(not(feature = "http2"))]
    let protocol = None;
    Request::from_http_extended_connect(request, protocol, config)
}

/// The answer to a request the core refused: its status and headers, the reason as the body.
fn for_error(error: &HandshakeError) -> http::Response<Bytes> {
    match Reject::for_error(error).to_http() {
        Ok(response) => text(response, format!("{error}\n")),
        // The core's own statuses and headers are always valid.
        Err(_) => internal_error(),
    }
}

/// A `500` for a decision that could not be answered, or a server that cannot upgrade.
fn internal_error() -> http::Response<Bytes> {
    let mut response = http::Response::new(());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    text(response, "the WebSocket handshake failed on the server\n".to_owned())
}

fn text(response: http::Response<()>, body: String) -> http::Response<Bytes> {
    let mut response = response.map(|()| Bytes::from(body));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(feature = "axum")]
pub use self::axum::{UpgradeRejection, WebSocketUpgrade};

/// The axum extractor over [`answer`].
#[cfg(feature = "axum")]
mod axum {
    use std::fmt;
    use std::future::Future;

    use axum_core::body::Body;
    use axum_core::extract::FromRequestParts;
    use axum_core::response::{IntoResponse, Response};
    use bytes::Bytes;
    use http::request::Parts;
    use hyper::upgrade::OnUpgrade;

    use super::{PendingUpgrade, UpgradedWebSocket, answer, for_error, internal_error, validate};
    use crate::{Error, Options};

    /// An axum extractor for a WebSocket request: take it as a handler argument, then answer
    /// with [`on_upgrade`](Self::on_upgrade).
    ///
    /// ```no_run
    /// use axum::Router;
    /// use axum::response::Response;
    /// use axum::routing::any;
    /// use rfc6455_tokio::{Decision, Options, WebSocketUpgrade};
    ///
    /// async fn chat(upgrade: WebSocketUpgrade) -> Response {
    ///     upgrade
    ///         .options(Options::default().on_request(|request| {
    ///             Decision::accept().with_subprotocol_from(request, &["chat.v1"])
    ///         }))
    ///         .on_upgrade(|mut ws| async move {
    ///             while let Some(Ok(message)) = ws.recv().await {
    ///                 if message.is_data() && ws.send(message).await.is_err() {
    ///                     break;
    ///                 }
    ///             }
    ///         })
    /// }
    ///
    /// // `any`: HTTP/1.1 upgrades are GETs, RFC 8441's HTTP/2 ones CONNECTs.
    /// let app: Router = Router::new().route("/chat", any(chat));
    /// ```
    ///
    /// # Routes
    ///
    /// axum 0.8 routes an HTTP/2 extended CONNECT (RFC 8441) to a handler only if its method
    /// router accepts `CONNECT`: use `any(handler)`, or `get(handler).connect(handler)`. With
    /// `get(handler)` alone, HTTP/2 clients get a `405`. `axum::serve` speaks HTTP/2 with
    /// axum's `http2` feature and enables extended CONNECT itself; this crate reads the
    /// `:protocol` pseudo-header with its `http2` feature.
    ///
    /// # Rejections
    ///
    /// Extraction fails with an [`UpgradeRejection`] when the core refuses the request (the
    /// status it calls for: `400`, `405`, `426` ...) or when the server cannot hand the
    /// connection over (`500`). Take `Result<WebSocketUpgrade, UpgradeRejection>` to answer
    /// those yourself. The [`Options::on_request`] hook runs in
    /// [`on_upgrade`](Self::on_upgrade), on a request known to be valid.
    pub struct WebSocketUpgrade {
        /// The request head (the body is not needed), with hyper's `OnUpgrade` in its
        /// extensions.
        head: http::Request<()>,
        options: Options,
    }

    impl fmt::Debug for WebSocketUpgrade {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("WebSocketUpgrade")
                .field("uri", self.head.uri())
                .field("version", &self.head.version())
                .field("options", &self.options)
                .finish()
        }
    }

    impl WebSocketUpgrade {
        /// The connection's and the handshake's settings, and the [`Options::on_request`]
        /// hook that accepts (with a subprotocol and headers) or rejects (default
        /// [`Options::default`]: accept with no subprotocol).
        pub fn options(mut self, options: Options) -> Self {
            self.options = options;
            self
        }

        /// Answers the request and, once the server has sent the answer, runs `callback` with
        /// the WebSocket in a task of its own. Return the response from the handler.
        ///
        /// When the hook rejects, the response is the rejection and `callback` never runs;
        /// nor does it when the connection could not be handed over. Use
        /// [`upgrade`](Self::upgrade) to learn why.
        pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
        where
            F: FnOnce(UpgradedWebSocket) -> Fut + Send + 'static,
            Fut: Future<Output = ()> + Send + 'static,
        {
            let (response, pending) = self.upgrade();
            if pending.is_accepted() {
                tokio::spawn(async move {
                    if let Ok(ws) = pending.await {
                        callback(ws).await;
                    }
                });
            }
            response
        }

        /// Answers the request: the response to return from the handler, and the
        /// [`PendingUpgrade`] to await (in another task) for the WebSocket or the reason
        /// there is none, as [`upgrade`](fn@crate::upgrade) gives.
        pub fn upgrade(mut self) -> (Response, PendingUpgrade) {
            let (response, pending) = answer(&mut self.head, self.options);
            (response.map(Body::from), pending)
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
        type Rejection = UpgradeRejection;

        async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
            let mut head = http::Request::new(());
            *head.method_mut() = parts.method.clone();
            *head.uri_mut() = parts.uri.clone();
            *head.version_mut() = parts.version;
            *head.headers_mut() = parts.headers.clone();
            #[cfg(feature = "http2")]
            if let Some(protocol) = parts.extensions.get::<hyper::ext::Protocol>() {
                head.extensions_mut().insert(protocol.clone());
            }
            // Checked again with the options' limits when answering; here with the defaults,
            // so that a request that is no WebSocket handshake never reaches the handler.
            if let Err(error) = validate(&head, &rfc6455::handshake::Config::default()) {
                return Err(UpgradeRejection {
                    response: for_error(&error),
                    error: Error::Handshake(error.into()),
                });
            }
            let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
                let error = std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "the HTTP server cannot hand this connection over",
                );
                return Err(UpgradeRejection { response: internal_error(), error: Error::Io(error) });
            };
            head.extensions_mut().insert(on_upgrade);
            Ok(WebSocketUpgrade { head, options: Options::default() })
        }
    }

    /// Why a request could not be extracted as a [`WebSocketUpgrade`]; as a response, the
    /// HTTP status the refusal calls for, with the reason as a text body.
    #[derive(Debug)]
    pub struct UpgradeRejection {
        response: http::Response<Bytes>,
        error: Error,
    }

    impl UpgradeRejection {
        /// Why: [`Error::Handshake`] for a request the core refused, [`Error::Io`] when the
        /// server cannot hand the connection over.
        pub fn error(&self) -> &Error {
            &self.error
        }

        /// The HTTP status of the answer.
        pub fn status(&self) -> http::StatusCode {
            self.response.status()
        }
    }

    impl fmt::Display for UpgradeRejection {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "not a WebSocket upgrade: {}", self.error)
        }
    }

    impl std::error::Error for UpgradeRejection {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.error)
        }
    }

    impl IntoResponse for UpgradeRejection {
        fn into_response(self) -> Response {
            self.response.map(Body::from)
        }
    }
}
