"""What probable duplicates do when the layers below say records were written (targets.signals)."""

from . import finder


def close_pairs_after_a_merge(sender: object, **kwargs: object) -> None:
    """identity announces a merge (or its undo) with records_written, sent by its MergeProposal model: the open
    pairs whose record was merged away are merged at once, not at the next night's run."""
    meta = getattr(sender, "_meta", None)
    if meta is not None and meta.label == "identity.MergeProposal":
        finder.close_gone()
