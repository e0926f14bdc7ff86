//! `axon __local drop --uid U --gid G -- PROGRAM ARGS...`: become an unprivileged user, then
//! exec PROGRAM. The sandbox's outer bubblewrap (running as the caller, root included) runs
//! this before the inner bubblewrap, so that a root caller's agent is nobody outside its user
//! namespace: bubblewrap started by root would map the agent onto root itself.
//!
//! Supplementary groups are cleared, gid then uid are set (real, effective and saved), and
//! `no_new_privs` is set so nothing exec'd can gain privileges back (setuid binaries).

use std::ffi::CString;
use std::process::ExitCode;

/// Parse `--uid U --gid G -- PROGRAM ARGS...`, drop privileges and exec. Returns only on error.
pub fn drop_main(args: &[String]) -> ExitCode {
    match parse(args).and_then(|(uid, gid, argv)| drop_and_exec(uid, gid, &argv)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axon __local drop: {e}");
            ExitCode::from(126)
        }
    }
}

fn parse(args: &[String]) -> Result<(u32, u32, Vec<String>), String> {
    let sep = args
        .iter()
        .position(|a| a == "--")
        .ok_or("expected -- PROGRAM ARGS...")?;
    let (flags, rest) = (&args[..sep], &args[sep + 1..]);
    let value = |name: &str| -> Result<u32, String> {
        flags
            .iter()
            .position(|a| a == name)
            .and_then(|i| flags.get(i + 1))
            .ok_or(format!("{name} is required"))?
            .parse::<u32>()
            .map_err(|e| format!("{name}: {e}"))
    };
    let (uid, gid) = (value("--uid")?, value("--gid")?);
    if uid == 0 || gid == 0 {
        return Err("refusing to 'drop' to uid or gid 0".into());
    }
    if rest.is_empty() {
        return Err("no program to run".into());
    }
    Ok((uid, gid, rest.to_vec()))
}

fn drop_and_exec(uid: u32, gid: u32, argv: &[String]) -> Result<(), String> {
    let c_args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_str()).map_err(|_| format!("argument {a:?} holds a NUL byte")))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: plain syscalls on this process's credentials; each result is checked.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            return Err(format!(
                "setresgid {gid}: {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            return Err(format!(
                "setresuid {uid}: {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::getuid() != uid || libc::geteuid() != uid || libc::getegid() != gid {
            return Err("credentials did not change".into());
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: `ptrs` is a NULL-terminated array of pointers into `c_args`, alive here.
        libc::execvp(ptrs[0], ptrs.as_ptr());
    }
    Err(format!(
        "cannot run {}: {}",
        argv[0],
        std::io::Error::last_os_error()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_root() {
        let args: Vec<String> = ["--uid", "65534", "--gid", "65534", "--", "bwrap", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (uid, gid, argv) = parse(&args).expect("parse");
        assert_eq!((uid, gid), (65534, 65534));
        assert_eq!(argv, ["bwrap", "x"]);
        let root: Vec<String> = ["--uid", "0", "--gid", "0", "--", "sh"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(parse(&root).is_err());
        assert!(parse(&["--uid".to_string()]).is_err());
    }
}
