//! The generic half of target-extension parsing: libxtables' checks of a
//! target's options. Each target's own options and values are in
//! [`crate::extensions::targets`].

use super::{
    error::ParseError,
    matches::{OptSpec, once_then_invert},
};
pub(crate) use crate::extensions::targets::TargetModule;
use crate::{
    extensions::{matches::Given, targets::TargetParser},
    model::Target,
};

/// A loaded target extension and the options given to it so far.
#[derive(Clone, Debug)]
pub(crate) struct TargetInstance {
    pub module: TargetModule,
    given: u32,
    parser: TargetParser,
}

impl TargetInstance {
    pub(crate) fn new(module: TargetModule) -> Self {
        Self {
            module,
            given: 0,
            parser: module.parser(),
        }
    }

    /// Handles one option (libxtables' generic checks, then the value).
    pub(crate) fn option(
        &mut self,
        spec: &OptSpec,
        written: &str,
        arg: Option<String>,
        invert: bool,
    ) -> Result<(), ParseError> {
        let module = self.module.name();
        let bit = 1u32 << spec.id;
        // Targets' options are never invertible.
        once_then_invert(module, spec.name, self.given & bit != 0, written, invert)?;
        self.parser.option(Given {
            spec,
            name: spec.name,
            written,
            arg: arg.unwrap_or_default(),
            invert,
        })?;
        self.given |= bit;
        Ok(())
    }

    /// The target.
    pub(crate) fn finish(&self) -> Target {
        self.parser.finish()
    }
}
