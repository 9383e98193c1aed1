//! The fleet view: `infernet tui --host A --host B …` attaches to the daemon on each box
//! through an ssh tunnel (`infernet::daemon::tunnel`), keeps each link up by itself (a box
//! that drops shows "reconnecting" and comes back), and shows one box's dashboard at a time
//! with every box listed in the Fleet panel. Intents go to the box on screen.
use infernet::daemon::tunnel::{Target, Tunnel, socket_dir};
use infernet::retry::Backoff;
use infernet_core::view::fleet::{Link, row};
use infernet_core::view::intent::{Intent, Update};
use infernet_core::view::model::{self as ui, BoxState, Level};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

struct Remote {
    link: Arc<Mutex<Link>>,
    model: watch::Receiver<Arc<ui::Model>>,
    intents: mpsc::Sender<Intent>,
}

fn set(link: &Mutex<Link>, f: impl FnOnce(&mut Link)) {
    if let Ok(mut l) = link.lock() {
        f(&mut l);
    }
}

/// Keeps an ssh tunnel to `t` open at `local`, reopening it with backoff when it drops.
async fn keep_tunnel(t: Target, local: std::path::PathBuf, link: Arc<Mutex<Link>>) {
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    let mut failures = 0;
    loop {
        match Tunnel::open(&t, &local).await {
            Ok(mut tunnel) => {
                failures = 0;
                tracing::info!(target_box = %t.name, "ssh tunnel open");
                let why = tunnel.closed().await;
                tracing::warn!(target_box = %t.name, reason = %why, "ssh tunnel closed");
                set(&link, |l| {
                    l.state = BoxState::Reconnecting;
                    l.last_error = Some(why);
                });
            }
            Err(e) => {
                tracing::warn!(target_box = %t.name, error = %e, "cannot open the ssh tunnel");
                set(&link, |l| {
                    if l.state == BoxState::Up {
                        l.state = BoxState::Reconnecting;
                    }
                    l.last_error = Some(e.to_string());
                });
            }
        }
        failures += 1;
        tokio::time::sleep(backoff.delay(failures)).await;
    }
}

/// Runs until the UI quits.
pub async fn drive(
    targets: Vec<Target>,
    refresh: Duration,
    model: watch::Sender<Arc<ui::Model>>,
    updates: mpsc::Sender<Update>,
    mut intents: mpsc::Receiver<Intent>,
) {
    let dir = match socket_dir() {
        Ok(d) => d,
        Err(e) => {
            let _ = updates
                .send(Update::Notice {
                    level: Level::Error,
                    text: format!("cannot make a directory for the ssh sockets: {e}"),
                })
                .await;
            return;
        }
    };
    let mut tasks = JoinSet::new();
    let mut boxes = Vec::new();
    let (box_updates_tx, mut box_updates) = mpsc::channel::<(usize, Update)>(256);
    let (changed_tx, mut changed) = mpsc::channel::<usize>(64);
    for (i, t) in targets.into_iter().enumerate() {
        let local = dir.join(format!("{i}.sock"));
        let link = Arc::new(Mutex::new(Link {
            name: t.name.clone(),
            ..Default::default()
        }));
        let (m_tx, m_rx) = watch::channel(Arc::new(ui::Model::default()));
        let (u_tx, mut u_rx) = mpsc::channel::<Update>(64);
        let (i_tx, i_rx) = mpsc::channel::<Intent>(16);
        tasks.spawn(keep_tunnel(t, local.clone(), link.clone()));
        tasks.spawn(super::attach::drive(local, refresh, m_tx, u_tx, i_rx));
        let fwd = box_updates_tx.clone();
        tasks.spawn(async move {
            while let Some(u) = u_rx.recv().await {
                if fwd.send((i, u)).await.is_err() {
                    return;
                }
            }
        });
        let (mut watch_rx, ch) = (m_rx.clone(), changed_tx.clone());
        tasks.spawn(async move {
            while watch_rx.changed().await.is_ok() {
                if ch.send(i).await.is_err() {
                    return;
                }
            }
        });
        boxes.push(Remote {
            link,
            model: m_rx,
            intents: i_tx,
        });
    }
    let mut selected = 0usize;
    let mut tick = tokio::time::interval(refresh.max(Duration::from_millis(250)));
    // A box that sent nothing for this long is not up, whatever its tunnel says.
    let stale_ms = (refresh.as_millis() as i64 * 4).max(4_000);
    loop {
        tokio::select! {
            i = changed.recv() => {
                let Some(i) = i else { return };
                if let Some(b) = boxes.get(i) {
                    set(&b.link, |l| {
                        l.state = BoxState::Up;
                        l.seen_ms = Some(infernet::clock::now_ms());
                    });
                }
            }
            _ = tick.tick() => {
                let now = infernet::clock::now_ms();
                for b in &boxes {
                    set(&b.link, |l| {
                        if l.state == BoxState::Up && l.seen_ms.is_some_and(|s| now - s > stale_ms) {
                            l.state = BoxState::Reconnecting;
                        }
                    });
                }
            }
            u = box_updates.recv() => {
                let Some((i, u)) = u else { return };
                if let (Update::Notice { level: Level::Error | Level::Warn, text }, Some(b)) = (&u, boxes.get(i)) {
                    set(&b.link, |l| l.last_error = Some(text.clone()));
                }
                if i == selected {
                    let _ = updates.send(u).await;
                }
            }
            intent = intents.recv() => match intent {
                None | Some(Intent::Quit) => return,
                Some(Intent::OpenBox { index }) if index < boxes.len() => selected = index,
                Some(Intent::OpenBox { .. }) => {}
                Some(other) => {
                    if let Some(b) = boxes.get(selected) {
                        let _ = b.intents.send(other).await;
                    }
                }
            },
        }
        publish(&boxes, selected, &model);
    }
}

/// The selected box's model with every box's row.
fn publish(boxes: &[Remote], selected: usize, model: &watch::Sender<Arc<ui::Model>>) {
    let rows = boxes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let link = b.link.lock().map(|l| l.clone()).unwrap_or_default();
            let m = b.model.borrow().clone();
            let sent = link.seen_ms.is_some();
            row(&link, sent.then_some(&*m), i == selected)
        })
        .collect();
    let mut m = boxes
        .get(selected)
        .map(|b| (**b.model.borrow()).clone())
        .unwrap_or_default();
    m.fleet = rows;
    model.send_replace(Arc::new(m));
}
