//! The paper's figures drawn from our runs: ROC curves (Fig. 5 style, and Fig. 5 itself from the
//! gamma sweep), training losses per epoch (Fig. 4), the centre's trajectory (Fig. 3b), the most
//! and least anomalous test images (Fig. 2), and the sweeps of T, kappa and the latent size
//! (Figs. 6-8). Charts are SVG (plotters); the image grid is a PNG.
//!
//! Each figure uses seed 0 of its cell (the first seed of every matrix); class 8 where the
//! dataset has it, as in the paper, otherwise the lowest class run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use dasvdd_data::fileio::write_atomic_with;
use plotters::prelude::*;

use crate::matrix::{CellKey, Method, MethodSpec, Variant};
use crate::store::{CellDetail, CellRecord, ResultsDir};
use crate::summary::{sweep_points, SweepPoint};

/// Size of every chart, in pixels.
pub const CHART_SIZE: (u32, u32) = (640, 480);
/// Each image pixel of Fig. 2 is drawn as a square of this side.
pub const GRID_SCALE: u32 = 3;
/// Gap between the images of Fig. 2, in pixels.
pub const GRID_GAP: u32 = 2;

/// A named series of points.
pub type Series = (String, Vec<(f64, f64)>);

const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn plot_err<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("cannot draw {}: {e:?}", path.display())
}

/// Draws `series` as lines into an SVG file of [`CHART_SIZE`].
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        if x.is_finite() && y.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        return Err(anyhow!("{}: no finite points to draw", path.display()));
    }
    let pad = |a: f64, b: f64| {
        let span = (b - a).abs().max(1e-9);
        (a - 0.05 * span, b + 0.05 * span)
    };
    let (x0, x1) = pad(x0, x1);
    let (y0, y1) = pad(y0, y1);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let draw = |tmp: &Path| -> Result<()> {
        let root = SVGBackend::new(tmp, CHART_SIZE).into_drawing_area();
        let e = plot_err(path);
        root.fill(&WHITE).map_err(&e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(&e)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let pts: Vec<(f64, f64)> = points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            if pts.is_empty() {
                // Nothing to draw (e.g. a diagnostic the file predates): no legend entry.
                continue;
            }
            chart
                .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                .map_err(&e)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        if series.len() > 1 || !series.first().is_some_and(|s| s.0.is_empty()) {
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(&e)?;
        }
        root.present().map_err(&e)?;
        Ok(())
    };
    write_atomic_with(path, |tmp| {
        draw(tmp).map_err(|e| std::io::Error::other(format!("{e:#}")))
    })?;
    Ok(())
}

/// Fig. 2: one column per class, the least anomalous test image on top and the most anomalous
/// below, each of `side x side` pixels with `channels` channels (channel-first rows).
pub fn image_grid(
    path: &Path,
    columns: &[(Vec<u8>, Vec<u8>)],
    side: usize,
    channels: usize,
) -> Result<()> {
    let cell = side as u32 * GRID_SCALE;
    let width = columns.len() as u32 * (cell + GRID_GAP) + GRID_GAP;
    let height = 2 * (cell + GRID_GAP) + GRID_GAP;
    let mut img = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    for (col, (low, high)) in columns.iter().enumerate() {
        for (row, pixels) in [low, high].into_iter().enumerate() {
            if pixels.len() != side * side * channels {
                return Err(anyhow!(
                    "{}: an image has {} values, not {side}x{side}x{channels}",
                    path.display(),
                    pixels.len()
                ));
            }
            let ox = GRID_GAP + col as u32 * (cell + GRID_GAP);
            let oy = GRID_GAP + row as u32 * (cell + GRID_GAP);
            for r in 0..side {
                for c in 0..side {
                    let px = |ch: usize| pixels[ch * side * side + r * side + c];
                    let rgb = if channels >= 3 {
                        [px(0), px(1), px(2)]
                    } else {
                        [px(0); 3]
                    };
                    for dy in 0..GRID_SCALE {
                        for dx in 0..GRID_SCALE {
                            img.put_pixel(
                                ox + c as u32 * GRID_SCALE + dx,
                                oy + r as u32 * GRID_SCALE + dy,
                                image::Rgb(rgb),
                            );
                        }
                    }
                }
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_atomic_with(path, |tmp| {
        img.save_with_format(tmp, image::ImageFormat::Png)
            .map_err(std::io::Error::other)
    })?;
    Ok(())
}

/// The class of a dataset that figures use: 8 where it was run, else the lowest.
fn figure_class(keys: &[&CellKey]) -> Option<u8> {
    let classes: Vec<u8> = keys.iter().map(|k| k.class).collect();
    if classes.contains(&8) {
        Some(8)
    } else {
        classes.into_iter().min()
    }
}

/// Draws every figure the finished cells allow; returns (title, path) of each.
pub fn draw_all(
    results: &ResultsDir,
    cells: &BTreeMap<CellKey, CellRecord>,
) -> Result<Vec<(String, PathBuf)>> {
    let dir = results.root.join("figures");
    let mut out = Vec::new();
    // Seed-0 cells by dataset.
    let mut by_dataset: BTreeMap<String, Vec<&CellKey>> = BTreeMap::new();
    for k in cells.keys().filter(|k| k.seed == 0) {
        by_dataset.entry(k.dataset.clone()).or_default().push(k);
    }
    for (dataset, keys) in &by_dataset {
        // `odds:cardio` -> `odds-cardio` in file names.
        let file = dataset.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
        let base: Vec<&CellKey> = keys
            .iter()
            .copied()
            .filter(|k| !k.method.contains(':'))
            .collect();
        let Some(class) = figure_class(&base) else {
            continue;
        };
        let mut details: Vec<CellDetail> = base
            .iter()
            .filter(|k| k.class == class)
            .filter_map(|k| results.read_detail(k))
            .collect();
        // The paper's column order: classical baselines, AE, Deep SVDD, DASVDD.
        details.sort_by_key(|d| {
            d.key
                .method
                .parse::<MethodSpec>()
                .ok()
                .and_then(|m| Method::ALL.iter().position(|x| *x == m.method))
        });
        // ROC curves of every method (Fig. 5 style); a method run under several configs in
        // this folder (a quick and a full run, say) names each curve's config, as the
        // report's tables do.
        let several = |method: &str| {
            let mut configs = details
                .iter()
                .filter(|d| d.key.method == method)
                .map(|d| d.key.config_hash.as_str());
            configs
                .next()
                .is_some_and(|first| configs.any(|c| c != first))
        };
        let roc: Vec<Series> = details
            .iter()
            .map(|d| {
                let auc = cells.get(&d.key).map_or(f64::NAN, |r| 100.0 * r.auroc);
                let name = if several(&d.key.method) {
                    let h = &d.key.config_hash;
                    format!("{} [{}]", d.key.method, &h[..8.min(h.len())])
                } else {
                    d.key.method.clone()
                };
                (
                    format!("{name} (AUROC {auc:.1})"),
                    d.roc_fpr
                        .iter()
                        .copied()
                        .zip(d.roc_tpr.iter().copied())
                        .collect(),
                )
            })
            .collect();
        if !roc.is_empty() {
            let path = dir.join(format!("roc-{file}-class{class}.svg"));
            let title = format!("ROC, {dataset} class {class}, seed 0");
            line_chart(
                &path,
                &title,
                "false positive rate",
                "true positive rate",
                &roc,
            )?;
            out.push((title, path));
        }
        if let Some(d) = details.iter().find(|d| d.key.method == "dasvdd") {
            if !d.history.is_empty() {
                let epoch = |f: fn(&dasvdd_core::EpochRecord) -> f64| -> Vec<(f64, f64)> {
                    d.history.iter().map(|r| (r.epoch as f64, f(r))).collect()
                };
                let path = dir.join(format!("losses-{file}-class{class}.svg"));
                let title = format!("Training losses (Fig. 4), {dataset} class {class}");
                line_chart(
                    &path,
                    &title,
                    "epoch",
                    "loss",
                    &[
                        ("total".into(), epoch(|r| r.total)),
                        ("reconstruction".into(), epoch(|r| r.reconstruction)),
                        ("SVDD".into(), epoch(|r| r.svdd)),
                    ],
                )?;
                out.push((title, path));
                let path = dir.join(format!("center-{file}-class{class}.svg"));
                let title = format!("Hypersphere centre (Fig. 3b), {dataset} class {class}");
                line_chart(
                    &path,
                    &title,
                    "epoch",
                    "value",
                    &[
                        ("c_1".into(), epoch(|r| r.center_first)),
                        ("||c||".into(), epoch(|r| r.center_norm)),
                        // Files written before these were recorded, and fixed centres, have
                        // none: NaN points are not drawn.
                        (
                            "||c - mean code||".into(),
                            epoch(|r| r.center_offset.map_or(f64::NAN, f64::sqrt)),
                        ),
                        (
                            "codes' rms distance to their mean".into(),
                            epoch(|r| r.code_spread.map_or(f64::NAN, f64::sqrt)),
                        ),
                    ],
                )?;
                out.push((title, path));
            }
        }
        // Fig. 2: DASVDD's least and most anomalous test image of every class.
        let mut columns = Vec::new();
        let mut shape = None;
        let mut classes: Vec<u8> = base
            .iter()
            .filter(|k| k.method == "dasvdd")
            .map(|k| k.class)
            .collect();
        classes.sort_unstable();
        classes.dedup();
        for c in classes {
            let Some(k) = base.iter().find(|k| k.method == "dasvdd" && k.class == c) else {
                continue;
            };
            let Some(d) = results.read_detail(k) else {
                continue;
            };
            let low = d.least_anomalous.first().and_then(|s| s.pixels.clone());
            let high = d.most_anomalous.first().and_then(|s| s.pixels.clone());
            if let (Some(low), Some(high), Some(sh)) = (low, high, d.image_shape) {
                shape = Some(sh);
                columns.push((low, high));
            }
        }
        if let Some((side, channels)) = shape {
            let path = dir.join(format!("extremes-{file}.png"));
            image_grid(&path, &columns, side, channels)?;
            out.push((
                format!(
                    "Least (top) and most (bottom) anomalous test images per normal class (Fig. 2), {dataset}"
                ),
                path,
            ));
        }
        // Fig. 5 proper: ROC of each gamma of the sweep, against the heuristic's.
        let gamma: Vec<&CellKey> = keys
            .iter()
            .copied()
            .filter(|k| k.method.starts_with("dasvdd:gamma="))
            .collect();
        if let Some(gclass) = figure_class(&gamma) {
            let mut series = Vec::new();
            let mut ks: Vec<&CellKey> = gamma.into_iter().filter(|k| k.class == gclass).collect();
            ks.sort_by(|a, b| {
                let v =
                    |k: &CellKey| match k.method.parse::<MethodSpec>().ok().and_then(|m| m.variant)
                    {
                        Some(Variant::Gamma(g)) => g,
                        _ => 0.0,
                    };
                v(a).total_cmp(&v(b))
            });
            if let Some(auto) = base
                .iter()
                .find(|k| k.method == "dasvdd" && k.class == gclass)
            {
                ks.push(auto);
            }
            for k in ks {
                if let Some(d) = results.read_detail(k) {
                    let name = if k.method == "dasvdd" {
                        "auto".to_string()
                    } else {
                        k.method.trim_start_matches("dasvdd:").to_string()
                    };
                    let auc = cells.get(k).map_or(f64::NAN, |r| 100.0 * r.auroc);
                    series.push((
                        format!("{name} (AUROC {auc:.1})"),
                        d.roc_fpr
                            .iter()
                            .copied()
                            .zip(d.roc_tpr.iter().copied())
                            .collect(),
                    ));
                }
            }
            if !series.is_empty() {
                let path = dir.join(format!("sweep-gamma-{file}-class{gclass}.svg"));
                let title = format!("ROC for several gamma (Fig. 5), {dataset} class {gclass}");
                line_chart(
                    &path,
                    &title,
                    "false positive rate",
                    "true positive rate",
                    &series,
                )?;
                out.push((title, path));
            }
        }
    }
    out.extend(sweep_charts(&dir, &sweep_points(cells))?);
    Ok(out)
}

/// Figs. 6-8: AUROC against T, kappa and the latent size (normalised by the dataset's mean over
/// the sizes, as in Fig. 8), one series per dataset.
fn sweep_charts(dir: &Path, points: &[SweepPoint]) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for (param, fig, x_label) in [
        ("t", "Fig. 6", "T (trials of the gamma heuristic)"),
        ("kappa", "Fig. 7", "kappa"),
        ("latent", "Fig. 8", "log2 latent size"),
    ] {
        // One series per dataset, and per config where a dataset was swept with several.
        let configs = |d: &str| {
            let mut c: Vec<&str> = points
                .iter()
                .filter(|p| p.parameter == param && p.dataset == d)
                .map(|p| p.config.as_str())
                .collect();
            c.sort_unstable();
            c.dedup();
            c.len()
        };
        let mut by: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for p in points.iter().filter(|p| p.parameter == param) {
            if let Some(v) = p.value {
                let x = if param == "latent" { v.log2() } else { v };
                let name = if configs(&p.dataset) > 1 {
                    format!("{} [{}]", p.dataset, p.config)
                } else {
                    p.dataset.clone()
                };
                by.entry(name).or_default().push((x, p.auroc));
            }
        }
        if by.is_empty() {
            continue;
        }
        let series: Vec<Series> = by
            .into_iter()
            .map(|(d, mut pts)| {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                if param == "latent" {
                    let m = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
                    pts.iter_mut().for_each(|p| p.1 /= m);
                }
                (d.to_string(), pts)
            })
            .collect();
        let y = if param == "latent" {
            "AUROC / mean AUROC over sizes"
        } else {
            "AUROC (%)"
        };
        let path = dir.join(format!("sweep-{param}.svg"));
        let title = format!("AUROC against {param} ({fig})");
        line_chart(&path, &title, x_label, y, &series)?;
        out.push((title, path));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_of_the_stated_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.svg");
        line_chart(
            &path,
            "t",
            "x",
            "y",
            &[
                ("one".into(), vec![(0.0, 0.0), (0.5, 0.8), (1.0, 1.0)]),
                ("two".into(), vec![(0.0, 0.0), (1.0, 1.0)]),
            ],
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains(r#"width="640""#) && svg.contains(r#"height="480""#));
        assert!(svg.contains("<polyline"), "no line drawn");
        assert!(line_chart(&path, "t", "x", "y", &[("e".into(), vec![])]).is_err());
    }

    #[test]
    fn roc_curves_of_one_method_under_two_configs_name_their_configs() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir::new(dir.path());
        let mut cells = BTreeMap::new();
        for (hash, auroc) in [("aaaaaaaa11", 0.9), ("bbbbbbbb22", 0.8)] {
            let key = CellKey {
                dataset: "pima".into(),
                class: 0,
                method: "iforest".into(),
                seed: 0,
                config_hash: hash.into(),
            };
            results
                .write_detail(&CellDetail {
                    key: key.clone(),
                    roc_fpr: vec![0.0, 0.5, 1.0],
                    roc_tpr: vec![0.0, 0.9, 1.0],
                    history: Vec::new(),
                    least_anomalous: Vec::new(),
                    most_anomalous: Vec::new(),
                    image_shape: None,
                })
                .unwrap();
            cells.insert(key.clone(), crate::store::test_record(key, 1, auroc));
        }
        let drawn = draw_all(&results, &cells).unwrap();
        let (_, path) = drawn.iter().find(|(t, _)| t.starts_with("ROC")).unwrap();
        let svg = std::fs::read_to_string(path).unwrap();
        assert!(
            svg.contains("iforest [aaaaaaaa] (AUROC 90.0)")
                && svg.contains("iforest [bbbbbbbb] (AUROC 80.0)"),
            "{svg}"
        );
    }

    #[test]
    fn image_grid_has_the_expected_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        let img = |v: u8| vec![v; 8 * 8];
        image_grid(&path, &[(img(0), img(255)), (img(10), img(200))], 8, 1).unwrap();
        let g = image::open(&path).unwrap().to_rgb8();
        let cell = 8 * GRID_SCALE;
        assert_eq!(g.width(), 2 * (cell + GRID_GAP) + GRID_GAP);
        assert_eq!(g.height(), 2 * (cell + GRID_GAP) + GRID_GAP);
        // The bottom-left image is the most anomalous of column 0 (all 255).
        let p = g.get_pixel(GRID_GAP + 1, GRID_GAP + cell + GRID_GAP + 1);
        assert_eq!(p.0, [255, 255, 255]);
        let p = g.get_pixel(GRID_GAP + 1, GRID_GAP + 1);
        assert_eq!(p.0, [0, 0, 0]);
        assert!(image_grid(&path, &[(vec![1, 2], img(1))], 8, 1).is_err());
    }
}
