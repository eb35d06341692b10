# Messages of the `tejido` command line, in English (the default).
#
# Every message here must also be in es.ftl, with the same variables: a unit test in
# cli/src/i18n.rs checks it. Commands, flags and values typed on the command line stay in
# English in every language; JSON output (--json) is never translated.
# Integration tests assert on some of these texts: change them with care.

## Start-up and general errors

cannot-start = cannot start: { $error }
no-home-dir = no home directory: pass --home
unexpected-answer = unexpected answer
members-only = this command is for members: use --home instead of --data-dir
operators-only = this command is for node operators: pass --data-dir DIR

## Files

reading-file = reading { $path }
writing-file = writing { $path }
removing-file = removing { $path }
creating-dir = creating { $path }
damaged-file = { $path } is damaged
skipping-damaged-queue-file = skipping damaged queue file { $path }
bundle-too-large = { $path } is too large to be a bundle
node-sent-damaged-file = the node sent a damaged file
wrote-file = wrote { $path }: { $summary }

## Member key and profile

no-member-key = no member key in { $dir }: join a node first (tejido join CODE)
not-joined = not joined yet: run tejido --home { $dir } join CODE
no-home-region = you have no home region: pass --region
already-joined = this home has already joined a network; use another --home
invite-refused = the node refused the invite: { $message }
inviter-unreachable = cannot reach the inviting node
inviter-unreachable-because = cannot reach the inviting node: { $error }
device-code = One-time code for another device of yours, valid until { $expires }. On the new device run: tejido join CODE (it will be you: same name, role, region and check-ins)
device-refused = no code for another device: { $message }
device-ttl-too-long = a device's code is valid for at least a second and at most 7 days (--ttl)
move-needs-member = name the person, or the key of the lost device: tejido --data-dir DIR member move NAME-or-KEY
welcome = Welcome, { $name }. You joined { $org } as { $role }.
welcome-key = Your key: { $key }
welcome-next = Check in with: tejido checkin --next 6h
profile-line = { $name } ({ $role }) of { $org }, region { $region }
profile-key = key: { $key }

## Wiping

node-wipe-confirm = wipe destroys this node's keys and data for good: add --yes to confirm
member-wipe-confirm = wipe destroys your member key and everything in { $dir } for good: add --yes to confirm
member-wiped = wiped { $count } file(s) from { $dir }: member key, profile, queue
member-wiped-revoke = ask your organisation to revoke your key too: tejido --data-dir DIR revoke KEY

## Delivery of signed records

# $what is one of the record-* messages below; $id the record's short id.
delivery-stored = { $what } { $id } stored by { $stored } of { $known } node(s): { $names }
delivery-queued = No node reachable: { $what } { $id } is queued on this device and will be sent with your next command.
delivery-refused = node { $node } refused the { $what }: { $why }
sent-queued = sent { $count } queued record(s)
queued-refused = node { $node } refused queued records: { $why }
no-node-reachable = no node reachable
no-node-could-be-reached = no node could be reached ({ $errors })
not-stored = not stored: { $why }

record-check-in = check-in
record-panic = panic
record-cancel = cancel of the panic
record-alert = alert
record-acknowledgement = acknowledgement
record-assignment = assignment
record-resolution = resolution
record-shelter-update = shelter update

## Alerts and shelters

alert-id-too-short = give at least 6 characters of the alert id
no-such-alert = no alert { $id }
cancel-not-yours = alert { $id } is not a panic you raised: only the person who raised a panic can cancel it
ambiguous-alert = { $count } alerts start with { $id }: give more characters
no-single-shelter = no single shelter matches { $id }
too-many-people = too many people at once
nothing-to-update = nothing to update: give --status, --capacity, --arrive or --leave

## Lists

no-alerts = No alerts.
no-checkins = No check-ins.
no-shelters = No shelters.
no-security-contacts = No security contacts yet.
no-peers = No other nodes yet: invite one with tejido --data-dir DIR invite node
checkin-overdue = OVERDUE
member-revoked = revoked
member-cloned = KEY ON TWO DEVICES: revoke it
peer-revoked = revoked
peer-suspended = suspended after repeated faults
peer-connected = connected
peer-never-synced = never

## Table headers

col-id = ID
col-kind = KIND
col-severity = SEVERITY
col-region = REGION
col-status = STATUS
col-devices = DEVICES
col-created = CREATED
col-by = BY
col-text = TEXT
col-name = NAME
col-at = AT
col-next-due = NEXT DUE
col-security-contact = SECURITY CONTACT
col-note = NOTE
col-free = FREE
col-services = SERVICES
col-accepts = ACCEPTS
col-contact = CONTACT
col-key = KEY
col-org = ORG
col-role = ROLE
col-node = NODE
col-state = STATE
col-last-sync = LAST SYNC
col-addresses = ADDRESSES
col-document = DOCUMENT
col-events = EVENTS
col-heads = HEADS
col-action = ACTION
col-detail = DETAIL
col-signed-event = SIGNED EVENT

## One alert in detail (labels aligned in a column)

detail-alert = alert     { $value }
detail-kind = kind      { $kind } ({ $severity }, { $urgency }, { $certainty })
detail-region = region    { $region } ({ $org })
detail-status = status    { $value }
detail-member = member    { $value }
detail-expires = expires   { $value }
detail-text = text      { $value }

## Node status (operator; labels aligned in a column)

status-node = node:       { $value }
status-org = org:        { $value }
status-network = network:    { $value }
status-listening = listening:  { $value }
status-peers = peers:      { $count } connected
status-roster = roster:     { $members } member(s), { $nodes } node(s)
status-alerts = alerts:     { $count } ({ $open } open)
status-shelters = shelters:   { $count }
status-checkins = check-ins:  { $count }
status-bridge = bridge:     { $name } ({ $kind }): { $delivered } delivered, { $failed } failed attempt(s), { $pending } waiting
bridge-test-ok = { $name } ({ $kind }): delivered
bridge-test-failed = { $name } ({ $kind }): failed: { $error }
status-refused = refused:    { $connections } connection(s), { $changes } change(s)
invite-created = One-time invite, valid until { $expires }. The newcomer runs: tejido join CODE

## Values shown in human tables (the JSON keeps the English values)

role-member = member
role-security-contact = security-contact
role-admin = admin

kind-panic = panic
kind-alert = alert
kind-missed-checkin = missed-checkin

severity-minor = minor
severity-moderate = moderate
severity-severe = severe
severity-extreme = extreme

urgency-immediate = immediate
urgency-expected = expected
urgency-future = future
urgency-past = past

certainty-observed = observed
certainty-likely = likely
certainty-possible = possible
certainty-unknown = unknown

checkin-status-ok = ok
checkin-status-need-help = need-help
checkin-status-danger = danger
checkin-sealed = (sealed)

shelter-status-open = open
shelter-status-full = full
shelter-status-closed = closed

alert-status-open = open
alert-status-acknowledged = acknowledged
alert-status-assigned = assigned
alert-status-resolved = resolved
alert-status-expired = expired
alert-status-cancelled = cancelled

action-raised = raised
action-acknowledged = acknowledged
action-assigned = assigned
action-resolved = resolved
action-notified = notified
action-escalated = escalated
action-cancelled = cancelled
action-cancelled-under-duress = cancelled-under-duress

demo-start = Three organisations each start a node (real processes on 127.0.0.1).
demo-invite-nodes = Red Oax invites the other two nodes into its network (one-time codes).
demo-invite-members = Casa Chis invites Sol, its security contact for Oaxaca; Red Oax invites Bea, a member.
demo-panic = Bea raises a panic. Her device sends it to every node it knows and says which stored it.
demo-arrived = The panic is on every node; Sol sees it on Casa Chis's node.
demo-ack = Sol acknowledges it; the acknowledgement is signed and reaches Bea's node too.
demo-history = Bea sees who answered, with the whole signed history.
demo-done = Done. The demo's nodes are stopped and its files removed.

duress-prompt = Duress code (not shown):
duress-too-short = a duress code has at least 4 characters
duress-not-stored = no node stored the duress code; try again when a node is reachable
duress-set = Duress code set. A check-in given with it (tejido checkin --code CODE) looks and prints like any other, and silently alerts your security contacts.
kind-duress = duress
kind-sealed = sealed
kind-cloned-key = cloned-key

## Delivery receipts

receipts-held = held by { $held } of { $total } node(s), each with a signed receipt
receipts-contact-node = held by a node of a security contact for { $region } ({ $org }) after { $secs } s
receipts-no-contact-node = not yet held by a node of a security contact for { $region }
receipts-notified = notified { $bridge } by { $channel } after { $secs } s, by { $org }'s node { $node }
receipts-acked = acknowledged by { $name } after { $secs } s
receipts-not-acked = not acknowledged yet
receipts-waiting = waiting up to { $secs } s for the network's receipts...
col-after = AFTER
col-contact-node = CONTACT'S NODE
yes = yes
no = no

## Watch

watch-line = { $at }  { $change }  { $id }  { $kind }  { $status }  { $region }  held { $held }/{ $total }  notified { $notified }  { $by }: { $text }
watch-new = NEW
watch-changed = CHANGED
watch-unreachable = no node reachable, retrying ({ $error })
watch-reconnected = reconnected

## Shelter requests

record-shelter-request = shelter request
record-shelter-decision = shelter decision
shelter-request-sent = Request { $id } for { $people } at { $shelter } sent through node { $node }. Only the admins of { $org } and you can read who asked and the note.
shelter-request-not-admins = { $org } has no admin to read a request yet
note-too-long = the note is too long
no-shelter-requests = No requests you can read.
shelter-requests-sealed =
    { $count ->
        [one] { $count } more request is sealed to others.
       *[other] { $count } more requests are sealed to others.
    }
no-readable-request = no request you can read matches { $id }
request-status-pending = pending
request-status-accepted = accepted
request-status-declined = declined
request-bad-signature = signature does not hold
col-people = PEOPLE
col-shelter = SHELTER
col-requester = REQUESTER
col-nodes = NODES
col-admins = ADMINS
org-pending = waiting: { $change }, { $have } of { $need } organisations agree ({ $orgs })
admin-key-roster-only = --admin-key signs roster changes only: revoke, region, org

## Backups

backup-passphrase = Passphrase for the backup (at least 8 characters):{" "}
backup-passphrase-again = Again:{" "}
backup-passphrases-differ = the passphrases differ

## Doctor

doctor-ahead = { $by } ahead of
doctor-behind = { $by } behind
doctor-never = never since it started
doctor-running = node { $node } of { $org } is running (data format { $format })
doctor-not-running = the node does not answer: { $error }
doctor-not-running-fix = start it (systemctl start tejidod, or tejidod --data-dir { $dir }); its log says why it stopped (journalctl -u tejidod)
doctor-admin-key = the admin key is here (admin.key): it signs your organisation's roster changes; keep a backup (tejido backup)
doctor-no-admin-key = the admin key is kept off this node ({ $dir } has no admin.key): roster changes are signed with --admin-key, and member invites need it back on the node
doctor-alone = no other trusted node: this node replicates with nobody
doctor-alone-fix = invite another organisation's node (tejido invite node) or join a network (tejido join CODE)
doctor-peer-reached = node { $peer } is reached ({ $how })
doctor-peer-unreachable = node { $peer } is unreachable (last sync: { $last })
doctor-peer-unreachable-fix = check that it runs and that this machine reaches one of its addresses ({ $addrs }); a node behind NAT needs relay_via
doctor-peer-suspended = node { $peer } is suspended after repeated faults
doctor-peer-suspended-fix = its operator should look at its log; the suspension ends by itself after 5 minutes
doctor-clock = clock of node { $peer }: { $offset } this node's
doctor-own-clock = this node's clock is probably wrong: { $offset } every peer's
doctor-clock-fix = set the clock right (timedatectl set-ntp true); nodes refuse events dated more than 5 minutes ahead of their own clock
doctor-disk = disk: { $free } free of { $total }; the store takes { $store }
doctor-disk-unknown = disk: free space unknown; the store takes { $store }
doctor-disk-fix = free some space or move the data directory to a larger disk: a node that cannot write stops storing alerts
doctor-encrypted = encryption at rest is on
doctor-not-encrypted = encryption at rest is off: whoever takes the disk reads the records
doctor-not-encrypted-fix = make a backup, then restore it into a new directory with --encrypt (tejidod --data-dir NEW --restore FILE --encrypt)
doctor-no-bridges = no alert bridges configured
doctor-bridge = alert bridge: { $bridge }
doctor-config-fix = edit the configuration file and restart the node
doctor-summary-ok = Nothing needs fixing.
doctor-summary-problems = Something needs fixing: see the lines marked FIX.
