//! The operator socket: `DATA_DIR/tejidod.sock`, mode 0600, one JSON request and one JSON
//! response per line. Only the node's owner can open it, so it needs no further
//! authentication; members use libp2p instead. This is the serving side; the calling side
//! (`call`, `socket_path`) is the `client` crate's, re-exported here.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use protocol::control::{Request, Response};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

pub use client::control::{call, socket_path, CallError};

use crate::node::Command;

/// Longest request line accepted: an imported bundle travels in it, base64-encoded.
const MAX_LINE_BYTES: usize = 4 * protocol::bundle::MAX_BUNDLE_BYTES / 3 + 1024;

/// Binds the socket (replacing a stale one; the store lock guarantees no other node runs on
/// this data directory) and restricts it to the owner.
pub(crate) fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if path.exists() {
        std::fs::remove_file(path)
            .with_context(|| format!("removing stale socket {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))?;
    Ok(listener)
}

/// Accepts operator connections until the node loop goes away.
pub(crate) async fn serve(listener: UnixListener, commands: mpsc::Sender<Command>) {
    loop {
        let accepted = tokio::select! {
            _ = commands.closed() => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let commands = commands.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, commands).await {
                debug!(error = %format!("{e:#}"), "operator connection failed");
            }
        });
    }
}

async fn handle(stream: UnixStream, commands: mpsc::Sender<Command>) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read).take(MAX_LINE_BYTES as u64);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let response = match serde_json::from_str::<Request>(&line) {
        Ok(request) => {
            let (reply, rx) = oneshot::channel();
            if commands.send(Command { request, reply }).await.is_err() {
                Response::Error {
                    message: "the node is shutting down".into(),
                }
            } else {
                rx.await.unwrap_or(Response::Error {
                    message: "the node is shutting down".into(),
                })
            }
        }
        Err(e) => Response::Error {
            message: format!("bad request: {e}"),
        },
    };
    let mut text = serde_json::to_string(&response)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The client finds the socket where the node binds it.
    #[test]
    fn the_client_calls_the_socket_the_node_binds() {
        assert_eq!(client::control::SOCKET_NAME, crate::config::SOCKET_NAME);
        let dir = Path::new("/data");
        assert_eq!(
            super::socket_path(dir),
            dir.join(crate::config::SOCKET_NAME)
        );
    }
}
