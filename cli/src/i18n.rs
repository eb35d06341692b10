//! The CLI's messages in Spanish and English, with Fluent (`cli/i18n/*.ftl`, embedded).
//!
//! The language is chosen once at start ([`Lang::resolve`], [`set_lang`]): `--lang`, else
//! `TEJIDO_LANG`, else the locale (`LC_ALL`, then `LC_MESSAGES`, then `LANG`), else English.
//! A missing message never panics: it falls back to English, then to the message id itself.
//!
//! Only prose is translated. Commands, flags, values typed on the command line, messages the
//! node sends over the wire and JSON output (`--json`) stay as they are.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// English messages, the default and the fallback.
pub(crate) const EN_FTL: &str = include_str!("../i18n/en.ftl");
/// Spanish messages.
pub(crate) const ES_FTL: &str = include_str!("../i18n/es.ftl");

/// A language the CLI speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    /// English.
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// The tag `--lang` and `TEJIDO_LANG` take for this language.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// Reads a language tag or locale: `es`, `es-MX`, `es_MX.UTF-8`, `en`, `EN_gb`...
    pub(crate) fn from_tag(tag: &str) -> Option<Lang> {
        let lower = tag.trim().to_ascii_lowercase();
        let primary = lower.split(['-', '_', '.', '@']).next().unwrap_or_default();
        match primary {
            "es" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of this run: `flag` (`--lang`), else `TEJIDO_LANG` if it names a
    /// language (an empty or unknown value is ignored, so that a stray environment variable
    /// cannot stop every command), else the locale.
    pub(crate) fn resolve(flag: Option<Lang>) -> Lang {
        flag.or_else(|| {
            std::env::var("TEJIDO_LANG")
                .ok()
                .and_then(|v| Lang::from_tag(&v))
        })
        .unwrap_or_else(Lang::from_locale)
    }

    /// The language of the locale: the first of `LC_ALL`, `LC_MESSAGES` and `LANG` that is
    /// set and not empty decides; Spanish if it starts with "es", else English.
    pub(crate) fn from_locale() -> Lang {
        let var = |name| std::env::var(name).ok();
        Self::from_locale_vars(var("LC_ALL"), var("LC_MESSAGES"), var("LANG"))
    }

    fn from_locale_vars(
        lc_all: Option<String>,
        lc_messages: Option<String>,
        lang: Option<String>,
    ) -> Lang {
        let locale = [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty());
        match locale {
            Some(l) if l.to_ascii_lowercase().starts_with("es") => Lang::Es,
            _ => Lang::En,
        }
    }
}

/// Parses `--lang` / `TEJIDO_LANG`.
pub(crate) fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::from_tag(s).ok_or_else(|| "expected es (español) or en (English)".to_string())
}

static CURRENT: OnceLock<Lang> = OnceLock::new();

/// Sets the language for the rest of the run; only the first call counts.
pub(crate) fn set_lang(lang: Lang) {
    let _ = CURRENT.set(lang);
}

/// The language of this run (English until [`set_lang`]).
pub(crate) fn lang() -> Lang {
    CURRENT.get().copied().unwrap_or(Lang::En)
}

type Bundle = FluentBundle<FluentResource>;

struct Bundles {
    en: Bundle,
    es: Bundle,
}

fn bundles() -> &'static Bundles {
    static BUNDLES: OnceLock<Bundles> = OnceLock::new();
    BUNDLES.get_or_init(|| Bundles {
        en: bundle("en", EN_FTL),
        es: bundle("es", ES_FTL),
    })
}

/// A bundle of `source`. Never fails: what does not parse is left out (the unit tests make
/// sure nothing is), and a missing message falls back to English.
fn bundle(lang: &str, source: &str) -> Bundle {
    let id: LanguageIdentifier = lang.parse().unwrap_or_default();
    let mut bundle = Bundle::new_concurrent(vec![id]);
    bundle.set_use_isolating(false);
    let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(r, _)| r);
    // Duplicate ids keep their first definition.
    let _ = bundle.add_resource(resource);
    bundle
}

/// Formats message `key` in `lang`, if that language or English has it.
fn lookup(lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> Option<String> {
    let all = bundles();
    let chosen = match lang {
        Lang::Es => &all.es,
        Lang::En => &all.en,
    };
    let fluent_args = (!args.is_empty()).then(|| {
        let mut a = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            a.set(*name, value.clone());
        }
        a
    });
    [chosen, &all.en].into_iter().find_map(|bundle| {
        let pattern = bundle.get_message(key)?.value()?;
        let mut errors = Vec::new();
        Some(
            bundle
                .format_pattern(pattern, fluent_args.as_ref(), &mut errors)
                .into_owned(),
        )
    })
}

/// Message `key` with its variables, in `lang`; the key itself if no language has it.
fn tr_in(lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    lookup(lang, key, args).unwrap_or_else(|| key.to_string())
}

/// Message `key` in this run's language (see also the `tr!` macro).
pub(crate) fn tr(key: &str) -> String {
    tr_in(lang(), key, &[])
}

/// Message `key` with its variables, in this run's language.
pub(crate) fn tr_args(key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    tr_in(lang(), key, args)
}

/// How a value of a closed set (a role, a severity, an alert status...) reads in human output:
/// message `{prefix}-{value}`, or the value itself if there is none.
pub(crate) fn value(prefix: &str, value: &str) -> String {
    lookup(lang(), &format!("{prefix}-{value}"), &[]).unwrap_or_else(|| value.to_string())
}

/// `tr!("key")` or `tr!("key", name = value, ...)`: a message in this run's language.
/// Values are anything a `FluentValue` is made from: `&str`, `String`, numbers.
/// (`#[macro_use] mod i18n;` comes first in main.rs, so every module can use it.)
macro_rules! tr {
    ($key:literal) => {
        $crate::i18n::tr($key)
    };
    ($key:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::tr_args(
            $key,
            &[$((stringify!($name), ::fluent_bundle::FluentValue::from($value))),+],
        )
    };
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use fluent_syntax::ast;

    use super::*;

    /// Each message id with the variables it uses, in source order of ids.
    fn messages(source: &str) -> BTreeMap<String, BTreeSet<String>> {
        let resource = fluent_syntax::parser::parse(source)
            .unwrap_or_else(|(_, errors)| panic!("does not parse: {errors:?}"));
        let mut out = BTreeMap::new();
        for entry in resource.body {
            match entry {
                ast::Entry::Message(m) => {
                    let value = m
                        .value
                        .unwrap_or_else(|| panic!("message {} has no value", m.id.name));
                    assert!(
                        m.attributes.is_empty(),
                        "message {} has attributes, which the CLI never shows",
                        m.id.name
                    );
                    let mut vars = BTreeSet::new();
                    pattern_vars(&value, &mut vars);
                    let again = out.insert(m.id.name.to_string(), vars);
                    assert!(again.is_none(), "message {} is defined twice", m.id.name);
                }
                ast::Entry::Term(t) => panic!("term -{} is not used by the CLI", t.id.name),
                ast::Entry::Junk { content } => panic!("junk in .ftl: {content}"),
                ast::Entry::Comment(_)
                | ast::Entry::GroupComment(_)
                | ast::Entry::ResourceComment(_) => {}
            }
        }
        out
    }

    fn pattern_vars(p: &ast::Pattern<&str>, vars: &mut BTreeSet<String>) {
        for element in &p.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                expression_vars(expression, vars);
            }
        }
    }

    fn expression_vars(e: &ast::Expression<&str>, vars: &mut BTreeSet<String>) {
        match e {
            ast::Expression::Select { selector, variants } => {
                inline_vars(selector, vars);
                for v in variants {
                    pattern_vars(&v.value, vars);
                }
            }
            ast::Expression::Inline(i) => inline_vars(i, vars),
        }
    }

    fn inline_vars(i: &ast::InlineExpression<&str>, vars: &mut BTreeSet<String>) {
        match i {
            ast::InlineExpression::VariableReference { id } => {
                vars.insert(id.name.to_string());
            }
            ast::InlineExpression::FunctionReference { arguments, .. }
            | ast::InlineExpression::TermReference {
                arguments: Some(arguments),
                ..
            } => {
                for a in &arguments.positional {
                    inline_vars(a, vars);
                }
                for a in &arguments.named {
                    inline_vars(&a.value, vars);
                }
            }
            ast::InlineExpression::Placeable { expression } => expression_vars(expression, vars),
            _ => {}
        }
    }

    #[test]
    fn both_languages_parse_without_errors() {
        for (name, source) in [("en.ftl", EN_FTL), ("es.ftl", ES_FTL)] {
            let parsed = FluentResource::try_new(source.to_string());
            assert!(parsed.is_ok(), "{name}: {:?}", parsed.err().map(|e| e.1));
            let mut bundle = Bundle::new_concurrent(vec![]);
            let added = bundle.add_resource(parsed.unwrap_or_else(|(r, _)| r));
            assert!(added.is_ok(), "{name}: {added:?}");
        }
    }

    #[test]
    fn both_languages_have_the_same_messages_and_variables() {
        let en = messages(EN_FTL);
        let es = messages(ES_FTL);
        let en_ids: BTreeSet<_> = en.keys().collect();
        let es_ids: BTreeSet<_> = es.keys().collect();
        assert_eq!(
            en_ids.difference(&es_ids).collect::<Vec<_>>(),
            Vec::<&&String>::new(),
            "in en.ftl but not in es.ftl"
        );
        assert_eq!(
            es_ids.difference(&en_ids).collect::<Vec<_>>(),
            Vec::<&&String>::new(),
            "in es.ftl but not in en.ftl"
        );
        for (id, vars) in &en {
            assert_eq!(Some(vars), es.get(id), "variables of {id} differ");
        }
        assert!(en.len() > 100, "only {} messages", en.len());
    }

    /// Every message formats without errors (a misspelt variable, a bad reference) in both
    /// languages, with numbers for its variables (so plural selectors are exercised) and
    /// with text.
    #[test]
    fn every_message_formats_without_errors() {
        let all = bundles();
        for (bundle, source) in [(&all.en, EN_FTL), (&all.es, ES_FTL)] {
            for (id, vars) in messages(source) {
                for sample in [FluentValue::from(1), FluentValue::from(2), "x".into()] {
                    let mut args = FluentArgs::new();
                    for v in &vars {
                        args.set(v.clone(), sample.clone());
                    }
                    let pattern = bundle
                        .get_message(&id)
                        .and_then(|m| m.value())
                        .unwrap_or_else(|| panic!("{id} not in bundle"));
                    let mut errors = Vec::new();
                    let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
                    assert!(errors.is_empty(), "{id}: {errors:?}");
                    assert!(!text.trim().is_empty(), "{id} is empty");
                    assert!(
                        !text.contains(['\u{2068}', '\u{2069}']),
                        "{id} has isolation marks"
                    );
                }
            }
        }
    }

    /// Every `tr!("key"...)` in the CLI's code names a message.
    #[test]
    fn every_key_used_in_code_exists() {
        let en = messages(EN_FTL);
        // Every source file of the CLI but this one, however the modules are laid out.
        fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("src").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs")
                    // This file shows the macro with a made-up key.
                    && !path.ends_with("i18n.rs")
                {
                    out.push(std::fs::read_to_string(&path).expect("source"));
                }
            }
        }
        let mut code = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut code,
        );
        assert!(code.len() > 10, "only {} source files found", code.len());
        let mut used = 0;
        for source in &code {
            for (at, _) in source.match_indices("tr!(\"") {
                // `tr!`, not the end of another macro's name (`include_str!`).
                if source[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
                {
                    continue;
                }
                let piece = &source[at + "tr!(\"".len()..];
                let key = piece.split('"').next().unwrap_or_default();
                assert!(en.contains_key(key), "tr!(\"{key}\") has no message");
                used += 1;
            }
        }
        assert!(used > 50, "only {used} uses of tr! found");
    }

    fn kebab<T: serde::Serialize>(v: T) -> String {
        serde_json::to_value(v)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Every value shown through [`value`] has a message in both languages.
    #[test]
    fn every_shown_value_is_translated() {
        use protocol::event::{
            AlertKind, Certainty, CheckinStatus, Role, Severity, ShelterStatus, Urgency,
        };
        let es = messages(ES_FTL);
        let mut keys = Vec::new();
        for r in [Role::Member, Role::SecurityContact, Role::Admin] {
            keys.push(format!("role-{}", r.as_str()));
        }
        for k in [
            AlertKind::Panic,
            AlertKind::Alert,
            AlertKind::MissedCheckin,
            AlertKind::Duress,
            AlertKind::Sealed,
            AlertKind::ClonedKey,
        ] {
            keys.push(format!("kind-{}", kebab(k)));
        }
        for s in [
            Severity::Minor,
            Severity::Moderate,
            Severity::Severe,
            Severity::Extreme,
        ] {
            keys.push(format!("severity-{}", kebab(s)));
        }
        for u in [
            Urgency::Immediate,
            Urgency::Expected,
            Urgency::Future,
            Urgency::Past,
        ] {
            keys.push(format!("urgency-{}", kebab(u)));
        }
        for c in [
            Certainty::Observed,
            Certainty::Likely,
            Certainty::Possible,
            Certainty::Unknown,
        ] {
            keys.push(format!("certainty-{}", kebab(c)));
        }
        for s in [
            CheckinStatus::Ok,
            CheckinStatus::NeedHelp,
            CheckinStatus::Danger,
        ] {
            keys.push(format!("checkin-status-{}", kebab(s)));
        }
        for s in [
            ShelterStatus::Open,
            ShelterStatus::Full,
            ShelterStatus::Closed,
        ] {
            keys.push(format!("shelter-status-{}", kebab(s)));
        }
        // protocol::view's alert statuses and history actions.
        for s in ["open", "acknowledged", "assigned", "resolved", "expired"] {
            keys.push(format!("alert-status-{s}"));
        }
        for a in [
            "raised",
            "acknowledged",
            "assigned",
            "resolved",
            "notified",
            "escalated",
        ] {
            keys.push(format!("action-{a}"));
        }
        // The records main.rs sends (`send_record`, `output::delivery`).
        for r in [
            "check-in",
            "panic",
            "alert",
            "acknowledgement",
            "assignment",
            "resolution",
            "shelter update",
        ] {
            keys.push(format!("record-{}", r.replace(' ', "-")));
        }
        for key in keys {
            assert!(es.contains_key(&key), "no message {key}");
        }
    }

    /// English values read exactly as the raw values, so English human output is unchanged.
    #[test]
    fn english_values_are_the_raw_values() {
        for (id, _) in messages(EN_FTL) {
            for prefix in [
                "role-",
                "kind-",
                "severity-",
                "urgency-",
                "certainty-",
                "checkin-status-",
                "shelter-status-",
                "alert-status-",
                "action-",
            ] {
                if let Some(raw) = id.strip_prefix(prefix) {
                    assert_eq!(tr_in(Lang::En, &id, &[]), raw, "{id}");
                }
            }
        }
    }

    /// A guard against the commonest generic masculine forms creeping back into es.ftl.
    #[test]
    fn spanish_avoids_the_generic_masculine() {
        let lower: String = ES_FTL
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
            .to_lowercase();
        for word in [
            "bienvenido",
            "usuario",
            "miembro",
            "administrador",
            "operador",
            "los integrantes",
            "el integrante",
            "todos",
        ] {
            assert!(!lower.contains(word), "es.ftl says {word:?}");
        }
    }

    #[test]
    fn formats_in_the_chosen_language_and_falls_back() {
        let args = [
            (
                "what",
                FluentValue::from(tr_in(Lang::Es, "record-check-in", &[])),
            ),
            ("id", "1a2b3c4d".into()),
            ("stored", 1.into()),
            ("known", 1.into()),
            ("names", "12D3KooW".into()),
        ];
        assert_eq!(
            tr_in(Lang::Es, "delivery-stored", &args),
            "check-in 1a2b3c4d: se guardó en 1 de 1 nodo: 12D3KooW"
        );
        let mut args = args;
        args[0].1 = "check-in".into();
        args[3].1 = 2.into();
        assert_eq!(
            tr_in(Lang::En, "delivery-stored", &args),
            "check-in 1a2b3c4d stored by 1 of 2 node(s): 12D3KooW"
        );
        assert_eq!(
            tr_in(
                Lang::Es,
                "welcome",
                &[
                    ("name", "Bea".into()),
                    ("org", "red-oax".into()),
                    ("role", "integrante".into())
                ]
            ),
            "Te damos la bienvenida, Bea. Te uniste a red-oax con el rol de integrante."
        );
        assert_eq!(tr_in(Lang::Es, "no-such-message", &[]), "no-such-message");
        assert_eq!(tr_in(Lang::En, "no-such-message", &[]), "no-such-message");
        // Nothing was set in this process: English.
        assert_eq!(tr("no-alerts"), "No alerts.");
        assert_eq!(value("role", "no-such-role"), "no-such-role");
        assert_eq!(
            tr!("no-member-key", dir = "/h"),
            "no member key in /h: join a node first (tejido join CODE)"
        );
    }

    #[test]
    fn language_from_flag_and_locale() {
        assert_eq!(parse_lang("es"), Ok(Lang::Es));
        assert_eq!(parse_lang("ES"), Ok(Lang::Es));
        assert_eq!(parse_lang("es-MX"), Ok(Lang::Es));
        assert_eq!(parse_lang("es_MX.UTF-8"), Ok(Lang::Es));
        assert_eq!(parse_lang("en"), Ok(Lang::En));
        assert_eq!(parse_lang("en_GB"), Ok(Lang::En));
        assert!(parse_lang("fr").is_err());
        assert!(parse_lang("").is_err());
        assert!(parse_lang("esperanto").is_err());

        let s = |v: &str| Some(v.to_string());
        let locale = Lang::from_locale_vars;
        assert_eq!(locale(None, None, None), Lang::En);
        assert_eq!(locale(None, None, s("C.UTF-8")), Lang::En);
        assert_eq!(locale(None, None, s("es_MX.UTF-8")), Lang::Es);
        assert_eq!(locale(None, s("es_MX.UTF-8"), s("en_US.UTF-8")), Lang::Es);
        assert_eq!(locale(s("C"), s("es_MX.UTF-8"), s("es_MX")), Lang::En);
        assert_eq!(locale(s(""), None, s("es_ES.UTF-8")), Lang::Es);
        assert_eq!(locale(s("es"), None, s("en_US")), Lang::Es);
    }
}
