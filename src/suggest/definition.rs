//! What a suggestion says: a `[source.html]` or `[source.json]` table, and
//! how it is written out as TOML for an analyst to paste under a
//! `[[source]]`.

/// A suggested source definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Definition {
    Html(HtmlDefinition),
    Json(JsonDefinition),
}

/// A suggested `[source.html]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlDefinition {
    pub item: String,
    pub title: Title,
    pub link: Option<String>,
    pub date: Option<String>,
    pub body: Option<String>,
}

/// A suggested `[source.json]` table: JSON pointers (RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonDefinition {
    /// The array of postings; "" is the whole document.
    pub items: String,
    pub title: String,
    pub link: Option<String>,
    pub date: Option<String>,
    pub body: Option<String>,
    /// The element of an HTML page the JSON sits in (`pre`, `script#data`).
    pub embedded: Option<String>,
    /// The site hard-wraps titles at this many characters.
    pub title_wrap: Option<usize>,
}

/// Where an item's title is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Title {
    /// The text of the first element this selector matches in the item.
    Selector(String),
    /// The item's own text, without its children's.
    OwnText,
    /// The path segment after this section (`/company/`) in the first
    /// link; `absolute` when some links are full addresses.
    Slug { section: String, absolute: bool },
}

impl std::fmt::Display for Title {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Title::Selector(s) => f.write_str(s),
            Title::OwnText => f.write_str("(own text)"),
            Title::Slug { section, .. } => write!(f, "(link path after {section})"),
        }
    }
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

impl Definition {
    /// The source `kind` this table belongs under.
    pub fn kind(&self) -> &'static str {
        match self {
            Definition::Html(_) => "html",
            Definition::Json(_) => "json",
        }
    }

    /// Where the items are: the item selector, or the array's pointer.
    pub fn item(&self) -> String {
        match self {
            Definition::Html(d) => d.item.clone(),
            Definition::Json(d) => {
                let array = if d.items.is_empty() {
                    "(the whole document)"
                } else {
                    &d.items
                };
                match &d.embedded {
                    Some(e) => format!("{e} → {array}"),
                    None => array.to_owned(),
                }
            }
        }
    }

    /// Where each item's title is.
    pub fn title(&self) -> String {
        match self {
            Definition::Html(d) => d.title.to_string(),
            Definition::Json(d) => d.title.clone(),
        }
    }

    /// The table, ready to paste under a `[[source]]` of this [`kind`](Self::kind).
    pub fn to_toml(&self) -> String {
        match self {
            Definition::Html(d) => d.to_toml(),
            Definition::Json(d) => d.to_toml(),
        }
    }
}

impl HtmlDefinition {
    fn to_toml(&self) -> String {
        let title = match &self.title {
            Title::Selector(s) => quoted(s),
            Title::OwnText => "{ own_text = true }".to_owned(),
            Title::Slug { section, absolute } => format!(
                "{{ selector = \"a[href]\", attr = \"href\", regex = {} }}",
                quoted(&format!("{}{section}([^/?#]+)", if *absolute { "" } else { "^" }))
            ),
        };
        let mut out = format!("[source.html]\nitem = {}\ntitle = {title}\n", quoted(&self.item));
        if let Some(link) = &self.link {
            out.push_str(&format!("link = {{ selector = {}, attr = \"href\" }}\n", quoted(link)));
        }
        for (key, value) in [("date", &self.date), ("body", &self.body)] {
            if let Some(v) = value {
                out.push_str(&format!("{key} = {}\n", quoted(v)));
            }
        }
        out
    }
}

impl JsonDefinition {
    fn to_toml(&self) -> String {
        let mut out = String::from("[source.json]\n");
        if let Some(e) = &self.embedded {
            out.push_str(&format!("embedded = {}\n", quoted(e)));
        }
        out.push_str(&format!(
            "items = {}\ntitle = {}\n",
            quoted(&self.items),
            quoted(&self.title)
        ));
        for (key, value) in [("link", &self.link), ("date", &self.date), ("body", &self.body)] {
            if let Some(v) = value {
                out.push_str(&format!("{key} = {}\n", quoted(v)));
            }
        }
        if let Some(w) = self.title_wrap {
            out.push_str(&format!("title_wrap = {w}\n"));
        }
        out
    }
}
