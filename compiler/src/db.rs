//! The project database (salsa). Source files, template files and the
//! project itself are inputs; everything derived from them is a tracked
//! query, so an edit re-runs only the queries that read the edited input.
//! `nudge check` and the language server use only this module.
//! Per-file checking: `type_check` (flows, segments, templates, policies)
//! and `test_check` (`test` blocks).
//!
//! The database does no I/O: a loader (the CLI's `project` module) reads the
//! disk and hands over [`SourceContents`], including the cases where a file
//! could not be used as text (not UTF-8, too large), which become E0001 and
//! E0002 here.
//!
//! FileIds: the stdlib files come first ([`stdlib_file_id`]), then the
//! project's files in the order the loader gives them.

use crate::ast::{File, Item, Name, TemplateSource, Text};
use crate::diagnostic::{Code, Diagnostic};
use crate::lint;
use crate::lower::{self, LowerError, LowerInput};
use crate::manifest::Manifest;
use crate::parser::{self, Parsed};
use crate::policy::Policy;
use crate::resolve::ProjectIndex;
use crate::rules::{self, ProjectDecls};
use crate::span::{FileId, Span};
use crate::types;
use nudge_bytecode::format::Bundle;
use std::collections::{BTreeMap, BTreeSet};

/// Larger source files are not read (E0002).
pub const MAX_SOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// What the loader found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceContents {
    Text(String),
    /// The bytes are not valid UTF-8; `valid_up_to` is the byte offset of the
    /// first invalid sequence; `lossy` is the text with invalid sequences
    /// replaced by U+FFFD, only for showing where the problem is.
    NotUtf8 {
        valid_up_to: usize,
        lossy: String,
    },
    /// The file is larger than [`MAX_SOURCE_BYTES`].
    TooLarge {
        bytes: u64,
    },
}

impl SourceContents {
    /// Classifies raw bytes read from disk.
    pub fn from_bytes(bytes: Vec<u8>) -> SourceContents {
        if bytes.len() as u64 > MAX_SOURCE_BYTES {
            return SourceContents::TooLarge {
                bytes: bytes.len() as u64,
            };
        }
        match String::from_utf8(bytes) {
            Ok(text) => SourceContents::Text(text),
            Err(e) => SourceContents::NotUtf8 {
                valid_up_to: e.utf8_error().valid_up_to(),
                lossy: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            },
        }
    }

    /// The text, or "" for a file that could not be read as text.
    pub fn text(&self) -> &str {
        match self {
            SourceContents::Text(t) => t,
            _ => "",
        }
    }

    /// The text diagnostics are shown against: [`Self::text`], except that a
    /// file that is not UTF-8 shows its lossy decoding (so E0001 can point
    /// at the first invalid byte).
    pub fn display_text(&self) -> &str {
        match self {
            SourceContents::NotUtf8 { lossy, .. } => lossy,
            other => other.text(),
        }
    }
}

/// One `.flow` source file (or template file, or `nudge.toml`).
#[salsa::input(debug)]
pub struct SourceFile {
    /// The path shown to users (relative to where `nudge` was run, or
    /// `<stdlib>/...`).
    #[returns(ref)]
    pub path: String,
    #[returns(copy)]
    pub id: FileId,
    #[returns(ref)]
    pub contents: SourceContents,
}

/// The whole project: its `.flow` files (stdlib first), its manifest and
/// the template files its templates load.
#[salsa::input(debug)]
pub struct Project {
    #[returns(ref)]
    pub files: Vec<SourceFile>,
    /// `nudge.toml`, when the project has one (a lone file has none).
    #[returns(copy)]
    pub manifest_file: Option<SourceFile>,
    /// The files named by `html file "..."` (and other `file` parts), keyed
    /// by the path as written, that the loader found. The loader asks
    /// [`template_references`] which paths to read; a referenced path
    /// missing here is reported as E0007.
    #[returns(ref)]
    pub template_files: Vec<(String, SourceFile)>,
}

/// The database trait every query takes.
#[salsa::db]
pub trait Db: salsa::Database {}

/// The concrete database.
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {}

impl Database {
    /// A database with an event callback (used by tests to count query
    /// executions).
    pub fn with_event_callback(
        callback: Box<dyn Fn(salsa::Event) + Send + Sync + 'static>,
    ) -> Database {
        Database {
            storage: salsa::Storage::new(Some(callback)),
        }
    }

    /// Creates the stdlib's source files with FileIds `0..n`.
    pub fn stdlib_files(&self) -> Vec<SourceFile> {
        nudge_stdlib::FILES
            .iter()
            .enumerate()
            .map(|(i, (path, text))| {
                SourceFile::new(
                    self,
                    (*path).to_string(),
                    stdlib_file_id(i),
                    SourceContents::Text((*text).to_string()),
                )
            })
            .collect()
    }
}

/// The FileId of the `i`-th stdlib file.
pub fn stdlib_file_id(i: usize) -> FileId {
    FileId(u32::try_from(i).unwrap_or(u32::MAX))
}

/// The first FileId free for project files.
pub fn first_project_file_id() -> FileId {
    stdlib_file_id(nudge_stdlib::FILES.len())
}

/// E0001 / E0002 for a file the loader could not use as text.
#[salsa::tracked(returns(ref))]
pub fn source_problems(db: &dyn Db, file: SourceFile) -> Vec<Diagnostic> {
    let id = file.id(db);
    match file.contents(db) {
        SourceContents::Text(_) => Vec::new(),
        SourceContents::NotUtf8 { valid_up_to, .. } => {
            let at = u32::try_from(*valid_up_to).unwrap_or(u32::MAX);
            // In the lossy text the invalid sequence is one U+FFFD (3 bytes).
            vec![
                Diagnostic::new(
                    Code::InvalidUtf8,
                    id,
                    Span::new(at, at.saturating_add(3)),
                    "this file is not valid UTF-8",
                )
                .with_label("first invalid byte")
                .with_help("save the file as UTF-8"),
            ]
        }
        SourceContents::TooLarge { bytes } => vec![
            Diagnostic::new(
                Code::FileTooLarge,
                id,
                Span::new(0, 0),
                format!(
                    "this file is {bytes} bytes, more than the limit of {MAX_SOURCE_BYTES} bytes"
                ),
            )
            .with_help("split it into several smaller .flow files"),
        ],
    }
}

/// `nudge.toml`, validated; the default manifest for a lone file.
#[salsa::tracked(returns(ref))]
pub fn manifest(db: &dyn Db, project: Project) -> (Manifest, Vec<Diagnostic>) {
    match project.manifest_file(db) {
        None => (Manifest::default(), Vec::new()),
        Some(file) => {
            let (manifest, mut diagnostics) =
                Manifest::parse(file.contents(db).text(), file.id(db));
            diagnostics.extend(source_problems(db, file).iter().cloned());
            (manifest, diagnostics)
        }
    }
}

/// The syntax tree of one `.flow` file, with its syntax diagnostics.
#[salsa::tracked(returns(ref))]
pub fn parse(db: &dyn Db, file: SourceFile) -> Parsed {
    parser::parse_file(file.contents(db).text(), file.id(db))
}

/// The parsed text of one template file (`html file "..."`).
#[salsa::tracked(returns(ref))]
pub fn parse_template(db: &dyn Db, file: SourceFile) -> (Text, Vec<Diagnostic>) {
    parser::parse_template_text(file.contents(db).text(), file.id(db))
}

/// Every template file path the project's templates name, as written,
/// sorted and without repeats: what the loader must read.
#[salsa::tracked(returns(ref))]
pub fn template_references(db: &dyn Db, project: Project) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for &file in project.files(db) {
        for_each_template_file(&parse(db, file).file, |path| {
            // A path that leaves the project is E0010 and never read.
            if is_inside_project(&path.value) {
                paths.push(path.value.clone());
            }
        });
    }
    paths.sort();
    paths.dedup();
    paths
}

fn for_each_template_file(file: &File, mut f: impl FnMut(&Name)) {
    for item in &file.items {
        if let Item::Template(t) = item {
            for part in &t.parts {
                if let TemplateSource::File(path) = &part.value {
                    f(path);
                }
            }
        }
    }
}

/// The project's policy: `[policy]` of the manifest merged with every
/// `policy { }` block.
#[salsa::tracked(returns(ref))]
pub fn policy(db: &dyn Db, project: Project) -> (Policy, Vec<Diagnostic>) {
    let parsed: Vec<(FileId, &File)> = project
        .files(db)
        .iter()
        .map(|&f| (f.id(db), &parse(db, f).file))
        .collect();
    Policy::collect_files(&manifest(db, project).0, &parsed)
}

/// The project's declarations, indexed, with the errors found while
/// collecting them (duplicates, unknown types in declarations).
#[salsa::tracked(returns(ref))]
pub fn index(db: &dyn Db, project: Project) -> (ProjectIndex, Vec<Diagnostic>) {
    let parsed: Vec<(FileId, &File)> = project
        .files(db)
        .iter()
        .map(|&f| (f.id(db), &parse(db, f).file))
        .collect();
    ProjectIndex::build(&parsed)
}

/// One file of one project: the key of per-file checking.
#[salsa::interned(debug)]
pub struct ProjectFile<'db> {
    pub project: Project,
    pub file: SourceFile,
}

/// Name and type errors of one file. Reads only the project index, this
/// file's tree and the template files this file names, so an edit to
/// another file that leaves the index unchanged does not re-run it.
#[salsa::tracked(returns(ref))]
pub fn type_check<'db>(db: &'db dyn Db, key: ProjectFile<'db>) -> Vec<Diagnostic> {
    let project = *key.project(db);
    let file = *key.file(db);
    let ast = &parse(db, file).file;
    // Problems inside a template file are reported in that file, at the
    // hole; two templates sharing a file report them once (`diagnostics`
    // removes repeats).
    let templates: BTreeMap<&str, (FileId, &Text)> = project
        .template_files(db)
        .iter()
        .map(|(path, f)| (path.as_str(), (f.id(db), &parse_template(db, *f).0)))
        .collect();
    let lookup = |path: &str| templates.get(path).copied();
    types::check_file_with_template_files(&index(db, project).0, file.id(db), ast, &lookup)
}

/// What the project's flows send and their split variants, for checking
/// tests. A summary: an edit that changes neither leaves it equal, so the
/// tests are not checked again.
#[salsa::tracked(returns(ref))]
pub fn flow_facts(db: &dyn Db, project: Project) -> types::FlowFacts {
    let parsed: Vec<(FileId, &File)> = project
        .files(db)
        .iter()
        .map(|&f| (f.id(db), &parse(db, f).file))
        .collect();
    types::FlowFacts::collect(&parsed)
}

/// The names of the project's tests, for E0109 between them. Edits inside
/// a test leave it equal.
#[salsa::tracked(returns(ref))]
pub fn test_names(db: &dyn Db, project: Project) -> types::TestNames {
    let parsed: Vec<(FileId, &File)> = project
        .files(db)
        .iter()
        .map(|&f| (f.id(db), &parse(db, f).file))
        .collect();
    types::TestNames::collect(&parsed)
}

/// Errors in the `test "..." { }` blocks of one file (E04xx and the name
/// and type codes). A file without tests reads nothing but its own tree,
/// so editing flows never re-runs it.
#[salsa::tracked(returns(ref))]
pub fn test_check<'db>(db: &'db dyn Db, key: ProjectFile<'db>) -> Vec<Diagnostic> {
    let project = *key.project(db);
    let file = *key.file(db);
    let ast = &parse(db, file).file;
    if !ast.items.iter().any(|i| matches!(i, Item::Test(_))) {
        return Vec::new();
    }
    types::check_tests(
        &index(db, project).0,
        flow_facts(db, project),
        test_names(db, project),
        &policy(db, project).0,
        file.id(db),
        ast,
    )
}

/// Parsed template files by the path as written.
fn template_texts(db: &dyn Db, project: Project) -> BTreeMap<String, Text> {
    project
        .template_files(db)
        .iter()
        .map(|(path, f)| (path.clone(), parse_template(db, *f).0.clone()))
        .collect()
}

/// Structural rules (E03xx), lints (W codes) and missing template files
/// (E0007) of the project's own files. These look across the whole project
/// (which flows send a template, the frequency caps), so they run as one
/// query over a shared index of its declarations.
#[salsa::tracked(returns(ref))]
pub fn project_rules(db: &dyn Db, project: Project) -> Vec<Diagnostic> {
    let files = project.files(db);
    let parsed: Vec<(FileId, &File)> = files
        .iter()
        .map(|&f| (f.id(db), &parse(db, f).file))
        .collect();
    let decls = ProjectDecls::from_files(&parsed);
    let (policy, _) = policy(db, project);
    let (manifest, _) = manifest(db, project);
    let templates = template_texts(db, project);
    let lookup = |path: &str| templates.get(path);
    let loaded: BTreeSet<&str> = project
        .template_files(db)
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    let mut out = Vec::new();
    for &(id, ast) in parsed.iter().filter(|(id, _)| !is_stdlib(*id)) {
        out.extend(rules::check_file_with(&decls, id, ast, &lookup));
        out.extend(lint::lint_file_with(
            &decls, policy, manifest, id, ast, &lookup,
        ));
        for_each_template_file(ast, |path| {
            if !is_inside_project(&path.value) {
                out.push(template_path_outside_project(id, path));
            } else if !loaded.contains(path.value.as_str()) {
                out.push(missing_template_file(id, path));
            }
        });
    }
    out
}

fn missing_template_file(file: FileId, path: &Name) -> Diagnostic {
    Diagnostic::new(
        Code::MissingTemplateFile,
        file,
        path.span,
        format!("template file `{}` was not found", path.value),
    )
    .with_label("no such file")
    .with_help("paths are relative to the project folder (the one holding nudge.toml), or to the .flow file's folder when checking a lone file")
}

fn template_path_outside_project(file: FileId, path: &Name) -> Diagnostic {
    Diagnostic::new(
        Code::TemplatePathOutsideProject,
        file,
        path.span,
        format!(
            "template file `{}` is outside the project folder",
            path.value
        ),
    )
    .with_label(if path.value.split(['/', '\\']).any(|part| part == "..") {
        "`..` climbs out of the project folder"
    } else {
        "an absolute path"
    })
    .with_help("move the file into the project and name it relative to the project folder, e.g. \"templates/welcome.html\"")
}

/// True when a template path names a file inside the project folder: relative,
/// with no `..` component. A build must depend only on the project's own
/// files (the bundle is hashed and deployed from them), and a checked-out
/// project must not make the checker read arbitrary files on the machine.
pub fn is_inside_project(path: &str) -> bool {
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    let absolute = path.starts_with('/') || path.starts_with('\\') || drive;
    !absolute && path.split(['/', '\\']).all(|part| part != "..")
}

/// True for the stdlib's own files.
pub fn is_stdlib(file: FileId) -> bool {
    file < first_project_file_id()
}

/// Every diagnostic of the project, sorted by file, then position, then code.
#[salsa::tracked(returns(ref))]
pub fn diagnostics(db: &dyn Db, project: Project) -> Vec<Diagnostic> {
    let mut all: Vec<Diagnostic> = manifest(db, project).1.clone();
    for &file in project.files(db) {
        all.extend(source_problems(db, file).iter().cloned());
        all.extend(parse(db, file).diagnostics.iter().cloned());
    }
    for (_, file) in project.template_files(db) {
        all.extend(source_problems(db, *file).iter().cloned());
        all.extend(parse_template(db, *file).1.iter().cloned());
    }
    all.extend(policy(db, project).1.iter().cloned());
    all.extend(index(db, project).1.iter().cloned());
    for &file in project.files(db) {
        if !is_stdlib(file.id(db)) {
            let key = ProjectFile::new(db, project, file);
            all.extend(type_check(db, key).iter().cloned());
            all.extend(test_check(db, key).iter().cloned());
        }
    }
    all.extend(project_rules(db, project).iter().cloned());
    sort_diagnostics(&mut all);
    all.dedup();
    all
}

/// The bundle of a project that checked without errors (`nudge build`).
#[salsa::tracked(returns(ref))]
pub fn bundle(db: &dyn Db, project: Project) -> Result<Bundle, LowerError> {
    let files: Vec<&File> = project
        .files(db)
        .iter()
        .map(|&f| &parse(db, f).file)
        .collect();
    let templates = template_texts(db, project);
    let (manifest, _) = manifest(db, project);
    lower::lower_project(&LowerInput {
        files: &files,
        template_files: &templates,
        policy: &policy(db, project).0,
        shop: &manifest.shop,
    })
}

/// The order diagnostics are shown in: file, start, end, code.
pub fn sort_diagnostics(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (
            a.primary.file,
            a.primary.span.start,
            a.primary.span.end,
            a.code,
        )
            .cmp(&(
                b.primary.file,
                b.primary.span.start,
                b.primary.span.end,
                b.code,
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use salsa::Setter;
    use std::sync::{Arc, Mutex};

    #[test]
    fn template_paths_must_stay_inside_the_project() {
        for inside in [
            "templates/a.html",
            "a.html",
            "./a.html",
            "a..b.html",
            "t/..x/a.html",
        ] {
            assert!(is_inside_project(inside), "{inside}");
        }
        for outside in [
            "/etc/passwd",
            "../a.html",
            "templates/../../a.html",
            "t/..",
            "C:/x.html",
            "c:x.html",
            "\\\\server\\share\\a.html",
            "templates\\..\\..\\a.html",
        ] {
            assert!(!is_inside_project(outside), "{outside}");
        }
    }

    /// Names of the queries that executed, in order.
    fn counting_db() -> (Database, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let db = Database::with_event_callback(Box::new(move |event| {
            if let salsa::EventKind::WillExecute { database_key } = event.kind
                && let Ok(mut log) = sink.lock()
            {
                log.push(format!("{database_key:?}"));
            }
        }));
        (db, log)
    }

    /// How many executions of each query the log holds (by the query's
    /// name, the part of the key before `(`); clears the log.
    fn executed(log: &Mutex<Vec<String>>) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        if let Ok(mut l) = log.lock() {
            for key in l.drain(..) {
                let name = key.split('(').next().unwrap_or("").to_string();
                *counts.entry(name).or_insert(0) += 1;
            }
        }
        counts
    }

    fn count(counts: &std::collections::BTreeMap<String, usize>, query: &str) -> usize {
        counts.get(query).copied().unwrap_or(0)
    }

    fn text(t: &str) -> SourceContents {
        SourceContents::Text(t.to_string())
    }

    #[test]
    fn editing_one_file_reruns_only_its_queries() {
        let (mut db, log) = counting_db();
        let first = first_project_file_id().0;
        let a = SourceFile::new(
            &db,
            "a.flow".into(),
            FileId(first),
            text("flow a {\n  when \"Signed Up\"\n  wait 1h\n}\n"),
        );
        let b = SourceFile::new(
            &db,
            "b.flow".into(),
            FileId(first + 1),
            text("flow b {\n  when \"Signed Up\"\n  wait 1h\n}\n"),
        );
        let mut files = db.stdlib_files();
        files.extend([a, b]);
        let project = Project::new(&db, files, None, Vec::new());
        assert_eq!(diagnostics(&db, project), &Vec::<Diagnostic>::new());
        let first_run = executed(&log);
        assert_eq!(count(&first_run, "type_check"), 2, "{first_run:?}");

        // An edit inside a flow body that leaves every declaration as it was.
        a.set_contents(&mut db)
            .to(text("flow a {\n  when \"Signed Up\"\n  wait 2h\n}\n"));
        assert!(diagnostics(&db, project).is_empty());
        let counts = executed(&log);
        // Only a is parsed and type-checked again: the index was rebuilt,
        // came out equal, so b's check was reused.
        assert_eq!(count(&counts, "parse"), 1, "{counts:?}");
        assert_eq!(count(&counts, "source_problems"), 1, "{counts:?}");
        assert_eq!(count(&counts, "type_check"), 1, "{counts:?}");

        // A file that is not UTF-8 is E0001 and nothing else.
        a.set_contents(&mut db)
            .to(SourceContents::from_bytes(vec![b'a', 0xff]));
        let all = diagnostics(&db, project);
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].code, Code::InvalidUtf8);
        assert_eq!(all[0].primary.file, FileId(first));
    }

    #[test]
    fn tests_are_checked_again_only_when_what_they_name_changes() {
        let (mut db, log) = counting_db();
        let first = first_project_file_id().0;
        let flow = |wait: &str, template: &str| {
            text(&format!(
                "template email hi() {{\n  subject \"Hi\"\n  text \"Hi\"\n}}\n\
                 template email bye() {{\n  subject \"Bye\"\n  text \"Bye\"\n}}\n\
                 flow a {{\n  category transactional\n  when \"Signed Up\"\n  wait {wait}\n  send email {template}()\n}}\n"
            ))
        };
        let a = SourceFile::new(&db, "a.flow".into(), FileId(first), flow("1h", "hi"));
        let t = SourceFile::new(
            &db,
            "t.flow".into(),
            FileId(first + 1),
            text(
                "test \"hi\" {\n  profile \"u1\" { email: \"a@b.co\" }\n  event \"Signed Up\" {}\n  wait 2h\n  expect sent email hi\n}\n",
            ),
        );
        let mut files = db.stdlib_files();
        files.extend([a, t]);
        let project = Project::new(&db, files, None, Vec::new());
        assert_eq!(diagnostics(&db, project), &Vec::<Diagnostic>::new());
        let counts = executed(&log);
        assert_eq!(count(&counts, "test_check"), 2, "{counts:?}");

        // The flow waits longer but sends the same: only the edited file's
        // (empty) test check runs again, not t's (the flow facts came out
        // equal).
        a.set_contents(&mut db).to(flow("2h", "hi"));
        assert!(diagnostics(&db, project).is_empty());
        let counts = executed(&log);
        assert_eq!(count(&counts, "flow_facts"), 1, "{counts:?}");
        assert_eq!(count(&counts, "test_check"), 1, "{counts:?}");

        // The flow sends another template: t is checked again, and its
        // expectation can never pass.
        a.set_contents(&mut db).to(flow("2h", "bye"));
        let all = diagnostics(&db, project);
        let counts = executed(&log);
        assert_eq!(count(&counts, "test_check"), 2, "{counts:?}");
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].code, Code::ExpectationNeverPasses);
        assert_eq!(all[0].primary.file, FileId(first + 1));
    }

    #[test]
    fn template_files_are_inputs_and_missing_ones_are_reported() {
        let mut db = Database::default();
        let first = first_project_file_id().0;
        let flow = SourceFile::new(
            &db,
            "t.flow".into(),
            FileId(first),
            text(concat!(
                "template email hi() {\n",
                "  subject \"Hi\"\n",
                "  html file \"hi.html\"\n",
                "  text \"Hi {{ unsubscribe_url }} {{ shop.address }}\"\n",
                "}\n",
            )),
        );
        let mut files = db.stdlib_files();
        files.push(flow);
        let project = Project::new(&db, files, None, Vec::new());
        assert_eq!(
            template_references(&db, project),
            &vec!["hi.html".to_string()]
        );
        let all = diagnostics(&db, project);
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].code, Code::MissingTemplateFile);

        // The loader found it; a typo inside it is checked like inline text.
        let html = SourceFile::new(
            &db,
            "hi.html".into(),
            FileId(first + 1),
            text("<p>Hi {{ profile.frist_name ?? \"there\" }}</p>"),
        );
        project
            .set_template_files(&mut db)
            .to(vec![("hi.html".to_string(), html)]);
        let all = diagnostics(&db, project);
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].code, Code::UnknownTrait);
        // Reported in the template file, at the field.
        assert_eq!(all[0].primary.file, FileId(first + 1));
        assert_eq!(all[0].primary.span.start, 17);
    }

    #[test]
    fn classifies_bytes() {
        assert_eq!(
            SourceContents::from_bytes(b"ok".to_vec()),
            SourceContents::Text("ok".into())
        );
        let bad = SourceContents::from_bytes(vec![b'a', 0xff]);
        assert_eq!(
            bad,
            SourceContents::NotUtf8 {
                valid_up_to: 1,
                lossy: "a\u{fffd}".into()
            }
        );
        assert_eq!(bad.text(), "");
        assert_eq!(bad.display_text(), "a\u{fffd}");
    }

    #[test]
    fn sorts_by_file_then_position() {
        let mut ds = vec![
            Diagnostic::new(Code::UnknownEvent, FileId(2), Span::new(5, 6), "x"),
            Diagnostic::new(Code::UnknownEvent, FileId(1), Span::new(9, 9), "x"),
            Diagnostic::new(Code::UnknownField, FileId(1), Span::new(1, 2), "x"),
        ];
        sort_diagnostics(&mut ds);
        let order: Vec<_> = ds
            .iter()
            .map(|d| (d.primary.file.0, d.primary.span.start))
            .collect();
        assert_eq!(order, vec![(1, 1), (1, 9), (2, 5)]);
    }
}
