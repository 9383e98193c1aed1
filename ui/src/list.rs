//! Selection and scrolling for a table: the selected row, the first visible row, and an
//! optional filter. The panel supplies the row count; the state never holds rows.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListState {
    pub selected: usize,
    pub offset: usize,
    pub filter: String,
}

impl ListState {
    pub fn up(&mut self, n: usize) {
        self.selected = self.selected.saturating_sub(n);
    }

    pub fn down(&mut self, n: usize, len: usize) {
        self.selected = (self.selected + n).min(len.saturating_sub(1));
    }

    pub fn top(&mut self) {
        self.selected = 0;
    }

    pub fn bottom(&mut self, len: usize) {
        self.selected = len.saturating_sub(1);
    }

    pub fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    /// The first row to draw so that the selection is visible in `height` rows (pure: the
    /// offset is recomputed from the selection, not stored by draw).
    pub fn window(&self, height: usize, len: usize) -> usize {
        if height == 0 || len <= height {
            return 0;
        }
        let sel = self.selected.min(len - 1);
        let off = self.offset.min(len - height);
        if sel < off {
            sel
        } else if sel >= off + height {
            sel + 1 - height
        } else {
            off
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        self.filter.is_empty() || text.to_lowercase().contains(&self.filter.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_follows_selection() {
        let mut l = ListState::default();
        l.down(15, 100);
        assert_eq!(l.window(10, 100), 6);
        l.offset = 6;
        l.up(3);
        assert_eq!(l.window(10, 100), 6);
        l.up(10);
        assert_eq!(l.window(10, 100), 2);
        l.bottom(100);
        assert_eq!(l.selected, 99);
        assert_eq!(l.window(10, 5), 0);
    }
}
