//! Asking on a terminal (inquire), or answering with the default when there is none.
pub struct Cancelled;

pub struct Ask {
    pub interactive: bool,
}

impl Ask {
    fn map<T>(r: Result<T, inquire::InquireError>) -> Result<T, Cancelled> {
        r.map_err(|_| Cancelled)
    }

    pub fn select(
        &self,
        msg: &str,
        options: Vec<String>,
        default: usize,
    ) -> Result<usize, Cancelled> {
        if !self.interactive || options.len() < 2 {
            return Ok(default.min(options.len().saturating_sub(1)));
        }
        let chosen = Self::map(
            inquire::Select::new(msg, options.clone())
                .with_starting_cursor(default)
                .prompt(),
        )?;
        Ok(options.iter().position(|o| *o == chosen).unwrap_or(default))
    }

    pub fn confirm(&self, msg: &str, default: bool) -> Result<bool, Cancelled> {
        if !self.interactive {
            return Ok(default);
        }
        Self::map(inquire::Confirm::new(msg).with_default(default).prompt())
    }

    pub fn text(&self, msg: &str, default: &str) -> Result<String, Cancelled> {
        if !self.interactive {
            return Ok(default.to_string());
        }
        Self::map(inquire::Text::new(msg).with_default(default).prompt())
    }

    pub fn password(&self, msg: &str) -> Result<Option<String>, Cancelled> {
        if !self.interactive {
            return Ok(None);
        }
        Self::map(inquire::Password::new(msg).without_confirmation().prompt()).map(Some)
    }
}
