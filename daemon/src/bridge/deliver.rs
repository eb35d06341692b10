//! How a bridge delivers a notice: by email, webhook or a program.

use super::*;

/// Why a delivery failed, in one line for the operator and the outbox (no secrets).
pub type DeliveryError = String;

/// The hex HMAC-SHA256 of `body` under `key`, as webhooks receive it.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!(
        "sha256={}",
        data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
    )
}

/// Delivers `notice` through `bridge`, within its timeout. Email and webhooks use blocking
/// clients on tokio's blocking threads; a program runs as a child process, killed at the
/// timeout.
pub async fn deliver(bridge: &Bridge, notice: &Notice) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(notice).map_err(|e| format!("encoding: {e}"))?;
    let timeout = bridge.timeout;
    match bridge.target.clone() {
        Target::Email {
            host,
            port,
            starttls,
            from,
            to,
            credentials,
        } => {
            let subject = notice.subject.clone();
            let text = format!("{}\n\n-- \nTejido ({})\n", notice.message, notice.bridge);
            let task = tokio::task::spawn_blocking(move || {
                send_email(
                    &host,
                    port,
                    starttls,
                    &from,
                    &to,
                    credentials,
                    &subject,
                    text,
                    timeout,
                )
            });
            match tokio::time::timeout(timeout + Duration::from_secs(5), task).await {
                Ok(Ok(result)) => result,
                Ok(Err(e)) => Err(format!("email task: {e}")),
                Err(_) => Err("email: timed out".into()),
            }
        }
        Target::Webhook { url, secret } => {
            let sig = signature(&secret.0, &body);
            let task = tokio::task::spawn_blocking(move || {
                let config = ureq::Agent::config_builder()
                    .timeout_global(Some(timeout))
                    .build();
                let agent = ureq::Agent::new_with_config(config);
                agent
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(SIGNATURE_HEADER, &sig)
                    .send(&body[..])
                    .map(|_| ())
                    .map_err(|e| format!("webhook: {e}"))
            });
            match tokio::time::timeout(timeout + Duration::from_secs(5), task).await {
                Ok(Ok(result)) => result,
                Ok(Err(e)) => Err(format!("webhook task: {e}")),
                Err(_) => Err("webhook: timed out".into()),
            }
        }
        Target::Exec { command, withheld } => {
            run_program(&command, &withheld, &body, timeout).await
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn send_email(
    host: &str,
    port: u16,
    starttls: bool,
    from: &str,
    to: &[String],
    credentials: Option<(String, Secret)>,
    subject: &str,
    text: String,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    use lettre::Transport;
    let parse = |a: &str| {
        a.parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("email: address {a:?}: {e}"))
    };
    let mut builder = lettre::Message::builder()
        .from(parse(from)?)
        .subject(subject);
    for t in to {
        builder = builder.to(parse(t)?);
    }
    let message = builder
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| format!("email: {e}"))?;
    let transport = if starttls {
        lettre::SmtpTransport::starttls_relay(host).map_err(|e| format!("email: {e}"))?
    } else {
        lettre::SmtpTransport::builder_dangerous(host)
    };
    // The greeting names no host: the node's host name is nobody's business.
    let mut transport = transport
        .port(port)
        .hello_name(lettre::transport::smtp::extension::ClientId::Domain(
            "localhost".into(),
        ))
        .timeout(Some(timeout));
    if let Some((user, password)) = credentials {
        let password = String::from_utf8_lossy(&password.0).into_owned();
        transport = transport.credentials(
            lettre::transport::smtp::authentication::Credentials::new(user, password),
        );
    }
    transport
        .build()
        .send(&message)
        .map(|_| ())
        .map_err(|e| format!("email: {e}"))
}

/// Runs a bridge's program with `body` on its standard input; success is exit status 0 within
/// `timeout`. Its output is not kept beyond the first line of its standard error, for the
/// operator. It inherits the node's environment but for what could unlock the node or other
/// bridges: the `withheld` variables (other bridges' secrets), `TEJIDO_*` and systemd's
/// `CREDENTIALS_DIRECTORY` (where the at-rest passphrase may be).
async fn run_program(
    command: &[String],
    withheld: &[String],
    body: &[u8],
    timeout: Duration,
) -> Result<(), DeliveryError> {
    use tokio::io::AsyncWriteExt;
    let Some((program, args)) = command.split_first() else {
        return Err("exec: no command".into());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_remove("CREDENTIALS_DIRECTORY");
    for var in withheld {
        cmd.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("TEJIDO_") {
            cmd.env_remove(var);
        }
    }
    let mut child = cmd
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("exec {program:?}: {e}"))?;
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            // A program that does not read its input is its own business.
            let _ = stdin.write_all(body).await;
            let _ = stdin.shutdown().await;
        }
        child.wait_with_output().await
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().next().unwrap_or("").trim();
            Err(format!(
                "exec {program:?}: {}{}",
                out.status,
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {}", cut(first, 200))
                }
            ))
        }
        Ok(Err(e)) => Err(format!("exec {program:?}: {e}")),
        Err(_) => Err(format!("exec {program:?}: timed out after {timeout:?}")),
    }
}
