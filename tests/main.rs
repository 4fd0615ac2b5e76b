//! Integration tests: the real binary against real servers on 127.0.0.1 —
//! an HTTP server serving `fixtures/` (and misbehaving on purpose), an SMTP
//! server that records what it receives — with a real SQLite file in a
//! temporary folder. One test binary, as in ripgrep.

mod support;

mod alerts;
mod corpus;
mod cross_source;
mod day_one;
mod detail;
mod disclosure;
mod extract_props;
mod fetch;
mod fuzz_replay;
mod heal;
mod matcher;
mod mirrors;
mod nesting;
mod operations;
mod operator;
mod output;
mod pipeline;
mod render;
mod request;
mod soak;
mod streaming;
mod suggest;
mod suggest_families;
mod terminal;
mod tor;
mod watch;
mod workspace;
mod workspace_lock;
mod workspace_ui;
