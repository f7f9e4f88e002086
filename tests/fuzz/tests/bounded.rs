//! The fuzz targets, bounded, in the test command (issue 25): every target gets its corpus
//! (`fuzz/corpus/<target>`) mutated by proptest — bytes flipped, inserted, cut, JSON tokens
//! spliced in — and plain random bytes. `FUZZ_CASES` sets the cases per target (default 1000);
//! a failure prints the smallest input proptest found. The open-ended runs are `scripts/fuzz`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_fuzz_targets::TARGETS;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::PathBuf;

/// The cargo-fuzz project: its corpus and its binaries.
fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{target} has no corpus");
    seeds
}

/// Tokens that break parsers more often than random bytes do.
const TOKENS: &[&[u8]] = &[
    b"null",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"1e999",
    b"-1",
    b"18446744073709551616",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"true",
    b"0.5",
    b"\"\"",
    b"/",
    b"..",
    b"%",
    b"\xff",
    b"=",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Cut(usize, usize),
    Splice(usize, usize),
    Repeat(usize, usize, u16),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 0usize..64).prop_map(|(at, n)| Mutation::Cut(at, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Mutation::Splice(at, t)),
        (any::<usize>(), 1usize..32, 1u16..2048)
            .prop_map(|(at, n, times)| Mutation::Repeat(at, n, times)),
    ]
}

fn mutate(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match *m {
            Mutation::Flip(i, b) if !data.is_empty() => {
                let i = i % data.len();
                data[i] ^= b;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, b) => {
                let i = at(i, data.len());
                data.insert(i, b);
            }
            Mutation::Cut(i, n) => {
                let i = at(i, data.len());
                let end = (i + n).min(data.len());
                data.drain(i..end);
            }
            Mutation::Splice(i, t) => {
                let i = at(i, data.len());
                data.splice(i..i, TOKENS[t].iter().copied());
            }
            Mutation::Repeat(i, n, times) => {
                // Bounded: a piece repeated until the input is at most 64 KiB.
                let i = at(i, data.len());
                let end = (i + n).min(data.len());
                let piece = data[i..end].to_vec();
                for _ in 0..times {
                    if data.len() + piece.len() > 64 * 1024 {
                        break;
                    }
                    data.splice(i..i, piece.iter().copied());
                }
            }
        }
    }
    data
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn r_sec_4_every_parser_of_outside_input_survives_mutated_and_random_input() {
    for (name, target) in TARGETS {
        let seeds = corpus(name);
        for seed in &seeds {
            target(seed);
        }
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            0..seeds.len(),
            proptest::collection::vec(mutation(), 0..12),
            proptest::collection::vec(any::<u8>(), 0..256),
            any::<bool>(),
        );
        let result = runner.run(&strategy, |(seed, mutations, random, plain)| {
            let input = if plain {
                random
            } else {
                mutate(seeds[seed].clone(), &mutations)
            };
            target(&input);
            Ok(())
        });
        if let Err(err) = result {
            panic!("fuzz target {name}: {err}");
        }
        println!("fuzz target {name}: {} cases, no failure", cases());
    }
}

#[test]
fn every_target_has_a_corpus_and_a_cargo_fuzz_binary() {
    let root = fuzz_dir();
    for (name, _) in TARGETS {
        assert!(!corpus(name).is_empty());
        let binary = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(binary.exists(), "{} is missing", binary.display());
    }
}
