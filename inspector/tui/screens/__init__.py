"""The app's screens: sessions (home), session (events), turns, help, dialogs."""
