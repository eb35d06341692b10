//! The member side of the CLI: commands run with the member key in the home directory, over
//! libp2p to the nodes the member knows (Noise-authenticated with that key).
//!
//! # Layout
//! - `home`: the home directory (`client::home`) with errors in the member's language.
//! - `deliver`: sending signed records to every known node, the offline queue, queries.
//! - `devices`: `device add`, a one-time code for another device of the same person.
//! - `records`: check-ins, panics, the duress code, actions on alerts.
//! - `shelters`: adding and updating shelters, sealed requests and decisions.
//! - `watch`: `tejido watch` and its change detection.

mod deliver;
mod devices;
mod home;
mod records;
mod shelters;
mod watch;

use protocol::event::{Body, Event, SignedEvent};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::wire::{ClientRequestV0, ClientResponseV0, InviteCode, NodeContact};

pub(crate) use deliver::{Delivery, Unreachable};
pub(crate) use home::{local as home_error, Home};

use crate::args::MemberCommand;
use crate::output::{self, Printer};
use crate::Exit;
use home::{load, Saved};

/// Runs a member command.
pub(crate) async fn run(
    p: &mut Printer<'_>,
    home: &Home,
    command: MemberCommand,
) -> anyhow::Result<Exit> {
    match command {
        MemberCommand::Join { code } => join(p, home, &code).await,
        MemberCommand::DeviceAdd { ttl } => devices::add(p, home, ttl).await,
        MemberCommand::Wipe => wipe(p, home),
        MemberCommand::Whoami => match ask(home, ClientRequestV0::Whoami).await? {
            ClientResponseV0::Profile { profile, nodes } => {
                home.save(&Saved {
                    profile: profile.clone(),
                    nodes,
                })
                .map_err(home::local)?;
                output::profile(p, &profile)?;
                Ok(Exit::Ok)
            }
            _ => anyhow::bail!(tr!("unexpected-answer")),
        },
        MemberCommand::Checkin {
            status,
            next,
            note,
            code,
        } => records::checkin(p, home, status, next, note, code).await,
        MemberCommand::DuressSet => records::duress_set(p, home).await,
        MemberCommand::Panic { note, region, wait } => {
            records::panic(p, home, note, region, wait).await
        }
        MemberCommand::CancelPanic { id, note, code } => {
            records::cancel_panic(p, home, &id, note, code).await
        }
        MemberCommand::Watch { region, every } => watch::watch(p, home, region, every).await,
        MemberCommand::Alert(action) => records::alert(p, home, action).await,
        MemberCommand::Alerts { region, open_only } => {
            // All, then the open ones: a panic cancelled under duress is open only once its
            // duress alert is opened, with the reader's key.
            let request = ClientRequestV0::Alerts {
                region,
                open_only: false,
            };
            match ask(home, request).await? {
                ClientResponseV0::Alerts(alerts) => {
                    let (key, saved) = load(home)?;
                    let mut alerts = records::readable_alerts(&key, &saved, alerts).await;
                    alerts.retain(|a| !open_only || a.is_open());
                    output::alerts(p, &alerts)?
                }
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(Exit::Ok)
        }
        MemberCommand::Checkins { overdue_only } => {
            match ask(home, ClientRequestV0::Checkins { overdue_only }).await? {
                ClientResponseV0::Checkins(mut list) => {
                    // What the node could not open for this member, their key may.
                    let (key, _) = load(home)?;
                    for c in &mut list {
                        c.open_with(&key);
                    }
                    output::checkins(p, &list)?
                }
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(Exit::Ok)
        }
        MemberCommand::Shelters {
            region,
            available_only,
        } => {
            let request = ClientRequestV0::Shelters {
                region,
                available_only,
            };
            match ask(home, request).await? {
                ClientResponseV0::Shelters(list) => output::shelters(p, &list)?,
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(Exit::Ok)
        }
        MemberCommand::Directory { region } => {
            match ask(home, ClientRequestV0::Directory { region }).await? {
                ClientResponseV0::Directory(list) => output::directory(p, &list)?,
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(Exit::Ok)
        }
        MemberCommand::Shelter(action) => shelters::shelter(p, home, action).await,
    }
}

/// Sends queued records, then asks the known nodes one by one until one answers.
async fn ask(home: &Home, request: ClientRequestV0) -> anyhow::Result<ClientResponseV0> {
    let (key, saved) = load(home)?;
    deliver::flush_queue(home, &key, &saved).await;
    deliver::query(&key, &saved.own_nodes(), request).await
}

/// Signs `body` as the member, at `at`, for document `doc`, under the device's next
/// sequence number.
fn sign(
    home: &Home,
    key: &SecretKey,
    doc: DocId,
    at: Timestamp,
    body: Body,
) -> anyhow::Result<SignedEvent> {
    SignedEvent::sign(
        Event {
            author: key.public(),
            at,
            seq: home.next_seq()?,
            doc,
            body,
        },
        key,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Milliseconds of a duration typed on the command line, saturating (no duration wraps).
fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Destroys the home directory (the plan checked `--yes`).
fn wipe(p: &mut Printer<'_>, home: &Home) -> anyhow::Result<Exit> {
    let removed = client::wipe::wipe_dir(home.dir())?;
    p.line(&tr!(
        "member-wiped",
        count = removed.len(),
        dir = home.dir().display().to_string()
    ))?;
    p.line(&tr!("member-wiped-revoke"))?;
    Ok(Exit::Ok)
}

/// Redeems an invite code with the inviting node and saves what it answers.
async fn join(p: &mut Printer<'_>, home: &Home, code: &str) -> anyhow::Result<Exit> {
    let invite = InviteCode::decode(code).map_err(|e| anyhow::anyhow!("{e}"))?;
    let InviteCode::V0 { node, addrs, .. } = &invite;
    if home.saved().is_ok() {
        anyhow::bail!(tr!("already-joined"));
    }
    let key = home.key_or_create().map_err(home::local)?;
    let proof = key.sign(&invite.proof_message(&key.public())).to_vec();
    let contact = NodeContact {
        key: *node,
        addrs: addrs.clone(),
    };
    let results = client::net::request_all(
        &invite.identity(),
        std::slice::from_ref(&contact),
        ClientRequestV0::Redeem {
            member: key.public(),
            proof,
        },
    )
    .await?;
    match results.into_iter().next() {
        Some((_, Ok(ClientResponseV0::Profile { profile, nodes }))) => {
            let saved = Saved {
                profile: profile.clone(),
                nodes,
            };
            home.save(&saved).map_err(home::local)?;
            // Every member has a duress tag from the start, of a code nobody knows until they
            // set one: the roster does not tell who has set a duress code. Queued if no node
            // takes it now, sent with the next record.
            let unknown = data_encoding::HEXLOWER.encode(&protocol::ids::random_bytes::<32>());
            let event = records::duress_event(home, &key, &saved, &unknown).await?;
            home.enqueue(&event).map_err(home::local)?;
            let _ = deliver::deliver(home, &key, &saved.own_nodes(), vec![event]).await;
            output::joined(p, &profile)?;
            Ok(Exit::Ok)
        }
        Some((_, Ok(ClientResponseV0::Error { message, .. }))) => {
            anyhow::bail!(tr!("invite-refused", message = message))
        }
        Some((_, Err(e))) => {
            anyhow::bail!(tr!("inviter-unreachable-because", error = e.to_string()))
        }
        _ => anyhow::bail!(tr!("inviter-unreachable")),
    }
}
