//! tokio-websockets: `ServerBuilder::new().accept(stream)`, then `next` and `send`, as the
//! crate's README does (its default config and limits; the handshake runs in the connection's
//! task, as its `examples/echo_server.rs` has it, so one slow client does not hold the rest).

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpListener;
use tokio_websockets::ServerBuilder;

pub async fn serve(listener: TcpListener, nodelay: bool) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(nodelay);
        tokio::spawn(async move {
            let Ok((_request, mut ws)) = ServerBuilder::new().accept(stream).await else { return };
            while let Some(Ok(message)) = ws.next().await {
                if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}
