"""capcast's system of record: typed ORM models, sessions, migrations and importers."""
