//! A real Mermaid parser for tests: a diagram is checked by Mermaid's own `mermaid.parse()`
//! (the `mermaid` npm package) in headless Chromium, so a test asserts that a diagram the
//! system writes parses instead of judging it by eye or by substring.
//!
//! `scripts/test` installs `mermaid` into `.test-fixtures/` and exports `CODERIPPLE_MERMAID`
//! (its `dist/mermaid.min.js`); Chromium is Debian's `/usr/bin/chromium` unless
//! `CODERIPPLE_CHROMIUM` names another. Without them a test skips ([`available`] is false),
//! unless `CODERIPPLE_REQUIRE_FIXTURES` is set: then it fails.
//!
//! One check starts one Chromium (`--headless --dump-dom` on a generated page that loads
//! `mermaid.min.js` by `file://` URL); [`parse_all`] checks many diagrams in one start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

/// How long one Chromium may take, wall clock (it takes well under a second when idle).
const TIMEOUT: Duration = Duration::from_secs(90);

/// The element of the generated page the verdicts are written into (base64 of UTF-8 JSON, so
/// that nothing in Mermaid's messages is changed by the DOM's serialization).
const RESULT_ID: &str = "coderipple-mermaid-result";

/// Where `mermaid.min.js` and Chromium are, or `None` (skipped, said on stderr) when one is
/// missing and `CODERIPPLE_REQUIRE_FIXTURES` is not set (panics when it is).
fn paths() -> Option<(PathBuf, PathBuf)> {
    let script = std::env::var_os("CODERIPPLE_MERMAID")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.test-fixtures/node_modules/mermaid/dist/mermaid.min.js")
        });
    let chromium = std::env::var_os("CODERIPPLE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if script.is_file() && chromium.exists() {
        return Some((script, chromium));
    }
    assert!(
        std::env::var_os("CODERIPPLE_REQUIRE_FIXTURES").is_none(),
        "{} or {} is missing; scripts/test installs mermaid (npm) and Debian's chromium",
        script.display(),
        chromium.display()
    );
    eprintln!("SKIPPED: mermaid or chromium not installed; run scripts/test to install them");
    None
}

/// Whether diagrams can be checked here: `mermaid.min.js` (`CODERIPPLE_MERMAID`, by default
/// `.test-fixtures/node_modules/mermaid/dist/mermaid.min.js`) and Chromium
/// (`CODERIPPLE_CHROMIUM`, by default `/usr/bin/chromium`) exist.
///
/// When they do not, prints `SKIPPED: …` and returns `false` so the test can return early —
/// unless `CODERIPPLE_REQUIRE_FIXTURES` is set (as `scripts/test` does): then it panics.
///
/// ```no_run
/// if !coderipple_testkit::mermaid::available() {
///     return;
/// }
/// assert_eq!(
///     coderipple_testkit::mermaid::parse("flowchart LR\n  a --> b").as_deref(),
///     Ok("flowchart-v2")
/// );
/// ```
pub fn available() -> bool {
    paths().is_some()
}

/// Checks `diagram` (the text inside a ```` ```mermaid ```` fence, without the fence) with
/// Mermaid's own `mermaid.parse()`.
///
/// `Ok` holds the diagram type Mermaid detected (e.g. `"flowchart-v2"` for `flowchart` and
/// `graph`, `"sequence"`, `"mindmap"`); `Err` holds Mermaid's message (e.g. `Parse error on
/// line 2: … Expecting …, got 'EOF'`, or `No diagram type detected …`).
///
/// Panics when the harness itself is broken (fixture or Chromium missing, Chromium failing
/// or timing out, `mermaid.min.js` not loading, no verdict on the page): that is never a
/// verdict on the diagram. Call [`available`] first to skip where nothing is installed.
///
/// `mermaid.parse()` checks the syntax (and Mermaid's front matter and directives); it does
/// not lay the diagram out, so a diagram that parses may still render badly.
pub fn parse(diagram: &str) -> Result<String, String> {
    parse_all(&[diagram])
        .pop()
        .expect("one verdict for one diagram")
}

/// [`parse`] for each of `diagrams`, in order, in one Chromium start (one start costs most
/// of a check's time).
pub fn parse_all(diagrams: &[&str]) -> Vec<Result<String, String>> {
    let Some((script, chromium)) = paths() else {
        panic!("mermaid or chromium is missing; call mermaid::available() first to skip")
    };
    if diagrams.is_empty() {
        return Vec::new();
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let script = script
        .canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    let page = dir.path().join("parse.html");
    std::fs::write(&page, html(&file_url(&script), diagrams)).expect("write the page");
    let dom = run(&chromium, dir.path(), &page);
    let verdicts = verdicts(&dom)
        .unwrap_or_else(|e| panic!("mermaid harness: {e}; Chromium's DOM:\n{}", tail(&dom)));
    assert_eq!(
        verdicts.len(),
        diagrams.len(),
        "mermaid harness: one verdict per diagram; DOM:\n{}",
        tail(&dom)
    );
    verdicts
}

/// `path` as a `file://` URL (absolute path; bytes outside a safe set percent-encoded).
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// `value` as JSON that can sit inside an HTML `<script>` and an attribute: `<`, `>` and `&`
/// (only ever inside JSON strings) become `\u003c`, `\u003e`, `\u0026`, so no `</script>` or
/// `<!--` in a diagram can end the script.
fn script_json(value: &Value) -> String {
    serde_json::to_string(value)
        .expect("JSON")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The page: loads Mermaid, parses each diagram in turn, writes
/// `{"loaded": bool, "verdicts": [{"ok": true, "type": …} | {"ok": false, "error": …}]}` as
/// base64 into `#RESULT_ID`.
fn html(script_url: &str, diagrams: &[&str]) -> String {
    let texts = script_json(&serde_json::json!(diagrams));
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>mermaid.parse</title></head>
<body><pre id="{RESULT_ID}">PENDING</pre>
<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message || e.type)));
</script>
<script src="{script_url}"></script>
<script>
(async () => {{
  const texts = {texts};
  const out = {{ loaded: typeof mermaid !== "undefined", verdicts: [], errors: window.__errors }};
  if (out.loaded) {{
    mermaid.initialize({{ startOnLoad: false }});
    for (const text of texts) {{
      try {{
        const r = await mermaid.parse(text);
        out.verdicts.push({{ ok: true, type: String((r && r.diagramType) || "") }});
      }} catch (e) {{
        out.verdicts.push({{ ok: false, error: String((e && (e.message || e.str)) || e) }});
      }}
    }}
  }}
  const bytes = new TextEncoder().encode(JSON.stringify(out));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  document.getElementById("{RESULT_ID}").textContent = btoa(bin);
}})();
</script>
</body></html>
"#
    )
}

/// Runs Chromium on `page` (its profile in `dir`) and returns the DOM it dumped; panics when
/// it cannot start, fails or runs past [`TIMEOUT`].
fn run(chromium: &Path, dir: &Path, page: &Path) -> String {
    let stdout = dir.join("dom.html");
    let stderr = dir.join("chromium.log");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            // Virtual time: Chromium runs the page's tasks (Mermaid's promises) for up to
            // this much page time, skipping idle waits, before it dumps the DOM.
            "--virtual-time-budget=30000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(file_url(page))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("the DOM file"))
        .stderr(std::fs::File::create(&stderr).expect("the log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", chromium.display()));
    let log = || tail(&std::fs::read_to_string(&stderr).unwrap_or_default()).to_string();
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium ran past {TIMEOUT:?} on {}:\n{}",
                page.display(),
                log()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "chromium exited ({status}):\n{}", log());
    std::fs::read_to_string(&stdout).expect("Chromium's DOM")
}

/// The verdicts written into `#RESULT_ID` of the dumped DOM, or what is wrong with the page.
fn verdicts(dom: &str) -> Result<Vec<Result<String, String>>, String> {
    let open = format!(r#"<pre id="{RESULT_ID}">"#);
    let start = dom.find(&open).ok_or("no result element in the DOM")? + open.len();
    let end = start
        + dom[start..]
            .find("</pre>")
            .ok_or("an unclosed result element")?;
    let encoded = dom[start..end].trim();
    if encoded == "PENDING" {
        return Err("no verdict written (the page's script failed or ran out of time)".into());
    }
    let json = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("the verdict is not base64: {e}"))?;
    let out: Value = serde_json::from_slice(&json).map_err(|e| format!("the verdict: {e}"))?;
    if out["loaded"] != Value::Bool(true) {
        return Err(format!(
            "mermaid.min.js did not load (page errors: {})",
            out["errors"]
        ));
    }
    let list = out["verdicts"].as_array().ok_or("no verdict list")?;
    list.iter()
        .map(|v| match (&v["ok"], &v["type"], &v["error"]) {
            (Value::Bool(true), Value::String(t), _) => Ok(Ok(t.clone())),
            (Value::Bool(false), _, Value::String(e)) => Ok(Err(e.clone())),
            _ => Err(format!("a malformed verdict: {v}")),
        })
        .collect()
}

/// The last 4,000 characters of `text` (for panic messages).
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(4000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_accepts_a_flowchart_rejects_broken_ones_and_keeps_hostile_labels_inside() {
        if !available() {
            return;
        }
        let valid = "flowchart LR\n  api[\"acme/api\"] -->|\"calls\"| db[(\"orders DB\")]\n  \
                     api --> worker[\"the worker\"]\n  worker -.-> db";
        let hostile = "flowchart LR\n  \
                       a[\"quote #quot; </script><script>document.title='x'</script> `tick` \\ <!-- &amp;\"] --> b[\"b\"]";
        let verdicts = parse_all(&[
            valid,
            "flowchart LR\n  a -->",
            "flowchart LR\n  a[\"open --> b",
            hostile,
            "graph TD\n  a --> b",
            "this is not a diagram",
        ]);
        assert_eq!(verdicts[0].as_deref(), Ok("flowchart-v2"), "{verdicts:?}");
        let broken = verdicts[1]
            .as_ref()
            .expect_err("a dangling edge is rejected");
        assert!(
            broken.contains("Parse error") && broken.contains("Expecting"),
            "{broken}"
        );
        let unbalanced = verdicts[2]
            .as_ref()
            .expect_err("an open bracket is rejected");
        assert!(unbalanced.contains("Parse error"), "{unbalanced}");
        assert_eq!(verdicts[3].as_deref(), Ok("flowchart-v2"), "{verdicts:?}");
        assert_eq!(verdicts[4].as_deref(), Ok("flowchart-v2"), "{verdicts:?}");
        let unknown = verdicts[5].as_ref().expect_err("no diagram type");
        assert!(unknown.contains("No diagram type detected"), "{unknown}");
    }

    #[test]
    fn mermaid_parse_checks_one_diagram() {
        if !available() {
            return;
        }
        assert_eq!(
            parse("sequenceDiagram\n  Alice->>Bob: hi").as_deref(),
            Ok("sequence")
        );
        let err = parse("flowchart LR\n  a[\"x\"] --> b[\"y\"\n").expect_err("unbalanced");
        assert!(err.contains("Parse error on line"), "{err}");
    }

    #[test]
    fn hostile_text_cannot_close_the_script() {
        let json = script_json(&serde_json::json!(["</script><!-- & \"`"]));
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ["</script><!-- & \"`"]);
    }

    #[test]
    fn a_page_without_a_verdict_is_a_harness_error_not_a_parse_error() {
        let pending = format!(r#"<body><pre id="{RESULT_ID}">PENDING</pre></body>"#);
        assert!(verdicts(&pending).unwrap_err().contains("no verdict"));
        assert!(verdicts("<body></body>").is_err());
        let unloaded = base64::engine::general_purpose::STANDARD
            .encode(r#"{"loaded":false,"verdicts":[],"errors":["boom"]}"#);
        let page = format!(r#"<pre id="{RESULT_ID}">{unloaded}</pre>"#);
        assert!(verdicts(&page).unwrap_err().contains("did not load"));
    }
}
