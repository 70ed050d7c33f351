"""People: accounts and tokens, organisation (areas, locations), scopes and anonymity."""
