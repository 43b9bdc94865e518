//! The report as an SVG chart (plotters' SVG backend: text is left to the SVG viewer's
//! fonts, so nothing here needs fontconfig): one panel per figure, one bar per server.

use std::path::Path;

use anyhow::{Context, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{Report, Sample};
use crate::table::{count, time};

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One panel: a title and one or two bars per server.
struct Panel {
    title: String,
    /// (label, value per server, colour)
    series: Vec<(&'static str, Vec<f64>, RGBColor)>,
    format: fn(f64) -> String,
}

/// Draws `report` into an SVG file.
pub fn draw(report: &Report, path: &Path) -> anyhow::Result<()> {
    let rows: Vec<(&str, &Sample)> = report
        .subjects
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.median.as_ref()?)))
        .collect();
    if rows.is_empty() {
        bail!("no server was measured: nothing to draw");
    }
    let names: Vec<&str> = rows.iter().map(|(n, _)| *n).collect();
    let panels = panels(report, &rows);
    let width = 40 + 480 * panels.len() as u32;
    let root = SVGBackend::new(path, (width, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(36);
    title.draw_text(
        &format!(
            "rustchat bench {} — {}",
            report.scenario,
            crate::table::params_text(&report.params)
        ),
        &("sans-serif", 15).into_font().color(&BLACK),
        (10, 10),
    )?;
    for (area, panel) in body.split_evenly((1, panels.len())).iter().zip(&panels) {
        draw_panel(area, panel, &names)?;
    }
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn panels(report: &Report, rows: &[(&str, &Sample)]) -> Vec<Panel> {
    let col = |f: fn(&Sample) -> f64| rows.iter().map(|(_, s)| f(s)).collect::<Vec<f64>>();
    let latency = |title: &str| Panel {
        title: title.to_string(),
        series: vec![
            ("p50", col(|s| s.latency.p50_us), RGBColor(70, 130, 180)),
            ("p99", col(|s| s.latency.p99_us), RGBColor(220, 120, 60)),
        ],
        format: time,
    };
    if report.scenario == "idle" {
        return vec![
            Panel {
                title: "server RSS per connection (KiB)".into(),
                series: vec![(
                    "KiB",
                    col(|s| s.rss_per_connection_bytes.unwrap_or(0.0) / 1024.0),
                    RGBColor(70, 130, 180),
                )],
                format: |v| format!("{v:.1}"),
            },
            latency("setup latency (connect to joined)"),
        ];
    }
    let op = report.op;
    vec![
        Panel {
            title: format!("{op} per second"),
            series: vec![("ops/s", col(|s| s.ops_per_s), RGBColor(60, 160, 90))],
            format: count,
        },
        Panel {
            title: format!("{op} per server CPU-second"),
            series: vec![(
                "ops/CPU-s",
                col(|s| s.ops_per_server_cpu_s.unwrap_or(0.0)),
                RGBColor(70, 130, 180),
            )],
            format: count,
        },
        latency("latency p50 / p99"),
    ]
}

fn draw_panel(area: &Area<'_>, panel: &Panel, names: &[&str]) -> anyhow::Result<()> {
    let top = panel
        .series
        .iter()
        .flat_map(|(_, v, _)| v.iter().copied())
        .fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let n = names.len();
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(64)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..top)?;
    let format = panel.format;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_style(("sans-serif", 11))
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => names.get(*i).map_or(String::new(), |s| s.to_string()),
            _ => String::new(),
        })
        .y_labels(6)
        .y_label_formatter(&|v| format(*v))
        .draw()?;
    // Bars share each server's slot (a segmented axis has one spare slot at its end): k bars
    // of equal width, 15% margin either side.
    let slot = f64::from(area.dim_in_pixel().0.saturating_sub(64 + 24)) / (n + 1) as f64;
    let k = panel.series.len();
    let bar = 0.7 * slot / k as f64;
    for (j, (label, values, color)) in panel.series.iter().enumerate() {
        let left = (0.15 * slot + bar * j as f64) as i32;
        let right = (slot - 0.15 * slot - bar * (j + 1) as f64) as i32;
        let style = color.filled();
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let mut rect = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), v),
                    ],
                    style,
                );
                rect.set_margin(0, 0, left.max(0) as u32, right.max(0) as u32);
                rect
            }))?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], style));
        let centre = (f64::from(left) + bar / 2.0 - slot / 2.0) as i32;
        let text = TextStyle::from(("sans-serif", 11)).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            EmptyElement::at((SegmentValue::CenterOf(i), v))
                + Text::new(format(v), (centre, -3), text.clone())
        }))?;
    }
    if k > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()?;
    }
    Ok(())
}
