//! The faults a soak injects at the platforms' edges and in the functions, each switchable and
//! rated. `Faults::none()` is the oracle's run; `Faults::all()` every class at once;
//! `Faults::only(class, rate)` one class alone (to show it is exercised).

/// Rates are per event, request, push, file or invocation, 0.0–1.0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// CCAI External Session Events: a batch sent twice.
    pub ese_duplicate: f64,
    /// An event never sent (the poller must find the change).
    pub ese_drop: f64,
    /// An event sent some waves later.
    pub ese_late: f64,
    /// A wave's events sent in a random order, across sessions and stages.
    pub ese_reorder: bool,
    /// Cloud Storage pushes: each sent twice.
    pub push_duplicate: bool,
    /// A push dropped for good (Pub/Sub gave up; the scheduled look must find the file).
    pub push_lost: f64,
    /// A tick during which the push endpoint is unreachable (pushes kept and redelivered).
    pub push_outage: f64,
    /// A recording, transcript or metadata file that lands only at the end of the run.
    pub file_late: f64,
    /// The Manager API: 429 beyond the tenant's own limit, 5xx, slow answers.
    pub ccai_429: f64,
    pub ccai_5xx: f64,
    pub ccai_slow: f64,
    /// Sessions changing while the poller pages through a list.
    pub ccai_list_churn: bool,
    /// Kustomer: 429 (with its rate-limit headers), 5xx, the answer lost after the write
    /// happened, the answer held past the client's timeout after the write happened.
    pub kustomer_429: f64,
    pub kustomer_5xx: f64,
    pub kustomer_lost_answer: f64,
    pub kustomer_slow: f64,
    /// A function invocation cut off at a random await point.
    pub cut_off: f64,
}

/// Every class by name, for `only` and the report.
pub const CLASSES: [&str; 17] = [
    "cut_off",
    "ese_duplicate",
    "ese_drop",
    "ese_late",
    "ese_reorder",
    "push_duplicate",
    "push_lost",
    "push_outage",
    "file_late",
    "ccai_429",
    "ccai_5xx",
    "ccai_slow",
    "ccai_list_churn",
    "kustomer_429",
    "kustomer_5xx",
    "kustomer_lost_answer",
    "kustomer_slow",
];

impl Faults {
    pub fn none() -> Self {
        Self {
            ese_duplicate: 0.0,
            ese_drop: 0.0,
            ese_late: 0.0,
            ese_reorder: false,
            push_duplicate: false,
            push_lost: 0.0,
            push_outage: 0.0,
            file_late: 0.0,
            ccai_429: 0.0,
            ccai_5xx: 0.0,
            ccai_slow: 0.0,
            ccai_list_churn: false,
            kustomer_429: 0.0,
            kustomer_5xx: 0.0,
            kustomer_lost_answer: 0.0,
            kustomer_slow: 0.0,
            cut_off: 0.0,
        }
    }

    /// Every class on, at rates a bad day could bring.
    pub fn all() -> Self {
        Self {
            ese_duplicate: 0.2,
            ese_drop: 0.1,
            ese_late: 0.1,
            ese_reorder: true,
            push_duplicate: true,
            push_lost: 0.1,
            push_outage: 0.2,
            file_late: 0.1,
            ccai_429: 0.03,
            ccai_5xx: 0.02,
            ccai_slow: 0.02,
            ccai_list_churn: true,
            kustomer_429: 0.02,
            kustomer_5xx: 0.02,
            kustomer_lost_answer: 0.02,
            kustomer_slow: 0.01,
            cut_off: 0.03,
        }
    }

    /// One class alone at `rate` (`cut_off` included); `None` for an unknown name.
    pub fn only(class: &str, rate: f64) -> Option<Self> {
        let mut faults = Self::none();
        match class {
            "ese_duplicate" => faults.ese_duplicate = rate,
            "ese_drop" => faults.ese_drop = rate,
            "ese_late" => faults.ese_late = rate,
            "ese_reorder" => faults.ese_reorder = true,
            "push_duplicate" => faults.push_duplicate = true,
            "push_lost" => faults.push_lost = rate,
            "push_outage" => faults.push_outage = rate,
            "file_late" => faults.file_late = rate,
            "ccai_429" => faults.ccai_429 = rate,
            "ccai_5xx" => faults.ccai_5xx = rate,
            "ccai_slow" => faults.ccai_slow = rate,
            "ccai_list_churn" => faults.ccai_list_churn = true,
            "kustomer_429" => faults.kustomer_429 = rate,
            "kustomer_5xx" => faults.kustomer_5xx = rate,
            "kustomer_lost_answer" => faults.kustomer_lost_answer = rate,
            "kustomer_slow" => faults.kustomer_slow = rate,
            "cut_off" => faults.cut_off = rate,
            _ => return None,
        }
        Some(faults)
    }

    pub fn is_none(&self) -> bool {
        *self == Self::none()
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        format!(
            "ESE dup {} drop {} late {} reorder {}; push dup {} lost {} outage {}; files late {}; CCAI 429 {} 5xx {} slow {} churn {}; Kustomer 429 {} 5xx {} lost answer {} slow {}; cut-off {}",
            self.ese_duplicate,
            self.ese_drop,
            self.ese_late,
            self.ese_reorder,
            self.push_duplicate,
            self.push_lost,
            self.push_outage,
            self.file_late,
            self.ccai_429,
            self.ccai_5xx,
            self.ccai_slow,
            self.ccai_list_churn,
            self.kustomer_429,
            self.kustomer_5xx,
            self.kustomer_lost_answer,
            self.kustomer_slow,
            self.cut_off
        )
    }
}
