"""Photo checking, orientation, metadata stripping and thumbnails."""
