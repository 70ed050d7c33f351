"""What the console's pages show, computed from the same domain functions as the API."""
