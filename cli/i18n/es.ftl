# Mensajes de la línea de comandos `tejido`, en español.
#
# Cada mensaje de aquí debe estar también en en.ftl, con las mismas variables: lo comprueba
# una prueba unitaria en cli/src/i18n.rs. Los comandos, las opciones y los valores que se
# escriben en la línea de comandos siguen en inglés en todos los idiomas; la salida JSON
# (--json) nunca se traduce.
#
# Lenguaje incluyente: evitamos el masculino genérico ("integrante", "persona integrante",
# "quien opera el nodo", "Te damos la bienvenida"), y usamos "check-in" para el reporte
# periódico de cada integrante, como en muchas organizaciones de la sociedad civil en México.

## Arranque y errores generales

cannot-start = no se puede iniciar: { $error }
no-home-dir = no hay un directorio personal: usa --home
unexpected-answer = respuesta inesperada
members-only = este comando es para personas integrantes: usa --home en lugar de --data-dir
operators-only = este comando es para quien opera un nodo: usa --data-dir DIR

## Archivos

reading-file = al leer { $path }
writing-file = al escribir { $path }
removing-file = al borrar { $path }
creating-dir = al crear { $path }
damaged-file = { $path } está dañado
skipping-damaged-queue-file = se omite el archivo dañado de la cola { $path }
bundle-too-large = { $path } es demasiado grande para ser un paquete
node-sent-damaged-file = el nodo envió un archivo dañado
wrote-file = se escribió { $path }: { $summary }

## Clave y perfil de integrante

no-member-key = no hay clave de integrante en { $dir }: primero únete a un nodo (tejido join CÓDIGO)
not-joined = aún no te has unido: ejecuta tejido --home { $dir } join CÓDIGO
no-home-region = no tienes una región asignada: usa --region
already-joined = este directorio ya se unió a una red; usa otro --home
invite-refused = el nodo rechazó la invitación: { $message }
inviter-unreachable = no se puede contactar el nodo que hizo la invitación
inviter-unreachable-because = no se puede contactar el nodo que hizo la invitación: { $error }
device-code = Código de un solo uso para otro dispositivo tuyo, válido hasta { $expires }. En el dispositivo nuevo ejecuta: tejido join CÓDIGO (serás tú: mismo nombre, rol, región y check-ins)
device-refused = no hay código para otro dispositivo: { $message }
device-ttl-too-long = el código de un dispositivo vale entre un segundo y 7 días como máximo (--ttl)
move-needs-member = indica el nombre de la persona o la clave del dispositivo perdido: tejido --data-dir DIR member move NOMBRE-o-CLAVE
welcome = Te damos la bienvenida, { $name }. Te uniste a { $org } con el rol de { $role }.
welcome-key = Tu clave: { $key }
welcome-next = Haz tu check-in con: tejido checkin --next 6h
profile-line = { $name } ({ $role }) de { $org }, región { $region }
profile-key = clave: { $key }

## Borrado

node-wipe-confirm = wipe destruye para siempre las claves y los datos de este nodo: agrega --yes para confirmar
member-wipe-confirm = wipe destruye para siempre tu clave de integrante y todo lo que hay en { $dir }: agrega --yes para confirmar
member-wiped =
    { $count ->
        [one] se borró { $count } archivo
       *[other] se borraron { $count } archivos
    } de { $dir }: clave de integrante, perfil, cola
member-wiped-revoke = pide a tu organización que también revoque tu clave: tejido --data-dir DIR revoke CLAVE

## Entrega de registros firmados

# $what es uno de los mensajes record-* de abajo; $id, el id corto del registro.
delivery-stored =
    { $what } { $id }: se guardó en { $stored } de { $known } { $known ->
        [one] nodo
       *[other] nodos
    }: { $names }
delivery-queued = Ningún nodo está al alcance: { $what } { $id } queda en cola en este dispositivo y se enviará con tu próximo comando.
delivery-refused = el nodo { $node } no aceptó este registro ({ $what }): { $why }
sent-queued =
    { $count ->
        [one] se envió { $count } registro en cola
       *[other] se enviaron { $count } registros en cola
    }
queued-refused = el nodo { $node } no aceptó los registros en cola: { $why }
no-node-reachable = ningún nodo está al alcance
no-node-could-be-reached = no se pudo contactar ningún nodo ({ $errors })
not-stored = no se guardó: { $why }

record-check-in = check-in
record-panic = alerta de pánico
record-cancel = cancelación de la alerta de pánico
record-alert = alerta
record-acknowledgement = acuse de recibo
record-assignment = asignación
record-resolution = resolución
record-shelter-update = actualización de refugio

## Alertas y refugios

alert-id-too-short = da al menos 6 caracteres del id de la alerta
no-such-alert = no hay ninguna alerta { $id }
cancel-not-yours = la alerta { $id } no es una alerta de pánico tuya: solo quien la emitió puede cancelarla
ambiguous-alert = { $count } alertas empiezan por { $id }: da más caracteres
no-single-shelter = ningún refugio coincide de forma única con { $id }
too-many-people = demasiadas personas a la vez
nothing-to-update = nada que actualizar: usa --status, --capacity, --arrive o --leave

## Listas

no-alerts = No hay alertas.
no-checkins = No hay check-ins.
no-shelters = No hay refugios.
no-security-contacts = Todavía no hay contactos de seguridad.
no-peers = Todavía no hay otros nodos: invita uno con tejido --data-dir DIR invite node
checkin-overdue = FUERA DE PLAZO
member-revoked = clave revocada
member-cloned = CLAVE EN DOS DISPOSITIVOS: revóquela
peer-revoked = revocado
peer-suspended = suspendido tras fallos repetidos
peer-connected = conectado
peer-never-synced = nunca

## Encabezados de tablas

col-id = ID
col-kind = TIPO
col-severity = GRAVEDAD
col-region = REGIÓN
col-status = ESTADO
col-devices = DISPOSITIVOS
col-created = CREACIÓN
col-by = POR
col-text = TEXTO
col-name = NOMBRE
col-at = FECHA
col-next-due = PRÓXIMO CHECK-IN
col-security-contact = CONTACTO DE SEGURIDAD
col-note = NOTA
col-free = LIBRES
col-services = SERVICIOS
col-accepts = ACEPTA
col-contact = CONTACTO
col-key = CLAVE
col-org = ORG
col-role = ROL
col-node = NODO
col-state = ESTADO
col-last-sync = ÚLTIMA SINCRONIZACIÓN
col-addresses = DIRECCIONES
col-document = DOCUMENTO
col-events = EVENTOS
# "heads" de automerge: término técnico, sin traducción.
col-heads = HEADS
col-action = ACCIÓN
col-detail = DETALLE
col-signed-event = EVENTO FIRMADO

## Una alerta en detalle (etiquetas alineadas en columna)

detail-alert = alerta      { $value }
detail-kind = tipo        { $kind } ({ $severity }, { $urgency }, { $certainty })
detail-region = región      { $region } ({ $org })
detail-status = estado      { $value }
detail-member = integrante  { $value }
detail-expires = vence       { $value }
detail-text = texto       { $value }

## Estado del nodo (operación; etiquetas alineadas en columna)

status-node = nodo:          { $value }
status-org = organización:  { $value }
status-network = red:           { $value }
status-listening = escucha en:    { $value }
status-peers =
    nodos pares:   { $count } { $count ->
        [one] conectado
       *[other] conectados
    }
status-roster =
    padrón:        { $members } { $members ->
        [one] integrante
       *[other] integrantes
    }, { $nodes } { $nodes ->
        [one] nodo
       *[other] nodos
    }
status-alerts =
    alertas:       { $count } ({ $open } { $open ->
        [one] abierta
       *[other] abiertas
    })
status-shelters = refugios:      { $count }
status-checkins = check-ins:     { $count }
status-bridge = puente:        { $name } ({ $kind }): { $delivered } entregado(s), { $failed } intento(s) fallido(s), { $pending } en espera
bridge-test-ok = { $name } ({ $kind }): entregado
bridge-test-failed = { $name } ({ $kind }): falló: { $error }
status-refused =
    rechazos:      { $connections } { $connections ->
        [one] conexión
       *[other] conexiones
    }, { $changes } { $changes ->
        [one] cambio
       *[other] cambios
    }
invite-created = Invitación de un solo uso, válida hasta { $expires }. La persona invitada ejecuta: tejido join CÓDIGO

## Valores en las tablas para personas (el JSON conserva los valores en inglés)

role-member = integrante
role-security-contact = contacto de seguridad
role-admin = administración

kind-panic = pánico
kind-alert = alerta
kind-missed-checkin = check-in no recibido

severity-minor = menor
severity-moderate = moderada
severity-severe = grave
severity-extreme = extrema

urgency-immediate = inmediata
urgency-expected = esperada
urgency-future = futura
urgency-past = pasada

certainty-observed = observada
certainty-likely = probable
certainty-possible = posible
certainty-unknown = desconocida

checkin-status-ok = bien
checkin-status-need-help = necesita apoyo
checkin-status-danger = en peligro
checkin-sealed = (sellado)

shelter-status-open = abierto
shelter-status-full = lleno
shelter-status-closed = cerrado

alert-status-open = abierta
alert-status-acknowledged = en atención
alert-status-assigned = asignada
alert-status-resolved = resuelta
alert-status-expired = vencida
alert-status-cancelled = cancelada

action-raised = emisión
action-acknowledged = acuse de recibo
action-assigned = asignación
action-resolved = resolución
action-notified = aviso enviado
action-escalated = escalamiento
action-cancelled = cancelación
action-cancelled-under-duress = cancelación con el código de coacción: la alerta sigue en pie

demo-start = Tres organizaciones ponen en marcha un nodo cada una (procesos reales en 127.0.0.1).
demo-invite-nodes = Red Oax invita a los otros dos nodos a su red (códigos de un solo uso).
demo-invite-members = Casa Chis invita a Sol, su contacto de seguridad para Oaxaca; Red Oax invita a Bea, integrante.
demo-panic = Bea lanza una alerta de pánico. Su dispositivo la envía a cada nodo que conoce y dice cuáles la guardaron.
demo-arrived = El pánico llegó a cada nodo; Sol lo ve en el nodo de Casa Chis.
demo-ack = Sol confirma que lo vio; la confirmación va firmada y llega también al nodo de Bea.
demo-history = Bea ve quién respondió, con todo el historial firmado.
demo-done = Listo. Los nodos de la demostración se detuvieron y sus archivos se borraron.

duress-prompt = Código de coacción (no se muestra):
duress-too-short = un código de coacción tiene al menos 4 caracteres
duress-not-stored = ningún nodo guardó el código de coacción; inténtalo de nuevo cuando haya un nodo al alcance
duress-set = Código de coacción guardado. Un check-in con ese código (tejido checkin --code CÓDIGO) se ve y se imprime como cualquier otro, y avisa en silencio a tus contactos de seguridad.
kind-duress = coacción
kind-sealed = sellada
kind-cloned-key = clave clonada

## Acuses de entrega

receipts-held =
    en { $held } de { $total } { $total ->
        [one] nodo
       *[other] nodos
    }, cada uno con un acuse firmado
receipts-contact-node = en poder de un nodo de una persona de contacto de seguridad de { $region } ({ $org }) tras { $secs } s
receipts-no-contact-node = todavía no está en ningún nodo de contactos de seguridad de { $region }
receipts-notified = se avisó a { $bridge } por { $channel } tras { $secs } s, desde el nodo { $node } de { $org }
receipts-acked = { $name } acusó recibo tras { $secs } s
receipts-not-acked = nadie ha acusado recibo todavía
receipts-waiting = esperando hasta { $secs } s los acuses de la red...
col-after = TRAS
col-contact-node = NODO DE CONTACTO
yes = sí
no = no

## Seguimiento en vivo

watch-line = { $at }  { $change }  { $id }  { $kind }  { $status }  { $region }  en { $held }/{ $total } nodos  avisos { $notified }  { $by }: { $text }
watch-new = NUEVA
watch-changed = CAMBIO
watch-unreachable = ningún nodo está al alcance; se reintenta ({ $error })
watch-reconnected = conexión restablecida

## Solicitudes de refugio

record-shelter-request = solicitud de refugio
record-shelter-decision = decisión sobre una solicitud
shelter-request-sent = Solicitud { $id } para { $people } en { $shelter } enviada a través del nodo { $node }. Solo quienes administran { $org } y tú pueden leer quién la pide y la nota.
shelter-request-not-admins = { $org } todavía no tiene a nadie en administración que pueda leer la solicitud
note-too-long = la nota es demasiado larga
no-shelter-requests = No hay solicitudes que puedas leer.
shelter-requests-sealed =
    { $count ->
        [one] { $count } solicitud más está cifrada para otras personas.
       *[other] { $count } solicitudes más están cifradas para otras personas.
    }
no-readable-request = ninguna solicitud que puedas leer coincide con { $id }
request-status-pending = pendiente
request-status-accepted = aceptada
request-status-declined = rechazada
request-bad-signature = la firma no es válida
col-people = PERSONAS
col-shelter = REFUGIO
col-requester = QUIEN PIDE
col-nodes = NODOS
col-admins = ADMINS
org-pending = pendiente: { $change }, { $have } de { $need } organizaciones de acuerdo ({ $orgs })
admin-key-roster-only = --admin-key firma solo cambios de la lista: revoke, region, org

## Copias de seguridad

backup-passphrase = Frase de paso de la copia (al menos 8 caracteres):{" "}
backup-passphrase-again = Otra vez:{" "}
backup-passphrases-differ = las frases de paso no coinciden

## Diagnóstico

doctor-ahead = { $by } adelantado respecto a
doctor-behind = { $by } atrasado respecto a
doctor-never = nunca desde que arrancó
doctor-running = el nodo { $node } de { $org } está en marcha (formato de datos { $format })
doctor-not-running = el nodo no responde: { $error }
doctor-not-running-fix = arráncalo (systemctl start tejidod, o tejidod --data-dir { $dir }); su registro dice por qué se detuvo (journalctl -u tejidod)
doctor-admin-key = la clave de administración está aquí (admin.key): firma los cambios del registro de tu organización; guarda una copia (tejido backup)
doctor-no-admin-key = la clave de administración no está en este nodo ({ $dir } no tiene admin.key): los cambios del registro se firman con --admin-key, y para invitar a alguien hace falta en el nodo
doctor-alone = ningún otro nodo de confianza: este nodo no replica con nadie
doctor-alone-fix = invita al nodo de otra organización (tejido invite node) o únete a una red (tejido join CÓDIGO)
doctor-peer-reached = el nodo { $peer } está conectado ({ $how })
doctor-peer-unreachable = no se alcanza el nodo { $peer } (última sincronización: { $last })
doctor-peer-unreachable-fix = comprueba que esté en marcha y que esta máquina llegue a alguna de sus direcciones ({ $addrs }); un nodo detrás de NAT necesita relay_via
doctor-peer-suspended = el nodo { $peer } está suspendido tras fallos repetidos
doctor-peer-suspended-fix = quien lo opera debería mirar su registro; la suspensión termina sola a los 5 minutos
doctor-clock = reloj del nodo { $peer }: { $offset } el de este nodo
doctor-own-clock = el reloj de este nodo probablemente está mal: { $offset } el de cada uno de los otros nodos
doctor-clock-fix = pon el reloj en hora (timedatectl set-ntp true); los nodos rechazan eventos fechados más de 5 minutos por delante de su reloj
doctor-disk = disco: { $free } libres de { $total }; el almacén ocupa { $store }
doctor-disk-unknown = disco: espacio libre desconocido; el almacén ocupa { $store }
doctor-disk-fix = libera espacio o lleva el directorio de datos a un disco mayor: un nodo que no puede escribir deja de guardar alertas
doctor-encrypted = el cifrado en reposo está activado
doctor-not-encrypted = el cifrado en reposo está desactivado: quien se lleve el disco lee los registros
doctor-not-encrypted-fix = haz una copia y restáurala en un directorio nuevo con --encrypt (tejidod --data-dir NUEVO --restore ARCHIVO --encrypt)
doctor-no-bridges = no hay puentes de alertas configurados
doctor-bridge = puente de alertas: { $bridge }
doctor-config-fix = edita el archivo de configuración y reinicia el nodo
doctor-summary-ok = No hay nada que arreglar.
doctor-summary-problems = Hay algo que arreglar: mira las líneas marcadas FIX.
