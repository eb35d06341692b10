//! Calling a node's operator socket: `DATA_DIR/tejidod.sock`, mode 0600, one JSON request and
//! one JSON response per line. The node serves it (`daemon::control`); whoever may open the
//! file is the node's owner, so the call carries no credentials.

use std::path::{Path, PathBuf};

use protocol::control::{Request, Response};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// The socket's file name inside a data directory.
pub const SOCKET_NAME: &str = "tejidod.sock";

/// The socket path of a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// Why a call to the operator socket failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Nothing listens on the socket: no node runs on this data directory, or it is not ours.
    #[error(
        "cannot reach the node at {} ({error}); is tejidod running with this --data-dir?",
        socket.display()
    )]
    Unreachable {
        /// The socket's path.
        socket: PathBuf,
        /// Why connecting failed.
        error: std::io::Error,
    },
    /// The connection broke while the request or the response was on it.
    #[error("{0}")]
    Io(std::io::Error),
    /// The request could not be written as JSON.
    #[error("encoding the request: {0}")]
    Encode(serde_json::Error),
    /// The node's answer is not a response (or the node closed the socket without one).
    #[error("the node sent an unreadable response: {0}")]
    Unreadable(serde_json::Error),
}

/// Sends one request to the node behind `socket` and returns its response, which may be
/// [`Response::Error`]: what the node refused is for the caller to say.
pub async fn call(socket: &Path, request: &Request) -> Result<Response, CallError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|error| CallError::Unreachable {
            socket: socket.to_path_buf(),
            error,
        })?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(request).map_err(CallError::Encode)?;
    text.push('\n');
    write
        .write_all(text.as_bytes())
        .await
        .map_err(CallError::Io)?;
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    reader.read_line(&mut line).await.map_err(CallError::Io)?;
    serde_json::from_str(&line).map_err(CallError::Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_node_is_unreachable_and_names_the_socket() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = socket_path(dir.path());
        let err = call(&socket, &Request::Status).await.expect_err("no node");
        assert!(matches!(err, CallError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().contains(&socket.display().to_string()));
    }

    #[tokio::test]
    async fn a_response_is_read_and_garbage_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = socket_path(dir.path());
        let listener = tokio::net::UnixListener::bind(&socket).expect("bind");
        let server = tokio::spawn(async move {
            for answer in ["{\"result\":\"done\",\"message\":\"ok\"}\n", "not json\n"] {
                let (stream, _) = listener.accept().await.expect("accept");
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                BufReader::new(read)
                    .read_line(&mut line)
                    .await
                    .expect("read");
                write.write_all(answer.as_bytes()).await.expect("write");
            }
        });
        let ok = call(&socket, &Request::Status).await.expect("answer");
        assert!(matches!(ok, Response::Done { .. }), "{ok:?}");
        let bad = call(&socket, &Request::Status).await.expect_err("garbage");
        assert!(matches!(bad, CallError::Unreadable(_)), "{bad:?}");
        server.await.expect("server");
    }
}
