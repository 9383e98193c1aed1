//! Keeping one coherent text when a job is re-run on another node after its first node went
//! silent (the control plane's `reset` event): what the reader already has is not repeated.
/// Text to send from one attempt's token, given what the client already has: after a reset
/// the new attempt's text is matched against the sent text and only what goes beyond it is
/// sent; `Err` when the new attempt diverges from what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Diverged;

#[derive(Debug, Default)]
pub struct Continuity {
    sent: String,
    /// Position in `sent` reached by the current attempt.
    pos: usize,
}

impl Continuity {
    pub fn reset(&mut self) {
        self.pos = 0;
    }
    pub fn token(&mut self, t: &str) -> Result<String, Diverged> {
        let mut out = String::new();
        for c in t.chars() {
            if self.pos < self.sent.len() {
                let expect = self.sent[self.pos..].chars().next();
                if expect != Some(c) {
                    return Err(Diverged);
                }
                self.pos += c.len_utf8();
            } else {
                out.push(c);
            }
        }
        if !out.is_empty() {
            self.sent.push_str(&out);
            self.pos = self.sent.len();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Continuity;

    #[test]
    fn a_retry_continues_after_what_was_sent() {
        let mut c = Continuity::default();
        assert_eq!(c.token("Hel").unwrap(), "Hel");
        assert_eq!(c.token("lo").unwrap(), "lo");
        c.reset();
        assert_eq!(c.token("He").unwrap(), "");
        assert_eq!(c.token("llo wo").unwrap(), " wo");
        assert_eq!(c.token("rld").unwrap(), "rld");
        c.reset();
        assert!(c.token("Bye").is_err());
    }
}
