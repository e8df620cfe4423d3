"""Date and number formats for the portal's pages (FORMAT_MODULE_PATH in settings)."""
