//! The configuration reference: `insight.example.toml` documents every
//! setting with its default, and the README's configuration table is
//! generated from it ([`markdown_table`]). Tests keep the three in step with
//! the config structs: every field of [`super::Config`] is in the example
//! file, the file loads (so it names no unknown key) with the defaults, and
//! the README carries the table this module renders.

/// One setting as the example file documents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Dotted path, e.g. `server.port`.
    pub key: String,
    /// The value shown, or `None` when the example leaves it unset.
    pub default: Option<String>,
    /// The comment above the key (and after its value).
    pub about: String,
}

/// Settings in the order the example file has them. Active lines
/// (`key = value`) carry the default; commented ones (`# key = value`) are
/// unset by default. `[connections.*]` examples are skipped: connections are
/// named by the user.
pub fn settings(example: &str) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut comment: Vec<String> = Vec::new();
    for raw in example.lines() {
        let line = raw.trim();
        if line.is_empty() {
            comment.clear();
            continue;
        }
        let (commented, body) = match line.strip_prefix('#') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        if let Some(name) = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
            if !commented || name.starts_with("connections") {
                section = name.to_string();
            }
            comment.clear();
            continue;
        }
        match key_value(body) {
            Some((key, value, trailing)) if !section.starts_with("connections") => {
                let mut about = comment.join(" ");
                if let Some(t) = trailing {
                    about = if about.is_empty() {
                        t
                    } else {
                        format!("{about} {t}")
                    };
                }
                out.push(Setting {
                    key: if section.is_empty() {
                        key
                    } else {
                        format!("{section}.{key}")
                    },
                    default: (!commented).then_some(value),
                    about,
                });
                comment.clear();
            }
            Some(_) => comment.clear(),
            None if commented => comment.push(body.to_string()),
            None => comment.clear(),
        }
    }
    out
}

/// `key = value  # note` → (key, value, note). A line of prose is `None`.
fn key_value(body: &str) -> Option<(String, String, Option<String>)> {
    let (key, rest) = body.split_once('=')?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let rest = rest.trim();
    // A trailing comment starts at `#` outside a string.
    let mut in_string = false;
    let mut cut = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => {
                cut = i;
                break;
            }
            _ => {}
        }
    }
    let value = rest[..cut].trim().to_string();
    let note = rest[cut..].trim_start_matches('#').trim();
    Some((
        key.to_string(),
        value,
        (!note.is_empty()).then(|| note.to_string()),
    ))
}

/// `server.port` → `INSIGHT_SERVER__PORT`.
pub fn env_name(key: &str) -> String {
    format!("INSIGHT_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// The README's configuration table.
pub fn markdown_table(example: &str) -> String {
    let mut out = String::from("| setting | environment | default | what |\n|---|---|---|---|\n");
    for s in settings(example) {
        let default = match &s.default {
            Some(v) => format!("`{}`", v.replace('|', "\\|")),
            None => "unset".to_string(),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            s.key,
            env_name(&s.key),
            default,
            s.about.replace('|', "\\|")
        ));
    }
    out.push_str("| `connections.NAME.*` | `INSIGHT_CONNECTIONS__NAME__…` | none | target databases: `dialect`, `path` or `url`, `description`, `max_rows`, `timeout_secs`, `allowed_tables`, `pool_size`, `allow_values_in_prompt` (see the example file) |\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
    use std::cell::RefCell;
    use std::path::Path;

    fn example() -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("insight.example.toml"))
            .expect("insight.example.toml")
    }

    /// A deserializer that walks a config struct and records the dotted path
    /// of every field, feeding each a harmless value.
    struct Recorder<'a> {
        path: String,
        out: &'a RefCell<Vec<String>>,
    }

    type Error = de::value::Error;

    impl Recorder<'_> {
        fn leaf(&self) {
            self.out.borrow_mut().push(self.path.clone());
        }
    }

    macro_rules! leaf {
        ($($method:ident => $visit:ident($value:expr)),* $(,)?) => {$(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.leaf();
                visitor.$visit($value)
            }
        )*};
    }

    impl<'de> de::Deserializer<'de> for Recorder<'_> {
        type Error = Error;

        leaf! {
            deserialize_bool => visit_bool(false),
            deserialize_u8 => visit_u64(1),
            deserialize_u16 => visit_u64(1),
            deserialize_u32 => visit_u64(1),
            deserialize_u64 => visit_u64(1),
            deserialize_i8 => visit_i64(1),
            deserialize_i16 => visit_i64(1),
            deserialize_i32 => visit_i64(1),
            deserialize_i64 => visit_i64(1),
            deserialize_f32 => visit_f64(0.5),
            deserialize_f64 => visit_f64(0.5),
            deserialize_str => visit_str("127.0.0.1"),
            deserialize_string => visit_str("127.0.0.1"),
            deserialize_any => visit_str("127.0.0.1"),
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.leaf();
            visitor.visit_none()
        }

        fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.leaf();
            visitor.visit_seq(
                de::value::SeqDeserializer::<std::vec::IntoIter<u8>, Error>::new(
                    Vec::new().into_iter(),
                ),
            )
        }

        fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.leaf();
            visitor.visit_map(de::value::MapDeserializer::<
                std::vec::IntoIter<(String, String)>,
                Error,
            >::new(Vec::new().into_iter()))
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.leaf();
            visitor.visit_enum(variants[0].into_deserializer())
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_map(Fields {
                fields,
                next: 0,
                path: self.path,
                out: self.out,
            })
        }

        serde::forward_to_deserialize_any! {
            char bytes byte_buf unit unit_struct newtype_struct tuple tuple_struct
            identifier ignored_any i128 u128
        }
    }

    struct Fields<'a> {
        fields: &'static [&'static str],
        next: usize,
        path: String,
        out: &'a RefCell<Vec<String>>,
    }

    impl<'de> MapAccess<'de> for Fields<'_> {
        type Error = Error;
        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Error> {
            let Some(field) = self.fields.get(self.next) else {
                return Ok(None);
            };
            seed.deserialize((*field).into_deserializer()).map(Some)
        }
        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
            let field = self.fields[self.next];
            self.next += 1;
            let path = if self.path.is_empty() {
                field.to_string()
            } else {
                format!("{}.{field}", self.path)
            };
            seed.deserialize(Recorder {
                path,
                out: self.out,
            })
        }
    }

    fn config_fields() -> Vec<String> {
        let out = RefCell::new(Vec::new());
        let recorder = Recorder {
            path: String::new(),
            out: &out,
        };
        <super::super::Config as serde::Deserialize>::deserialize(recorder).expect("walk Config");
        out.into_inner()
    }

    #[test]
    fn every_config_field_is_documented_in_the_example_file() {
        let fields = config_fields();
        assert!(fields.contains(&"server.port".to_string()), "{fields:?}");
        assert!(fields.contains(&"auth.rate_limit.viewer_per_minute".to_string()));
        let documented: Vec<String> = settings(&example()).into_iter().map(|s| s.key).collect();
        let missing: Vec<&String> = fields
            .iter()
            .filter(|f| *f != "connections" && !documented.contains(f))
            .collect();
        assert!(
            missing.is_empty(),
            "add these to insight.example.toml: {missing:?}"
        );
        let unknown: Vec<&String> = documented.iter().filter(|d| !fields.contains(d)).collect();
        assert!(unknown.is_empty(), "not config fields: {unknown:?}");
    }

    #[test]
    fn the_readme_carries_the_generated_table() {
        let table = markdown_table(&example());
        let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&readme_path).expect("README.md");
        let (start, end) = ("<!-- config-table:start -->\n", "<!-- config-table:end -->");
        let (before, rest) = readme
            .split_once(start)
            .expect("README has the table markers");
        let (_, after) = rest.split_once(end).expect("README has the end marker");
        let fresh = format!("{before}{start}{table}{end}{after}");
        if std::env::var("UPDATE_README").is_ok() {
            std::fs::write(&readme_path, &fresh).expect("write README.md");
        } else {
            assert!(
                fresh == readme,
                "README's configuration table is out of date: run UPDATE_README=1 cargo test --lib config::docs"
            );
        }
    }

    #[test]
    fn example_lines_parse() {
        let s = settings(
            "a = 1\n# about b\n# b = \"x#y\"  # note\n[sec]\n# long\n# text\nc = [] # tail\n# [connections.x]\n# dialect = \"sqlite\"\n",
        );
        assert_eq!(
            s,
            vec![
                Setting {
                    key: "a".into(),
                    default: Some("1".into()),
                    about: String::new()
                },
                Setting {
                    key: "b".into(),
                    default: None,
                    about: "about b note".into()
                },
                Setting {
                    key: "sec.c".into(),
                    default: Some("[]".into()),
                    about: "long text tail".into()
                },
            ]
        );
        assert_eq!(
            env_name("auth.rate_limit.enabled"),
            "INSIGHT_AUTH__RATE_LIMIT__ENABLED"
        );
    }
}
