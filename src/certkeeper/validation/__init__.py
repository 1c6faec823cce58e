"""Domain validation: challenges, validation records, CAA and multi-perspective corroboration."""
