//! When each request is meant to be sent. In the open model every request has an intended
//! send time fixed before the run, and its latency is measured from that time: a stalled
//! ingest delays everything behind it, and the delay shows (no coordinated omission). In the
//! closed model N senders each send when their previous request was answered.

use std::time::Duration;

/// The arrival pattern of the open model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// Every request at once.
    Burst,
    /// `rate` requests per second.
    Constant {
        /// Requests per second.
        rate: f64,
    },
    /// From `from` to `to` requests per second, linearly over the run.
    Ramp {
        /// Starting rate.
        from: f64,
        /// Final rate.
        to: f64,
    },
    /// `size` requests at once every `every`.
    Bursts {
        /// Requests per burst.
        size: usize,
        /// Time between bursts.
        every: Duration,
    },
}

/// How requests arrive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// Arrivals at fixed intended times.
    Open(Shape),
    /// `concurrency` senders, each waiting for its answer.
    Closed {
        /// Senders.
        concurrency: usize,
    },
}

impl Model {
    /// The intended send offset of request `i` of `n` (none in the closed model).
    pub fn offset(&self, i: usize, n: usize) -> Option<Duration> {
        let Model::Open(shape) = self else {
            return None;
        };
        let secs = match *shape {
            Shape::Burst => 0.0,
            Shape::Constant { rate } => i as f64 / rate,
            Shape::Bursts { size, every } => (i / size.max(1)) as f64 * every.as_secs_f64(),
            Shape::Ramp { from, to } => ramp_offset(i as f64, n as f64, from, to),
        };
        Some(Duration::from_secs_f64(secs.max(0.0)))
    }

    /// How it is described in reports.
    pub fn describe(&self) -> String {
        match *self {
            Model::Open(Shape::Burst) => "open: burst (all at once)".into(),
            Model::Open(Shape::Constant { rate }) => format!("open: constant {rate}/s"),
            Model::Open(Shape::Ramp { from, to }) => format!("open: ramp {from}/s → {to}/s"),
            Model::Open(Shape::Bursts { size, every }) => {
                format!("open: bursts of {size} every {} ms", every.as_millis())
            }
            Model::Closed { concurrency } => format!("closed: {concurrency} concurrent senders"),
        }
    }
}

/// With the rate rising linearly from `r0` to `r1` over the time `t_end` the `n` requests
/// take (`n = (r0 + r1) / 2 · t_end`), the time by which `i` requests have arrived.
fn ramp_offset(i: f64, n: f64, r0: f64, r1: f64) -> f64 {
    let t_end = 2.0 * n / (r0 + r1);
    let a = (r1 - r0) / (2.0 * t_end);
    if a.abs() < 1e-12 {
        return i / r0;
    }
    (-r0 + (r0 * r0 + 4.0 * a * i).sqrt()) / (2.0 * a)
}

/// Parses `burst`, `rate:100`, `ramp:10:200`, `bursts:50:500ms`.
pub fn parse_shape(s: &str) -> Result<Shape, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let number = |v: &str| -> Result<f64, String> {
        v.parse::<f64>()
            .ok()
            .filter(|r| *r > 0.0 && r.is_finite())
            .ok_or_else(|| format!("{v:?} is not a positive rate"))
    };
    match parts.as_slice() {
        ["burst"] => Ok(Shape::Burst),
        ["rate", r] => Ok(Shape::Constant { rate: number(r)? }),
        ["ramp", a, b] => Ok(Shape::Ramp {
            from: number(a)?,
            to: number(b)?,
        }),
        ["bursts", size, every] => {
            let size = size
                .parse::<usize>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| format!("{size:?} is not a burst size"))?;
            let ms = every
                .strip_suffix("ms")
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("{every:?} is not a period like 500ms"))?;
            Ok(Shape::Bursts {
                size,
                every: Duration::from_millis(ms),
            })
        }
        _ => Err(format!(
            "unknown arrival shape {s:?}: use burst, rate:R, ramp:FROM:TO or bursts:N:MSms"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_shape() {
        let secs = |m: Model, i, n| m.offset(i, n).unwrap().as_secs_f64();
        assert_eq!(secs(Model::Open(Shape::Burst), 99, 100), 0.0);
        assert!((secs(Model::Open(Shape::Constant { rate: 50.0 }), 100, 200) - 2.0).abs() < 1e-9);
        let bursts = Model::Open(Shape::Bursts {
            size: 10,
            every: Duration::from_millis(250),
        });
        assert_eq!((secs(bursts, 9, 30), secs(bursts, 10, 30)), (0.0, 0.25));
        assert_eq!(Model::Closed { concurrency: 4 }.offset(3, 10), None);
    }

    #[test]
    fn a_ramp_ends_on_time_and_speeds_up() {
        // 10 → 30 per second for 400 requests: t_end = 2·400/40 = 20 s.
        let ramp = Model::Open(Shape::Ramp {
            from: 10.0,
            to: 30.0,
        });
        let t = |i| ramp.offset(i, 400).unwrap().as_secs_f64();
        assert!((t(400) - 20.0).abs() < 1e-6, "{}", t(400));
        assert!(t(10) - t(0) > t(400) - t(390), "later gaps are shorter");
        let flat = Model::Open(Shape::Ramp { from: 5.0, to: 5.0 });
        assert!((flat.offset(10, 100).unwrap().as_secs_f64() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn shapes_parse_and_bad_ones_say_why() {
        assert_eq!(parse_shape("rate:100"), Ok(Shape::Constant { rate: 100.0 }));
        assert_eq!(
            parse_shape("bursts:50:500ms"),
            Ok(Shape::Bursts {
                size: 50,
                every: Duration::from_millis(500)
            })
        );
        assert!(parse_shape("rate:-1").unwrap_err().contains("positive"));
        assert!(
            parse_shape("wave")
                .unwrap_err()
                .contains("unknown arrival shape")
        );
    }
}
