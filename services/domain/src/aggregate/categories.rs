//! The categories of one app on one day: a set, kept as a sorted vector. An app almost always
//! has one category, and a `BTreeSet` allocates a whole node (about 280 bytes) for it: with
//! about 20 apps a day, that was most of the memory of a user's kept week in analytics.

use serde::Serialize;

/// Distinct category names, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Categories(Vec<String>);

impl Categories {
    /// Adds a category unless it is already there.
    pub fn insert(&mut self, category: String) {
        if let Err(at) = self.0.binary_search(&category) {
            // One more, not four for the first (a week's days keep these).
            self.0.reserve_exact(1);
            self.0.insert(at, category);
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }
}

impl Extend<String> for Categories {
    fn extend<I: IntoIterator<Item = String>>(&mut self, categories: I) {
        for category in categories {
            self.insert(category);
        }
    }
}

impl FromIterator<String> for Categories {
    fn from_iter<I: IntoIterator<Item = String>>(categories: I) -> Self {
        let mut set = Self::default();
        set.extend(categories);
        set
    }
}

impl IntoIterator for Categories {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Categories {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_a_sorted_set() {
        let mut set: Categories = ["work", "social", "work"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        set.insert("games".to_owned());
        set.insert("social".to_owned());
        assert_eq!(
            set.iter().map(String::as_str).collect::<Vec<_>>(),
            ["games", "social", "work"]
        );
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["games","social","work"]"#
        );
    }
}
