//! The dependency rule, checked: the top-level modules of `src/` (`api`,
//! `engine`, `sql`, `domain`, …) must not import each other in a cycle.
//!
//! The checker reads every `src/**/*.rs` file, drops comments and string
//! literals, and collects each reference to another top-level module:
//! `crate::x::…` paths (in `use` statements and anywhere in code, including
//! `crate::{x, y}` groups) and `super::…` chains that climb to the crate
//! root. Each reference is an edge from the file's top-level module to `x`.
//! Test code counts too: a test that imports a layer above its own is still
//! an edge a reader has to follow.
//!
//! On a cycle it fails and prints the cycle with one file:line per edge, and
//! every edge inside each strongly connected group, so the fix is a read
//! away. Beyond "no cycle", [`LAYERS`] writes the rule down: every edge must
//! point to a lower layer, so `store → engine` fails even before it closes a
//! cycle. `docs/ARCHITECTURE.md` carries the graph as [`Graph::render`]
//! prints it, and a test keeps the two equal.
//!
//! It also keeps the units small (the style guide's "no function over ~150
//! lines, no file over ~800"): [`functions`] finds every `fn` with a body in
//! the stripped source and measures it from the `fn` line to the closing
//! brace.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// The dependency rule, top to bottom: a module may import only modules of
/// lower layers (`api, ui, cli → engine → sql, connectors, store, cache →
/// domain`, with `config`, `observability`, `text` and `domain` at the
/// bottom). A new top-level module must be placed here.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["api"],
    &["ui", "eval", "jobs"],
    &["app", "error"],
    &["engine", "backup"],
    &["auth"],
    &["connectors", "store", "cache"],
    &["sql", "observability"],
    &["config", "text"],
    &["domain"],
];

/// Where a reference was seen: `src/engine/gate.rs:29`.
type Site = String;

/// Edges between top-level modules, each with the places that make it.
#[derive(Debug, Default)]
struct Graph {
    modules: BTreeSet<String>,
    edges: BTreeMap<(String, String), Vec<Site>>,
}

impl Graph {
    /// The graph of a set of files given as (path under `src/`, source text).
    fn of(files: &[(String, String)]) -> Graph {
        let modules: BTreeSet<String> = files
            .iter()
            .filter_map(|(path, _)| top_level(path))
            .collect();
        let mut graph = Graph {
            modules: modules.clone(),
            edges: BTreeMap::new(),
        };
        for (path, text) in files {
            let Some(from) = top_level(path) else {
                continue;
            };
            for (to, line) in references(&module_path(path), &strip(text)) {
                if to != from && modules.contains(&to) {
                    graph
                        .edges
                        .entry((from.clone(), to))
                        .or_default()
                        .push(format!("src/{path}:{line}"));
                }
            }
        }
        graph
    }

    fn successors(&self, from: &str) -> impl Iterator<Item = &str> {
        self.edges
            .keys()
            .filter(move |(a, _)| a == from)
            .map(|(_, b)| b.as_str())
    }

    /// Strongly connected groups of more than one module (Tarjan).
    fn cycles(&self) -> Vec<BTreeSet<String>> {
        struct State<'a> {
            graph: &'a Graph,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on_stack: BTreeSet<&'a str>,
            groups: Vec<BTreeSet<String>>,
        }
        fn visit<'a>(s: &mut State<'a>, v: &'a str) {
            let i = s.index.len();
            s.index.insert(v, i);
            s.low.insert(v, i);
            s.stack.push(v);
            s.on_stack.insert(v);
            for w in s.graph.successors(v).collect::<Vec<_>>() {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if s.low[v] == s.index[v] {
                let mut group = BTreeSet::new();
                while let Some(w) = s.stack.pop() {
                    s.on_stack.remove(w);
                    group.insert(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    s.groups.push(group);
                }
            }
        }
        let mut s = State {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            groups: Vec::new(),
        };
        for m in &self.modules {
            if !s.index.contains_key(m.as_str()) {
                visit(&mut s, m);
            }
        }
        s.groups.sort();
        s.groups
    }

    /// A shortest cycle through `start` inside `group`: `[start, …, start]`.
    fn cycle_through(&self, start: &str, group: &BTreeSet<String>) -> Vec<String> {
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            for w in self.successors(v) {
                if !group.contains(w) {
                    continue;
                }
                if w == start {
                    let mut path = vec![start.to_string()];
                    let mut at = v;
                    while at != start {
                        path.push(at.to_string());
                        at = came_from[at];
                    }
                    path.push(start.to_string());
                    path.reverse();
                    return path;
                }
                if !came_from.contains_key(w) {
                    came_from.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        unreachable!("{start} is in a strongly connected group")
    }

    /// What a failing check prints: each cycle, then every edge of its group.
    fn explain_cycles(&self) -> String {
        let mut out = String::new();
        for group in self.cycles() {
            let start = group.iter().next().expect("non-empty");
            let cycle = self.cycle_through(start, &group);
            out.push_str(&format!("cycle: {}\n", cycle.join(" → ")));
            for pair in cycle.windows(2) {
                let sites = &self.edges[&(pair[0].clone(), pair[1].clone())];
                out.push_str(&format!("  {} → {}  {}\n", pair[0], pair[1], sites[0]));
            }
            out.push_str(&format!(
                "  every edge inside {{{}}}:\n",
                group.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            for ((a, b), sites) in &self.edges {
                if group.contains(a) && group.contains(b) {
                    out.push_str(&format!(
                        "    {a} → {b} ({}): {}\n",
                        sites.len(),
                        sites.join(", ")
                    ));
                }
            }
        }
        out
    }

    /// Edges that do not point down [`LAYERS`], and modules not placed in it.
    fn against_the_layers(&self, layers: &[&[&str]]) -> String {
        let layer_of = |m: &str| layers.iter().position(|l| l.contains(&m));
        let mut out = String::new();
        for m in &self.modules {
            if layer_of(m).is_none() {
                out.push_str(&format!("{m}: not in LAYERS (place it there)\n"));
            }
        }
        for ((a, b), sites) in &self.edges {
            if let (Some(la), Some(lb)) = (layer_of(a), layer_of(b))
                && la >= lb
            {
                out.push_str(&format!("{a} → {b}: {}\n", sites.join(", ")));
            }
        }
        out
    }

    /// Every module with the modules it imports, one line each, in the
    /// order of [`LAYERS`] (top first).
    fn render(&self) -> String {
        let mut out = String::new();
        let mut modules: Vec<&String> = self.modules.iter().collect();
        modules.sort_by_key(|m| LAYERS.iter().position(|l| l.contains(&m.as_str())));
        for m in modules {
            let to: Vec<&str> = self.successors(m).collect();
            let to = if to.is_empty() {
                "(nothing)".to_string()
            } else {
                to.join(", ")
            };
            out.push_str(&format!("{m} → {to}\n"));
        }
        out
    }
}

/// `engine/gate.rs` → `engine`; `error.rs` → `error`; `lib.rs`/`main.rs` →
/// none (the crate root and the binary, which uses `insight::`).
fn top_level(path: &str) -> Option<String> {
    match path.split_once('/') {
        Some((dir, _)) => Some(dir.to_string()),
        None if path == "lib.rs" || path == "main.rs" => None,
        None => path.strip_suffix(".rs").map(str::to_string),
    }
}

/// The module path of a file: `engine/prompt/mod.rs` → `[engine, prompt]`.
fn module_path(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The source with comments and the contents of string and character
/// literals blanked (newlines kept, so line numbers stay right).
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if !prev_ident && raw_string_at(&c, i).is_some() {
            let (open, hashes) = raw_string_at(&c, i).expect("checked");
            out.extend(std::iter::repeat_n(' ', open));
            i += open;
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|h| c.get(i + h) == Some(&'#')) {
                    out.extend(std::iter::repeat_n(' ', hashes + 1));
                    i += hashes + 1;
                    break;
                }
                out.push(blank(c[i]));
                i += 1;
            }
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                let step = if c[i] == '\\' { 2 } else { 1 };
                for k in 0..step {
                    if let Some(&ch) = c.get(i + k) {
                        out.push(blank(ch));
                    }
                }
                i += step;
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' && char_literal_len(&c, i).is_some() {
            let len = char_literal_len(&c, i).expect("checked");
            out.extend(std::iter::repeat_n(' ', len));
            i += len;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// At `r"`, `r#"`, `br"`, `cr#"`…: the opening's length and its `#` count.
fn raw_string_at(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if matches!(c.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&ch| ch == '#').count();
    j += hashes;
    (c.get(j) == Some(&'"')).then_some((j + 1 - i, hashes))
}

/// At `'`: the length of a character literal (`'a'`, `'\n'`, `'\u{1F600}'`),
/// or `None` for a lifetime or label (`'a`, `'static`).
fn char_literal_len(c: &[char], i: usize) -> Option<usize> {
    if c.get(i + 1) == Some(&'\\') {
        let end = (i + 3..c.len()).find(|&j| c[j] == '\'')?;
        return Some(end + 1 - i);
    }
    (c.get(i + 2) == Some(&'\'')).then_some(3)
}

/// Top-level modules referred to from code of module `path`, with line
/// numbers: `crate::x`, `crate::{x, y::z}`, and `super::…` reaching the root.
fn references(path: &[String], code: &str) -> Vec<(String, usize)> {
    let tokens = tokenize(code);
    let mut found = Vec::new();
    // Inline `mod name { … }` blocks deepen `super`: (brace depth at open).
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let (tok, line) = (&tokens[i].0, tokens[i].1);
        match tok.as_str() {
            "{" => {
                depth += 1;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                if inline_mods.last() == Some(&depth) {
                    inline_mods.pop();
                }
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t.0 == "{") => {
                inline_mods.push(depth);
            }
            "crate" | "super" if tokens.get(i + 1).is_some_and(|t| t.0 == "::") => {
                let (root_at, names) = if tok == "crate" {
                    (Some(i + 2), 0)
                } else {
                    let mut k = i;
                    let mut climbs = 0;
                    while tokens.get(k).is_some_and(|t| t.0 == "super")
                        && tokens.get(k + 1).is_some_and(|t| t.0 == "::")
                    {
                        climbs += 1;
                        k += 2;
                    }
                    let here = path.len() + inline_mods.len();
                    ((climbs == here).then_some(k), climbs * 2)
                };
                if let Some(at) = root_at {
                    for name in names_at(&tokens, at) {
                        found.push((name, line));
                    }
                }
                i += names.max(2);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The first segment of the path at `at`, or of each item of a `{…}` group.
fn names_at(tokens: &[(String, usize)], at: usize) -> Vec<String> {
    let is_ident = |t: &str| {
        t.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    };
    match tokens.get(at).map(|t| t.0.as_str()) {
        Some("{") => {
            let mut names = Vec::new();
            let mut depth = 0;
            let mut expect_item = true;
            for (tok, _) in &tokens[at..] {
                match tok.as_str() {
                    "{" => {
                        depth += 1;
                        continue;
                    }
                    "}" => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    "," if depth == 1 => {
                        expect_item = true;
                        continue;
                    }
                    t if depth == 1 && expect_item && is_ident(t) => names.push(t.to_string()),
                    _ => {}
                }
                expect_item = false;
            }
            names
        }
        Some(t) if is_ident(t) => vec![t.to_string()],
        _ => Vec::new(),
    }
}

/// Identifiers, `::`, and single punctuation characters, with line numbers.
fn tokenize(code: &str) -> Vec<(String, usize)> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut chars = code.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\n' {
            line += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let mut word = ch.to_string();
            while let Some(&n) = chars.peek() {
                if !(n.is_alphanumeric() || n == '_') {
                    break;
                }
                word.push(n);
                chars.next();
            }
            tokens.push((word, line));
        } else if ch == ':' && chars.peek() == Some(&':') {
            chars.next();
            tokens.push(("::".to_string(), line));
        } else if !ch.is_whitespace() {
            tokens.push((ch.to_string(), line));
        }
    }
    tokens
}

/// Every `.rs` file under `dir`, as (path relative to `dir`, text).
fn read_tree(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).expect("under root");
                let rel = rel.to_string_lossy().replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("readable source");
                out.push((rel, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

fn src_graph() -> Graph {
    Graph::of(&read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    ))
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let graph = src_graph();
    println!("{}", graph.render());
    let cycles = graph.explain_cycles();
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules of src/:\n{cycles}"
    );
}

#[test]
fn every_import_points_down_the_layers() {
    let wrong = src_graph().against_the_layers(LAYERS);
    assert!(
        wrong.is_empty(),
        "imports against the dependency rule (see LAYERS):\n{wrong}"
    );
}

#[test]
fn architecture_doc_shows_the_graph_the_code_has() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md");
    let doc = std::fs::read_to_string(&path).expect("docs/ARCHITECTURE.md");
    let graph = src_graph().render();
    assert!(
        doc.contains(&graph),
        "docs/ARCHITECTURE.md's module graph is out of date; paste this:\n{graph}"
    );
}

/// Longest function allowed in `src/`: lines from `fn` to its closing brace.
const MAX_FN_LINES: usize = 150;
/// Longest file allowed in `src/`.
const MAX_FILE_LINES: usize = 800;

/// A function found in a source file.
#[derive(Debug, PartialEq)]
struct Function {
    name: String,
    /// 1-based line of the `fn` keyword.
    line: usize,
    /// Lines from the `fn` keyword to the closing brace, both counted.
    lines: usize,
}

/// Every function with a body in `code` (already [`strip`]ped, so braces in
/// strings and comments do not count), nested ones included; declarations
/// without a body (`fn f();`) and `fn(..)` pointer types are skipped.
fn functions(code: &str) -> Vec<Function> {
    let c: Vec<char> = code.chars().collect();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let line_at = |i: usize| 1 + c[..i].iter().filter(|&&ch| ch == '\n').count();
    let mut out = Vec::new();
    for i in 0..c.len() {
        let keyword = c[i] == 'f'
            && c.get(i + 1) == Some(&'n')
            && (i == 0 || !ident(c[i - 1]))
            && c.get(i + 2).is_some_and(|ch| ch.is_whitespace());
        if !keyword {
            continue;
        }
        let mut j = i + 2;
        while j < c.len() && c[j].is_whitespace() {
            j += 1;
        }
        let name: String = c[j..].iter().take_while(|&&ch| ident(ch)).collect();
        if name.is_empty() {
            continue;
        }
        let Some(open) = (j..c.len()).find(|&k| c[k] == '{' || c[k] == ';') else {
            continue;
        };
        if c[open] == ';' {
            continue;
        }
        let mut depth = 0;
        let mut close = open;
        for (k, &ch) in c.iter().enumerate().skip(open) {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                close = k;
                break;
            }
        }
        let line = line_at(i);
        out.push(Function {
            name,
            line,
            lines: line_at(close) - line + 1,
        });
    }
    out
}

#[test]
fn no_function_in_src_and_no_file_is_too_long() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for (path, text) in read_tree(&src) {
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            long.push(format!(
                "src/{path}: {lines} lines (at most {MAX_FILE_LINES})"
            ));
        }
        for f in functions(&strip(&text)) {
            if f.lines > MAX_FN_LINES {
                long.push(format!(
                    "src/{path}:{} fn {}: {} lines (at most {MAX_FN_LINES})",
                    f.line, f.name, f.lines
                ));
            }
        }
    }
    // Files of the tests and benches are held to the same size.
    for dir in ["tests", "benches"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for (path, text) in read_tree(&root) {
            let lines = text.lines().count();
            if lines > MAX_FILE_LINES {
                long.push(format!(
                    "{dir}/{path}: {lines} lines (at most {MAX_FILE_LINES})"
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these by what a reader looks for:\n{}",
        long.join("\n")
    );
}

#[test]
fn functions_are_measured_from_fn_to_their_closing_brace() {
    let code = "fn a() {\n    let s = \"}\";\n}\ntrait T {\n    fn decl(&self);\n}\n\
                fn b(f: fn(u8) -> u8) -> u8 {\n    fn inner() {}\n    f(1)\n}\n";
    let found = functions(&strip(code));
    let got: Vec<(&str, usize, usize)> = found
        .iter()
        .map(|f| (f.name.as_str(), f.line, f.lines))
        .collect();
    assert_eq!(got, [("a", 1, 3), ("b", 7, 4), ("inner", 8, 1)]);
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

#[test]
fn a_cycle_is_found_and_printed_with_its_sites() {
    let graph = Graph::of(&files(&[
        ("api/mod.rs", "use crate::engine::Engine;\n"),
        ("engine/mod.rs", "pub mod run;\n"),
        ("engine/run.rs", "\nuse crate::store::Store;\n"),
        (
            "store/mod.rs",
            "fn f() { let _ = crate::engine::run::go(); }\n",
        ),
        ("domain.rs", "pub struct Id;\n"),
    ]));
    assert_eq!(
        graph.cycles(),
        vec![BTreeSet::from(["engine".to_string(), "store".to_string()])]
    );
    let text = graph.explain_cycles();
    assert!(text.contains("cycle: engine → store → engine"), "{text}");
    assert!(
        text.contains("engine → store  src/engine/run.rs:2"),
        "{text}"
    );
    assert!(
        text.contains("store → engine  src/store/mod.rs:1"),
        "{text}"
    );
    assert!(!text.contains("api"), "{text}");
}

#[test]
fn a_longer_cycle_is_printed_in_order() {
    let graph = Graph::of(&files(&[
        ("a.rs", "use crate::b::X;"),
        ("b.rs", "use crate::{c::Y, domain};"),
        ("c.rs", "use crate::a;"),
        ("domain.rs", ""),
    ]));
    let text = graph.explain_cycles();
    assert!(text.contains("cycle: a → b → c → a"), "{text}");
}

#[test]
fn an_upward_import_and_an_unplaced_module_are_reported() {
    let graph = Graph::of(&files(&[
        ("store/mod.rs", "use crate::engine::Engine;"),
        ("engine/mod.rs", ""),
        ("newthing.rs", "use crate::domain::Id;"),
        ("domain.rs", ""),
    ]));
    assert!(graph.cycles().is_empty());
    let text = graph.against_the_layers(LAYERS);
    assert!(
        text.contains("store → engine: src/store/mod.rs:1"),
        "{text}"
    );
    assert!(text.contains("newthing: not in LAYERS"), "{text}");
}

#[test]
fn groups_super_paths_and_inline_modules_are_read() {
    let code = "use crate::{api::{self, x}, store::Store as S, domain};\n\
                use super::cache::C;\n\
                mod tests { use super::super::text::t; use super::inner; }\n";
    let refs: Vec<String> = references(&["engine".to_string()], &strip(code))
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(refs, ["api", "store", "domain", "cache", "text"]);
    // From a nested file, `super` stops short of the root: no edge.
    assert!(references(&["engine".into(), "gate".into()], "use super::sql::X;").is_empty());
}

#[test]
fn comments_strings_and_char_literals_are_not_references() {
    let code = r####"
        // use crate::api;
        /* crate::ui /* nested crate::cli */ */
        /// [`crate::store`]
        let a = "crate::jobs";
        let b = r#"crate::cache "quoted""#;
        let c = '"'; let d = '\''; fn e<'a>(x: &'a str) {}
        use crate::domain::Id;
    "####;
    let refs = references(&["engine".to_string()], &strip(code));
    assert_eq!(refs, [("domain".to_string(), 8)]);
}
