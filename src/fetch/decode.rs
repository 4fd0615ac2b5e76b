//! Bytes to text: the content-type gate and charset decoding.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// Pages, feeds, API answers and CSV registries; everything else (archives, executables,
/// images: leaked files) is refused before its body is read. A missing
/// content type is let through: many leak sites send none.
pub fn acceptable_content_type(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime.is_empty()
        || mime == "text/html"
        || mime == "text/plain"
        || mime == "text/xml"
        || mime == "application/xhtml+xml"
        || mime == "application/xml"
        || mime == "application/rss+xml"
        || mime == "application/atom+xml"
        || mime == "application/rdf+xml"
        || mime == "application/json"
        || mime == "application/feed+json"
        || mime == "text/csv"
        || mime == "application/csv"
        || mime.ends_with("+json")
}

/// Decodes by the charset the header names, else the one a `<meta>` tag or
/// XML declaration names, else UTF-8 when the bytes are valid UTF-8, else
/// windows-1252 (which maps every byte). A byte-order mark overrides them
/// all. Never fails.
pub fn decode(mut bytes: Vec<u8>, content_type: &str) -> String {
    let encoding = charset_param(content_type)
        .and_then(|c| Encoding::for_label(c.as_bytes()))
        .or_else(|| sniff_meta(&bytes))
        .unwrap_or_else(|| {
            if std::str::from_utf8(&bytes).is_ok() {
                UTF_8
            } else {
                WINDOWS_1252
            }
        });
    // Valid UTF-8 without a mark is kept as it came: a 50 MB body is not copied.
    if encoding == UTF_8 && Encoding::for_bom(&bytes).is_none() {
        match String::from_utf8(bytes) {
            Ok(text) => return text,
            Err(e) => bytes = e.into_bytes(),
        }
    }
    let (text, _, _) = encoding.decode(&bytes);
    text.into_owned()
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Looks for `charset=` in the first KiB, as browsers do for `<meta>`.
fn sniff_meta(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let at = head.find("charset=").or_else(|| head.find("encoding="))?;
    let rest = &head[at..];
    let rest = rest[rest.find('=')? + 1..].trim_start_matches(['"', '\'', ' ']);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    Encoding::for_label(&rest.as_bytes()[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(acceptable_content_type("text/html; charset=utf-8"));
        assert!(acceptable_content_type("application/rss+xml"));
        assert!(acceptable_content_type(""));
        assert!(acceptable_content_type("text/csv; charset=utf-8"));
        assert!(!acceptable_content_type("application/zip"));
        assert!(!acceptable_content_type("application/octet-stream"));
    }

    #[test]
    fn charsets() {
        let cp1251 = b"\xcf\xf0\xe8\xe2\xe5\xf2"; // "Привет"
        assert_eq!(decode(cp1251.to_vec(), "text/html; charset=windows-1251"), "Привет");
        let mut page = b"<html><head><meta charset=\"windows-1251\"></head>".to_vec();
        page.extend_from_slice(cp1251);
        assert!(decode(page, "text/html").ends_with("Привет"));
        assert_eq!(decode("Zürich".into(), "text/html"), "Zürich");
        assert_eq!(decode(b"Z\xfcrich".to_vec(), "text/html"), "Zürich");
        assert_eq!(decode(b"x".to_vec(), "text/html; charset=bogus"), "x");
        // A byte-order mark is dropped; bytes that are not UTF-8 become U+FFFD.
        assert_eq!(decode(b"\xef\xbb\xbfZ\xc3\xbcrich".to_vec(), "text/html"), "Zürich");
        assert_eq!(decode(b"a\xffb".to_vec(), "text/html; charset=utf-8"), "a\u{fffd}b");
    }
}
