//! How every suite runs its contenders and reports their figures.
//!
//! - [`alternate`]: one warm-up repetition per contender, then timed rounds
//!   in which each contender runs once, the first of each round rotating,
//!   with the suite's pause after every repetition (so a peer's threads or
//!   processes are idle before ours are timed, and the reverse).
//! - [`Report`]: one table line on stdout and one JSON object per line
//!   appended to the file named by `BENCH_JSON`, the output contract of
//!   `benchmarks.md`: `suite`, `workload`, `impl`, `metric`, `median`,
//!   `min`, `max`, `n`.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::Write;

use super::Summary;

/// One contender of a workload: its `impl` name, and one repetition, which
/// returns one value per metric, in the order the workload names them.
pub struct Contender<'a> {
    pub name: &'static str,
    pub run: Box<dyn FnMut() -> Vec<f64> + 'a>,
}

impl<'a> Contender<'a> {
    pub fn new(name: &'static str, run: impl FnMut() -> Vec<f64> + 'a) -> Self {
        Contender {
            name,
            run: Box::new(run),
        }
    }
}

/// One warm-up repetition per contender, then `reps` timed rounds in which
/// every contender runs once (the first of each round rotates), with
/// `pause()` after every repetition. Returns the samples as
/// `[contender][metric][repetition]`.
pub fn alternate(reps: usize, contenders: &mut [Contender<'_>], pause: fn()) -> Vec<Vec<Vec<f64>>> {
    for c in contenders.iter_mut() {
        black_box((c.run)());
        pause();
    }
    let mut samples: Vec<Vec<Vec<f64>>> = vec![Vec::new(); contenders.len()];
    for round in 0..reps {
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            let values = (contenders[i].run)();
            if samples[i].is_empty() {
                samples[i] = vec![Vec::with_capacity(reps); values.len()];
            }
            assert_eq!(values.len(), samples[i].len(), "metrics per repetition");
            for (m, v) in values.into_iter().enumerate() {
                samples[i][m].push(v);
            }
            pause();
        }
    }
    samples
}

/// The widths of a suite's table columns.
pub struct Columns {
    pub imp: usize,
    pub metric: usize,
    pub number: usize,
}

/// Where a suite's figures go: stdout (a table) and, if set, `BENCH_JSON`.
pub struct Report {
    suite: &'static str,
    /// The contender `ours` is compared with by [`Report::measure`].
    peer: &'static str,
    /// Called after every repetition by [`Report::measure`].
    pause: fn(),
    columns: Columns,
    json: Option<File>,
}

impl Report {
    pub fn new(suite: &'static str, peer: &'static str, pause: fn(), columns: Columns) -> Report {
        let json = std::env::var_os("BENCH_JSON").map(|path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("cannot open BENCH_JSON={path:?}: {e}"))
        });
        Report {
            suite,
            peer,
            pause,
            columns,
            json,
        }
    }

    /// The table's column heads; `ratios` names the ratio columns.
    pub fn column_heads(&self, ratios: &[&str]) {
        let Columns {
            imp,
            metric,
            number,
        } = self.columns;
        let mut row = format!(
            "{:<4} {:<imp$} {:<metric$} {:>number$} {:>number$} {:>number$} {:>3}",
            "work", "impl", "metric", "median", "min", "max", "n"
        );
        for head in ratios {
            row += &format!(" {head:>8}");
        }
        println!("{row}");
    }

    /// Runs the contenders (see [`alternate`], with this suite's pause) and
    /// reports one line per contender and metric, `ours` with its ratio to
    /// the peer; `metrics` names the values one repetition returns. Returns
    /// the medians as `[contender][metric]`.
    pub fn measure(
        &mut self,
        workload: &str,
        metrics: &[&str],
        reps: usize,
        contenders: &mut [Contender<'_>],
    ) -> Vec<Vec<f64>> {
        let samples = alternate(reps, contenders, self.pause);
        let names: Vec<&str> = contenders.iter().map(|c| c.name).collect();
        let peer = names.iter().position(|&n| n == self.peer);
        let mut medians = vec![vec![0.0; metrics.len()]; names.len()];
        for (m, metric) in metrics.iter().enumerate() {
            let summaries: Vec<Summary> = samples.iter().map(|s| Summary::of(&s[m])).collect();
            for (i, s) in summaries.iter().enumerate() {
                medians[i][m] = s.median;
                let ratio = match peer {
                    Some(p) if names[i] == "ours" && summaries[p].median != 0.0 => {
                        Some(s.median / summaries[p].median)
                    }
                    _ => None,
                };
                self.line(workload, names[i], metric, s, &[ratio]);
            }
        }
        medians
    }

    /// Prints one table line (with a column per ratio, empty where `None`)
    /// and appends its JSON object to `BENCH_JSON`.
    pub fn line(
        &mut self,
        workload: &str,
        imp: &str,
        metric: &str,
        s: &Summary,
        ratios: &[Option<f64>],
    ) {
        let Columns {
            imp: imp_w,
            metric: metric_w,
            number,
        } = self.columns;
        let mut row = format!(
            "{workload:<4} {imp:<imp_w$} {metric:<metric_w$} {:>number$.3} {:>number$.3} \
             {:>number$.3} {:>3}",
            s.median, s.min, s.max, s.n
        );
        for ratio in ratios {
            let ratio = ratio.map_or(String::new(), |r| format!("{r:.3}"));
            row += &format!(" {ratio:>8}");
        }
        println!("{row}");
        if let Some(file) = &mut self.json {
            let num = |x: f64| json_num(metric, x);
            writeln!(
                file,
                "{{\"suite\":\"{}\",\"workload\":\"{workload}\",\"impl\":\"{imp}\",\
                 \"metric\":\"{metric}\",\"median\":{},\"min\":{},\"max\":{},\"n\":{}}}",
                self.suite,
                num(s.median),
                num(s.min),
                num(s.max),
                s.n
            )
            .and_then(|()| file.flush())
            .expect("writing BENCH_JSON");
        }
    }

    /// A remark under a workload's lines (table only, not JSON).
    pub fn note(&self, text: &str) {
        println!("     ({text})");
    }
}

/// A finite figure as a JSON number: a count (a metric named `*_count`) as
/// an integer, anything else with four decimals.
pub fn json_num(metric: &str, x: f64) -> String {
    assert!(x.is_finite(), "non-finite figure {x}");
    if metric.ends_with("_count") && x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
    }
}
