//! Dedupe keys seen in a task. Keys live in one arena and the table holds only
//! offsets, so remembering a row costs no allocation of its own.

use std::sync::Arc;

use hashbrown::HashTable;

struct Entry {
    hash: u64,
    start: usize,
    len: usize,
    file: u32,
    line: u64,
}

#[derive(Default)]
pub struct SeenKeys {
    arena: Vec<u8>,
    table: HashTable<Entry>,
    hasher: ahash::RandomState,
    files: Vec<Arc<str>>,
}

impl SeenKeys {
    /// The file and line of the first row with `key`; or `None`, remembering
    /// this row as the first.
    pub fn first_or_insert(
        &mut self,
        key: &[u8],
        file: &Arc<str>,
        line: u64,
    ) -> Option<(Arc<str>, u64)> {
        let hash = self.hasher.hash_one(key);
        let arena = &self.arena;
        if let Some(e) = self.table.find(hash, |e| {
            e.hash == hash && &arena[e.start..e.start + e.len] == key
        }) {
            return Some((self.files[e.file as usize].clone(), e.line));
        }
        if !self.files.last().is_some_and(|f| Arc::ptr_eq(f, file)) {
            self.files.push(file.clone());
        }
        let entry = Entry {
            hash,
            start: self.arena.len(),
            len: key.len(),
            file: (self.files.len() - 1) as u32,
            line,
        };
        self.arena.extend_from_slice(key);
        self.table.insert_unique(hash, entry, |e| e.hash);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_first_row_of_each_key() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a.csv"), Arc::from("b.csv"));
        let mut seen = SeenKeys::default();
        assert_eq!(seen.first_or_insert(b"k1", &a, 2), None);
        assert_eq!(seen.first_or_insert(b"k2", &a, 3), None);
        assert_eq!(seen.first_or_insert(b"k1", &b, 9), Some((a.clone(), 2)));
        assert_eq!(seen.first_or_insert(b"k3", &b, 10), None);
        assert_eq!(seen.first_or_insert(b"k3", &a, 11), Some((b.clone(), 10)));
        assert_eq!(
            seen.first_or_insert(b"k", &a, 12),
            None,
            "a prefix is another key"
        );
    }
}
