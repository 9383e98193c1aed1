//! The terminal loop: raw mode + alternate screen, events in, coalesced redraws out. The
//! terminal is restored on every exit path: normal quit, panic, SIGTERM/SIGHUP, and around
//! Ctrl-Z suspension.
use crate::app::{App, Msg};
use crate::intent::{Intent, Update};
use crate::model::{Level, Model};
use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyCode, KeyEventKind,
    KeyModifiers,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The shortest time between two frames (about 60 per second at most).
const FRAME: std::time::Duration = std::time::Duration::from_millis(16);

pub struct Channels {
    pub model: watch::Receiver<Arc<Model>>,
    pub updates: mpsc::Receiver<Update>,
    pub intents: mpsc::Sender<Intent>,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub mouse: bool,
}

fn enter(mouse: bool) -> io::Result<()> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)?;
    if mouse {
        execute!(io::stdout(), EnableMouseCapture)?;
    }
    Ok(())
}

/// Leaves raw mode and the alternate screen; safe to call more than once.
pub fn restore() {
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
}

/// A panic anywhere restores the terminal before the message is printed.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

#[cfg(unix)]
fn suspend(mouse: bool, term: &mut Terminal<CrosstermBackend<Stdout>>) -> io::Result<()> {
    restore();
    // SAFETY: raising a signal on our own process; SIGTSTP stops it until SIGCONT.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    enter(mouse)?;
    term.clear()
}

pub async fn run(app: App, mut ch: Channels, opts: Options) -> io::Result<()> {
    install_panic_hook();
    enter(opts.mouse)?;
    let _guard = Guard;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let result = event_loop(app, &mut term, &mut ch, opts).await;
    // Every way out (q, Ctrl-C, SIGTERM/SIGHUP, a lost terminal) tells the node to stop; the
    // guard restores the terminal.
    let _ = ch.intents.try_send(Intent::Quit);
    // ratatui's Drop prints (and `eprintln!` panics) when the cursor cannot be shown, which is
    // the case when the terminal is gone (an SSH session dropped): then skip that Drop.
    if term.show_cursor().is_err() {
        std::mem::forget(term);
    }
    result
}

async fn event_loop(
    mut app: App,
    term: &mut Terminal<CrosstermBackend<Stdout>>,
    ch: &mut Channels,
    opts: Options,
) -> io::Result<()> {
    term.clear()?;
    let size = term.size()?;
    app.update(Msg::Resize(size.width, size.height));
    app.update(Msg::Model(ch.model.borrow_and_update().clone()));
    let mut events = EventStream::new();
    #[cfg(unix)]
    let mut term_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut hup_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut model_open = true;
    let mut dirty = true;
    let mut next_frame = tokio::time::Instant::now();
    loop {
        // Coalesced redraws: whatever arrived since the last frame is drawn once, at most
        // once per FRAME.
        if dirty && tokio::time::Instant::now() >= next_frame {
            term.draw(|f| crate::draw::draw(&app, f))?;
            dirty = false;
            next_frame = tokio::time::Instant::now() + FRAME;
        }
        if app.quit {
            break;
        }
        let mut msgs: Vec<Msg> = Vec::new();
        // The event stream is only ever polled here, with this task's waker: polling it from
        // elsewhere (e.g. `now_or_never`) leaves crossterm's wake-up thread holding a waker
        // that wakes nobody, and keys then wait for the next model update.
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => msgs.extend(to_msg(ev)),
                Some(Err(e)) => return Err(e),
                None => break,
            },
            r = ch.model.changed(), if model_open => match r {
                Ok(()) => msgs.push(Msg::Model(ch.model.borrow_and_update().clone())),
                Err(_) => model_open = false,
            },
            Some(u) = ch.updates.recv() => msgs.push(Msg::Update(u)),
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
            _ = term_sig.recv() => break,
            _ = hup_sig.recv() => break,
        }
        while let Ok(u) = ch.updates.try_recv() {
            msgs.push(Msg::Update(u));
        }
        for m in msgs {
            if let Msg::Key(k) = &m
                && k.kind != KeyEventKind::Release
                && k.code == KeyCode::Char('z')
                && k.modifiers.contains(KeyModifiers::CONTROL)
            {
                #[cfg(unix)]
                suspend(opts.mouse, term)?;
                dirty = true;
                continue;
            }
            for intent in app.update(m) {
                if ch.intents.try_send(intent).is_err() {
                    app.update(Msg::Update(Update::Notice {
                        level: Level::Warn,
                        text: "the node is busy; try again in a moment".into(),
                    }));
                }
            }
            dirty = true;
        }
    }
    Ok(())
}

fn to_msg(ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Mouse(m) => Some(Msg::Mouse(m)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}
