"""capcast's service layer: REST API, jobs, dashboard and the command line. Nothing imports it."""
