//! The generic half of target-extension parsing: libxtables' checks of a
//! target's options. Each target's own options and values are in
//! [`crate::extensions::targets`].

use super::matches::Loaded;
pub(crate) use crate::extensions::targets::TargetModule;
use crate::model::{Family, Target};

/// A loaded target extension and the options given to it so far
/// (libxtables' generic checks apply to them as to a match's: each once,
/// and targets' options cannot follow `!`).
pub(crate) type TargetInstance = Loaded<TargetModule>;

impl TargetInstance {
    /// The target, in `family`.
    pub(crate) fn finish(&self, family: Family) -> Target {
        self.parser.finish(family)
    }
}
