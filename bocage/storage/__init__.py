"""Storage backends behind one narrow seam (:class:`bocage.storage.base.Store`)."""
