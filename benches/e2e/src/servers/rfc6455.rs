//! Ours: `rfc6455_tokio::accept`, then `recv` and `send`, as rfc6455-tokio's README and
//! `examples/echo.rs` show. With deflate, the same loop behind `accept_with` and a config that
//! negotiates permessage-deflate when the client offers it: a separate function, so that the
//! task of the plain server holds only what the README's does.

use rfc6455::deflate::DeflateConfig;
use rfc6455_tokio::{Options, default_config};
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener, nodelay: bool) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(nodelay);
        tokio::spawn(async move {
            let Ok(mut ws) = rfc6455_tokio::accept(stream).await else { return };
            while let Some(Ok(message)) = ws.recv().await {
                if message.is_data() && ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}

pub async fn serve_deflate(listener: TcpListener, nodelay: bool) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(nodelay);
        tokio::spawn(async move {
            let options = Options::default().config(default_config().deflate(DeflateConfig::default()));
            let Ok(mut ws) = rfc6455_tokio::accept_with(stream, options).await else { return };
            while let Some(Ok(message)) = ws.recv().await {
                if message.is_data() && ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}
