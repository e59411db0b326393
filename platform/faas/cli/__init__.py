"""faasctl: the admin command line of the platform.

`main` builds the parser and runs a command. Each command group is a module (`deploy`, `functions`, `invocations`,
`capacity`, `versions`, `queues`, `triggers`, `tokens`) with its commands and, in `register`, their options;
`command` holds what several share, `client` the REST client, `output` tables, colours and JSON.
"""
