//! The syntax of an SPDX license expression (SPDX 2.3, annex D), for `[plugin].license`: identifiers joined by
//! `AND`, `OR` and `WITH`, with parentheses. Identifiers are checked for form, not looked up in the license
//! list, so that a license added to the list later is not refused.

/// Checks that `text` is an SPDX license expression, saying what is wrong if it is not.
pub(super) fn check_expression(text: &str) -> Result<(), String> {
    let tokens = tokens(text)?;
    let mut parser = Parser { tokens: &tokens, at: 0 };
    parser.expression(0)?;
    match parser.tokens.get(parser.at) {
        None => Ok(()),
        Some(token) => Err(format!("expected AND, OR or WITH before `{token}`{}", case_hint(token))),
    }
}

/// Splits on spaces and parentheses; refuses characters no expression holds.
fn tokens(text: &str) -> Result<Vec<&str>, String> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        let word_char = c.is_ascii_alphanumeric() || "-.+:".contains(c);
        if word_char {
            start.get_or_insert(at);
            continue;
        }
        if let Some(from) = start.take() {
            tokens.push(&text[from..at]);
        }
        match c {
            '(' | ')' => tokens.push(&text[at..at + 1]),
            ' ' | '\t' => {}
            _ => return Err(format!("unexpected character {c:?}")),
        }
    }
    if let Some(from) = start {
        tokens.push(&text[from..]);
    }
    if tokens.is_empty() {
        return Err("it is empty".into());
    }
    Ok(tokens)
}

/// Operators are upper case; a lower-case one reads as an identifier in the wrong place.
fn case_hint(token: &str) -> &'static str {
    match ["AND", "OR", "WITH"].iter().any(|op| op.eq_ignore_ascii_case(token)) {
        true => " (operators are upper case)",
        false => "",
    }
}

struct Parser<'a> {
    tokens: &'a [&'a str],
    at: usize,
}

impl Parser<'_> {
    /// `term ((AND | OR) term)*`; nesting is bounded so that a hostile manifest cannot exhaust the stack.
    fn expression(&mut self, depth: usize) -> Result<(), String> {
        if depth > 32 {
            return Err("parentheses are nested too deeply".into());
        }
        self.term(depth)?;
        while let Some(&op) = self.tokens.get(self.at) {
            if op != "AND" && op != "OR" {
                break;
            }
            self.at += 1;
            self.term(depth)?;
        }
        Ok(())
    }

    /// `( expression )`, or `license [WITH exception]`.
    fn term(&mut self, depth: usize) -> Result<(), String> {
        let Some(&token) = self.tokens.get(self.at) else {
            return Err("it ends where a license was expected".into());
        };
        self.at += 1;
        if token == "(" {
            self.expression(depth + 1)?;
            return match self.tokens.get(self.at) {
                Some(&")") => {
                    self.at += 1;
                    Ok(())
                }
                _ => Err("a parenthesis is not closed".into()),
            };
        }
        check_license_id(token)?;
        if self.tokens.get(self.at) == Some(&"WITH") {
            self.at += 1;
            let exception = self.tokens.get(self.at).ok_or("it ends where an exception was expected")?;
            self.at += 1;
            if !is_idstring(exception) {
                return Err(format!("`{exception}` is not an exception identifier"));
            }
        }
        Ok(())
    }
}

/// `id`, `id+`, `LicenseRef-id` or `DocumentRef-id:LicenseRef-id`, where an id is `[A-Za-z0-9.-]+`.
fn check_license_id(token: &str) -> Result<(), String> {
    let base = token.strip_suffix('+').unwrap_or(token);
    let valid = match base.split_once(':') {
        Some((document, license)) => {
            document.starts_with("DocumentRef-")
                && license.starts_with("LicenseRef-")
                && is_idstring(document)
                && is_idstring(license)
        }
        None => is_idstring(base) && !matches!(base, "AND" | "OR" | "WITH"),
    };
    match valid {
        true => Ok(()),
        false => Err(format!("`{token}` is not a license identifier")),
    }
}

fn is_idstring(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::check_expression;

    #[test]
    fn expressions_are_accepted() {
        for text in [
            "MIT",
            "Apache-2.0",
            "MIT OR Apache-2.0",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
            "(MIT OR Apache-2.0) AND BSD-3-Clause",
            "LGPL-2.1+",
            "LicenseRef-Proprietary",
            "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2",
            "((MIT))",
        ] {
            assert_eq!(check_expression(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        for (text, why) in [
            ("", "it is empty"),
            ("   ", "it is empty"),
            ("MIT or Apache-2.0", "expected AND, OR or WITH before `or` (operators are upper case)"),
            ("MIT Apache-2.0", "expected AND, OR or WITH before `Apache-2.0`"),
            ("MIT OR", "it ends where a license was expected"),
            ("(MIT", "a parenthesis is not closed"),
            ("MIT)", "expected AND, OR or WITH before `)`"),
            ("MIT/Apache-2.0", "unexpected character '/'"),
            ("GPL-2.0 WITH", "it ends where an exception was expected"),
            ("AND", "`AND` is not a license identifier"),
            ("a:b", "`a:b` is not a license identifier"),
        ] {
            assert_eq!(check_expression(text), Err(why.to_string()), "{text}");
        }
        assert!(check_expression(&"(".repeat(40)).unwrap_err().contains("nested too deeply"));
    }
}
