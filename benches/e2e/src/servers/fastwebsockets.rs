//! fastwebsockets: hyper's HTTP/1 server with upgrades, `fastwebsockets::upgrade::upgrade`
//! in the service, and in the upgraded task a `FragmentCollector` that reads whole messages and
//! writes data frames back, as the crate's docs and `examples/echo_server.rs` do (that example
//! also wraps the task in `tokio::task::unconstrained`; no server here is, see the module above).

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener, nodelay: bool) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(nodelay);
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let _ =
                http1::Builder::new().serve_connection(io, service_fn(server_upgrade)).with_upgrades().await;
        });
    }
}

async fn server_upgrade(mut request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgraded) = upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        let _ = echo(upgraded).await;
    });
    Ok(response)
}

async fn echo(upgraded: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(upgraded.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}
