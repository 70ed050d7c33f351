"""Photos: processing (pure), storage on disk, tus uploads and the photo service."""
