//! The two chart shapes the benchmarks publish (`bench/RESULTS.md`): bars with a whisker per
//! bar and an optional reference line (init per function beside the floor), and lines over a
//! shared x axis (memory over time, cost over sessions). SVG, so a chart diffs as text and needs
//! no fonts on the machine that draws it.

use plotters::prelude::*;
use std::path::Path;

pub struct Bar {
    pub label: String,
    pub value: f64,
    /// The whisker: e.g. the fastest and slowest start.
    pub low: f64,
    pub high: f64,
}

pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

type Failure = Box<dyn std::error::Error>;

/// Vertical bars, one per entry, with whiskers from `low` to `high`; `limit`, when given, is
/// drawn across as a dashed target line with its label.
pub fn bars(
    path: &Path,
    title: &str,
    y_label: &str,
    bars: &[Bar],
    limit: Option<(&str, f64)>,
) -> Result<(), Failure> {
    let top = bars
        .iter()
        .map(|b| b.high.max(b.value))
        .chain(limit.map(|(_, v)| v))
        .fold(0.0_f64, f64::max)
        * 1.15;
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(70)
        .y_label_area_size(60)
        .build_cartesian_2d((0..bars.len()).into_segmented(), 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_label)
        .x_labels(bars.len())
        .x_label_formatter(&|segment| match segment {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.label.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_style(("sans-serif", 13))
        .draw()?;
    for (i, bar) in bars.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart.draw_series(std::iter::once(Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), bar.value),
            ],
            color.mix(0.75).filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (SegmentValue::CenterOf(i), bar.low),
                (SegmentValue::CenterOf(i), bar.high),
            ],
            BLACK.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{:.1}", bar.value),
            (
                SegmentValue::CenterOf(i),
                bar.high.max(bar.value) + top * 0.02,
            ),
            ("sans-serif", 13),
        )))?;
    }
    if let Some((label, value)) = limit {
        chart.draw_series(DashedLineSeries::new(
            vec![
                (SegmentValue::Exact(0), value),
                (SegmentValue::Exact(bars.len()), value),
            ],
            6,
            4,
            RED.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            label.to_string(),
            (SegmentValue::Exact(0), value + top * 0.02),
            ("sans-serif", 13).into_font().color(&RED),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// The axes of [`lines`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Both axes logarithmic: ranges like 10 … 10 000 sessions and cents … dollars.
    LogLog,
}

/// One line per series over a shared x axis.
pub fn lines(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[Line],
    scale: Scale,
) -> Result<(), Failure> {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let x_max = points().map(|p| p.0).fold(f64::MIN, f64::max);
    let x_min = points().map(|p| p.0).fold(f64::MAX, f64::min);
    let y_max = points().map(|p| p.1).fold(0.0_f64, f64::max) * 1.1;
    let y_min = points().map(|p| p.1).fold(f64::MAX, f64::min) * 0.9;
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .draw()?;
            for (i, line) in series.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(
                        line.points.iter().copied(),
                        color.stroke_width(2),
                    ))?
                    .label(line.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()?;
        }};
    }
    match scale {
        Scale::LogLog => draw!(
            builder.build_cartesian_2d((x_min..x_max).log_scale(), (y_min..y_max).log_scale())?
        ),
        Scale::Linear => draw!(builder.build_cartesian_2d(x_min..x_max, 0.0..y_max)?),
    }
    root.present()?;
    Ok(())
}
