//! The runner's pattern engine: Rust's `regex` crate behind a handful of C-ABI functions
//! for WebAssembly. The host (runner/config/regex.ts) writes UTF-8 text into one shared
//! input buffer, calls a function, and reads answers back (an index, or text in the
//! output buffer). Patterns are compiled once and referred to by handle.
//!
//! Console lines are matched one at a time, each as its own haystack: `^` and `$` are the
//! line's start and end, with or without `(?m)`. To test a burst of lines in one call the
//! host joins them with '\n' and asks a `(?m)` form of the patterns first (see regex.ts).
use regex::{Regex, RegexBuilder};

/// The lazy DFA's cache limit. The crate's default (2 MB) is sized for one pattern; the
/// host also compiles a case's patterns joined into one alternation (one pass over a line
/// instead of twenty), whose Unicode-aware DFA is larger. A DFA that outgrows its cache
/// keeps clearing it and is slower than one that fits.
const DFA_CACHE: usize = 16 << 20;

struct State {
    input: Vec<u8>,
    output: Vec<u8>,
    regexes: Vec<Option<Regex>>,
}

static mut STATE: Option<State> = None;

fn state() -> &'static mut State {
    // SAFETY: WebAssembly instances here are single-threaded; nothing re-enters.
    unsafe {
        if STATE.is_none() {
            STATE = Some(State { input: Vec::new(), output: Vec::new(), regexes: Vec::new() });
        }
        STATE.as_mut().unwrap()
    }
}

fn text(len: usize) -> &'static str {
    let s = state();
    let bytes = &s.input[..len];
    // The host writes what TextEncoder produced: always valid UTF-8.
    std::str::from_utf8(bytes).unwrap_or("")
}

fn set_output(bytes: &[u8]) -> i32 {
    let s = state();
    s.output.clear();
    s.output.extend_from_slice(bytes);
    s.output.len() as i32
}

/// Grows the shared input buffer to at least `len` bytes; returns where it starts.
#[no_mangle]
pub extern "C" fn input(len: usize) -> *mut u8 {
    let s = state();
    if s.input.len() < len {
        s.input.resize(len, 0);
    }
    s.input.as_mut_ptr()
}

#[no_mangle]
pub extern "C" fn output_ptr() -> *const u8 {
    state().output.as_ptr()
}

#[no_mangle]
pub extern "C" fn output_len() -> usize {
    state().output.len()
}

/// Compiles the pattern in input[..len]; returns its handle, or -1 with the parser's
/// message in the output buffer.
#[no_mangle]
pub extern "C" fn compile(len: usize) -> i32 {
    match RegexBuilder::new(text(len)).dfa_size_limit(DFA_CACHE).build() {
        Ok(re) => {
            let s = state();
            s.regexes.push(Some(re));
            (s.regexes.len() - 1) as i32
        }
        Err(e) => {
            set_output(e.to_string().as_bytes());
            -1
        }
    }
}

#[no_mangle]
pub extern "C" fn is_match(id: usize, len: usize) -> i32 {
    let haystack = text(len);
    match state().regexes.get(id) {
        Some(Some(re)) => re.is_match(haystack) as i32,
        _ => -2,
    }
}

/// Where the first match of a regex is in input[..len]: start and end (byte offsets in
/// the UTF-8 text) in the output buffer as two u32, or 0 when none.
#[no_mangle]
pub extern "C" fn find(id: usize, len: usize) -> i32 {
    let haystack = text(len);
    let found = match state().regexes.get(id) {
        Some(Some(re)) => re.find(haystack).map(|m| (m.start() as u32, m.end() as u32)),
        _ => return -2,
    };
    match found {
        Some((a, b)) => {
            let mut out = a.to_le_bytes().to_vec();
            out.extend_from_slice(&b.to_le_bytes());
            set_output(&out);
            1
        }
        None => 0,
    }
}

/// Replaces every match of a regex in the text input[..text_len] by the replacement that
/// follows it in input[text_len..text_len+rep_len] (`$1`, `${name}` as the crate has them).
/// The result is in the output buffer; returns its length.
#[no_mangle]
pub extern "C" fn replace_all(id: usize, text_len: usize, rep_len: usize) -> i32 {
    let s = state();
    let all = match std::str::from_utf8(&s.input[..text_len + rep_len]) {
        Ok(t) => t,
        Err(_) => return -2,
    };
    let (haystack, rep) = all.split_at(text_len);
    let out = match s.regexes.get(id) {
        Some(Some(re)) => re.replace_all(haystack, rep).into_owned(),
        _ => return -2,
    };
    set_output(out.as_bytes())
}

#[no_mangle]
pub extern "C" fn free_regex(id: usize) {
    if let Some(slot) = state().regexes.get_mut(id) {
        *slot = None;
    }
}
