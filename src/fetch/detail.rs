//! Which links of a listing may be followed to a post's own page: on the
//! source's host only, and never to a file — leaked archives, documents and
//! images are never downloaded, whatever the page links to.

use url::Url;

use super::host_key;

/// Path endings that name a file, not a page.
const FILE_EXTENSIONS: &[&str] = &[
    "7z", "apk", "avi", "bak", "bin", "bmp", "bz2", "csv", "db", "dmg", "doc", "docx", "exe", "gif", "gz", "iso",
    "jar", "jpeg", "jpg", "json", "mdb", "mkv", "mov", "mp3", "mp4", "msg", "msi", "odt", "pdf", "png", "ppt", "pptx",
    "pst", "rar", "rtf", "sql", "svg", "tar", "tgz", "tif", "tiff", "txt", "wav", "webp", "xls", "xlsx", "xml", "xz",
    "zip", "zst",
];

/// The URL of a posting's own page, or why it is not fetched.
pub fn detail_target(source: &Url, link: &str) -> Result<Url, &'static str> {
    let url = Url::parse(link).map_err(|_| "not a URL")?;
    if !matches!(url.scheme(), "http" | "https") || host_key(&url) != host_key(source) {
        return Err("on another host than the source");
    }
    let last = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or("");
    let is_file = last
        .rsplit_once('.')
        .is_some_and(|(_, ext)| FILE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
    if is_file {
        return Err("a file, not a page");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_on_the_source_host_are_followed() {
        let source = Url::parse("http://8base.example.onion/").unwrap();
        let ok = |l: &str| detail_target(&source, l).map(|u| u.to_string());
        assert_eq!(
            ok("http://8base.example.onion/company/8301"),
            Ok("http://8base.example.onion/company/8301".into())
        );
        assert_eq!(
            ok("http://8base.example.onion/post.php?id=3"),
            Ok("http://8base.example.onion/post.php?id=3".into())
        );
        assert_eq!(
            ok("http://8base.example.onion/v1.2/company"),
            Ok("http://8base.example.onion/v1.2/company".into())
        );
        assert_eq!(
            ok("http://other.example.onion/company/1"),
            Err("on another host than the source")
        );
        assert_eq!(
            ok("http://8base.example.onion:8080/company/1"),
            Err("on another host than the source")
        );
        assert_eq!(
            ok("mailto:x@8base.example.onion"),
            Err("on another host than the source")
        );
        for file in [
            "files/dump.ZIP",
            "leak/part1.7z",
            "proof/scan.pdf",
            "img/logo.png",
            "d/x.tar.gz",
        ] {
            assert_eq!(
                ok(&format!("http://8base.example.onion/{file}")),
                Err("a file, not a page"),
                "{file}"
            );
        }
    }
}
