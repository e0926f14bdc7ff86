//! `axon logs TASK [-f] [--raw]`: the agent's stream, rendered for people unless `--raw`.
//! Following also prints the Task's spend whenever its status says it changed (the gateway's
//! measure, polled from status — never read from the agent's own stream, which it could
//! forge). `axon logs TASK --requests [-f] [-o json|--raw]`: the requests its gateway served.

use crate::args::{GlobalArgs, LogsArgs, OutputFormat};
use crate::backend;
use crate::error::CliError;
use crate::request_log::{RequestFormat, RequestWriter};
use crate::settings;
use crate::spend;
use axon_agent::LogRenderer;
use axon_api::Kind;
use axon_api::loader::Resource;
use axon_port::Backend;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

/// How often `logs -f` reads the Task's status for its spend.
const SPEND_POLL: Duration = Duration::from_secs(1);

/// Turns raw log bytes into rendered lines as they arrive.
struct RenderingWriter<W: Write> {
    renderer: LogRenderer,
    buffer: Vec<u8>,
    out: W,
}

impl<W: Write> RenderingWriter<W> {
    /// A line of Axon's own, between two lines of the log.
    fn axon_line(&mut self, line: &str) -> std::io::Result<()> {
        writeln!(self.out, "{line}")?;
        self.out.flush()
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            let line = String::from_utf8_lossy(&self.buffer).into_owned();
            self.buffer.clear();
            self.renderer.render_line(&line, &mut self.out)?;
        }
        self.renderer.finish(&mut self.out)?;
        self.out.flush()
    }
}

impl<W: Write> Write for RenderingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        while let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            self.renderer.render_line(&text, &mut self.out)?;
        }
        self.out.flush()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The Task's name: `NAME` or `task/NAME` (the form `-o name` prints).
fn task_name(arg: &str) -> Result<String, CliError> {
    if !arg.contains('/') {
        return Ok(arg.to_string());
    }
    match axon_api::kind::parse_kind_name(arg).map_err(CliError::Usage)? {
        (Kind::Task, Some(name)) => Ok(name),
        (kind, _) => Err(CliError::Usage(format!(
            "{arg:?} names a {kind}: only Tasks have logs (task/NAME)"
        ))),
    }
}

/// One writer, shared by the log and the spend lines printed between its lines.
struct Locked<'a, W: Write>(&'a Mutex<RenderingWriter<W>>);

impl<W: Write> Write for Locked<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// How `--requests` prints: a table, or JSON lines for `-o json` / `--raw`.
fn request_format(output: Option<OutputFormat>, raw: bool) -> Result<RequestFormat, CliError> {
    match (output, raw) {
        (Some(OutputFormat::Json), _) | (None, true) => Ok(RequestFormat::JsonLines),
        (None | Some(OutputFormat::Wide), false) => Ok(RequestFormat::Table),
        (Some(other), _) => Err(CliError::Usage(format!(
            "axon logs --requests prints a table, or JSON lines with -o json or --raw (not -o {})",
            format!("{other:?}").to_lowercase()
        ))),
    }
}

pub async fn run(global: &GlobalArgs, args: &LogsArgs) -> Result<ExitCode, CliError> {
    let name = task_name(&args.task)?;
    let requests = args
        .requests
        .then(|| request_format(global.output, args.raw))
        .transpose()?;
    let settings = settings::resolve(global)?;
    let backend = backend::open(&settings, global).await?;
    let Some(Resource::Task(task)) = backend.get(Kind::Task, &name).await? else {
        return Err(CliError::NotFound("Task", name));
    };
    if let Some(format) = requests {
        return print_requests(&*backend, &name, args.follow, format).await;
    }
    let writer = Mutex::new(RenderingWriter {
        renderer: LogRenderer::new(task.spec.type_, args.raw),
        buffer: Vec::new(),
        out: std::io::stdout(),
    });
    let mut notice = |m: &str| eprintln!("axon logs: {m}");
    let mut shown: Option<String> = None;
    {
        let mut out = Locked(&writer);
        let logs = backend.logs(&name, args.follow, &mut out, &mut notice);
        if args.follow {
            let spend = follow_spend(&*backend, &name, &writer, args.raw, &mut shown);
            tokio::select! {
                biased;
                done = logs => done?,
                never = spend => match never {},
            }
        } else {
            logs.await?;
        }
    }
    let mut writer = writer.into_inner().unwrap_or_else(|p| p.into_inner());
    writer
        .finish()
        .map_err(CliError::io("cannot write to standard output"))?;
    if args.follow {
        // The final figures, after the last line of the log.
        let writer = Mutex::new(writer);
        show_spend(&*backend, &name, &writer, args.raw, &mut shown).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Print the Task's spend each time its status shows a change, until dropped.
async fn follow_spend<W: Write>(
    backend: &dyn Backend,
    name: &str,
    writer: &Mutex<RenderingWriter<W>>,
    raw: bool,
    shown: &mut Option<String>,
) -> std::convert::Infallible {
    loop {
        show_spend(backend, name, writer, raw, shown).await;
        tokio::time::sleep(SPEND_POLL).await;
    }
}

/// Print the Task's spend line when it differs from the one `shown` last: between the log's
/// lines, or on standard error with `--raw` (standard output is then the agent's stream
/// alone). A status that cannot be read now is skipped: the log's own reading reports a
/// backend that fails.
async fn show_spend<W: Write>(
    backend: &dyn Backend,
    name: &str,
    writer: &Mutex<RenderingWriter<W>>,
    raw: bool,
    shown: &mut Option<String>,
) {
    let Ok(Some(Resource::Task(task))) = backend.get(Kind::Task, name).await else {
        return;
    };
    let Some(usage) = task.status.as_ref().and_then(|s| s.usage.as_ref()) else {
        return;
    };
    let Some(line) = spend::spend_line(usage) else {
        return;
    };
    if shown.as_deref() == Some(line.as_str()) {
        return;
    }
    if raw {
        eprintln!("{line}");
    } else {
        // A write that fails here fails the log's next write too, which reports it.
        let _ = writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .axon_line(&line);
    }
    *shown = Some(line);
}

/// `--requests`: the gateway's records of Task `name`, as a table or JSON lines.
async fn print_requests(
    backend: &dyn Backend,
    name: &str,
    follow: bool,
    format: RequestFormat,
) -> Result<ExitCode, CliError> {
    let mut writer = RequestWriter::new(format, follow, std::io::stdout());
    backend
        .requests(name, follow, &mut writer, &mut |m| {
            eprintln!("axon logs: {m}")
        })
        .await?;
    writer
        .finish()
        .map_err(CliError::io("cannot write to standard output"))?;
    if writer.unreadable > 0 {
        eprintln!(
            "axon logs: {} line(s) of the request log are not request records and were skipped",
            writer.unreadable
        );
    }
    if writer.shown == 0 && !follow {
        eprintln!(
            "No requests recorded for Task {name}: its gateway records each request the agent makes once it runs."
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_print_as_a_table_or_json_lines() {
        assert_eq!(request_format(None, false).ok(), Some(RequestFormat::Table));
        assert_eq!(
            request_format(Some(OutputFormat::Wide), false).ok(),
            Some(RequestFormat::Table)
        );
        assert_eq!(
            request_format(None, true).ok(),
            Some(RequestFormat::JsonLines)
        );
        assert_eq!(
            request_format(Some(OutputFormat::Json), false).ok(),
            Some(RequestFormat::JsonLines)
        );
        let err = request_format(Some(OutputFormat::Yaml), false).expect_err("yaml");
        assert!(err.to_string().contains("-o json or --raw"), "{err}");
    }
}
