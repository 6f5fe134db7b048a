//! Click tracking in a rendered email's HTML part.
//!
//! The renderer does not know per-message tracking URLs (they hold the
//! message id the delivery shell assigns), so it leaves a marker where each
//! tracked link goes and lists the destinations: [`track_links`] replaces the
//! `href` of every `<a>` / `<area>` whose target is an `http(s)` URL with
//! `{{nudge:link:N}}` and returns the destinations, unescaped, in order. The
//! shell replaces marker `N` with its redirect URL for `links[N]`.
//!
//! Left as written: `mailto:`, `tel:`, `#fragment` and relative links, the
//! `{{nudge:...}}` placeholders (the unsubscribe link is the shell's own),
//! and a link whose tag says `data-nudge-track="off"` (for links that must
//! not pass through a redirect, such as a password reset).
//!
//! The scan is a small tokenizer over the rendered markup, not an HTML
//! parser: it finds tags by `<` + name, reads attributes with their quotes
//! (a `>` inside a quoted value does not end the tag), and skips comments.
//! Anything it does not understand is copied unchanged, so the worst case
//! of odd markup is an untracked link, never a broken one.

/// The HTML with tracked links replaced by markers, and the destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedHtml {
    pub html: String,
    pub links: Vec<String>,
}

/// The marker the shell replaces with the tracking URL of link `index`.
pub fn link_marker(index: usize) -> String {
    format!("{{{{nudge:link:{index}}}}}")
}

/// Replaces each trackable link's `href` with its marker.
pub fn track_links(html: &str) -> TrackedHtml {
    let mut out = String::with_capacity(html.len());
    let mut links = Vec::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").map_or(rest.len(), |i| i + 3);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let Some(tag) = read_tag(rest) else {
            out.push('<');
            rest = &rest[1..];
            continue;
        };
        let text = &rest[..tag.len];
        match tag.href {
            Some((start, end)) if tag.is_link && !tag.no_track => {
                let raw = &text[start..end];
                let url = unescape(raw.trim());
                if is_trackable(&url) {
                    out.push_str(&text[..start]);
                    out.push_str(&link_marker(links.len()));
                    out.push_str(&text[end..]);
                    links.push(url);
                } else {
                    out.push_str(text);
                }
            }
            _ => out.push_str(text),
        }
        rest = &rest[tag.len..];
    }
    out.push_str(rest);
    TrackedHtml { html: out, links }
}

fn is_trackable(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")) && !url.contains("{{nudge:")
}

/// One start tag as read from the text.
struct Tag {
    /// Byte length of the whole tag, `<` to `>` inclusive.
    len: usize,
    /// `<a` or `<area`.
    is_link: bool,
    /// Byte range of the `href` value inside the tag, without its quotes.
    href: Option<(usize, usize)>,
    no_track: bool,
}

/// Reads the start tag at the beginning of `s` (which starts with `<`), or
/// `None` when it is not a well-formed start tag.
fn read_tag(s: &str) -> Option<Tag> {
    let b = s.as_bytes();
    let mut i = 1;
    let name_start = i;
    while i < b.len() && b[i].is_ascii_alphanumeric() {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let name = &s[name_start..i];
    let is_link = name.eq_ignore_ascii_case("a") || name.eq_ignore_ascii_case("area");
    let mut href = None;
    let mut no_track = false;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        match b.get(i) {
            None => return None,
            Some(b'>') => {
                return Some(Tag {
                    len: i + 1,
                    is_link,
                    href,
                    no_track,
                });
            }
            Some(b'<') => return None,
            Some(_) => {}
        }
        let attr_start = i;
        while i < b.len()
            && !matches!(b[i], b'=' | b'>' | b'/' | b'<')
            && !b[i].is_ascii_whitespace()
        {
            i += 1;
        }
        let attr = &s[attr_start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let (start, end) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let close = s[start..].find(q as char)? + start;
                i = close + 1;
                (start, close)
            }
            Some(_) => {
                let start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                (start, i)
            }
            None => return None,
        };
        if attr.eq_ignore_ascii_case("href") && href.is_none() {
            href = Some((start, end));
        } else if attr.eq_ignore_ascii_case("data-nudge-track")
            && s[start..end].eq_ignore_ascii_case("off")
        {
            no_track = true;
        }
    }
}

/// Undoes the HTML escaping of an attribute value: the named entities the
/// renderer writes and numeric references.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_http_links_in_order_and_unescapes_them() {
        let t = track_links(
            r#"<p>Hi</p><a class="btn" href="https://shop.example/cart?a=1&amp;b=2">Cart</a> <A HREF='http://x.example/p'>P</A>"#,
        );
        assert_eq!(
            t.html,
            r#"<p>Hi</p><a class="btn" href="{{nudge:link:0}}">Cart</a> <A HREF='{{nudge:link:1}}'>P</A>"#
        );
        assert_eq!(
            t.links,
            ["https://shop.example/cart?a=1&b=2", "http://x.example/p"]
        );
    }

    #[test]
    fn leaves_other_links_and_opted_out_links_alone() {
        let html = concat!(
            r#"<a href="mailto:help@shop.example">mail</a>"#,
            r##"<a href="tel:+15550100">call</a><a href="#top">top</a>"##,
            r#"<a href="/relative">rel</a>"#,
            r#"<a href="{{nudge:unsubscribe_url}}">Unsubscribe</a>"#,
            r#"<a data-nudge-track="off" href="https://shop.example/reset">reset</a>"#,
            r#"<!-- <a href="https://commented.example">x</a> -->"#,
            r#"<img src="https://cdn.example/i.png" alt="a > b">"#,
        );
        let t = track_links(html);
        assert_eq!(t.html, html);
        assert!(t.links.is_empty());
    }

    #[test]
    fn quoted_angle_brackets_and_unquoted_values() {
        let t = track_links(r#"<a title="1 > 0" href=https://a.example/x>x</a>"#);
        assert_eq!(t.html, r#"<a title="1 > 0" href={{nudge:link:0}}>x</a>"#);
        assert_eq!(t.links, ["https://a.example/x"]);
    }

    #[test]
    fn malformed_markup_is_copied_unchanged() {
        for html in [
            "a < b and c > d",
            "<a href=\"https://unterminated",
            "<",
            "<a",
            "text <!-- never closed",
            "<a href=>x</a>",
            "&amp; &#x26; &#38; &bogus; &",
        ] {
            let t = track_links(html);
            assert_eq!(t.html, html);
            assert!(t.links.is_empty(), "{html}");
        }
    }

    #[test]
    fn numeric_references_decode() {
        assert_eq!(unescape("a&#x26;b&#38;c&quot;"), "a&b&c\"");
        assert_eq!(unescape("&#xZZ;&"), "&#xZZ;&");
    }
}
