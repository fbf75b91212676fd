//! Configuration files. Flags win over `FLOE_*` environment variables, which win
//! over the config file, which wins over built-in defaults. The file is TOML with
//! one table per binary, keys spelled like the flags:
//!
//! ```toml
//! [coordinator]
//! listen = "0.0.0.0:50051"
//! max-attempts = 5
//!
//! [worker]
//! concurrency = 2
//! ```
//!
//! It works by exporting each key as its `FLOE_*` variable (when not already set)
//! before the command line is parsed, so every flag that has an environment
//! variable can be set from the file.

use std::path::Path;

use crate::error::{ProcessError, Result};

/// Reads `section` of the config file named by `--config PATH` in `args` or by
/// `FLOE_CONFIG`, and exports its keys as `FLOE_<KEY>` environment variables that
/// are not set yet. Does nothing without a config file.
pub fn apply_config_file(section: &str, args: &[String]) -> Result<()> {
    let from_args = args
        .windows(2)
        .find(|w| w[0] == "--config")
        .map(|w| w[1].clone())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--config=").map(str::to_string))
        });
    let Some(path) = from_args.or_else(|| std::env::var("FLOE_CONFIG").ok()) else {
        return Ok(());
    };
    for (key, value) in read_section(Path::new(&path), section)? {
        let var = format!("FLOE_{}", key.to_ascii_uppercase().replace('-', "_"));
        if std::env::var_os(&var).is_none() {
            // SAFETY: called at start-up, before any other thread exists.
            unsafe { std::env::set_var(var, value) };
        }
    }
    Ok(())
}

fn read_section(path: &Path, section: &str) -> Result<Vec<(String, String)>> {
    let bad = |message: String| ProcessError::ConfigFile {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let doc: toml::Table =
        toml::from_str(&text).map_err(|e| bad(format!("it is not valid TOML: {e}")))?;
    let Some(table) = doc.get(section) else {
        return Ok(Vec::new());
    };
    let table = table
        .as_table()
        .ok_or_else(|| bad(format!("`{section}` must be a table ([{section}])")))?;
    table
        .iter()
        .map(|(k, v)| {
            let value = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(bad(format!(
                        "key `{section}.{k}` has {other}; expected a string, number or boolean"
                    )))
                }
            };
            Ok((k.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_section_and_rejects_nested_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("floe.toml");
        std::fs::write(
            &path,
            "[coordinator]\nmax-attempts = 5\nlisten = \"0.0.0.0:1\"\n[worker]\nx = [1]\n",
        )
        .unwrap();
        let mut kv = read_section(&path, "coordinator").unwrap();
        kv.sort();
        assert_eq!(
            kv,
            vec![
                ("listen".into(), "0.0.0.0:1".into()),
                ("max-attempts".into(), "5".into())
            ]
        );
        assert!(read_section(&path, "worker").is_err());
        assert!(read_section(&path, "absent").unwrap().is_empty());
    }
}
