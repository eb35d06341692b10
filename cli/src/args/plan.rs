//! Raw arguments to a validated [`Plan`]. What can be checked without I/O is checked here
//! (slugs, keys, note lengths, confirmations, the watch interval's floor); the member and
//! operator code then only runs the plan.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use protocol::control::Request;
use protocol::event::{Certainty, CheckinStatus, Severity, ShelterStatus, Urgency};
use protocol::ids::PublicKey;

use super::{AlertAction, Args, Cmd, DuressAction, InviteWhat, ShelterAction};
use crate::member::Home;

/// What this run does, checked.
#[derive(Debug)]
pub(crate) enum Plan {
    /// `tejido demo`.
    Demo,
    /// Print a completion script.
    Completions(clap_complete::Shell),
    /// Print the manual page.
    Man,
    /// An operator command, over the socket of the node in `data_dir`.
    Operator {
        /// The node's data directory.
        data_dir: PathBuf,
        /// What to do.
        command: OperatorCommand,
        /// Print JSON.
        json: bool,
    },
    /// A member command, with the key and profile in `home`.
    Member {
        /// The member's home directory.
        home: Home,
        /// What to do.
        command: MemberCommand,
        /// Print JSON.
        json: bool,
    },
}

/// An operator command.
#[derive(Debug)]
pub(crate) enum OperatorCommand {
    /// Send `request`; a file in the answer is written to `save_to` (export, export-doc).
    Ask {
        /// The request.
        request: Request,
        /// Where the file the node sends goes.
        save_to: Option<PathBuf>,
    },
    /// Read a bundle and have the node import it.
    Import {
        /// The bundle file.
        file: PathBuf,
    },
    /// Have the node draft the roster event of `request`, sign it with the admin key in
    /// `key_file`, and send it back.
    SignAsAdmin {
        /// The request (a revocation, a region, a change to the network).
        request: Request,
        /// The admin key's file.
        key_file: PathBuf,
    },
    /// Ask for a passphrase, then a backup written to `to`.
    Backup {
        /// Where the backup goes.
        to: PathBuf,
        /// Where the passphrase is, if not on the terminal.
        passphrase_file: Option<PathBuf>,
    },
    /// Check the node and its data directory.
    Doctor,
}

/// A member command.
#[derive(Debug)]
pub(crate) enum MemberCommand {
    /// Redeem an invite code.
    Join { code: String },
    /// Print a one-time code for another device of this person.
    DeviceAdd { ttl: Duration },
    /// Destroy the home directory (confirmed).
    Wipe,
    /// Ask the node who we are, and save it.
    Whoami,
    /// Sign and send a check-in.
    Checkin {
        status: CheckinStatus,
        next: Option<Duration>,
        note: String,
        code: Option<String>,
    },
    /// Set the duress code, read from the terminal or standard input.
    DuressSet,
    /// Sign and send a panic; `region` is checked, `None` means the home region.
    Panic {
        note: String,
        region: Option<String>,
        wait: Option<Duration>,
    },
    /// Sign and send the cancel of the member's own panic `id` (a prefix).
    CancelPanic {
        id: String,
        note: String,
        code: Option<String>,
    },
    /// Follow alerts.
    Watch {
        region: Option<String>,
        every: Duration,
    },
    /// Act on an alert.
    Alert(AlertCommand),
    /// List alerts.
    Alerts {
        region: Option<String>,
        open_only: bool,
    },
    /// List check-ins.
    Checkins { overdue_only: bool },
    /// List shelters.
    Shelters {
        region: Option<String>,
        available_only: bool,
    },
    /// List security contacts and admins by region.
    Directory { region: Option<String> },
    /// Act on a shelter or shelter request.
    Shelter(ShelterCommand),
}

/// An action on an alert.
#[derive(Debug)]
pub(crate) enum AlertCommand {
    Send {
        severity: Severity,
        region: String,
        urgency: Urgency,
        certainty: Certainty,
        expires: Option<Duration>,
        text: String,
    },
    Show {
        id: String,
    },
    Ack {
        id: String,
    },
    Assign {
        id: String,
        assignee: PublicKey,
    },
    Resolve {
        id: String,
        note: String,
    },
}

/// An action on a shelter or a shelter request.
#[derive(Debug)]
pub(crate) enum ShelterCommand {
    Add {
        name: String,
        region: String,
        capacity: u32,
        services: Vec<String>,
        accepts: Vec<String>,
        contact: String,
    },
    Update {
        id: String,
        status: Option<ShelterStatus>,
        capacity: Option<u32>,
        arrive: u32,
        leave: u32,
    },
    Request {
        id: String,
        people: u32,
        note: String,
    },
    Requests,
    Decide {
        request: String,
        accepted: bool,
    },
}

/// The longest a device's code stays valid (nodes refuse longer).
const MAX_DEVICE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The shortest watch interval: faster polling only loads the node.
const MIN_WATCH_EVERY: Duration = Duration::from_millis(200);

fn check_region(region: &str) -> anyhow::Result<()> {
    protocol::ids::check_slug("region", region).map_err(|e| anyhow::anyhow!("{e}"))
}

fn check_region_opt(region: &Option<String>) -> anyhow::Result<()> {
    region.as_deref().map_or(Ok(()), check_region)
}

/// Turns the arguments into a plan, or says (translated) why they make none. The language
/// must be set before, since the errors are messages.
pub(crate) fn plan(args: Args) -> anyhow::Result<Plan> {
    let json = args.json;
    match args.command {
        Cmd::Demo => return Ok(Plan::Demo),
        Cmd::Completions { shell } => return Ok(Plan::Completions(shell)),
        Cmd::Man => return Ok(Plan::Man),
        _ => {}
    }
    if let Some(data_dir) = args.data_dir {
        let mut command = operator_command(args.command)?;
        if let Some(key_file) = args.admin_key {
            command = match command {
                OperatorCommand::Ask {
                    request:
                        request @ (Request::Revoke { .. }
                        | Request::DeclareRegion { .. }
                        | Request::Network { .. }),
                    save_to: None,
                } => OperatorCommand::SignAsAdmin { request, key_file },
                _ => anyhow::bail!(tr!("admin-key-roster-only")),
            };
        }
        return Ok(Plan::Operator {
            data_dir,
            command,
            json,
        });
    }
    let home = Home::new(home_dir(args.home)?);
    let command = member_command(&home, args.command)?;
    Ok(Plan::Member {
        home,
        command,
        json,
    })
}

/// The clap command for completions and the manual page.
pub(crate) fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

fn home_dir(home: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match home {
        Some(h) => Ok(h),
        None => directories::ProjectDirs::from("org", "Tejido", "tejido")
            .map(|d| d.config_dir().join("member"))
            .with_context(|| tr!("no-home-dir")),
    }
}

fn operator_command(cmd: Cmd) -> anyhow::Result<OperatorCommand> {
    let ask = |request| OperatorCommand::Ask {
        request,
        save_to: None,
    };
    Ok(match cmd {
        Cmd::Status => ask(Request::Status),
        Cmd::Members => ask(Request::Members),
        Cmd::Invite {
            what:
                InviteWhat::Member {
                    name,
                    role,
                    region,
                    ttl,
                },
        } => {
            check_region_opt(&region)?;
            ask(Request::InviteMember {
                name,
                role,
                region,
                ttl_secs: ttl.as_secs(),
            })
        }
        Cmd::Invite {
            what: InviteWhat::Node { ttl },
        } => ask(Request::InviteNode {
            ttl_secs: ttl.as_secs(),
        }),
        Cmd::Join { code } => ask(Request::JoinNetwork { code }),
        Cmd::Peers => ask(Request::Peers),
        Cmd::Wipe { yes } => {
            if !yes {
                anyhow::bail!(tr!("node-wipe-confirm"));
            }
            ask(Request::Wipe)
        }
        Cmd::Export {
            to,
            for_nodes,
            since,
        } => OperatorCommand::Ask {
            request: Request::Export { for_nodes, since },
            save_to: Some(to),
        },
        Cmd::ExportDoc { doc, to, raw } => OperatorCommand::Ask {
            request: Request::ExportDoc { doc, raw },
            save_to: Some(to),
        },
        Cmd::Backup {
            to,
            passphrase_file,
        } => OperatorCommand::Backup {
            to,
            passphrase_file,
        },
        Cmd::Doctor => OperatorCommand::Doctor,
        Cmd::Import { file } => OperatorCommand::Import { file },
        Cmd::Docs => ask(Request::Docs),
        Cmd::Bridge {
            action: super::BridgeAction::Test { name },
        } => ask(Request::BridgeTest { name }),
        Cmd::Revoke {
            key,
            reason,
            person,
        } => ask(Request::Revoke {
            key,
            reason,
            person,
        }),
        Cmd::Member {
            action: super::MemberAction::Move { member, ttl },
        } => {
            if member.trim().is_empty() {
                anyhow::bail!(tr!("move-needs-member"));
            }
            ask(Request::MoveMember {
                member,
                ttl_secs: ttl.as_secs(),
            })
        }
        Cmd::Orgs => ask(Request::Orgs),
        Cmd::AdminKey {
            action: super::AdminKeyAction::MoveOut { to },
        } => OperatorCommand::Ask {
            request: Request::TakeAdminKey,
            save_to: Some(to),
        },
        Cmd::Org { action } => {
            use protocol::event::NetworkChange;
            let change = match action {
                super::OrgAction::Approve { org } => NetworkChange::Approve { org },
                super::OrgAction::Suspend { org } => NetworkChange::Suspend { org },
                super::OrgAction::Reinstate { org } => NetworkChange::Reinstate { org },
                super::OrgAction::Remove { org } => NetworkChange::Remove { org },
            };
            protocol::ids::check_slug("org", change.org()).map_err(|e| anyhow::anyhow!("{e}"))?;
            ask(Request::Network { change })
        }
        Cmd::Region { region } => {
            protocol::ids::check_slug("region", &region).map_err(|e| anyhow::anyhow!("{e}"))?;
            ask(Request::DeclareRegion { region })
        }
        Cmd::Alerts { open, region } => ask(Request::Alerts {
            region,
            open_only: open,
        }),
        Cmd::Checkins { overdue } => ask(Request::Checkins {
            overdue_only: overdue,
        }),
        Cmd::Shelters { region, available } => ask(Request::Shelters {
            region,
            available_only: available,
        }),
        _ => anyhow::bail!(tr!("members-only")),
    })
}

fn member_command(home: &Home, cmd: Cmd) -> anyhow::Result<MemberCommand> {
    Ok(match cmd {
        Cmd::Status
        | Cmd::Members
        | Cmd::Invite { .. }
        | Cmd::Peers
        | Cmd::Export { .. }
        | Cmd::Import { .. }
        | Cmd::ExportDoc { .. }
        | Cmd::Backup { .. }
        | Cmd::Doctor
        | Cmd::Docs
        | Cmd::Bridge { .. }
        | Cmd::Revoke { .. }
        | Cmd::Member { .. }
        | Cmd::Orgs
        | Cmd::AdminKey { .. }
        | Cmd::Org { .. }
        | Cmd::Region { .. }
        | Cmd::Demo
        | Cmd::Completions { .. }
        | Cmd::Man => anyhow::bail!(tr!("operators-only")),
        Cmd::Join { code } => MemberCommand::Join { code },
        Cmd::Device {
            action: super::DeviceAction::Add { ttl },
        } => {
            if ttl.is_zero() || ttl > MAX_DEVICE_TTL {
                anyhow::bail!(tr!("device-ttl-too-long"));
            }
            MemberCommand::DeviceAdd { ttl }
        }
        Cmd::Wipe { yes } => {
            if !yes {
                anyhow::bail!(tr!(
                    "member-wipe-confirm",
                    dir = home.dir().display().to_string()
                ));
            }
            MemberCommand::Wipe
        }
        Cmd::Whoami => MemberCommand::Whoami,
        Cmd::Checkin {
            status,
            next,
            note,
            code,
        } => MemberCommand::Checkin {
            status,
            next,
            note,
            code,
        },
        Cmd::Duress {
            action: DuressAction::Set,
        } => MemberCommand::DuressSet,
        Cmd::Panic {
            note,
            cancel: Some(id),
            code,
            ..
        } => MemberCommand::CancelPanic { id, note, code },
        Cmd::Panic {
            note, region, wait, ..
        } => {
            check_region_opt(&region)?;
            MemberCommand::Panic { note, region, wait }
        }
        Cmd::Watch { region, every } => {
            check_region_opt(&region)?;
            MemberCommand::Watch {
                region,
                every: every.max(MIN_WATCH_EVERY),
            }
        }
        Cmd::Alert { action } => MemberCommand::Alert(alert_command(action)?),
        Cmd::Alerts { open, region } => MemberCommand::Alerts {
            region,
            open_only: open,
        },
        Cmd::Checkins { overdue } => MemberCommand::Checkins {
            overdue_only: overdue,
        },
        Cmd::Shelters { region, available } => MemberCommand::Shelters {
            region,
            available_only: available,
        },
        Cmd::Directory { region } => MemberCommand::Directory { region },
        Cmd::Shelter { action } => MemberCommand::Shelter(shelter_command(action)?),
    })
}

fn alert_command(action: AlertAction) -> anyhow::Result<AlertCommand> {
    Ok(match action {
        AlertAction::Send {
            severity,
            region,
            urgency,
            certainty,
            expires,
            text,
        } => {
            check_region(&region)?;
            AlertCommand::Send {
                severity,
                region,
                urgency,
                certainty,
                expires,
                text,
            }
        }
        AlertAction::Show { id } => AlertCommand::Show { id },
        AlertAction::Ack { id } => AlertCommand::Ack { id },
        AlertAction::Assign { id, member } => AlertCommand::Assign {
            id,
            assignee: member.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
        },
        AlertAction::Resolve { id, note } => AlertCommand::Resolve { id, note },
    })
}

fn shelter_command(action: ShelterAction) -> anyhow::Result<ShelterCommand> {
    Ok(match action {
        ShelterAction::Add {
            name,
            region,
            capacity,
            services,
            accepts,
            contact,
        } => ShelterCommand::Add {
            name,
            region,
            capacity,
            services,
            accepts,
            contact,
        },
        ShelterAction::Update {
            id,
            status,
            capacity,
            arrive,
            leave,
        } => ShelterCommand::Update {
            id,
            status,
            capacity,
            arrive,
            leave,
        },
        ShelterAction::Request { id, people, note } => {
            if note.len() > protocol::event::MAX_TEXT_BYTES {
                anyhow::bail!(tr!("note-too-long"));
            }
            ShelterCommand::Request { id, people, note }
        }
        ShelterAction::Requests => ShelterCommand::Requests,
        ShelterAction::Accept { request } => ShelterCommand::Decide {
            request,
            accepted: true,
        },
        ShelterAction::Decline { request } => ShelterCommand::Decide {
            request,
            accepted: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn plan_of(argv: &[&str]) -> anyhow::Result<Plan> {
        plan(Args::try_parse_from(argv)?)
    }

    #[test]
    fn data_dir_makes_an_operator_and_home_a_member() {
        let p = plan_of(&["tejido", "--data-dir", "/n", "status"]).expect("plan");
        assert!(matches!(
            p,
            Plan::Operator {
                command: OperatorCommand::Ask {
                    request: Request::Status,
                    save_to: None
                },
                ..
            }
        ));
        let p = plan_of(&["tejido", "--home", "/h", "checkin", "--next", "6h"]).expect("plan");
        let Plan::Member { command, home, .. } = p else {
            panic!("not a member plan")
        };
        assert_eq!(home.dir(), std::path::Path::new("/h"));
        assert!(matches!(
            command,
            MemberCommand::Checkin { next: Some(d), .. } if d == Duration::from_secs(6 * 3600)
        ));
    }

    #[test]
    fn commands_for_the_other_side_are_refused() {
        assert!(plan_of(&["tejido", "--data-dir", "/n", "panic"]).is_err());
        assert!(plan_of(&["tejido", "--home", "/h", "peers"]).is_err());
    }

    #[test]
    fn wipes_need_confirmation() {
        assert!(plan_of(&["tejido", "--home", "/h", "wipe"]).is_err());
        assert!(plan_of(&["tejido", "--data-dir", "/n", "wipe"]).is_err());
        assert!(plan_of(&["tejido", "--home", "/h", "wipe", "--yes"]).is_ok());
    }

    #[test]
    fn regions_keys_and_notes_are_checked_before_anything_runs() {
        assert!(plan_of(&["tejido", "--home", "/h", "panic", "--region", "Not A Slug"]).is_err());
        assert!(plan_of(&["tejido", "--home", "/h", "watch", "--region", "../x"]).is_err());
        assert!(
            plan_of(&["tejido", "--home", "/h", "alert", "assign", "abcdef", "nokey"]).is_err()
        );
        let long = "x".repeat(protocol::event::MAX_TEXT_BYTES + 1);
        assert!(
            plan_of(&["tejido", "--home", "/h", "shelter", "request", "ab", "--note", &long])
                .is_err()
        );
    }

    #[test]
    fn watch_polls_no_faster_than_the_floor() {
        let p = plan_of(&["tejido", "--home", "/h", "watch", "--every", "1ms"]).expect("plan");
        assert!(matches!(
            p,
            Plan::Member { command: MemberCommand::Watch { every, .. }, .. } if every == MIN_WATCH_EVERY
        ));
    }
}
