//! The systemd user unit for `infernet service`: the daemon in the foreground under systemd
//! (journal for logs, restart on failure, enough stop time to drain jobs).
use std::path::{Path, PathBuf};

pub const UNIT_NAME: &str = "infernet.service";

/// `~/.config/systemd/user/infernet.service` (honours XDG_CONFIG_HOME).
pub fn unit_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_CONFIG_HOME")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("systemd").join("user").join(UNIT_NAME))
}

/// systemd needs absolute paths and quotes arguments with spaces.
fn quote(s: &str) -> String {
    if s.chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s.to_string()
    }
}

/// The unit text. `config` is the absolute config path (None: the usual search),
/// `xdg` the XDG_CONFIG_HOME to pass on when the operator set one.
pub fn render(exe: &Path, config: Option<&Path>, xdg: Option<&str>) -> String {
    let mut exec = quote(&exe.display().to_string());
    if let Some(c) = config {
        exec.push_str(" --config ");
        exec.push_str(&quote(&c.display().to_string()));
    }
    exec.push_str(" start --foreground");
    let mut env = String::new();
    if let Some(x) = xdg {
        env.push_str(&format!(
            "Environment={}\n",
            quote(&format!("XDG_CONFIG_HOME={x}"))
        ));
    }
    format!(
        "# Written by `infernet service install`; `infernet service uninstall` removes it.\n\
         [Unit]\n\
         Description=Infernet compute node\n\
         After=network-online.target docker.service\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={exec}\n\
         {env}\
         Restart=on-failure\n\
         RestartSec=10\n\
         # Room to let running jobs finish and stop the workflow containers.\n\
         TimeoutStopSec=120\n\
         KillSignal=SIGTERM\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_runs_the_foreground_daemon_with_the_config() {
        let u = render(
            Path::new("/home/op/.local/bin/infernet"),
            Some(Path::new("/home/op/my configs/config.json")),
            Some("/home/op/.cfg"),
        );
        assert!(u.contains(
            "ExecStart=/home/op/.local/bin/infernet --config \"/home/op/my configs/config.json\" start --foreground\n"
        ), "{u}");
        assert!(
            u.contains("Environment=XDG_CONFIG_HOME=/home/op/.cfg\n"),
            "{u}"
        );
        assert!(u.contains("Restart=on-failure\n"));
        assert!(u.contains("WantedBy=default.target\n"));
        let plain = render(Path::new("/usr/bin/infernet"), None, None);
        assert!(plain.contains("ExecStart=/usr/bin/infernet start --foreground\n"));
        assert!(!plain.contains("Environment="));
        let env = |k: &str| (k == "HOME").then(|| "/home/op".to_string());
        assert_eq!(
            unit_path(&env).unwrap(),
            PathBuf::from("/home/op/.config/systemd/user/infernet.service")
        );
    }
}
