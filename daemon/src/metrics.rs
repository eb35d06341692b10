//! Prometheus metrics over HTTP on a loopback address (`--metrics`, off by default). The node
//! loop renders the text every watch tick; this task serves the latest rendering to whoever
//! asks, and nothing else.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves the latest metrics text until the node loop drops its sender.
pub(crate) async fn serve(listener: TcpListener, mut latest: watch::Receiver<String>) {
    loop {
        let accepted = tokio::select! {
            changed = latest.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let Ok((mut stream, _)) = accepted else {
            continue;
        };
        let body = latest.borrow().clone();
        tokio::spawn(async move {
            // The request itself does not matter: every path answers the metrics.
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        });
    }
}

/// Appends one metric with its help and type lines.
pub(crate) fn metric(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: &[(String, u64)],
) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for (labels, value) in samples {
        out.push_str(&format!("{name}{labels} {value}\n"));
    }
}
