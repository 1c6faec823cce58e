"""Each table of certkeeper.toml as a frozen settings object, parsed and checked at load.

Below the services: these modules import only the core and pure helpers, so `config`
composes every package's settings without importing a service, and a service takes its
own settings from here.
"""
