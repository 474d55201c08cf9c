//! String interning for label names and values: each distinct string is
//! stored once and series refer to it by a `u32` id.

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct Symbols {
    strings: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
}

impl Symbols {
    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        let shared: Arc<str> = Arc::from(s);
        self.strings.push(shared.clone());
        self.ids.insert(shared, id);
        id
    }

    pub fn id(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    pub fn memory_bytes(&self) -> usize {
        self.strings
            .iter()
            .map(|s| s.len() + 16 + 16 + 8)
            .sum::<usize>()
    }
}
