//! Where `rustchat serve` gets its settings, strongest first: the command line, `RUSTCHAT_*`
//! environment variables, the `--config` TOML file, the defaults. And `--print-config`, which
//! shows what that made and where each value came from.
//!
//! Every setting is a flag; the file and the environment are other ways of giving it. A file key
//! is the flag's long name (`max-connections = 10000`, `_` accepted for `-`), a variable is
//! `RUSTCHAT_` and the name in capitals (`RUSTCHAT_MAX_CONNECTIONS=10000`). The file is read
//! after the command line has been parsed once; each of its settings that neither the command
//! line nor the environment gave (nor one they gave conflicts with) is added as a flag, and the
//! whole is parsed again — so a value in the file is checked by the flag's own parser, and its
//! error names the file and the line.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory};
use toml::de::{DeTable, DeValue};

/// The environment variables' prefix.
const ENV_PREFIX: &str = "RUSTCHAT_";

/// Arguments of `serve` that are not settings: they are about the settings.
const NOT_SETTINGS: [&str; 3] = ["config", "print_config", "help"];

/// The command line parser: the derived one, with an environment variable for every setting of
/// `serve` (and for the global `--log-format`, which `serve` reads too).
pub(crate) fn command() -> Command {
    crate::Cli::command()
        .mut_arg("log_format", with_env)
        .mut_subcommand("serve", |serve| serve.mut_args(with_env))
}

fn with_env(arg: Arg) -> Arg {
    let id = arg.get_id().as_str();
    if id == "print_config" {
        return arg;
    }
    let name = format!("{ENV_PREFIX}{}", id.to_uppercase());
    let repeatable = matches!(arg.get_action(), ArgAction::Append);
    let arg = arg.env(name);
    // A list in one variable: `RUSTCHAT_LISTEN=0.0.0.0:8080,[::]:8080`.
    if repeatable {
        arg.value_delimiter(',')
    } else {
        arg
    }
}

/// The parsed command line with the `--config` file's settings added, and which settings the
/// file gave (for `--print-config`).
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) matches: ArgMatches,
    pub(crate) from_file: Option<(PathBuf, Vec<String>)>,
}

/// Parses `args` (the program's name first) and reads the config file it names, if any.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Parsed, clap::Error> {
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args.clone())?;
    let Some(serve) = matches.subcommand_matches("serve") else {
        return Ok(Parsed {
            matches,
            from_file: None,
        });
    };
    let Some(path) = serve.get_one::<PathBuf>("config").cloned() else {
        return Ok(Parsed {
            matches,
            from_file: None,
        });
    };
    let Some(serve_cmd) = cmd.find_subcommand_mut("serve") else {
        return Ok(Parsed {
            matches,
            from_file: None,
        });
    };
    let entries = read(&path).map_err(|why| serve_cmd.error(ErrorKind::Io, why))?;
    let mut extra = Vec::new();
    let mut given_by_file: HashMap<String, (String, usize)> = HashMap::new();
    let mut used = Vec::new();
    for entry in entries {
        let Some(arg) = setting_named(serve_cmd, &entry.key) else {
            let why = unknown_key(serve_cmd, &path, &entry);
            return Err(serve_cmd.error(ErrorKind::UnknownArgument, why));
        };
        let id = arg.get_id().as_str().to_owned();
        let long = arg.get_long().unwrap_or(&id).to_owned();
        if let Some((first, line)) = given_by_file.get(&long) {
            let why = format!(
                "{}, line {}: `{}` sets {long} again (first as `{first}` on line {line})",
                path.display(),
                entry.line,
                entry.key
            );
            return Err(serve_cmd.error(ErrorKind::ArgumentConflict, why));
        }
        given_by_file.insert(long.clone(), (entry.key.clone(), entry.line));
        if overridden(serve_cmd, serve, arg) {
            continue;
        }
        let words = entry
            .words(arg, &long)
            .map_err(|why| serve_cmd.error(ErrorKind::InvalidValue, why.in_file(&path, &entry)))?;
        extra.extend(words);
        used.push(id);
    }
    let mut all = args;
    all.extend(extra);
    let mut again = command();
    let matches = again.try_get_matches_from_mut(all).map_err(|e| {
        match culprit(&e).and_then(|long| given_by_file.get(&long)) {
            Some((key, line)) => {
                let said = e.render().to_string();
                let said = said.lines().next().unwrap_or_default();
                let said = said.strip_prefix("error: ").unwrap_or(said);
                let why = format!("{}, line {line}: `{key}`: {said}", path.display());
                again.error(e.kind(), why)
            }
            None => e,
        }
    })?;
    Ok(Parsed {
        matches,
        from_file: Some((path, used)),
    })
}

/// The settings of `serve`, in the order of its help.
fn settings(serve: &Command) -> impl Iterator<Item = &Arg> {
    serve
        .get_arguments()
        .filter(|a| !NOT_SETTINGS.contains(&a.get_id().as_str()) && a.get_long().is_some())
}

/// The setting a file key names: its long flag, `_` taken for `-`.
fn setting_named<'c>(serve: &'c Command, key: &str) -> Option<&'c Arg> {
    let key = key.replace('_', "-");
    settings(serve).find(|a| a.get_long() == Some(key.as_str()))
}

/// Whether the command line or the environment gave this setting, or one it conflicts with.
fn overridden(serve_cmd: &Command, serve: &ArgMatches, arg: &Arg) -> bool {
    let stronger = |a: &Arg| {
        matches!(
            serve.value_source(a.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    stronger(arg)
        || serve_cmd
            .get_arg_conflicts_with(arg)
            .into_iter()
            .any(stronger)
        || settings(serve_cmd).any(|other| {
            stronger(other)
                && serve_cmd
                    .get_arg_conflicts_with(other)
                    .iter()
                    .any(|c| c.get_id() == arg.get_id())
        })
}

/// The long name of the flag a parse error is about, if it names one.
fn culprit(e: &clap::Error) -> Option<String> {
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.strip_prefix("--")?;
    Some(long.split([' ', '=']).next().unwrap_or(long).to_owned())
}

fn unknown_key(serve: &Command, path: &Path, entry: &Entry) -> String {
    let key = entry.key.replace('_', "-");
    let closest = settings(serve)
        .filter_map(Arg::get_long)
        .map(|long| (edit_distance(&key, long), long))
        .min();
    let hint = match closest {
        Some((distance, long)) if distance <= 3 => format!(" — did you mean `{long}`?"),
        _ => String::new(),
    };
    format!(
        "{}, line {}: `{}` is not a setting{hint} (the settings are `rustchat serve`'s flags without their dashes; `rustchat serve --help` lists them)",
        path.display(),
        entry.line,
        entry.key
    )
}

/// Levenshtein distance, for the "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// One `key = value` of the file.
#[derive(Debug)]
struct Entry {
    key: String,
    line: usize,
    value: Value,
}

/// A value as the file wrote it, before the flag's parser sees it.
#[derive(Debug)]
enum Value {
    Bool(bool),
    /// A string, number or date, as the text a flag would take.
    Scalar(String),
    List(Vec<String>),
}

/// Why a value cannot be given to its flag.
#[derive(Debug)]
struct BadValue(String);

impl BadValue {
    fn in_file(self, path: &Path, entry: &Entry) -> String {
        format!(
            "{}, line {}: `{}`: {}",
            path.display(),
            entry.line,
            entry.key,
            self.0
        )
    }
}

impl Entry {
    /// The flags that give this value: `--long=value` (one word, so that a value starting with
    /// `-` is not taken for a flag).
    fn words(&self, arg: &Arg, long: &str) -> Result<Vec<OsString>, BadValue> {
        let flag = |value: &str| OsString::from(format!("--{long}={value}"));
        match (arg.get_action(), &self.value) {
            (ArgAction::SetTrue, Value::Bool(on)) => Ok(if *on {
                vec![format!("--{long}").into()]
            } else {
                vec![]
            }),
            (ArgAction::SetTrue, _) => Err(BadValue("expected true or false".into())),
            (ArgAction::Append, Value::List(items)) => Ok(items.iter().map(|v| flag(v)).collect()),
            (ArgAction::Append, Value::Scalar(one)) => Ok(vec![flag(one)]),
            (_, Value::List(_)) => Err(BadValue(
                "expected one value, not a list (only repeatable flags take lists)".into(),
            )),
            (_, Value::Scalar(one)) => Ok(vec![flag(one)]),
            (_, Value::Bool(b)) => Ok(vec![flag(&b.to_string())]),
        }
    }
}

/// Reads the file's settings: top-level `key = value` pairs, in the file's order.
fn read(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
    let table = DeTable::parse(&text).map_err(|e| {
        format!(
            "the config file {} is not valid TOML: {}",
            path.display(),
            e.to_string().trim_end()
        )
    })?;
    let line_of = |offset: usize| 1 + text[..offset.min(text.len())].matches('\n').count();
    let mut entries = Vec::new();
    for (key, value) in table.get_ref() {
        let line = line_of(key.span().start);
        let name = key.get_ref().to_string();
        let scalar = |value: &DeValue<'_>| -> Option<String> {
            match value {
                DeValue::String(s) => Some(s.to_string()),
                DeValue::Integer(i) => Some(i.to_string()),
                DeValue::Float(f) => Some(f.to_string()),
                DeValue::Boolean(b) => Some(b.to_string()),
                DeValue::Datetime(d) => Some(d.to_string()),
                DeValue::Array(_) | DeValue::Table(_) => None,
            }
        };
        let value = match value.get_ref() {
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Array(items) => Value::List(
                items
                    .iter()
                    .map(|item| scalar(item.get_ref()))
                    .collect::<Option<_>>()
                    .ok_or_else(|| {
                        format!(
                            "{}, line {line}: `{name}`: a list of lists or tables; expected a list of values",
                            path.display()
                        )
                    })?,
            ),
            DeValue::Table(_) => {
                return Err(format!(
                    "{}, line {line}: `[{name}]` is a section; the settings are top-level keys (`max-line = 4096`), with no sections",
                    path.display()
                ));
            }
            other => Value::Scalar(scalar(other).unwrap_or_default()),
        };
        entries.push(Entry {
            key: name,
            line,
            value,
        });
    }
    entries.sort_by_key(|e| e.line);
    Ok(entries)
}

/// `--print-config`: the effective settings as a config file, each with where it came from.
pub(crate) fn describe(parsed: &Parsed) -> String {
    let mut cmd = command();
    cmd.build();
    let (Some(serve_cmd), Some(serve)) = (
        cmd.find_subcommand("serve"),
        parsed.matches.subcommand_matches("serve"),
    ) else {
        return String::new();
    };
    let mut out = String::from(
        "# rustchat serve: the effective configuration. Each setting comes from the command line,\n\
         # else a RUSTCHAT_* environment variable, else the --config file, else its default.\n\
         # This output is itself a valid --config file.\n\n",
    );
    for arg in settings(serve_cmd) {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        let env = format!("{ENV_PREFIX}{}", id.to_uppercase());
        let source = match serve.value_source(id) {
            Some(ValueSource::CommandLine) => match &parsed.from_file {
                Some((path, used)) if used.iter().any(|u| u == id) => {
                    format!("from {}", path.display())
                }
                _ => "from the command line".to_owned(),
            },
            Some(ValueSource::EnvVariable) => format!("from {env}"),
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            _ => {
                let _ = writeln!(out, "# {long} = (not set)");
                continue;
            }
        };
        let values: Vec<String> = serve
            .get_raw(id)
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = match arg.get_action() {
            ArgAction::SetTrue => values.first().cloned().unwrap_or_else(|| "false".into()),
            ArgAction::Append => format!(
                "[{}]",
                values
                    .iter()
                    .map(|v| quoted(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => values.first().map_or_else(String::new, |v| toml_scalar(v)),
        };
        let _ = writeln!(out, "{long} = {value}  # {source}");
    }
    out
}

/// A number as a TOML number, anything else as a TOML string.
fn toml_scalar(text: &str) -> String {
    // Only numbers written the way TOML writes them (no `007`, `1.`, `1e5` or `inf`).
    let number = text.parse::<i64>().is_ok_and(|n| n.to_string() == text)
        || text
            .parse::<f64>()
            .is_ok_and(|f| f.is_finite() && text.contains('.') && f.to_string() == text);
    if number {
        text.to_owned()
    } else {
        quoted(text)
    }
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("rustchat.toml");
        std::fs::write(&path, text).expect("write the config file");
        (dir, path)
    }

    fn parse_with(path: &Path, flags: &[&str]) -> Result<Parsed, clap::Error> {
        let mut args: Vec<OsString> = ["rustchat", "serve", "--config"]
            .iter()
            .map(OsString::from)
            .collect();
        args.push(path.into());
        args.extend(flags.iter().map(OsString::from));
        parse(args)
    }

    fn error_of(path: &Path, flags: &[&str]) -> String {
        match parse_with(path, flags) {
            Ok(parsed) => panic!("parsed: {}", describe(&parsed)),
            Err(e) => e.to_string(),
        }
    }

    fn serve_args(parsed: &Parsed) -> crate::serve::ServeArgs {
        use clap::FromArgMatches;
        match crate::Cli::from_arg_matches(&parsed.matches).map(|c| c.command) {
            Ok(crate::Command::Serve(args)) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn the_file_gives_what_the_command_line_does_not() {
        let (_dir, path) = write_config(
            "# a comment\nmax-line = 100\nmotd = \"-hello, from the file\"\nallow_origin = [\"https://a.example\", \"https://b.example\"]\ntls-self-signed = true\nplaintext = \"refuse\"\n",
        );
        let parsed = parse_with(&path, &["--max-line", "300"]).expect("parses");
        let args = serve_args(&parsed);
        let text = format!("{args:?}");
        assert!(text.contains("max_line: 300"), "{text}");
        assert!(
            text.contains("motd: Some(\"-hello, from the file\")"),
            "{text}"
        );
        assert!(
            text.contains("allow_origin: [\"https://a.example\", \"https://b.example\"]"),
            "{text}"
        );
        assert!(text.contains("tls_self_signed: true"), "{text}");
        let shown = describe(&parsed);
        assert!(
            shown.contains("max-line = 300  # from the command line"),
            "{shown}"
        );
        let from = format!("# from {}", path.display());
        assert!(
            shown.contains(&format!("plaintext = \"refuse\"  {from}")),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("tls-self-signed = true  {from}")),
            "{shown}"
        );
        assert!(shown.contains("replay = 50  # default"), "{shown}");
        assert!(shown.contains("# history-keep = (not set)"), "{shown}");
    }

    #[test]
    fn a_flag_that_conflicts_with_a_file_setting_replaces_it_instead_of_failing() {
        let (_dir, path) = write_config("tls-self-signed = true\n");
        let parsed = parse_with(&path, &["--tls-cert", "c.pem", "--tls-key", "k.pem"])
            .expect("the command line wins");
        assert!(format!("{:?}", serve_args(&parsed)).contains("tls_self_signed: false"));
        let (_dir, path) = write_config("tls-cert = \"c.pem\"\ntls-key = \"k.pem\"\n");
        let parsed = parse_with(&path, &["--tls-self-signed"]).expect("the command line wins");
        assert!(format!("{:?}", serve_args(&parsed)).contains("tls_cert: None"));
    }

    #[test]
    fn mistakes_in_the_file_name_the_file_the_line_and_what_was_expected() {
        let cases = [
            (
                "max-conections = 5\n",
                "line 1: `max-conections` is not a setting — did you mean `max-connections`?",
            ),
            (
                "\n\nmax-line = \"lots\"\n",
                "line 3: `max-line`: invalid value 'lots' for '--max-line <BYTES>'",
            ),
            ("rate-limit = \"fast\"\n", "expected RATE/BURST"),
            ("listen = \"nowhere\"\n", "line 1: `listen`"),
            (
                "tls-self-signed = \"yes\"\n",
                "line 1: `tls-self-signed`: expected true or false",
            ),
            ("motd = [\"a\", \"b\"]\n", "expected one value, not a list"),
            ("[server]\nmax-line = 5\n", "`[server]` is a section"),
            (
                "max-line = 5\nmax_line = 6\n",
                "line 2: `max_line` sets max-line again (first as `max-line` on line 1)",
            ),
            ("max-line = \n", "is not valid TOML"),
            ("config = \"other.toml\"\n", "`config` is not a setting"),
        ];
        for (text, expected) in cases {
            let (_dir, path) = write_config(text);
            let error = error_of(&path, &[]);
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(
                error.contains(&path.display().to_string()),
                "{text:?}: {error}"
            );
        }
        let missing = Path::new("/nonexistent/rustchat.toml");
        let error = error_of(missing, &[]);
        assert!(
            error.contains("cannot read the config file /nonexistent/rustchat.toml"),
            "{error}"
        );
    }

    #[test]
    fn print_config_round_trips_through_a_file() {
        let (_dir, path) = write_config("max-line = 100\nlisten = [\"127.0.0.1:9000\"]\n");
        let first = describe(&parse_with(&path, &["--motd", "hi \"there\""]).expect("parses"));
        let (_dir2, again) = write_config(&first);
        let second = describe(&parse_with(&again, &[]).expect("its own output parses"));
        let values = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .map(|l| l.split("  # ").next().unwrap_or(l).to_owned())
                .collect()
        };
        assert_eq!(values(&first), values(&second));
        assert!(first.contains(r#"motd = 'hi "there"'"#), "{first}");
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("max-line", "max-line"), 0);
        assert_eq!(edit_distance("max-lien", "max-line"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("motd", "mod"), 1);
    }
}
