"""The suite's fixtures come from the powertokens pytest plugin (docs/testing.md).

Installed, the package registers it (a ``pytest11`` entry point under this same name, so
pytest loads it once); this line also loads it from a checkout that is not installed."""

pytest_plugins = ["powertokens.testing.plugin"]
