"""Settings package: base (shared), local (make run), production (default), test (pytest)."""
