//! Init per function beside the floor, with the 1.5× target drawn across.

use crate::Measured;
use crate::emulator::ms;
use bench_plot::Bar;
use std::path::Path;

pub fn init_chart(measured: &[Measured], path: &Path) {
    let bars: Vec<Bar> = measured
        .iter()
        .map(|m| {
            let inits: Vec<f64> = m.runs.iter().map(|r| ms(r.init)).collect();
            Bar {
                label: m.target.label.clone(),
                value: ms(m.median(|r| r.init)),
                low: inits.iter().copied().fold(f64::MAX, f64::min),
                high: inits.iter().copied().fold(0.0, f64::max),
            }
        })
        .collect();
    let floor = bars[0].value;
    bench_plot::bars(
        path,
        "Init: spawn → first /next (median, whisker: fastest–slowest start)",
        "ms",
        &bars,
        Some(("1.5 × hello world", floor * 1.5)),
    )
    .expect("draw the init chart");
}
