//! Text helpers, in one place: clipping payload text to a budget (three shapes: plain
//! characters, one line without control characters, Markdown cut at a line end) and the
//! serialized size of a value, which the state budget and the history ordering both count.
//! Every limit counts characters, never bytes, and a cut is always marked with `…`.

use std::io;

/// `text` cut to at most `max` characters, marked with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => {
            let cut = text[..end]
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(end, |(i, _)| i);
            format!("{}…", &text[..cut])
        }
    }
}

/// Clips `text` in place (see [`clip`]).
pub fn clip_in_place(text: &mut String, max: usize) {
    if text.chars().nth(max).is_some() {
        *text = clip(text, max);
    }
}

/// `text` cut to at most `max` characters at a line end, an open code fence closed, marked
/// with `…` on a line of its own when cut (a README section kept as Markdown).
pub fn clip_markdown(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once('\n').map_or(cut.as_str(), |(head, _)| head);
    let open_fence = cut.matches("```").count() % 2 == 1;
    format!("{cut}{}\n\n…", if open_fence { "\n```" } else { "" })
}

/// `text` without control characters (a commit message's one line), at most `chars` long.
pub fn clip_plain(text: &str, chars: usize) -> String {
    let kept: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(chars)
        .collect();
    if text.chars().filter(|c| !c.is_control()).count() > chars {
        format!("{kept}…")
    } else {
        kept
    }
}

/// The serialized size of `value` in bytes, without building the JSON.
pub fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing plain data into a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_counts_characters_and_marks_the_cut() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("exactly10!", 10), "exactly10!");
        assert_eq!(clip("abcdefghijk", 5), "abcd…");
        assert_eq!(clip("ééééééé", 3), "éé…");
        assert_eq!(clip("🦀🦀🦀🦀", 4), "🦀🦀🦀🦀");
        assert_eq!(clip("", 0), "");
        let mut s = "x".repeat(50);
        clip_in_place(&mut s, 10);
        assert_eq!(s.chars().count(), 10);
    }

    #[test]
    fn the_other_shapes_mark_their_cut_too() {
        assert_eq!(clip_plain("a\u{7}bcdef", 3), "abc…");
        assert_eq!(clip_plain("abc", 3), "abc");
        let md = clip_markdown("one\n```\ncode\nmore code", 12);
        assert!(md.ends_with("```\n\n…"), "{md:?}");
        assert_eq!(clip_markdown("short", 12), "short");
    }
}
