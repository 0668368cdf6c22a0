//! An echo server: every text and binary message comes back. `cargo run -p rfc6455-tokio
//! --example echo -- 127.0.0.1:9001`, then connect any WebSocket client to ws://127.0.0.1:9001.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9001".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Ok(mut ws) = rfc6455_tokio::accept(stream).await else { return };
            while let Some(Ok(message)) = ws.recv().await {
                if message.is_data() && ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
