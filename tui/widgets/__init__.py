"""The dashboard's widgets, one per file; each draws one part of the rotation's state."""
