//! The command line: every command and flag of the `axon` binary, as clap types.

use axon_api::config::Backend;
use axon_api::{AgentType, CredentialType};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Axon: orchestrate autonomous AI coding agents as isolated workloads, on one machine or on
/// Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "axon", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the config file [default: ~/.axon/config.yaml]
    #[arg(long, global = true, env = "AXON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Namespace (Kubernetes backend; the local backend has one namespace)
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Path to the kubeconfig file (Kubernetes backend)
    #[arg(long, global = true, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long, global = true, value_enum)]
    pub output: Option<OutputFormat>,
    /// Skip confirmation prompts
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Backend: local or kubernetes [default: the config file's `backend`, else local]
    #[arg(long, global = true, value_parser = parse_backend, env = axon_api::contract::ENV_BACKEND)]
    pub backend: Option<Backend>,
    /// Local backend: isolate agents with bubblewrap (default) or not at all (`none`, warns)
    #[arg(long, global = true, value_parser = parse_sandbox, env = "AXON_SANDBOX")]
    pub sandbox: Option<axon_local::SandboxMode>,
}

fn parse_sandbox(s: &str) -> Result<axon_local::SandboxMode, String> {
    s.parse()
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

/// How `get` (and `run --dry-run`) print resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
    Wide,
    Name,
    /// `get task NAME -o tree`: the dependency tree with phases.
    Tree,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print version information and the backend in use
    Version,
    /// Show which backend is in use and whether it is reachable
    Status,
    /// Write a commented config file (~/.axon/config.yaml)
    Init(InitArgs),
    /// Check resource files without applying them
    Validate(FilesArgs),
    /// Create and run a new Task
    Run(Box<RunArgs>),
    /// Create or update resources from YAML files
    Apply(FilesArgs),
    /// List resources (tasks, workspaces, agentconfigs, taskspawners)
    Get(GetArgs),
    /// Delete a resource
    Delete(DeleteArgs),
    /// Stop a TaskSpawner creating Tasks (its running Tasks go on): suspend taskspawner NAME
    Suspend(DeleteArgs),
    /// Let a suspended TaskSpawner create Tasks again: resume taskspawner NAME
    Resume(DeleteArgs),
    /// View or stream a Task's logs
    Logs(LogsArgs),
    /// Stop a Task's agent, keep its work (WIP branch) and end it Cancelled
    Cancel(CancelArgs),
    /// Create a resource from flags
    #[command(subcommand)]
    Create(CreateCommand),
    /// Install Axon's CRDs and controller into the cluster
    Install(InstallArgs),
    /// Remove Axon (controller, CRDs and all Axon resources) from the cluster
    Uninstall,
    /// Run the local backend in the foreground: scheduler, TaskSpawners, TTL cleanup
    Serve(ServeArgs),
    /// Print shell completions
    Completion(CompletionArgs),
    /// In-sandbox / in-Pod agent runner
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Run the Kubernetes controller (inside the cluster)
    Controller(ControllerArgs),
    /// Run one TaskSpawner's loop (inside the cluster)
    Spawner(SpawnerArgs),
    /// Run the Axon gateway for a cluster's Tasks: `axon gateway --backend kubernetes` (inside
    /// the cluster; `axon install` deploys it)
    Gateway(GatewayArgs),
    /// Workspace preparation (the Kubernetes init container)
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Internal: local backend processes
    #[command(name = "__local", hide = true)]
    Local {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing config file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// YAML file(s) with one or more documents (`-` for standard input)
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Task prompt
    #[arg(short = 'p', long, conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// Read the prompt from a file
    #[arg(long)]
    pub prompt_file: Option<PathBuf>,
    /// Agent type [default: config `type`, else claude-code]
    #[arg(short = 't', long = "type", value_parser = parse_agent_type)]
    pub type_: Option<AgentType>,
    /// Model override
    #[arg(long)]
    pub model: Option<String>,
    /// Name of an existing Workspace (overrides the config file)
    #[arg(long)]
    pub workspace: Option<String>,
    /// Pre-created secret holding the agent credential
    #[arg(long)]
    pub secret: Option<String>,
    /// Credential type of --secret
    #[arg(long, value_parser = parse_credential_type)]
    pub credential_type: Option<CredentialType>,
    /// Agent instructions (AgentConfig agentsMD); `@file` reads a file
    #[arg(long)]
    pub agents_md: Option<String>,
    /// A skill, `name=@file` or `name=content` (repeatable)
    #[arg(long = "skill")]
    pub skills: Vec<String>,
    /// A sub-agent, `name=@file` or `name=content` (repeatable)
    #[arg(long = "agent")]
    pub agents: Vec<String>,
    /// Task name [default: generated]
    #[arg(long)]
    pub name: Option<String>,
    /// Delete the Task this many seconds after it finishes
    #[arg(long)]
    pub ttl: Option<i32>,
    /// Fail the Task after this long (e.g. 30m, 1h, or seconds)
    #[arg(long)]
    pub timeout: Option<String>,
    /// Extra agent environment, KEY=VALUE (repeatable; not for secrets)
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// API-compatible model endpoint instead of the vendor's
    #[arg(long = "model-base-url")]
    pub model_base_url: Option<String>,
    /// Custom agent: an image (Kubernetes) or executable path (local) implementing the agent image interface
    #[arg(long)]
    pub image: Option<String>,
    /// Print the resources instead of creating them
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until the Task ends; exit non-zero if it failed
    #[arg(short = 'w', long)]
    pub wait: bool,
}

fn parse_agent_type(s: &str) -> Result<AgentType, String> {
    s.parse()
}

fn parse_credential_type(s: &str) -> Result<CredentialType, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Resource type: tasks, workspaces, agentconfigs, taskspawners (or tk, ws, ac, tsp); or
    /// TYPE/NAME (task/x, as `-o name` prints)
    pub kind: String,
    /// Resource name (all when omitted)
    pub name: Option<String>,
    /// Watch for changes
    #[arg(short = 'w', long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Resource type, or TYPE/NAME (task/x, as `-o name` prints)
    pub kind: String,
    /// Resource name(s); with TYPE/NAME, more TYPE/NAME arguments
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Task name(s), or task/NAME
    #[arg(required = true)]
    pub tasks: Vec<String>,
    /// Wait until the Task has ended and say how (`--wait=false`: return once the request is
    /// recorded)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    /// How long to wait, in seconds
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Task name (or task/NAME)
    pub task: String,
    /// Follow the log until the Task ends (printing the Task's spend as it changes)
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Print the agent's raw JSONL stream instead of the readable rendering (with
    /// --requests: the records as JSON lines)
    #[arg(long)]
    pub raw: bool,
    /// Print the requests the Task's Axon gateway served (model, GitHub, other egress) as a
    /// table, or as JSON lines with -o json or --raw
    #[arg(long)]
    pub requests: bool,
}

#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Create a Workspace
    Workspace(CreateWorkspaceArgs),
    /// Create a secret (local credential store, or a Kubernetes Secret)
    Secret(CreateSecretArgs),
}

#[derive(Debug, Args)]
pub struct CreateWorkspaceArgs {
    /// Workspace name
    pub name: String,
    /// Git repository URL
    #[arg(long)]
    pub repo: String,
    /// Branch, tag or commit
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Secret with GITHUB_TOKEN
    #[arg(long)]
    pub secret: Option<String>,
    /// Print the Workspace instead of creating it
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CreateSecretArgs {
    /// Secret name
    pub name: String,
    /// KEY=VALUE (repeatable)
    #[arg(long = "from-literal", required = true)]
    pub literals: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Print the manifests instead of applying them
    #[arg(long)]
    pub dry_run: bool,
    /// Controller image
    #[arg(long)]
    pub image: Option<String>,
    /// Version tag of the images [default: this binary's version]
    #[arg(long)]
    pub version: Option<String>,
    /// Seconds to wait for the controller Deployment to be available (0: do not wait)
    #[arg(long, value_name = "SECONDS", default_value_t = axon_kube::install::DEFAULT_WAIT.as_secs())]
    pub wait_timeout: u64,
    /// Do not wait for the controller Deployment (same as --wait-timeout 0)
    #[arg(long, conflicts_with = "wait_timeout")]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Run the agent named by AXON_AGENT_TYPE on the prompt, in the current directory
    Run(AgentRunArgs),
    /// Collect a finished run's results from outside the agent's reach (the Kubernetes results container)
    Collect(AgentCollectArgs),
}

#[derive(Debug, Args)]
pub struct AgentCollectArgs {
    /// The work tree (no agent process may be left running in it)
    #[arg(long)]
    pub work: PathBuf,
    /// The agent side's results document: claims (usage, final answer), never git facts
    #[arg(long)]
    pub claims: Option<PathBuf>,
    /// File holding the agent entrypoint's exit code (a claim)
    #[arg(long)]
    pub exit_code_file: Option<PathBuf>,
    /// Directory where `axon workspace prepare --base-dir` recorded the base commit and branch
    #[arg(long)]
    pub base_dir: Option<PathBuf>,
    /// The Workspace's repository URL (never taken from the work tree's config)
    #[arg(long)]
    pub repo: Option<String>,
    /// File holding the GitHub token (to check the push and find pull requests)
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Where the results document goes (the termination message file)
    #[arg(long)]
    pub out: PathBuf,
    /// A custom agent image: its usage claims are never taken
    #[arg(long)]
    pub custom: bool,
    /// The Axon gateway the run went through (`http://host:port`): asked whether a model call
    /// was refused over the Task's budget (then the work tree is saved on the WIP branch)
    #[arg(long, requires = "gateway_token_file")]
    pub gateway_url: Option<String>,
    /// File holding the Task's gateway token (to ask the gateway)
    #[arg(long, requires = "gateway_url")]
    pub gateway_token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AgentRunArgs {
    /// Custom agent executable to run instead of the built-in CLI
    #[arg(long)]
    pub entrypoint: Option<PathBuf>,
    /// Read the prompt from this file (at most 10 MiB). Without it and without PROMPT, the file
    /// named by AXON_PROMPT_FILE is read
    #[arg(long, value_name = "PATH", conflicts_with = "prompt")]
    pub prompt_file: Option<PathBuf>,
    /// The prompt (an argument holds at most 128 KiB: prefer --prompt-file)
    pub prompt: Option<String>,
}

#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Address for /metrics, /healthz and /readyz
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_addr: String,
    /// Enable leader election (a Lease in the controller's namespace)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Route Tasks through the Axon gateway (agent Pods hold no Secret); false runs them with
    /// their Secrets in the Pod, for a cluster migrating to the gateway
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub gateway: bool,
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    // Whose Tasks it serves is the global `--backend`: `kubernetes` (the local backend runs a
    // gateway inside each Task's supervisor instead).
    /// Address to listen on (`host:port`)
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// Directory holding the gateway Secret's `token-key`, `ca.crt` and `ca.key`
    #[arg(long, default_value = "/var/run/axon/gateway")]
    pub secret_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct SpawnerArgs {
    /// TaskSpawner name
    #[arg(long)]
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Clone a repository into a work tree, write files, set up the credential helper
    Prepare(PrepareArgs),
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Repository URL
    #[arg(long)]
    pub repo: String,
    /// Branch, tag or commit
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Where the work tree goes
    #[arg(long)]
    pub dest: PathBuf,
    /// File holding the GitHub token (read by the credential helper, never copied)
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Directory of files to write into the work tree (relative paths preserved)
    #[arg(long)]
    pub files_dir: Option<PathBuf>,
    /// Mirror cache directory
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// The branch the Task works on: continued when the remote has it, else created
    #[arg(long)]
    pub branch: Option<String>,
    /// A shallow, single-branch clone of this many commits (not with --cache)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub depth: Option<u32>,
    /// An extra git remote of the work tree, `NAME=URL` (repeatable).
    #[arg(long = "remote", value_name = "NAME=URL")]
    pub remote: Vec<String>,
    /// Record the base commit and branch here, for `axon agent collect --base-dir`
    #[arg(long)]
    pub base_dir: Option<PathBuf>,
    /// Write the agent's AXON_BASE_BRANCH here (a file named after the variable), for the
    /// agent container to export
    #[arg(long)]
    pub env_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    fn agent_run(args: &[&str]) -> Result<AgentRunArgs, clap::Error> {
        let cli = Cli::try_parse_from(["axon", "agent", "run"].iter().chain(args))?;
        match cli.command {
            Command::Agent(AgentCommand::Run(a)) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn agent_run_takes_the_prompt_from_a_file_or_the_argument() {
        let a = agent_run(&["--prompt-file", "/config/prompt.md"]).expect("file");
        assert_eq!(a.prompt_file, Some(PathBuf::from("/config/prompt.md")));
        assert_eq!(a.prompt, None);
        let a = agent_run(&["--entrypoint", "/agent", "Fix it"]).expect("argument");
        assert_eq!(a.prompt.as_deref(), Some("Fix it"));
        // No prompt on the command line: the runner reads AXON_PROMPT_FILE.
        let a = agent_run(&[]).expect("nothing");
        assert_eq!((a.prompt, a.prompt_file), (None, None));
        assert!(agent_run(&["--prompt-file", "/p", "Fix it"]).is_err());
    }
}

/// Arguments of `axon serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Also receive GitHub webhooks at http://ADDR/webhooks/github (e.g. 127.0.0.1:8080; port 0
    /// picks a free one). Off by default; put a TLS-terminating proxy in front to expose it.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}
