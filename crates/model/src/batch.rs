use crate::{LabelRef, Sample};

/// Series to append, as decoded from one request: labels borrowed from the
/// request buffer, stored flat so that decoding allocates per request, not
/// per series.
#[derive(Debug, Default)]
pub struct SeriesBatch<'a> {
    labels: Vec<LabelRef<'a>>,
    samples: Vec<Sample>,
    /// End offsets into `labels` and `samples`, one entry per series.
    ends: Vec<(u32, u32)>,
}

/// One series of a [`SeriesBatch`].
#[derive(Debug, Clone, Copy)]
pub struct BatchSeries<'b, 'a> {
    pub labels: &'b [LabelRef<'a>],
    pub samples: &'b [Sample],
}

impl<'a> SeriesBatch<'a> {
    pub fn new() -> SeriesBatch<'a> {
        SeriesBatch::default()
    }

    pub fn with_capacity(series: usize, labels: usize, samples: usize) -> SeriesBatch<'a> {
        SeriesBatch {
            labels: Vec::with_capacity(labels),
            samples: Vec::with_capacity(samples),
            ends: Vec::with_capacity(series),
        }
    }

    /// Adds label pairs to the series being built; finish it with
    /// [`SeriesBatch::finish_series`].
    pub fn push_label(&mut self, label: LabelRef<'a>) {
        self.labels.push(label);
    }

    pub fn push_sample(&mut self, sample: Sample) {
        self.samples.push(sample);
    }

    /// The labels pushed since the last finished series.
    pub fn pending_labels(&self) -> &[LabelRef<'a>] {
        let start = self.ends.last().map_or(0, |e| e.0 as usize);
        &self.labels[start..]
    }

    /// The labels pushed since the last finished series, mutably (for sorting).
    pub fn pending_labels_mut(&mut self) -> &mut [LabelRef<'a>] {
        let start = self.ends.last().map_or(0, |e| e.0 as usize);
        &mut self.labels[start..]
    }

    /// Ends the current series.
    pub fn finish_series(&mut self) {
        self.ends
            .push((self.labels.len() as u32, self.samples.len() as u32));
    }

    /// Drops the labels and samples pushed since the last finished series.
    pub fn discard_pending(&mut self) {
        let (l, s) = self
            .ends
            .last()
            .map_or((0, 0), |e| (e.0 as usize, e.1 as usize));
        self.labels.truncate(l);
        self.samples.truncate(s);
    }

    /// Adds a whole series at once.
    pub fn push_series(&mut self, labels: &[LabelRef<'a>], samples: &[Sample]) {
        self.labels.extend_from_slice(labels);
        self.samples.extend_from_slice(samples);
        self.finish_series();
    }

    pub fn series_count(&self) -> usize {
        self.ends.len()
    }

    pub fn sample_count(&self) -> usize {
        self.ends.last().map_or(0, |e| e.1 as usize)
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, index: usize) -> BatchSeries<'_, 'a> {
        let (l0, s0) = if index == 0 {
            (0, 0)
        } else {
            self.ends[index - 1]
        };
        let (l1, s1) = self.ends[index];
        BatchSeries {
            labels: &self.labels[l0 as usize..l1 as usize],
            samples: &self.samples[s0 as usize..s1 as usize],
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = BatchSeries<'_, 'a>> + '_ {
        (0..self.ends.len()).map(move |i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_keep_their_own_labels_and_samples() {
        let mut b = SeriesBatch::new();
        b.push_series(&[LabelRef::new("__name__", "a")], &[Sample::new(1, 1.0)]);
        b.push_label(LabelRef::new("__name__", "b"));
        b.push_sample(Sample::new(2, 2.0));
        b.push_sample(Sample::new(3, 3.0));
        b.finish_series();
        b.push_label(LabelRef::new("__name__", "c"));
        b.discard_pending();
        assert_eq!(b.series_count(), 2);
        assert_eq!(b.sample_count(), 3);
        let s = b.get(1);
        assert_eq!(s.labels, &[LabelRef::new("__name__", "b")]);
        assert_eq!(s.samples.len(), 2);
    }
}
