//! [`MethodSet`]: the request methods CSRF checks.

use http::Method;

/// A set of request methods: a bit per standard method, so the check every request makes is
/// one comparison, and any other method by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MethodSet {
    standard: u16,
    other: Vec<Method>,
}

impl MethodSet {
    pub(crate) fn insert(&mut self, method: Method) {
        match standard_bit(&method) {
            Some(bit) => self.standard |= bit,
            None if !self.other.contains(&method) => self.other.push(method),
            None => {}
        }
    }

    pub(crate) fn contains(&self, method: &Method) -> bool {
        match standard_bit(method) {
            Some(bit) => self.standard & bit != 0,
            None => self.other.contains(method),
        }
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(methods: I) -> Self {
        let mut set = Self::default();
        for method in methods {
            set.insert(method);
        }
        set
    }
}

fn standard_bit(method: &Method) -> Option<u16> {
    let index = match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::PATCH => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        Method::CONNECT => 7,
        Method::TRACE => 8,
        _ => return None,
    };
    Some(1 << index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_other_methods() {
        let set: MethodSet = [
            Method::POST,
            Method::DELETE,
            Method::from_bytes(b"PURGE").unwrap(),
        ]
        .into_iter()
        .collect();
        assert!(set.contains(&Method::POST));
        assert!(set.contains(&Method::DELETE));
        assert!(set.contains(&Method::from_bytes(b"PURGE").unwrap()));
        assert!(!set.contains(&Method::GET));
        assert!(!set.contains(&Method::PUT));
        assert!(!set.contains(&Method::from_bytes(b"LOCK").unwrap()));
    }
}
