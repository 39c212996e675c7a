"""`dp`, the platform's command line tool."""
