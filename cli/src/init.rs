//! `nudge init [DIR]`: scaffolds a project that checks clean — `nudge.toml`,
//! a welcome flow and its HTML email template. Never overwrites a file.

use std::fs;
use std::path::Path;

const WELCOME_FLOW: &str = r#"// Your first flow: a welcome email to everyone who signs up.
// Run `nudge check` in this folder after each change.

template email welcome() {
  subject "Welcome to {{ shop.name }}"
  preheader "Thanks for signing up"
  html file "templates/welcome.html"
  text """
    Hi {{ profile.first_name ?? "there" }},

    thanks for signing up at {{ shop.name }}: {{ shop.url }}

    {{ shop.name }}, {{ shop.address }}
    Unsubscribe: {{ unsubscribe_url }}
    """
}

flow welcome {
  when "Signed Up"
  send email welcome()
}
"#;

const WELCOME_HTML: &str = r#"<!doctype html>
<html>
  <body style="font-family: sans-serif; max-width: 600px; margin: 0 auto;">
    <h1>Welcome to {{ shop.name }}</h1>
    <p>Hi {{ profile.first_name ?? "there" }}, thanks for signing up.</p>
    <p><a href="{{ shop.url }}">Visit the shop</a></p>
    <p style="font-size: 12px; color: #666;">
      {{ shop.name }}, {{ shop.address }}<br>
      <a href="{{ unsubscribe_url }}">Unsubscribe</a>
    </p>
  </body>
</html>
"#;

fn manifest(name: &str) -> String {
    format!(
        r#"[project]
name = "{name}"
timezone = "America/New_York"

[shop]
name = "My Shop"
url = "https://shop.example"
address = "1 Main St, Springfield, IL 62701, USA"
from_email = "hello@shop.example"
from_name = "My Shop"
"#
    )
}

pub fn run(dir: &Path) -> u8 {
    match scaffold(dir) {
        Ok(()) => {
            println!(
                "created a Nudge project in {}; check it with `nudge check {}`",
                dir.display(),
                dir.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn scaffold(dir: &Path) -> Result<(), String> {
    let manifest_path = dir.join("nudge.toml");
    if manifest_path.exists() {
        return Err(format!("{} already exists", manifest_path.display()));
    }
    let name = project_name(dir);
    let files = [
        (manifest_path, manifest(&name)),
        (
            dir.join("flows").join("welcome.flow"),
            WELCOME_FLOW.to_string(),
        ),
        (
            dir.join("templates").join("welcome.html"),
            WELCOME_HTML.to_string(),
        ),
    ];
    for (path, _) in &files {
        if path.exists() {
            return Err(format!("{} already exists", path.display()));
        }
    }
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The folder's name, reduced to characters safe in a TOML string.
fn project_name(dir: &Path) -> String {
    let full = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name: String = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if name.is_empty() {
        "my-shop".to_string()
    } else {
        name
    }
}
