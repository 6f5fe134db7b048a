//! [`Chunks`], a list that grows by whole chunks: pushing never moves what
//! is already there.
//!
//! The simulator's story holds millions of records and the engine's
//! profile table a hundred thousand profiles of some 300 bytes. As `Vec`s,
//! each doubling copied the whole list into fresh memory and touched twice
//! its final size (perf put the copies at about 4% of a 1M-event `nudge
//! simulate` run, and the page faults of the fresh memory at as much
//! again). Here only the first chunk grows by doubling (so a small list
//! stays small); every later one is made whole, once.

/// Elements per chunk (all but the last are full).
pub const CHUNK: usize = 1 << 14;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunks<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunks<T> {
    fn default() -> Chunks<T> {
        Chunks {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunks<T> {
    pub fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(item),
            Some(_) => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(item);
                self.chunks.push(chunk);
            }
            None => self.chunks.push(vec![item]),
        }
        self.len += 1;
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }

    /// Room for `n` more elements while the list is empty (one about to be
    /// filled to a known size): its first chunk is made whole.
    pub fn reserve(&mut self, n: usize) {
        if self.chunks.is_empty() && n > 0 {
            self.chunks.push(Vec::with_capacity(n.min(CHUNK)));
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::{CHUNK, Chunks};

    #[test]
    fn chunks_keep_push_order_across_chunk_boundaries() {
        let mut c = Chunks::default();
        assert!(c.is_empty());
        assert_eq!(c.get(0), None);
        let n = 2 * CHUNK + 3;
        for i in 0..n {
            c.push(i);
        }
        assert_eq!(c.len(), n);
        assert!(c.iter().copied().eq(0..n));
        for i in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, n - 1] {
            assert_eq!(c.get(i), Some(&i));
        }
        assert_eq!(c.get(n), None);
        if let Some(x) = c.get_mut(CHUNK) {
            *x = 7;
        }
        assert_eq!(c.get(CHUNK), Some(&7));
        // Reserved first: the same list.
        let mut d = Chunks::default();
        d.reserve(10);
        for i in 0..n {
            d.push(if i == CHUNK { 7 } else { i });
        }
        assert_eq!(c, d);
    }
}
