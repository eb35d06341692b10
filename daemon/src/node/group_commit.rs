//! The end of a turn's group commit: the members' events the turn checked and staged
//! (`Engine::stage`) are stored as one change per document, then relayed like any local change,
//! before the turn's flush ([`super::Node::finish_turn`]).

use tracing::error;

use super::Core;

impl Core {
    /// Stores what the turn staged and starts the exchanges that carry it to connected nodes.
    /// A store failure is the turn's: the caller fails every answer it held back.
    pub(super) fn commit_staged(&mut self) -> anyhow::Result<()> {
        if !self.engine.has_staged() {
            return Ok(());
        }
        match self.engine.commit_staged() {
            Ok(changed) => {
                for doc in changed {
                    self.on_local_change(&doc, None);
                }
                Ok(())
            }
            Err(e) => {
                error!(error = %e, "cannot store the turn's events");
                Err(anyhow::anyhow!("{e}"))
            }
        }
    }
}
