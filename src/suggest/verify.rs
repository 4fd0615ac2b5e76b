//! A suggestion as the pipeline sees it: the TOML table parsed by the real
//! config loader into a [`Source`], so what is checked is what will run.

use std::path::Path;

use url::Url;

use super::Definition;
use crate::config::{Config, Source};

/// The `[[source]]` an analyst gets by pasting `def` under a source of
/// `url` of the definition's kind, loaded through [`Config::parse`].
pub fn source(def: &Definition, url: &Url) -> Result<Source, String> {
    let text = format!(
        "[database]\npath = \"suggest.db\"\n\n[[source]]\nname = \"suggested\"\nkind = \"{}\"\nurl = {}\n{}",
        def.kind(),
        toml::Value::String(url.to_string()),
        def.to_toml()
    );
    let config = Config::parse(Path::new("suggestion.toml"), &text).map_err(|e| e.to_string())?;
    config
        .sources
        .into_iter()
        .next()
        .ok_or_else(|| "the suggestion produced no source".to_owned())
}
