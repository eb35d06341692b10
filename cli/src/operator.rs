//! Operator commands: one request over the socket of the node whose data directory was given
//! (`client::control`), and its answer printed, or written to a file for exports.

use anyhow::Context;
use protocol::control::{Request, Response};

use crate::args::OperatorCommand;
use crate::member::home_error;
use crate::output::{self, Printer};
use crate::Exit;

/// Runs an operator command against the node in `data_dir`.
pub(crate) async fn run(
    p: &mut Printer<'_>,
    data_dir: &std::path::Path,
    command: OperatorCommand,
) -> anyhow::Result<Exit> {
    let (request, save_to) = match command {
        OperatorCommand::Ask { request, save_to } => (request, save_to),
        OperatorCommand::Import { file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| tr!("reading-file", path = file.display().to_string()))?;
            if bytes.len() > protocol::bundle::MAX_BUNDLE_BYTES {
                anyhow::bail!(tr!("bundle-too-large", path = file.display().to_string()));
            }
            let bundle = data_encoding::BASE64.encode(&bytes);
            (Request::Import { bundle }, None)
        }
        OperatorCommand::SignAsAdmin { request, key_file } => {
            let key = read_admin_key(&key_file)?;
            let socket = client::control::socket_path(data_dir);
            let draft = Request::Draft {
                admin: key.public().to_string(),
                request: Box::new(request),
            };
            let event = match client::control::call(&socket, &draft).await? {
                Response::Draft { event } => event,
                Response::Error { message } => anyhow::bail!("{message}"),
                other => anyhow::bail!("unexpected answer: {other:?}"),
            };
            if event.author != key.public() {
                anyhow::bail!("the node drafted an event for another key");
            }
            let signed = protocol::event::SignedEvent::sign(event, &key)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let event = data_encoding::BASE64.encode(&signed.to_bytes());
            (Request::SubmitEvent { event }, None)
        }
        OperatorCommand::Backup {
            to,
            passphrase_file,
        } => {
            let passphrase = backup_passphrase(passphrase_file.as_deref())?;
            (Request::Backup { passphrase }, Some(to))
        }
        OperatorCommand::Doctor => return crate::doctor::run(p, data_dir).await,
    };
    let socket = client::control::socket_path(data_dir);
    let response = match client::control::call(&socket, &request).await? {
        Response::Error { message } => anyhow::bail!("{message}"),
        other => other,
    };
    if let (Response::File { data, summary }, Some(to)) = (&response, &save_to) {
        let bytes = data_encoding::BASE64
            .decode(data.as_bytes())
            .with_context(|| tr!("node-sent-damaged-file"))?;
        client::home::write_atomic(to, &bytes).map_err(home_error)?;
        p.line(&tr!(
            "wrote-file",
            path = to.display().to_string(),
            summary = output::clean(summary).as_ref()
        ))?;
        return Ok(Exit::Ok);
    }
    output::operator(p, &response)?;
    // A script can tell that a bridge failed its test.
    if let Response::BridgeTest { results } = &response {
        if results.iter().any(|r| !r.ok) {
            return Ok(Exit::Error);
        }
    }
    Ok(Exit::Ok)
}

/// Reads an admin key file (32 bytes, as `admin-key move-out` writes it).
fn read_admin_key(path: &std::path::Path) -> anyhow::Result<protocol::ids::SecretKey> {
    let bytes = std::fs::read(path)
        .with_context(|| tr!("reading-file", path = path.display().to_string()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!(tr!("damaged-file", path = path.display().to_string())))?;
    Ok(protocol::ids::SecretKey::from_bytes(bytes))
}

/// The backup's passphrase: the first line of `file`, or typed twice on the terminal, or a
/// line of standard input when it is not a terminal.
fn backup_passphrase(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| tr!("reading-file", path = file.display().to_string()))?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password(tr!("backup-passphrase"))?;
    let second = rpassword::prompt_password(tr!("backup-passphrase-again"))?;
    if first != second {
        anyhow::bail!(tr!("backup-passphrases-differ"));
    }
    Ok(first)
}
