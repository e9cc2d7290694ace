//! The HTML report: the summary table and SVG plots drawn with `plotters` (latency over
//! time, latency histograms), in one self-contained file.

use plotters::prelude::*;

use super::Report;

/// The report as one HTML page.
pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut plots = String::new();
    for (title, points) in [
        (
            "Ingest latency over time (intended send → answer)",
            &report.ingest_timeline,
        ),
        (
            "End-to-end latency over time (acknowledged → applied)",
            &report.e2e_timeline,
        ),
    ] {
        if !points.is_empty() {
            plots.push_str(&format!("<h2>{title}</h2>\n{}\n", over_time(points)?));
        }
    }
    for (title, points) in [
        ("Ingest latency histogram", &report.ingest_timeline),
        ("End-to-end latency histogram", &report.e2e_timeline),
    ] {
        if !points.is_empty() {
            plots.push_str(&format!("<h2>{title}</h2>\n{}\n", histogram(points)?));
        }
    }
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "ingest": report.ingest, "end_to_end": report.end_to_end,
        "verification": report.verification, "thresholds": report.thresholds,
    }))?;
    Ok(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>CodeRipple load test {started}</title>\n\
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}\
.PASS{{color:#060}}.FAIL{{color:#a00}}</style></head><body>\n\
<h1>CodeRipple load test: <span class=\"{verdict}\">{verdict}</span></h1>\n\
<pre>{table}</pre>\n{plots}<h2>Figures</h2>\n<pre>{json}</pre>\n</body></html>\n",
        started = escape(&report.started_at),
        table = escape(&report.table()),
        json = escape(&json),
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn over_time(points: &[(f64, u64)]) -> anyhow::Result<String> {
    let x_max = points
        .iter()
        .map(|p| p.0 / 1000.0)
        .fold(0.0, f64::max)
        .max(0.001)
        * 1.05;
    let y_max = points
        .iter()
        .map(|p| p.1 as f64 / 1000.0)
        .fold(0.0, f64::max)
        .max(0.001)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("latency (ms)")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(points.iter().map(|(x, y)| {
                Circle::new((x / 1000.0, *y as f64 / 1000.0), 2, BLUE.mix(0.5).filled())
            }))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn histogram(points: &[(f64, u64)]) -> anyhow::Result<String> {
    const BUCKETS: usize = 40;
    let mut values: Vec<f64> = points.iter().map(|p| p.1 as f64 / 1000.0).collect();
    values.sort_by(f64::total_cmp);
    let top = values.last().copied().unwrap_or(1.0).max(0.001);
    let width = top / BUCKETS as f64;
    let mut counts = [0u32; BUCKETS];
    for v in &values {
        counts[((v / width) as usize).min(BUCKETS - 1)] += 1;
    }
    let c_max = f64::from(counts.iter().copied().max().unwrap_or(1)) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..top, 0.0..c_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("latency (ms)")
            .y_desc("events")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, c)| {
                let x0 = i as f64 * width;
                Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, f64::from(*c))],
                    BLUE.mix(0.7).filled(),
                )
            }))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("plot: {e}")
}
