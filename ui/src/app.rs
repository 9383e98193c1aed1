//! The app: UI state, `update` (keys, mouse, model and facts in; intents out) and the
//! layout both `draw` and mouse hit-testing use. Nothing here awaits or touches the engine.
use crate::chat::ChatState;
use crate::input::{Edit, Input};
use crate::intent::{Intent, Update};
use crate::keymap::{Action, Keymap, Scope};
use crate::list::ListState;
use crate::model::{ChainView, JobDetail, JobRow, Level, LogLine, Model, SubscriptionRow};
use crate::theme::Theme;
use crate::wizard::WizardState;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use infernet_core::view::why::Subject;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    System,
    Containers,
    Jobs,
    Subscriptions,
    Peers,
    Logs,
    Chat,
    Metrics,
    Fleet,
}

impl Panel {
    pub fn title(self) -> &'static str {
        match self {
            Panel::System => "System & GPU",
            Panel::Containers => "Containers & backends",
            Panel::Jobs => "Jobs",
            Panel::Subscriptions => "Subscriptions",
            Panel::Peers => "Peers",
            Panel::Logs => "Logs",
            Panel::Chat => "Chat",
            Panel::Metrics => "Metrics",
            Panel::Fleet => "Fleet",
        }
    }

    fn scope(self) -> Scope {
        match self {
            Panel::Jobs => Scope::Jobs,
            Panel::Containers => Scope::Containers,
            Panel::Logs => Scope::Logs,
            Panel::Chat => Scope::Chat,
            _ => Scope::List,
        }
    }
}

/// Panels of the dashboard, in focus order.
pub const DASHBOARD: [Panel; 5] = [
    Panel::System,
    Panel::Containers,
    Panel::Jobs,
    Panel::Subscriptions,
    Panel::Logs,
];

/// Full-screen views, in tab order (after the dashboard).
pub const TABS: [Panel; 7] = [
    Panel::Jobs,
    Panel::Subscriptions,
    Panel::Containers,
    Panel::Peers,
    Panel::Logs,
    Panel::Chat,
    Panel::Metrics,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Dashboard,
    Full(Panel),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Model(Arc<Model>),
    Update(Update),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetailState {
    /// What the overlay explains; it is rebuilt from the live model every frame.
    pub subject: Subject,
    /// A job's stored input and outputs, once loaded (`Intent::LoadJob`).
    pub detail: Option<JobDetail>,
    pub scroll: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogsState {
    pub list: ListState,
    pub min_level: Level,
    pub follow: bool,
}

/// Where everything goes on screen; pure, shared by draw and mouse handling.
#[derive(Debug, Clone, PartialEq)]
pub struct Areas {
    pub header: Rect,
    pub tabs: Rect,
    pub panels: Vec<(Panel, Rect)>,
    pub footer: Rect,
}

pub struct App {
    pub model: Arc<Model>,
    pub theme: Theme,
    pub keymap: Keymap,
    pub view: View,
    pub focus: Panel,
    pub help: bool,
    /// The first-run card: `None` until the model says where the config came from, then
    /// shown (`Some(true)`) on the built-in defaults until a key closes it.
    pub welcome: Option<bool>,
    pub jobs: ListState,
    pub subs: ListState,
    pub containers: ListState,
    pub peers: ListState,
    pub logs: LogsState,
    pub chat: ChatState,
    pub detail: Option<DetailState>,
    pub notice: Option<(Level, String)>,
    /// Dashboard row weights (system+containers, jobs(+subs), logs(+subs)).
    pub weights: [u16; 3],
    pub filter: Option<Input>,
    pub size: (u16, u16),
    pub wizard: Option<WizardState>,
    pub quit: bool,
    /// The history window the Metrics plots show.
    pub window: infernet_core::history::Window,
    /// The Fleet panel's selection.
    pub fleet: ListState,
}

impl App {
    pub fn new(theme: Theme, keymap: Keymap) -> Self {
        App {
            model: Arc::new(Model::default()),
            theme,
            keymap,
            view: View::Dashboard,
            focus: Panel::Jobs,
            help: false,
            welcome: None,
            jobs: ListState::default(),
            subs: ListState::default(),
            containers: ListState::default(),
            peers: ListState::default(),
            logs: LogsState {
                list: ListState::default(),
                min_level: Level::Info,
                follow: true,
            },
            chat: ChatState::default(),
            detail: None,
            notice: None,
            weights: [3, 4, 3],
            filter: None,
            size: (80, 24),
            wizard: None,
            quit: false,
            window: infernet_core::history::Window::default(),
            fleet: ListState::default(),
        }
    }

    pub fn with_wizard(mut self, w: WizardState) -> Self {
        self.wizard = Some(w);
        self
    }

    /// The panel keys go to.
    pub fn active(&self) -> Panel {
        match self.view {
            View::Full(p) => p,
            View::Dashboard => self.focus,
        }
    }

    pub fn job_rows(&self) -> Vec<&JobRow> {
        let f = &self.jobs;
        self.model
            .jobs
            .rows
            .iter()
            .filter(|j| {
                f.filter.is_empty()
                    || f.matches(&j.id)
                    || f.matches(j.state.label())
                    || f.matches(&j.source)
                    || j.containers.iter().any(|c| f.matches(c))
            })
            .collect()
    }

    /// Opens the detail overlay on `subject`.
    fn open(&mut self, subject: Subject) {
        self.detail = Some(DetailState {
            subject,
            detail: None,
            scroll: 0,
        });
    }

    /// The Containers panel's selected row: containers first, then backends.
    pub fn container_subject(&self) -> Option<Subject> {
        let m = &self.model;
        let sel = self.containers.selected;
        match m.containers.get(sel) {
            Some(c) => Some(Subject::Container(c.id.clone())),
            None => m
                .backends
                .rows
                .get(sel - m.containers.len())
                .map(|b| Subject::Backend(b.id.clone())),
        }
    }

    pub fn sub_rows(&self) -> Vec<&SubscriptionRow> {
        let ChainView::Enabled(c) = &self.model.chain else {
            return Vec::new();
        };
        let f = &self.subs;
        c.subscriptions
            .iter()
            .filter(|s| {
                f.filter.is_empty()
                    || f.matches(&s.id.to_string())
                    || f.matches(&s.owner)
                    || f.matches(&s.status)
                    || s.containers.iter().any(|c| f.matches(c))
                    || s.reason.as_deref().is_some_and(|r| f.matches(r))
            })
            .collect()
    }

    pub fn log_rows(&self) -> Vec<&LogLine> {
        let st = &self.logs;
        self.model
            .logs
            .iter()
            .filter(|l| {
                l.level >= st.min_level && (st.list.matches(&l.text) || st.list.matches(&l.target))
            })
            .collect()
    }

    /// Rows of the containers panel: containers first, then backends.
    pub fn container_len(&self) -> usize {
        self.model.containers.len() + self.model.backends.rows.len()
    }

    fn peer_len(&self) -> usize {
        match &self.model.peers {
            crate::model::PeersView::Connected(c) => c.peers.len(),
            _ => 0,
        }
    }

    fn list_mut(&mut self, p: Panel) -> Option<(&mut ListState, usize)> {
        let len = match p {
            Panel::Jobs => self.job_rows().len(),
            Panel::Subscriptions => self.sub_rows().len(),
            Panel::Containers => self.container_len(),
            Panel::Peers => self.peer_len(),
            Panel::Logs => self.log_rows().len(),
            Panel::Fleet => self.model.fleet.len(),
            _ => return None,
        };
        let l = match p {
            Panel::Jobs => &mut self.jobs,
            Panel::Subscriptions => &mut self.subs,
            Panel::Containers => &mut self.containers,
            Panel::Peers => &mut self.peers,
            Panel::Logs => &mut self.logs.list,
            Panel::Fleet => &mut self.fleet,
            _ => return None,
        };
        Some((l, len))
    }

    pub fn areas(&self, area: Rect) -> Areas {
        let [header, tabs, body, footer] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        let panels = match self.view {
            View::Full(p) => vec![(p, body)],
            View::Dashboard => dashboard(body, self.weights),
        };
        Areas {
            header,
            tabs,
            panels,
            footer,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Intent> {
        match msg {
            Msg::Key(k) => self.key(k).into_iter().collect(),
            Msg::Mouse(m) => {
                self.mouse(m);
                Vec::new()
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                Vec::new()
            }
            Msg::Model(m) => {
                self.model = m;
                self.after_model();
                Vec::new()
            }
            Msg::Update(u) => {
                self.on_update(u);
                Vec::new()
            }
        }
    }

    fn after_model(&mut self) {
        if self.welcome.is_none() && !self.model.header.config_source.is_empty() {
            self.welcome =
                Some(self.model.header.config_source == crate::panels::welcome::DEFAULTS_SOURCE);
        }
        let (j, s, c, l) = (
            self.job_rows().len(),
            self.sub_rows().len(),
            self.container_len(),
            self.log_rows().len(),
        );
        self.jobs.clamp(j);
        self.subs.clamp(s);
        self.containers.clamp(c);
        if self.logs.follow {
            self.logs.list.bottom(l);
        } else {
            self.logs.list.clamp(l);
        }
    }

    fn on_update(&mut self, u: Update) {
        match u {
            Update::Chat { chat, turn, event } => self.chat.update(chat, turn, event),
            Update::JobDetail(d) => {
                if let Some(st) = self
                    .detail
                    .as_mut()
                    .filter(|s| s.subject == Subject::Job(d.id.clone()))
                {
                    st.detail = Some(*d);
                }
            }
            Update::Notice { level, text } => self.notice = Some((level, text)),
            Update::Quit => self.quit = true,
            Update::Detected(d) => {
                if let Some(w) = self.wizard.as_mut() {
                    w.set_detected(d);
                }
            }
            Update::WizardResult(Ok(path)) => {
                self.wizard = None;
                self.notice = Some((
                    Level::Info,
                    format!("config written to {path}; node started"),
                ));
            }
            Update::WizardResult(Err(e)) => {
                if let Some(w) = self.wizard.as_mut() {
                    w.busy = false;
                    w.error = Some(e);
                }
            }
        }
    }

    fn key(&mut self, k: KeyEvent) -> Option<Intent> {
        if k.kind == crossterm::event::KeyEventKind::Release {
            return None;
        }
        if let Some(w) = self.wizard.as_mut() {
            let i = w.key(&k);
            if i == Some(Intent::Quit) {
                self.quit = true;
            }
            return i;
        }
        if self.help {
            self.help = false;
            return None;
        }
        if self.welcome == Some(true) {
            // Any key closes the card; a key that means something also does its job.
            self.welcome = Some(false);
            if matches!(k.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char(' ')) {
                return None;
            }
        }
        let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            self.quit = true;
            return Some(Intent::Quit);
        }
        if let Some(input) = self.filter.as_mut() {
            let edit = input.handle(&k);
            let text = input.text.clone();
            match edit {
                Edit::Submit => self.filter = None,
                Edit::Cancel => {
                    self.filter = None;
                    self.set_filter(String::new());
                }
                _ => self.set_filter(text),
            }
            return None;
        }
        if self.active() == Panel::Chat && self.chat.input_focused {
            match k.code {
                KeyCode::F(1) => self.help = true,
                KeyCode::Tab | KeyCode::BackTab => {
                    self.chat.input_focused = false;
                    return self.key(k);
                }
                KeyCode::PageUp => self.chat_scroll(10),
                KeyCode::PageDown => self.chat_scroll(-10),
                _ => return self.chat.key(&k),
            }
            return None;
        }
        if let Some(d) = self.detail.as_mut() {
            match k.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => self.detail = None,
                KeyCode::Down | KeyCode::Char('j') => d.scroll = d.scroll.saturating_add(1),
                KeyCode::Up | KeyCode::Char('k') => d.scroll = d.scroll.saturating_sub(1),
                KeyCode::PageDown => d.scroll = d.scroll.saturating_add(10),
                KeyCode::PageUp => d.scroll = d.scroll.saturating_sub(10),
                _ => {}
            }
            return None;
        }
        let active = self.active();
        let action = self
            .keymap
            .lookup(&k, &[active.scope(), Scope::List, Scope::Global])?;
        self.action(action)
    }

    fn chat_scroll(&mut self, delta: i32) {
        let i = self.chat.current;
        if let Some(c) = self.chat.chats.get_mut(i) {
            c.scroll = (c.scroll as i32 + delta).clamp(0, u16::MAX as i32) as u16;
        }
    }

    fn set_filter(&mut self, text: String) {
        match self.active() {
            Panel::Jobs => self.jobs.filter = text,
            Panel::Subscriptions => self.subs.filter = text,
            Panel::Logs => self.logs.list.filter = text,
            Panel::Containers => self.containers.filter = text,
            _ => {}
        }
        self.after_model();
    }

    fn current_filter(&self) -> String {
        match self.active() {
            Panel::Jobs => self.jobs.filter.clone(),
            Panel::Subscriptions => self.subs.filter.clone(),
            Panel::Logs => self.logs.list.filter.clone(),
            _ => String::new(),
        }
    }

    fn action(&mut self, a: Action) -> Option<Intent> {
        let active = self.active();
        let page = (self.size.1 as usize).saturating_sub(8).max(1);
        match a {
            Action::Quit => {
                self.quit = true;
                return Some(Intent::Quit);
            }
            Action::Help => self.help = true,
            Action::NextPanel | Action::PrevPanel => self.cycle(a == Action::NextPanel),
            Action::Dashboard => self.view = View::Dashboard,
            Action::Jobs => self.view = View::Full(Panel::Jobs),
            Action::Subscriptions => self.view = View::Full(Panel::Subscriptions),
            Action::Containers => self.view = View::Full(Panel::Containers),
            Action::Peers => self.view = View::Full(Panel::Peers),
            Action::Logs => self.view = View::Full(Panel::Logs),
            Action::Metrics => self.view = View::Full(Panel::Metrics),
            Action::Window => self.window = self.window.next(),
            Action::Refresh => return Some(Intent::Refresh),
            Action::Chat => {
                self.view = View::Full(Panel::Chat);
                self.chat.input_focused = true;
            }
            Action::Focus if active == Panel::Chat => self.chat.input_focused = true,
            Action::NewChat if active == Panel::Chat => self.chat.new_chat(),
            Action::NextChat if active == Panel::Chat => self.chat.next_chat(),
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => {
                if active == Panel::Chat {
                    let d = match a {
                        Action::Up => 1,
                        Action::Down => -1,
                        Action::PageUp => 10,
                        Action::PageDown => -10,
                        _ => 0,
                    };
                    self.chat_scroll(d);
                    return None;
                }
                let logs = active == Panel::Logs;
                if let Some((l, len)) = self.list_mut(active) {
                    match a {
                        Action::Up => l.up(1),
                        Action::Down => l.down(1, len),
                        Action::PageUp => l.up(page),
                        Action::PageDown => l.down(page, len),
                        Action::Top => l.top(),
                        _ => l.bottom(len),
                    }
                    let at_end = l.selected + 1 >= len;
                    if logs {
                        self.logs.follow = at_end;
                    }
                }
            }
            Action::Open if active == Panel::Fleet => {
                let index = self.fleet.selected;
                if index < self.model.fleet.len() {
                    self.view = View::Dashboard;
                    return Some(Intent::OpenBox { index });
                }
            }
            Action::Fleet if !self.model.fleet.is_empty() => {
                self.view = View::Full(Panel::Fleet);
            }
            Action::Fleet => {
                self.notice = Some((
                    Level::Info,
                    "no fleet: start with infernet tui --host [user@]box (repeatable)".into(),
                ));
            }
            Action::Open => match (self.view, active) {
                (_, Panel::Jobs) => {
                    let id = self
                        .job_rows()
                        .get(self.jobs.selected)
                        .map(|j| j.id.clone())?;
                    self.detail = Some(DetailState {
                        subject: Subject::Job(id.clone()),
                        detail: None,
                        scroll: 0,
                    });
                    return Some(Intent::LoadJob { id });
                }
                // Zoomed in, Enter on a row says why it is in its state.
                (View::Full(Panel::Subscriptions), _) => {
                    let id = self.sub_rows().get(self.subs.selected).map(|s| s.id)?;
                    self.open(Subject::Subscription(id));
                }
                (View::Full(Panel::Containers), _) => {
                    let subject = self.container_subject()?;
                    self.open(subject);
                }
                (View::Dashboard, p) => self.view = View::Full(p),
                _ => {}
            },
            Action::Back => {
                if !self.current_filter().is_empty() {
                    self.set_filter(String::new());
                } else if self.view != View::Dashboard {
                    self.view = View::Dashboard;
                } else {
                    self.notice = None;
                }
            }
            Action::Filter => {
                if matches!(active, Panel::Jobs | Panel::Subscriptions | Panel::Logs) {
                    self.filter = Some(Input::new(&self.current_filter()));
                }
            }
            Action::Grow | Action::Shrink if self.view == View::Dashboard => {
                let row = self.dashboard_row(active);
                let w = &mut self.weights[row];
                *w = if a == Action::Grow {
                    (*w + 1).min(12)
                } else {
                    w.saturating_sub(1).max(1)
                };
            }
            Action::Restart if active == Panel::Containers => {
                let c = self.model.containers.get(self.containers.selected);
                match c {
                    Some(c) if c.managed => {
                        return Some(Intent::RestartContainer { id: c.id.clone() });
                    }
                    Some(c) => {
                        self.notice = Some((
                            Level::Warn,
                            format!(
                                "'{}' is not managed by this node (manage_containers is false or it is external); restart it where it runs",
                                c.id
                            ),
                        ))
                    }
                    None => {
                        self.notice = Some((
                            Level::Warn,
                            "restart works on containers; select one above the backends".into(),
                        ))
                    }
                }
            }
            Action::Pull if active == Panel::Containers => {
                let i = self
                    .containers
                    .selected
                    .checked_sub(self.model.containers.len());
                match i.and_then(|i| self.model.backends.rows.get(i)) {
                    Some(b) => match b.default_model.clone().or_else(|| b.models.first().map(|m| m.name.clone())) {
                        Some(model) => return Some(Intent::PullModel { backend: b.id.clone(), model }),
                        None => self.notice = Some((Level::Warn, format!("backend '{}' has no model configured to pull; set one with `infernet model use`", b.id))),
                    },
                    None => {
                        self.notice = Some((Level::Warn, "pull works on backends (it fetches their model); managed containers pull their image when they start".into()))
                    }
                }
            }
            Action::Level if active == Panel::Logs => {
                self.logs.min_level = match self.logs.min_level {
                    Level::Trace => Level::Debug,
                    Level::Debug => Level::Info,
                    Level::Info => Level::Warn,
                    Level::Warn => Level::Error,
                    Level::Error => Level::Trace,
                };
                self.after_model();
            }
            Action::Follow if active == Panel::Logs => {
                self.logs.follow = !self.logs.follow;
                self.after_model();
            }
            _ => {}
        }
        None
    }

    fn cycle(&mut self, forward: bool) {
        match self.view {
            View::Dashboard => {
                let i = DASHBOARD.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = DASHBOARD.len();
                self.focus = DASHBOARD[if forward {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                }];
            }
            View::Full(p) => {
                let i = TABS.iter().position(|t| *t == p);
                let n = TABS.len();
                self.view = match (i, forward) {
                    (None, _) => View::Full(TABS[0]),
                    (Some(i), true) if i + 1 == n => View::Dashboard,
                    (Some(0), false) => View::Dashboard,
                    (Some(i), true) => View::Full(TABS[i + 1]),
                    (Some(i), false) => View::Full(TABS[i - 1]),
                };
            }
        }
    }

    fn dashboard_row(&self, p: Panel) -> usize {
        match p {
            Panel::System | Panel::Containers => 0,
            Panel::Jobs => 1,
            Panel::Subscriptions if self.size.0 >= 140 => 1,
            _ => 2,
        }
    }

    fn mouse(&mut self, m: MouseEvent) {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        let areas = self.areas(area);
        let hit = areas
            .panels
            .iter()
            .find(|(_, r)| r.contains((m.column, m.row).into()))
            .copied();
        if areas.tabs.contains((m.column, m.row).into())
            && let MouseEventKind::Down(MouseButton::Left) = m.kind
        {
            self.click_tab(m.column);
            return;
        }
        let Some((panel, rect)) = hit else { return };
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if self.view == View::Dashboard {
                    self.focus = panel;
                }
                // Row 0 is the border, row 1 the table header.
                let row = m.row.saturating_sub(rect.y + 2) as usize;
                let height = rect.height.saturating_sub(3) as usize;
                if let Some((l, len)) = self.list_mut(panel)
                    && m.row >= rect.y + 2
                {
                    let first = l.window(height, len);
                    if first + row < len {
                        l.selected = first + row;
                        l.offset = first;
                    }
                }
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let down = m.kind == MouseEventKind::ScrollDown;
                if panel == Panel::Chat {
                    self.chat_scroll(if down { -3 } else { 3 });
                } else if let Some((l, len)) = self.list_mut(panel) {
                    if down { l.down(3, len) } else { l.up(3) }
                }
            }
            _ => {}
        }
    }

    /// The tab bar: " 1 Dashboard │ 2 Jobs │ …" — the same labels `draw` prints.
    pub fn tab_labels(&self) -> Vec<(View, String)> {
        let mut v = vec![(
            View::Dashboard,
            format!("{} Dashboard", self.keymap.key_label(Action::Dashboard)),
        )];
        let acts = [
            Action::Jobs,
            Action::Subscriptions,
            Action::Containers,
            Action::Peers,
            Action::Logs,
            Action::Chat,
            Action::Metrics,
        ];
        for (p, a) in TABS.iter().zip(acts) {
            v.push((
                View::Full(*p),
                format!("{} {}", self.keymap.key_label(a), p.title()),
            ));
        }
        if !self.model.fleet.is_empty() {
            v.push((
                View::Full(Panel::Fleet),
                format!("{} Fleet", self.keymap.key_label(Action::Fleet)),
            ));
        }
        v
    }

    fn click_tab(&mut self, col: u16) {
        let mut x = 1u16;
        for (view, label) in self.tab_labels() {
            let w = label.chars().count() as u16 + 3;
            if col >= x && col < x + w {
                self.view = view;
                return;
            }
            x += w;
        }
    }
}

fn dashboard(body: Rect, w: [u16; 3]) -> Vec<(Panel, Rect)> {
    let total: u32 = w.iter().map(|x| *x as u32).sum::<u32>().max(1);
    let rows = Layout::vertical(w.map(|x| Constraint::Ratio(x as u32, total))).split(body);
    let halves = |r: Rect| -> [Rect; 2] {
        Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(r)
    };
    let [sys, cont] = halves(rows[0]);
    if body.width >= 140 {
        let [jobs, subs] = halves(rows[1]);
        vec![
            (Panel::System, sys),
            (Panel::Containers, cont),
            (Panel::Jobs, jobs),
            (Panel::Subscriptions, subs),
            (Panel::Logs, rows[2]),
        ]
    } else {
        let [subs, logs] = halves(rows[2]);
        vec![
            (Panel::System, sys),
            (Panel::Containers, cont),
            (Panel::Jobs, rows[1]),
            (Panel::Subscriptions, subs),
            (Panel::Logs, logs),
        ]
    }
}
