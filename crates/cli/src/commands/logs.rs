//! `axon logs TASK [-f] [--raw]`: the agent's stream, rendered for people unless `--raw`.

use crate::args::{GlobalArgs, LogsArgs};
use crate::backend;
use crate::error::CliError;
use crate::settings;
use axon_agent::LogRenderer;
use axon_api::Kind;
use axon_api::loader::Resource;
use std::io::Write;
use std::process::ExitCode;

/// Turns raw log bytes into rendered lines as they arrive.
struct RenderingWriter<W: Write> {
    renderer: LogRenderer,
    buffer: Vec<u8>,
    out: W,
}

impl<W: Write> RenderingWriter<W> {
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

pub async fn run(global: &GlobalArgs, args: &LogsArgs) -> Result<ExitCode, CliError> {
    let name = task_name(&args.task)?;
    let settings = settings::resolve(global)?;
    let backend = backend::open(&settings, global).await?;
    let Some(Resource::Task(task)) = backend.get(Kind::Task, &name).await? else {
        return Err(CliError::NotFound("Task", name));
    };
    let mut writer = RenderingWriter {
        renderer: LogRenderer::new(task.spec.type_, args.raw),
        buffer: Vec::new(),
        out: std::io::stdout(),
    };
    backend
        .logs(&name, args.follow, &mut writer, &mut |m| {
            eprintln!("axon logs: {m}")
        })
        .await?;
    writer
        .finish()
        .map_err(CliError::io("cannot write to standard output"))?;
    Ok(ExitCode::SUCCESS)
}
