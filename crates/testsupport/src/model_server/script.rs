//! The script a [`super::FakeModelServer`] plays, and the wire-format-independent decision of
//! what to answer to one request.
//!
//! Why a separate module: the four wire formats differ only in how a conversation is read and
//! how an answer is written. Which step comes next, which of the client's tools carries it and
//! with which arguments is decided once, here, from a [`Conversation`] that each format builds.

use serde_json::{Map, Value, json};

/// One scripted model turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write `content` to `path` with the client's file-writing tool (Claude `Write`, Gemini
    /// `write_file`, OpenCode `write`, Codex `apply_patch`), or with its shell tool when it
    /// offers no writing tool. A relative path is resolved against the working directory the
    /// client reports in its prompt. Write new files: Claude Code's `Write` refuses to overwrite
    /// a file the conversation has not read.
    WriteFile {
        /// Path to write, relative to the agent's working directory or absolute.
        path: String,
        /// Full file content.
        content: String,
    },
    /// Run `command` with the client's shell tool (Claude `Bash`, Gemini `run_shell_command`,
    /// OpenCode `bash`, Codex `shell`/`exec_command`).
    Shell {
        /// A `bash` command line.
        command: String,
    },
    /// Answer with a final assistant message, which ends the agent's run.
    Text(String),
    /// Answer with this HTTP status and a vendor-shaped error body.
    ApiError {
        /// HTTP status, e.g. 400, 401, 429, 500.
        status: u16,
        /// The error message put in the body.
        message: String,
    },
}

/// The steps of the main conversation, played in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Steps; step `n` answers the request whose conversation already holds `n` tool results.
    pub steps: Vec<Step>,
    /// Input tokens reported in each answer's usage.
    pub input_tokens: u64,
    /// Output tokens reported in each answer's usage.
    pub output_tokens: u64,
}

/// Usage reported by default: input tokens per answer.
pub const DEFAULT_INPUT_TOKENS: u64 = 100;
/// Usage reported by default: output tokens per answer.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 20;
/// Text answered to requests that offer no tools (titles, summaries, quota checks).
pub const SIDE_ANSWER: &str = "Scripted title";
/// Text answered once the script is exhausted.
pub const EXHAUSTED_ANSWER: &str = "The script has no more steps.";

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl Script {
    /// An empty script (every main request is answered with [`EXHAUSTED_ANSWER`]).
    pub fn new() -> Script {
        Script {
            steps: Vec::new(),
            input_tokens: DEFAULT_INPUT_TOKENS,
            output_tokens: DEFAULT_OUTPUT_TOKENS,
        }
    }

    /// A script of these steps.
    pub fn from_steps(steps: Vec<Step>) -> Script {
        Script {
            steps,
            ..Script::new()
        }
    }

    /// Appends a [`Step::WriteFile`].
    pub fn write_file(mut self, path: impl Into<String>, content: impl Into<String>) -> Script {
        self.steps.push(Step::WriteFile {
            path: path.into(),
            content: content.into(),
        });
        self
    }

    /// Appends a [`Step::Shell`].
    pub fn shell(mut self, command: impl Into<String>) -> Script {
        self.steps.push(Step::Shell {
            command: command.into(),
        });
        self
    }

    /// Appends a [`Step::Text`].
    pub fn text(mut self, text: impl Into<String>) -> Script {
        self.steps.push(Step::Text(text.into()));
        self
    }

    /// Appends a [`Step::ApiError`].
    pub fn api_error(mut self, status: u16, message: impl Into<String>) -> Script {
        self.steps.push(Step::ApiError {
            status,
            message: message.into(),
        });
        self
    }

    /// Sets the usage reported in each answer.
    pub fn usage(mut self, input_tokens: u64, output_tokens: u64) -> Script {
        self.input_tokens = input_tokens;
        self.output_tokens = output_tokens;
        self
    }

    /// The usual end-to-end script: write `path`, commit everything and push `HEAD` to
    /// `refs/heads/BRANCH` of `origin`, then answer `answer`.
    pub fn write_commit_push(path: &str, content: &str, branch: &str, answer: &str) -> Script {
        Script::new()
            .write_file(path, content)
            .shell(format!(
                "git add -A && git commit -m {} && git push origin HEAD:refs/heads/{branch}",
                shell_quote(&format!("Add {path}"))
            ))
            .text(answer)
    }
}

/// Quotes `s` for bash.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// How a client declared a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolKind {
    /// A JSON-schema function tool.
    Function,
    /// An OpenAI Responses "custom" (free-form text input) tool.
    Custom,
}

/// A tool offered by the client in one request.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Name as the client declared it.
    pub name: String,
    /// Function or free-form.
    pub kind: ToolKind,
    /// JSON schema of the arguments (`{}` for free-form tools).
    pub schema: Value,
}

/// What a wire format extracted from one request.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// Model named by the request.
    pub model: Option<String>,
    /// System prompt / instructions text.
    pub system: String,
    /// Tools offered.
    pub tools: Vec<Tool>,
    /// Tool results already in the conversation: the index of the next step.
    pub tool_results: usize,
    /// All text of the request, searched for the client's working directory.
    pub all_text: String,
    /// A JSON schema the answer must follow (Gemini's structured side calls).
    pub response_schema: Option<Value>,
}

/// A decided answer, before it is written in a wire format.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Call a function tool with JSON arguments.
    Call {
        /// Tool name.
        name: String,
        /// Arguments object.
        args: Value,
    },
    /// Call a free-form tool with raw text input.
    CustomCall {
        /// Tool name.
        name: String,
        /// Input text.
        input: String,
    },
    /// A final assistant message.
    Text(String),
    /// An HTTP error.
    Error {
        /// Status code.
        status: u16,
        /// Message.
        message: String,
    },
}

/// Decides the answer to a request: the step index (when the request belongs to the main
/// conversation, i.e. offers tools) and the reply.
pub fn decide(script: &Script, conv: &Conversation) -> (Option<usize>, Reply) {
    if conv.tools.is_empty() {
        let text = match &conv.response_schema {
            Some(schema) => synth_json(schema).to_string(),
            None => SIDE_ANSWER.to_string(),
        };
        return (None, Reply::Text(text));
    }
    let index = conv.tool_results;
    let Some(step) = script.steps.get(index) else {
        return (Some(index), Reply::Text(EXHAUSTED_ANSWER.to_string()));
    };
    let cwd = find_cwd(&conv.all_text);
    let reply = match step {
        Step::Text(text) => Reply::Text(text.clone()),
        Step::ApiError { status, message } => Reply::Error {
            status: *status,
            message: message.clone(),
        },
        Step::Shell { command } => shell_reply(&conv.tools, command),
        Step::WriteFile { path, content } => {
            let abs = match (&cwd, path.starts_with('/')) {
                (Some(cwd), false) => format!("{}/{}", cwd.trim_end_matches('/'), path),
                _ => path.clone(),
            };
            write_reply(&conv.tools, path, &abs, content)
        }
    };
    (Some(index), reply)
}

const WRITE_TOOLS: &[&str] = &["Write", "write_file", "write", "create_file", "WriteFile"];
const SHELL_TOOLS: &[&str] = &[
    "Bash",
    "run_shell_command",
    "bash",
    "shell",
    "shell_command",
    "exec_command",
    "local_shell",
];
const PATH_KEYS: &[&str] = &["file_path", "filePath", "path", "absolute_path", "file"];
const CONTENT_KEYS: &[&str] = &["content", "contents", "file_text", "text"];
const COMMAND_KEYS: &[&str] = &["command", "cmd"];

fn properties(tool: &Tool) -> Option<&Map<String, Value>> {
    tool.schema.get("properties").and_then(Value::as_object)
}

fn has_any(tool: &Tool, keys: &[&str]) -> bool {
    properties(tool).is_some_and(|p| keys.iter().any(|k| p.contains_key(*k)))
}

fn find_tool<'a>(
    tools: &'a [Tool],
    names: &[&str],
    pred: impl Fn(&Tool) -> bool,
) -> Option<&'a Tool> {
    names
        .iter()
        .find_map(|n| {
            tools
                .iter()
                .find(|t| t.name == *n && (t.kind == ToolKind::Custom || pred(t)))
        })
        .or_else(|| {
            tools
                .iter()
                .find(|t| t.kind == ToolKind::Function && pred(t))
        })
}

fn shell_tool(tools: &[Tool]) -> Option<&Tool> {
    find_tool(tools, SHELL_TOOLS, |t| {
        has_any(t, COMMAND_KEYS) && !has_any(t, CONTENT_KEYS)
    })
}

fn write_reply(tools: &[Tool], rel: &str, abs: &str, content: &str) -> Reply {
    let writer = find_tool(tools, WRITE_TOOLS, |t| {
        has_any(t, PATH_KEYS) && has_any(t, CONTENT_KEYS) && !t.name.to_lowercase().contains("edit")
    });
    if let Some(tool) = writer {
        let mut values = Map::new();
        for k in PATH_KEYS {
            values.insert((*k).to_string(), json!(abs));
        }
        for k in CONTENT_KEYS {
            values.insert((*k).to_string(), json!(content));
        }
        return Reply::Call {
            name: tool.name.clone(),
            args: fill_args(tool, &values),
        };
    }
    if let Some(patch) = tools.iter().find(|t| t.name == "apply_patch") {
        let mut body = format!("*** Begin Patch\n*** Add File: {rel}\n");
        for line in content.lines() {
            body.push('+');
            body.push_str(line);
            body.push('\n');
        }
        body.push_str("*** End Patch\n");
        return match patch.kind {
            ToolKind::Custom => Reply::CustomCall {
                name: patch.name.clone(),
                input: body,
            },
            ToolKind::Function => {
                let mut values = Map::new();
                values.insert("input".into(), json!(body));
                values.insert("patch".into(), json!(body));
                Reply::Call {
                    name: patch.name.clone(),
                    args: fill_args(patch, &values),
                }
            }
        };
    }
    let command = format!(
        "mkdir -p \"$(dirname {q})\" && printf %s {c} > {q}",
        q = shell_quote(abs),
        c = shell_quote(content)
    );
    shell_reply(tools, &command)
}

fn shell_reply(tools: &[Tool], command: &str) -> Reply {
    let Some(tool) = shell_tool(tools) else {
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        return Reply::Text(format!(
            "fake model server: the client offers no shell tool (tools: {})",
            names.join(", ")
        ));
    };
    let mut values = Map::new();
    for k in COMMAND_KEYS {
        let prop_type = properties(tool)
            .and_then(|p| p.get(*k))
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str);
        let v = if prop_type == Some("array") {
            json!(["bash", "-lc", command])
        } else {
            json!(command)
        };
        values.insert((*k).to_string(), v);
    }
    Reply::Call {
        name: tool.name.clone(),
        args: fill_args(tool, &values),
    }
}

/// Builds an arguments object for `tool`: the known `values` for properties the schema has,
/// plus a plain value for every other required property.
fn fill_args(tool: &Tool, values: &Map<String, Value>) -> Value {
    let mut args = Map::new();
    let props = properties(tool).cloned().unwrap_or_default();
    for name in props.keys() {
        if let Some(v) = values.get(name) {
            args.insert(name.clone(), v.clone());
        } else if name == "description" {
            args.insert(name.clone(), json!("Scripted step"));
        }
    }
    let required: Vec<String> = tool
        .schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for name in required {
        if !args.contains_key(&name) {
            let schema = props.get(&name).cloned().unwrap_or(Value::Null);
            args.insert(name, synth_json(&schema));
        }
    }
    Value::Object(args)
}

/// A plain value that satisfies a simple JSON schema (first enum value, empty string, zero…).
/// Gemini's next-speaker check gets `"user"`, so the CLI ends its turn.
pub fn synth_json(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
        .unwrap_or_default();
    match ty.as_str() {
        "object" => {
            let mut obj = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, sub) in props {
                    let v = match name.as_str() {
                        "next_speaker" => json!("user"),
                        "reasoning" => json!("Scripted answer."),
                        _ => synth_json(sub),
                    };
                    obj.insert(name.clone(), v);
                }
            }
            Value::Object(obj)
        }
        "array" => json!([]),
        "integer" | "number" => json!(0),
        "boolean" => json!(false),
        "string" => json!(""),
        _ => Value::Null,
    }
}

/// Finds the working directory a client states in its prompt: Claude Code and OpenCode say
/// `Working directory: /x`, Codex `<cwd>/x</cwd>`, Gemini CLI `**Workspace Directories:**` (older
/// versions `working in the directory: /x`).
pub fn find_cwd(text: &str) -> Option<String> {
    let patterns: &[(&str, Option<&str>)] = &[
        ("<cwd>", Some("</cwd>")),
        ("Working directory: ", None),
        ("working in the directory: ", None),
        ("Primary working directory: ", None),
        ("**Workspace Directories:**\n  - ", None),
    ];
    for (start, end) in patterns {
        if let Some(pos) = text.find(start) {
            let rest = &text[pos + start.len()..];
            let value = match end {
                Some(end) => rest.split(end).next().unwrap_or_default(),
                None => rest.lines().next().unwrap_or_default(),
            };
            let value = value.trim().trim_matches('`').trim();
            if value.starts_with('/') {
                return Some(value.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, schema: Value) -> Tool {
        Tool {
            name: name.into(),
            kind: ToolKind::Function,
            schema,
        }
    }

    fn conv(tools: Vec<Tool>, tool_results: usize) -> Conversation {
        Conversation {
            tools,
            tool_results,
            all_text: "Working directory: /w\n".into(),
            ..Conversation::default()
        }
    }

    #[test]
    fn picks_write_tool_and_absolute_path() {
        let tools = vec![
            tool(
                "Bash",
                json!({"properties":{"command":{"type":"string"},"timeout":{"type":"number"}},"required":["command"]}),
            ),
            tool(
                "Write",
                json!({"properties":{"file_path":{"type":"string"},"content":{"type":"string"}},"required":["file_path","content"]}),
            ),
        ];
        let script = Script::new()
            .write_file("a.txt", "hi")
            .shell("ls")
            .text("done");
        let (i, r) = decide(&script, &conv(tools.clone(), 0));
        assert_eq!(i, Some(0));
        assert_eq!(
            r,
            Reply::Call {
                name: "Write".into(),
                args: json!({"file_path":"/w/a.txt","content":"hi"})
            }
        );
        let (_, r) = decide(&script, &conv(tools.clone(), 1));
        assert_eq!(
            r,
            Reply::Call {
                name: "Bash".into(),
                args: json!({"command":"ls"})
            }
        );
        let (_, r) = decide(&script, &conv(tools.clone(), 2));
        assert_eq!(r, Reply::Text("done".into()));
        let (_, r) = decide(&script, &conv(tools, 3));
        assert_eq!(r, Reply::Text(EXHAUSTED_ANSWER.into()));
    }

    #[test]
    fn side_requests_do_not_advance() {
        let script = Script::new().api_error(500, "boom");
        let (i, r) = decide(&script, &conv(vec![], 0));
        assert_eq!(i, None);
        assert_eq!(r, Reply::Text(SIDE_ANSWER.into()));
    }

    #[test]
    fn array_command_and_required_description() {
        let tools = vec![tool(
            "shell",
            json!({"properties":{"command":{"type":"array"},"description":{"type":"string"}},"required":["command","description"]}),
        )];
        let (_, r) = decide(&Script::new().shell("echo hi"), &conv(tools, 0));
        assert_eq!(
            r,
            Reply::Call {
                name: "shell".into(),
                args: json!({"command":["bash","-lc","echo hi"],"description":"Scripted step"})
            }
        );
    }

    #[test]
    fn apply_patch_custom_tool() {
        let tools = vec![Tool {
            name: "apply_patch".into(),
            kind: ToolKind::Custom,
            schema: json!({}),
        }];
        let (_, r) = decide(
            &Script::new().write_file("x/y.txt", "a\nb\n"),
            &conv(tools, 0),
        );
        assert_eq!(
            r,
            Reply::CustomCall {
                name: "apply_patch".into(),
                input: "*** Begin Patch\n*** Add File: x/y.txt\n+a\n+b\n*** End Patch\n".into()
            }
        );
    }

    #[test]
    fn next_speaker_schema() {
        let schema = json!({"type":"object","properties":{"reasoning":{"type":"string"},"next_speaker":{"type":"string","enum":["model","user"]}}});
        assert_eq!(synth_json(&schema)["next_speaker"], "user");
    }

    #[test]
    fn cwd_patterns() {
        assert_eq!(find_cwd("x <cwd>/a/b</cwd>").as_deref(), Some("/a/b"));
        assert_eq!(
            find_cwd("Working directory: /c\nmore").as_deref(),
            Some("/c")
        );
        assert_eq!(
            find_cwd("I'm currently working in the directory: /d\n").as_deref(),
            Some("/d")
        );
        assert_eq!(find_cwd("nothing"), None);
    }
}
