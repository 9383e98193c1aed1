//! A text input with a cursor: single-line (filters, wizard fields) or multi-line (chat).
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub text: String,
    /// Cursor as a char index.
    pub cursor: usize,
    pub multiline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Changed,
    Submit,
    Cancel,
    Ignored,
}

impl Input {
    pub fn new(text: &str) -> Self {
        Input {
            text: text.to_string(),
            cursor: text.chars().count(),
            multiline: false,
        }
    }

    pub fn multiline() -> Self {
        Input {
            multiline: true,
            ..Default::default()
        }
    }

    fn byte(&self, idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(idx)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }

    pub fn insert(&mut self, c: char) {
        let b = self.byte(self.cursor);
        self.text.insert(b, c);
        self.cursor += 1;
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    /// Enter submits; Alt-Enter or Ctrl-J inserts a newline in a multi-line input.
    pub fn handle(&mut self, key: &KeyEvent) -> Edit {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Enter if self.multiline && (alt || ctrl) => {
                self.insert('\n');
                Edit::Changed
            }
            KeyCode::Char('j') if self.multiline && ctrl => {
                self.insert('\n');
                Edit::Changed
            }
            KeyCode::Enter => Edit::Submit,
            KeyCode::Esc => Edit::Cancel,
            KeyCode::Char('u') if ctrl => {
                self.clear();
                Edit::Changed
            }
            KeyCode::Char('w') if ctrl => {
                let before: Vec<char> = self.text.chars().take(self.cursor).collect();
                let mut i = before.len();
                while i > 0 && before[i - 1] == ' ' {
                    i -= 1;
                }
                while i > 0 && before[i - 1] != ' ' {
                    i -= 1;
                }
                let (a, b) = (self.byte(i), self.byte(self.cursor));
                self.text.replace_range(a..b, "");
                self.cursor = i;
                Edit::Changed
            }
            KeyCode::Char(c) if !ctrl && !alt => {
                self.insert(c);
                Edit::Changed
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let (a, b) = (self.byte(self.cursor - 1), self.byte(self.cursor));
                self.text.replace_range(a..b, "");
                self.cursor -= 1;
                Edit::Changed
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let (a, b) = (self.byte(self.cursor), self.byte(self.cursor + 1));
                self.text.replace_range(a..b, "");
                Edit::Changed
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                Edit::Changed
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.text.chars().count());
                Edit::Changed
            }
            KeyCode::Home => {
                self.cursor = 0;
                Edit::Changed
            }
            KeyCode::End => {
                self.cursor = self.text.chars().count();
                Edit::Changed
            }
            _ => Edit::Ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn edits_and_newlines() {
        let mut i = Input::multiline();
        for c in "héllo".chars() {
            i.handle(&key(KeyCode::Char(c), KeyModifiers::NONE));
        }
        i.handle(&key(KeyCode::Enter, KeyModifiers::ALT));
        i.handle(&key(KeyCode::Char('x'), KeyModifiers::NONE));
        assert_eq!(i.text, "héllo\nx");
        i.handle(&key(KeyCode::Backspace, KeyModifiers::NONE));
        i.handle(&key(KeyCode::Left, KeyModifiers::NONE));
        i.handle(&key(KeyCode::Backspace, KeyModifiers::NONE));
        assert_eq!(i.text, "héll\n");
        assert_eq!(
            i.handle(&key(KeyCode::Enter, KeyModifiers::NONE)),
            Edit::Submit
        );
        i.handle(&key(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(i.text, "\n");
    }
}
