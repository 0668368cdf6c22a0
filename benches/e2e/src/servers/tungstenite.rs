//! tokio-tungstenite: `accept_async`, then the stream's incoming half forwarded into its sink
//! half with control messages filtered out, as the crate's `examples/echo-server.rs` does.

use futures_util::{StreamExt as _, TryStreamExt as _, future};
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener, nodelay: bool) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(nodelay);
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
            let (write, read) = ws.split();
            let _ = read
                .try_filter(|message| future::ready(message.is_text() || message.is_binary()))
                .forward(write)
                .await;
        });
    }
}
