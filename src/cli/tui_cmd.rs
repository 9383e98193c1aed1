//! `infernet tui`: the operator's dashboard, chat pane and first-run wizard; attaches to the
//! background daemon when one runs.
use clap::Args;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Theme: dark, light, high-contrast, ansi16, or a user theme in <config dir>/themes/NAME.toml
    #[arg(long)]
    pub theme: Option<String>,
    /// Print every theme slot, its purpose and the built-in values, then exit
    #[arg(long)]
    pub print_theme_slots: bool,
    /// With no config file: run on the built-in defaults instead of opening the setup wizard
    #[arg(long)]
    pub defaults: bool,
    /// Open the setup wizard even when a config exists (it updates that file)
    #[arg(long, conflicts_with = "defaults")]
    pub setup: bool,
    /// Leave the mouse to the terminal (text selection); keys still do everything
    #[arg(long)]
    pub no_mouse: bool,
    /// Host the node in this process even when a background daemon runs (by default the
    /// dashboard attaches to it)
    #[arg(long)]
    pub in_process: bool,
    /// Milliseconds between screen updates (100 to 60000; `r` refreshes at once). Slower
    /// means less traffic when attached over a slow link
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub refresh: u64,
    /// Watch the daemon on this box over ssh (repeatable): [user@]host, or
    /// [user@]host:/path/to/daemon.sock when its config dir is not the default
    #[arg(long = "host", value_name = "BOX")]
    pub hosts: Vec<String>,
    /// Watch the boxes listed in ui.fleet of config.json (and any --host)
    #[arg(long)]
    pub fleet: bool,
}

pub fn run(flag: Option<&Path>, args: TuiArgs) -> ExitCode {
    if args.print_theme_slots {
        out!("{}", infernet_ui::theme::Theme::slot_table());
        return ExitCode::SUCCESS;
    }
    crate::tui::run(
        flag,
        crate::tui::Options {
            theme: args.theme,
            defaults: args.defaults,
            setup: args.setup,
            no_mouse: args.no_mouse,
            in_process: args.in_process,
            refresh: std::time::Duration::from_millis(args.refresh),
            hosts: args.hosts,
            fleet: args.fleet,
        },
    )
}
