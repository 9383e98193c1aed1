//! The workflow containers step and the config step, which writes every answer collected so
//! far through `infernet::setup::apply`.
use super::{Cancelled, Ctx, Flow, raw};
use infernet::config;
use infernet::identity::Secrets;
use infernet::setup::upsert;
use serde_json::{Value, json};
use std::process::ExitCode;

/// `ID,IMAGE,PORT` as a container entry.
fn parse_container(s: &str) -> Result<Value, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [id, image, port] if !id.is_empty() && !image.is_empty() => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("--container {s}: PORT must be a number"))?;
            Ok(json!({"id": id, "image": image, "port": port}))
        }
        _ => Err(format!(
            "--container {s}: expected ID,IMAGE,PORT (e.g. echo,infernet-echo:latest,3000)"
        )),
    }
}

pub(super) fn containers(c: &mut Ctx<'_>) -> Result<Flow, Cancelled> {
    let mut containers: Vec<Value> = c.current["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for s in &c.args.containers {
        match parse_container(s) {
            Ok(v) => upsert(&mut containers, v),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Flow::Stop(ExitCode::from(2)));
            }
        }
    }
    if c.ask.interactive {
        while c.ask.confirm(
            if containers.is_empty() {
                "Add a workflow container?"
            } else {
                "Add another workflow container?"
            },
            false,
        )? {
            let id = c.ask.text("Container id (jobs name it):", "")?;
            let image = c.ask.text("Docker image:", "")?;
            let port = c.ask.text("Port it listens on:", "3000")?;
            match parse_container(&format!("{id},{image},{port}")) {
                Ok(v) => upsert(&mut containers, v),
                Err(e) => outln!("  {e}"),
            }
        }
    }
    if containers.is_empty() {
        outln!("  none (add some with --container ID,IMAGE,PORT)");
    }
    for e in &containers {
        outln!(
            "  {} — {} on port {}",
            e["id"].as_str().unwrap_or("?"),
            e["image"].as_str().unwrap_or("?"),
            e["port"]
        );
    }
    // Written when there is something to say: a fresh file without containers stays small.
    if !c.args.containers.is_empty()
        || c.current.get("containers").is_some()
        || !containers.is_empty()
    {
        c.answers.containers = Some(containers);
    }
    Ok(Flow::Next)
}

pub(super) fn config(c: &mut Ctx<'_>) -> Result<Flow, Cancelled> {
    let current_cp = c
        .current
        .pointer("/control_plane/url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    c.answers.control_plane_url = match &c.args.control_plane {
        Some(u) if u == "none" => Some(String::new()),
        Some(u) => Some(u.clone()),
        None if c.ask.interactive => {
            let u = c.ask.text(
                "Control plane URL (routes chat jobs to this node; empty for none)",
                &current_cp,
            )?;
            (u != current_cp).then_some(u)
        }
        None => {
            if current_cp.is_empty() {
                c.needs
                    .push("--control-plane URL: join a control plane (none set)".into());
            }
            None
        }
    };
    c.answers.port = c.args.port;
    c.answers.node_name = c.args.name.clone();
    let done = match infernet::setup::apply(c.path, &Secrets::new(&c.secrets_dir), &c.answers) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Flow::Stop(ExitCode::FAILURE));
        }
    };
    for line in &done.report {
        outln!("  {line}");
    }
    match config::load(Some(c.path), &Default::default()) {
        Ok(l) => {
            outln!(
                "  {} {} ({} keys set; other keys kept)",
                if done.created { "wrote" } else { "updated" },
                c.path.display(),
                done.keys
            );
            for w in l.warnings {
                outln!("  warning: {w}");
            }
        }
        Err(e) => {
            eprintln!("error: the written config does not load: {e}");
            return Ok(Flow::Stop(ExitCode::FAILURE));
        }
    }
    c.current = raw(c.path);
    Ok(Flow::Next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_flags_parse_or_say_what_is_expected() {
        assert_eq!(
            parse_container("echo, img:1 ,3000").unwrap(),
            json!({"id": "echo", "image": "img:1", "port": 3000})
        );
        assert!(
            parse_container("echo,img,http")
                .unwrap_err()
                .contains("PORT must be a number")
        );
        assert!(
            parse_container("echo,img")
                .unwrap_err()
                .contains("expected ID,IMAGE,PORT")
        );
    }
}
