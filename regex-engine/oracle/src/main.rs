//! The oracle: Rust's `regex` crate answering natively. Input on stdin, JSON lines:
//!   {"patterns": ["...", ...], "lines": ["...", ...]}
//! Output on stdout, one JSON line per input line: for each pattern either its compile
//! error ({"error": "..."}) or the indexes of the probe lines it matches.
//! No JSON crate is packaged offline, so both directions use a small hand-written codec
//! for the only shapes involved: arrays of strings in, arrays of numbers and strings out.
use regex::Regex;
use std::io::{self, BufRead, Write};

fn parse_string(s: &[char], i: &mut usize) -> String {
    // s[*i] == '"'
    *i += 1;
    let mut out = String::new();
    while s[*i] != '"' {
        if s[*i] == '\\' {
            *i += 1;
            match s[*i] {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = s[*i + 1..*i + 5].iter().collect();
                    let mut code = u32::from_str_radix(&hex, 16).unwrap();
                    *i += 4;
                    if (0xd800..0xdc00).contains(&code) && s.get(*i + 1) == Some(&'\\') && s.get(*i + 2) == Some(&'u') {
                        let lo: String = s[*i + 3..*i + 7].iter().collect();
                        let low = u32::from_str_radix(&lo, 16).unwrap();
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                        *i += 6;
                    }
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                c => out.push(c),
            }
        } else {
            out.push(s[*i]);
        }
        *i += 1;
    }
    *i += 1;
    out
}

fn parse_array(s: &[char], i: &mut usize) -> Vec<String> {
    let mut out = Vec::new();
    while s[*i] != '[' {
        *i += 1;
    }
    *i += 1;
    loop {
        while s[*i].is_whitespace() || s[*i] == ',' {
            *i += 1;
        }
        if s[*i] == ']' {
            *i += 1;
            return out;
        }
        out.push(parse_string(s, i));
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let stdin = io::stdin();
    let mut stdout = io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        if line.trim().is_empty() {
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        let key = |name: &str, i: &mut usize| {
            let needle: Vec<char> = format!("\"{name}\"").chars().collect();
            while chars[*i..].iter().take(needle.len()).cloned().collect::<Vec<_>>() != needle {
                *i += 1;
            }
            *i += needle.len();
        };
        key("patterns", &mut i);
        let patterns = parse_array(&chars, &mut i);
        key("lines", &mut i);
        let probes = parse_array(&chars, &mut i);
        let mut parts = Vec::new();
        for p in &patterns {
            match Regex::new(p) {
                Err(e) => parts.push(format!("{{\"error\":{}}}", quote(&e.to_string()))),
                Ok(re) => {
                    let hits: Vec<String> = probes.iter().enumerate().filter(|(_, l)| re.is_match(l)).map(|(n, _)| n.to_string()).collect();
                    parts.push(format!("[{}]", hits.join(",")));
                }
            }
        }
        writeln!(stdout, "[{}]", parts.join(",")).unwrap();
        stdout.flush().unwrap();
    }
}
