//! analyze's readers of the kernel's log text, which comes from the dump
//! (its printk ring) or from a pasted console (`krash decode`): the oops
//! line parser, the crash classifier, RCU's stall report and the OOM
//! killer's header. Arbitrary text must give an answer or none, never a
//! panic.
#![no_main]

use krash_analyze::{classify_log, oops, parse_oom_request, parse_stall, saturation_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = classify_log(&lines);
    let parsed = oops::parse(&text);
    let _ = oops::register_values(&parsed);
    let bodies: Vec<&str> = lines.iter().map(|l| oops::strip_prefixes(l).trim()).collect();
    let _ = parse_stall(&bodies);
    let _ = parse_oom_request(&bodies);
    for b in &bodies {
        if let Some(message) = b.strip_prefix("refcount_t: ") {
            let _ = saturation_name(message);
        }
        let _ = oops::pc_line(b);
    }
});
