//! The CLI in Spanish and English: `--lang`, `TEJIDO_LANG` and the locale choose the language
//! of what people read; JSON output and exit codes are the same in every language.

use std::path::Path;
use std::process::{Command, Stdio};

use tests::{bin_dir, tejido, Member, Node, Run, TestDir};

/// Runs `tejido` with a clean language environment plus `env` (name, value).
fn tejido_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin_dir().join("tejido"));
    cmd.args(args).stdin(Stdio::null());
    for name in [
        "TEJIDO_HOME",
        "TEJIDO_DATA_DIR",
        "TEJIDO_LANG",
        "LC_ALL",
        "LC_MESSAGES",
        "LANG",
    ] {
        cmd.env_remove(name);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("running tejido");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Member and operator commands with `--lang es` and `--lang en`, against a real node.
#[test]
fn member_commands_speak_spanish_and_english() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");

    // Joining in Spanish: an inclusive welcome, the role translated.
    let bea = Member {
        home: t.path("home-bea"),
    };
    let code = node.invite("Bea", "member", "oaxaca");
    let joined = bea.run(&["--lang", "es", "join", &code]);
    let out = joined.ok();
    assert!(
        out.contains("Te damos la bienvenida, Bea. Te uniste a red-oax con el rol de integrante."),
        "{joined:?}"
    );
    assert!(out.contains("Tu clave: "), "{joined:?}");

    // Delivery lines.
    let es = bea.run(&["--lang", "es", "checkin", "--status", "need-help"]);
    let out = es.ok();
    assert!(out.starts_with("check-in "), "{es:?}");
    assert!(out.contains(": se guardó en 1 de 1 nodo: "), "{es:?}");
    let en = bea.run(&["--lang", "en", "checkin"]);
    assert!(en.ok().contains("stored by 1 of 1 node(s)"), "{en:?}");
    let panic = bea.run(&["--lang", "es", "panic", "--note", "me están siguiendo"]);
    let out = panic.ok();
    assert!(out.starts_with("alerta de pánico "), "{panic:?}");
    assert!(out.contains("se guardó en 1 de 1 nodo"), "{panic:?}");

    // Tables: headers and values.
    let es = bea.run(&["--lang", "es", "alerts"]);
    let out = es.ok();
    let header = out.lines().next().expect("header");
    for column in ["ID", "TIPO", "GRAVEDAD", "REGIÓN", "ESTADO", "TEXTO"] {
        assert!(header.contains(column), "{column} missing: {es:?}");
    }
    assert!(out.contains("pánico"), "{es:?}");
    assert!(out.contains("extrema"), "{es:?}");
    assert!(out.contains("abierta"), "{es:?}");
    let en = bea.run(&["--lang", "en", "alerts"]);
    let out = en.ok();
    assert!(
        out.starts_with("ID        KIND   SEVERITY  REGION  STATUS"),
        "{en:?}"
    );
    assert!(out.contains("panic") && out.contains("open"), "{en:?}");
    let es = bea.run(&["--lang", "es", "checkins"]);
    let out = es.ok();
    assert!(out.starts_with("NOMBRE"), "{es:?}");
    assert!(out.contains("CONTACTO DE SEGURIDAD"), "{es:?}");
    assert!(out.contains("bien"), "the latest check-in is ok: {es:?}");
    let es = bea.run(&["--lang", "es", "whoami"]);
    assert!(
        es.ok()
            .contains("Bea (integrante) de red-oax, región oaxaca"),
        "{es:?}"
    );

    // The environment variable, and the flag before it.
    let home = path(&bea.home);
    let env = tejido_with_env(&["--home", home, "alerts"], &[("TEJIDO_LANG", "es")]);
    assert!(env.ok().starts_with("ID        TIPO"), "{env:?}");
    let flag = tejido_with_env(
        &["--home", home, "--lang", "en", "alerts"],
        &[("TEJIDO_LANG", "es")],
    );
    assert!(flag.ok().starts_with("ID        KIND"), "{flag:?}");

    // JSON is an interface: the same in every language.
    let es = bea.run(&["--lang", "es", "alerts", "--json"]);
    let en = bea.run(&["--lang", "en", "alerts", "--json"]);
    assert_eq!(es.ok(), en.ok());
    assert_eq!(es.json()[0]["kind"], "panic");
    let checkin = bea.json(&["--lang", "es", "checkin"]);
    assert_eq!(checkin["record"], "check-in");
    assert_eq!(checkin["level"], "stored");

    // Operator commands.
    let es = node.tejido(&["--lang", "es", "status"]);
    let out = es.ok();
    assert!(out.contains("organización:  red-oax"), "{es:?}");
    assert!(
        out.contains("padrón:        2 integrantes, 1 nodo"),
        "{es:?}"
    );
    let en = node.tejido(&["--lang", "en", "status"]);
    assert!(
        en.ok().contains("roster:     2 member(s), 1 node(s)"),
        "{en:?}"
    );
    let es = node.tejido(&["--lang", "es", "checkin"]);
    assert_eq!(es.code, Some(1), "{es:?}");
    assert!(
        es.stderr
            .contains("este comando es para personas integrantes"),
        "{es:?}"
    );

    // Errors written by the CLI.
    let nobody = t.path("nadie");
    let es = tejido(&["--lang", "es", "--home", path(&nobody), "whoami"]);
    assert_eq!(es.code, Some(1), "{es:?}");
    assert!(
        es.stderr.contains("no hay clave de integrante en"),
        "{es:?}"
    );
    let en = tejido(&["--lang", "en", "--home", path(&nobody), "whoami"]);
    assert_eq!(en.code, Some(1), "{en:?}");
    assert!(en.stderr.contains("no member key in"), "{en:?}");
    let bad = tejido(&["--lang", "fr", "--home", path(&nobody), "whoami"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");

    // No node reachable: queued, with the same exit code in both languages.
    node.kill9();
    let es = bea.run(&["--lang", "es", "checkin"]);
    assert_eq!(es.code, Some(3), "{es:?}");
    assert!(
        es.stdout
            .contains("queda en cola en este dispositivo y se enviará con tu próximo comando"),
        "{es:?}"
    );
    let en = bea.run(&["--lang", "en", "checkin"]);
    assert_eq!(en.code, Some(3), "{en:?}");
    assert!(en.stdout.contains("queued on this device"), "{en:?}");
}

/// Without `--lang`: `TEJIDO_LANG`, then the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`), then
/// English. No node needed: the message is the CLI's own error.
#[test]
fn language_from_environment_and_locale() {
    let t = TestDir::new();
    let nobody = t.path("nadie");
    let args = ["--home", path(&nobody), "whoami"];
    let spanish = "no hay clave de integrante";
    let english = "no member key";
    for (env, expected) in [
        (&[][..], english),
        (&[("TEJIDO_LANG", "es")][..], spanish),
        (&[("TEJIDO_LANG", "es-MX")][..], spanish),
        (
            &[("TEJIDO_LANG", "en"), ("LANG", "es_MX.UTF-8")][..],
            english,
        ),
        // Empty or unknown: ignored, the locale decides.
        (&[("TEJIDO_LANG", ""), ("LANG", "es_MX.UTF-8")][..], spanish),
        (&[("TEJIDO_LANG", "fr")][..], english),
        (&[("LANG", "es_MX.UTF-8")][..], spanish),
        (&[("LANG", "C.UTF-8")][..], english),
        (
            &[("LC_MESSAGES", "es_ES.UTF-8"), ("LANG", "en_US.UTF-8")][..],
            spanish,
        ),
        (&[("LC_ALL", "C"), ("LANG", "es_MX.UTF-8")][..], english),
        (
            &[("LC_ALL", "es_AR.UTF-8"), ("LANG", "en_US.UTF-8")][..],
            spanish,
        ),
    ] {
        let run = tejido_with_env(&args, env);
        assert_eq!(run.code, Some(1), "{env:?}: {run:?}");
        assert!(run.stderr.contains(expected), "{env:?}: {run:?}");
    }
    let flag = tejido_with_env(
        &["--lang", "en", "--home", path(&nobody), "whoami"],
        &[("LC_ALL", "es_MX.UTF-8"), ("TEJIDO_LANG", "es")],
    );
    assert!(flag.stderr.contains(english), "{flag:?}");
}
