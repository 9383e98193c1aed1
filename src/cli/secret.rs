//! `infernet secret set|list|remove`: secrets such as backend API keys, in the OS keyring or,
//! where none answers, a 0600 file (and the command says which).
use clap::Subcommand;
use infernet::config::{Secret, config_dir};
use infernet::identity::Secrets;
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a secret; the value is read from stdin (or asked for, hidden, on a terminal)
    Set { name: String },
    /// Names of the secrets in the fallback file (keyring entries cannot be listed)
    List,
    /// Delete a secret from the keyring and the file
    #[command(visible_alias = "rm")]
    Remove { name: String },
}

fn store() -> Secrets {
    let env = |k: &str| std::env::var(k).ok();
    Secrets::new(&config_dir(&env).unwrap_or_else(|| std::path::PathBuf::from(".")))
}

pub fn run(cmd: SecretCommand) -> ExitCode {
    let s = store();
    match cmd {
        SecretCommand::Set { name } => {
            let value = if std::io::stdin().is_terminal() {
                match inquire::Password::new(&format!("value for '{name}':"))
                    .without_confirmation()
                    .prompt()
                {
                    Ok(v) => v,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                let mut v = String::new();
                if let Err(e) = std::io::stdin().read_to_string(&mut v) {
                    eprintln!("error: cannot read the value from stdin: {e}");
                    return ExitCode::from(2);
                }
                v.trim_end_matches(['\n', '\r']).to_string()
            };
            if value.is_empty() {
                eprintln!(
                    "error: empty value; pipe it in: printf %s \"$KEY\" | infernet secret set {name}"
                );
                return ExitCode::from(2);
            }
            match s.set(&name, &Secret::new(value)) {
                Ok(loc) => {
                    outln!("stored '{name}' in {loc}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        SecretCommand::List => match s.file_names() {
            Ok(names) => {
                for n in names {
                    outln!("{n}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        SecretCommand::Remove { name } => match s.remove(&name) {
            Ok(true) => {
                outln!("removed '{name}'");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("error: no secret '{name}'");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
