//! Chat pane state: several chats, each with its own history, backend, model and system
//! prompt; a multi-line input with `/model`, `/backend`, `/system`, `/clear`, `/new`.
use crate::input::{Edit, Input};
use crate::intent::{ChatMessage, ChatUpdate, Intent};
use crossterm::event::KeyEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// Notes from the pane itself (command results, errors); never sent to the model.
    Info,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
    /// "backend · model" once the backend said which.
    pub meta: Option<String>,
    /// "stop · 12+40 tokens" once done.
    pub done: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    pub id: u64,
    pub backend: Option<String>,
    pub model: Option<String>,
    pub system: Option<String>,
    pub turns: Vec<Turn>,
    /// The turn id being generated.
    pub generating: Option<u64>,
    /// Lines scrolled up from the bottom.
    pub scroll: u16,
}

impl Chat {
    fn new(id: u64) -> Self {
        Chat {
            id,
            backend: None,
            model: None,
            system: None,
            turns: Vec::new(),
            generating: None,
            scroll: 0,
        }
    }

    pub fn title(&self) -> String {
        let first = self
            .turns
            .iter()
            .find(|t| t.role == Role::User)
            .map(|t| t.text.lines().next().unwrap_or("").to_string())
            .unwrap_or_else(|| "new chat".into());
        format!("#{} {}", self.id, first)
    }

    fn messages(&self) -> Vec<ChatMessage> {
        let mut out = Vec::new();
        if let Some(s) = &self.system {
            out.push(ChatMessage {
                role: "system".into(),
                content: s.clone(),
            });
        }
        for t in &self.turns {
            let role = match t.role {
                Role::User => "user",
                Role::Assistant if !t.text.is_empty() => "assistant",
                _ => continue,
            };
            out.push(ChatMessage {
                role: role.into(),
                content: t.text.clone(),
            });
        }
        out
    }

    fn info(&mut self, text: String) {
        self.turns.push(Turn {
            role: Role::Info,
            text,
            meta: None,
            done: None,
        });
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatState {
    pub chats: Vec<Chat>,
    pub current: usize,
    pub input: Input,
    pub input_focused: bool,
    next_turn: u64,
}

impl Default for ChatState {
    fn default() -> Self {
        ChatState {
            chats: vec![Chat::new(1)],
            current: 0,
            input: Input::multiline(),
            input_focused: true,
            next_turn: 1,
        }
    }
}

const HELP: &str = "Enter sends · Alt-Enter or Ctrl-J new line · Esc stops generation, then leaves the input · /model NAME · /backend ID · /system TEXT · /clear · /new";

impl ChatState {
    pub fn chat(&self) -> &Chat {
        &self.chats[self.current.min(self.chats.len() - 1)]
    }

    fn chat_mut(&mut self) -> &mut Chat {
        let i = self.current.min(self.chats.len() - 1);
        &mut self.chats[i]
    }

    pub fn new_chat(&mut self) {
        let id = self.chats.iter().map(|c| c.id).max().unwrap_or(0) + 1;
        let (backend, model) = (self.chat().backend.clone(), self.chat().model.clone());
        let mut c = Chat::new(id);
        c.backend = backend;
        c.model = model;
        self.chats.push(c);
        self.current = self.chats.len() - 1;
        self.input_focused = true;
    }

    pub fn next_chat(&mut self) {
        self.current = (self.current + 1) % self.chats.len();
    }

    /// Esc: stop generating if a turn is running, else leave the input.
    pub fn escape(&mut self) -> Option<Intent> {
        let chat = self.chat();
        if let Some(turn) = chat.generating {
            return Some(Intent::CancelChat {
                chat: chat.id,
                turn,
            });
        }
        self.input_focused = false;
        None
    }

    pub fn key(&mut self, key: &KeyEvent) -> Option<Intent> {
        match self.input.handle(key) {
            Edit::Submit => self.submit(),
            Edit::Cancel => self.escape(),
            Edit::Changed | Edit::Ignored => None,
        }
    }

    pub fn submit(&mut self) -> Option<Intent> {
        let text = self.input.text.trim_end().to_string();
        if text.trim().is_empty() {
            return None;
        }
        if let Some(cmd) = text.strip_prefix('/') {
            self.input.clear();
            self.command(cmd.trim());
            return None;
        }
        if self.chat().generating.is_some() {
            self.chat_mut()
                .info("still answering: Esc stops it, then send again".into());
            return None;
        }
        self.input.clear();
        let turn = self.next_turn;
        self.next_turn += 1;
        let chat = self.chat_mut();
        chat.scroll = 0;
        chat.turns.push(Turn {
            role: Role::User,
            text,
            meta: None,
            done: None,
        });
        let messages = chat.messages();
        chat.turns.push(Turn {
            role: Role::Assistant,
            text: String::new(),
            meta: None,
            done: None,
        });
        chat.generating = Some(turn);
        Some(Intent::SendChat {
            chat: chat.id,
            turn,
            backend: chat.backend.clone(),
            model: chat.model.clone(),
            messages,
        })
    }

    fn command(&mut self, cmd: &str) {
        let (name, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let arg = arg.trim();
        let chat = self.chat_mut();
        match name {
            "model" if arg.is_empty() => {
                chat.model = None;
                chat.info("model: the backend's default".into());
            }
            "model" => {
                chat.model = Some(arg.to_string());
                chat.info(format!("model: {arg}"));
            }
            "backend" if arg.is_empty() => {
                chat.backend = None;
                chat.info("backend: the first configured (or detected) one".into());
            }
            "backend" => {
                chat.backend = Some(arg.to_string());
                chat.info(format!("backend: {arg}"));
            }
            "system" if arg.is_empty() => {
                chat.system = None;
                chat.info("system prompt cleared".into());
            }
            "system" => {
                chat.system = Some(arg.to_string());
                chat.info(format!("system prompt: {arg}"));
            }
            "clear" => {
                chat.turns.clear();
                chat.scroll = 0;
            }
            "new" => self.new_chat(),
            "help" => chat.info(HELP.into()),
            other => chat.info(format!("unknown command '/{other}'. {HELP}")),
        }
    }

    pub fn update(&mut self, chat: u64, turn: u64, ev: ChatUpdate) {
        let Some(c) = self.chats.iter_mut().find(|c| c.id == chat) else {
            return;
        };
        if c.generating != Some(turn) {
            return;
        }
        let Some(last) = c.turns.iter_mut().rev().find(|t| t.role == Role::Assistant) else {
            return;
        };
        match ev {
            ChatUpdate::Meta { backend, model } => last.meta = Some(format!("{backend} · {model}")),
            ChatUpdate::Token(t) => last.text.push_str(&t),
            ChatUpdate::Done { reason, usage } => {
                last.done = Some(match usage {
                    Some((p, c)) => format!("{reason} · {p}+{c} tokens"),
                    None => reason,
                });
                c.generating = None;
            }
            ChatUpdate::Error(e) => {
                c.generating = None;
                if last.text.is_empty() {
                    last.role = Role::Error;
                    last.text = e;
                } else {
                    c.turns.push(Turn {
                        role: Role::Error,
                        text: e,
                        meta: None,
                        done: None,
                    });
                }
            }
        }
    }

    pub fn help_text() -> &'static str {
        HELP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &mut ChatState, text: &str) -> Option<Intent> {
        s.input = Input::multiline();
        for c in text.chars() {
            s.input.insert(c);
        }
        s.submit()
    }

    #[test]
    fn a_turn_sends_history_and_streams_the_answer() {
        let mut s = ChatState::default();
        assert_eq!(typed(&mut s, "/system be brief"), None);
        assert_eq!(typed(&mut s, "/model smol"), None);
        let Some(Intent::SendChat {
            chat,
            turn,
            model,
            messages,
            ..
        }) = typed(&mut s, "hi")
        else {
            panic!("no intent")
        };
        assert_eq!(model.as_deref(), Some("smol"));
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].role, "system");
        // A second message while answering is refused, not queued silently.
        assert_eq!(typed(&mut s, "again"), None);
        s.update(chat, turn, ChatUpdate::Token("Hel".into()));
        s.update(chat, turn, ChatUpdate::Token("lo".into()));
        s.update(
            chat,
            turn,
            ChatUpdate::Done {
                reason: "stop".into(),
                usage: Some((3, 2)),
            },
        );
        let a = s
            .chat()
            .turns
            .iter()
            .find(|t| t.role == Role::Assistant)
            .unwrap();
        assert_eq!(a.text, "Hello");
        assert_eq!(a.done.as_deref(), Some("stop · 3+2 tokens"));
        let Some(Intent::SendChat { messages, .. }) = typed(&mut s, "more") else {
            panic!()
        };
        let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
    }

    #[test]
    fn escape_cancels_then_leaves_input_and_clear_new_work() {
        let mut s = ChatState::default();
        let Some(Intent::SendChat { chat, turn, .. }) = typed(&mut s, "hi") else {
            panic!()
        };
        assert_eq!(s.escape(), Some(Intent::CancelChat { chat, turn }));
        s.update(
            chat,
            turn,
            ChatUpdate::Done {
                reason: "cancel".into(),
                usage: None,
            },
        );
        assert_eq!(s.escape(), None);
        assert!(!s.input_focused);
        typed(&mut s, "/new");
        assert_eq!(s.chats.len(), 2);
        assert_eq!(s.chat().turns.len(), 0);
        s.next_chat();
        typed(&mut s, "/clear");
        assert!(s.chats[0].turns.is_empty());
        typed(&mut s, "/bogus");
        assert!(s.chat().turns[0].text.contains("unknown command '/bogus'"));
    }
}
